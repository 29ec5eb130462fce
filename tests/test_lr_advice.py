"""One source of learning-rate truth (issue 13): lr-find's suggestion, ``--lr auto`` and the
doctor's learning-rate fix come from :func:`lossdoctor.diagnostics.lr_advice.advise_lr` and agree
on the built-in data sets, and the doctor never calls the suggested rate too high."""

from __future__ import annotations

import argparse
import math

import pytest

from lossdoctor.cli import build_parser
from lossdoctor.cli.diagnose import diagnose_args, setup_of
from lossdoctor.cli.loading import scaled_xy
from lossdoctor.cli.models import auto_lr, setup_params
from lossdoctor.diagnostics.lr_advice import advise_lr, round_lr_down
from lossdoctor.diagnostics.lr_range import lr_range_test

BUILTIN = ("breast_cancer", "iris", "wine", "digits", "diabetes")


def test_advice_is_half_the_bound_capped_by_the_range_test() -> None:
    a = advise_lr(bound=0.3, range_lr=1.5)
    assert a.rate == pytest.approx(0.15) and a.source == "curvature"
    assert "1.5" in a.rule and "too high" in a.rule  # says why it does not follow the range test
    low = advise_lr(bound=0.3, range_lr=0.05)  # the curvature, which auto and the doctor use
    assert low.rate == pytest.approx(0.15) and low.source == "curvature" and "0.05" in low.rule
    adam = advise_lr(bound=math.nan, range_lr=0.002)
    assert adam.rate == 0.002 and adam.source == "range test"
    assert advise_lr(bound=0.3).rate == pytest.approx(0.15)
    assert math.isnan(advise_lr().rate)
    assert advise_lr(bound=0.3).rounded == 0.1


def test_rounding_down_stays_within_a_factor_2() -> None:
    assert [round_lr_down(v) for v in (0.44, 0.1999, 0.37, 9.99, 1e-3, 0.0021)] == [
        0.4,
        0.1,
        0.3,
        9.0,
        1e-3,
        0.002,
    ]
    for v in (0.0123, 0.199, 0.5, 1.99, 7.7, 123.0):
        assert v / 2 < round_lr_down(v) <= v


@pytest.mark.parametrize("name", BUILTIN)
def test_lr_find_auto_and_doctor_agree_and_the_suggestion_is_not_too_high(name: str) -> None:
    parser = build_parser()
    args = parser.parse_args(["lr-find", f"builtin:{name}"])
    filled = {"lr": None, "epochs": 200, "batch_size": None, "validation_fraction": None}
    args = argparse.Namespace(**{**vars(args), **filled})
    _, task, X, y = scaled_xy(args)
    found = lr_range_test(X, y, **setup_params(args, task)).suggestion
    auto, _ = auto_lr(argparse.Namespace(**{**vars(args), "lr": "auto"}))
    # train's default set-up at lr-find's suggestion
    diagnosis = diagnose_args(
        setup_of(parser.parse_args(["diagnose", f"builtin:{name}", "--lr", repr(found)]))
    )
    assert "lr-too-high" not in diagnosis.codes, [f.message for f in diagnosis.findings]
    assert "lr-too-low" not in diagnosis.codes
    # The doctor's learning-rate fix: the advice from the bound it measured at the initial weights.
    assert diagnosis.monitor["sharpness_epoch"][0] == 0
    doctor = advise_lr(bound=diagnosis.monitor["stability_threshold"][0]).rounded
    rates = (found, auto, doctor)
    assert max(rates) / min(rates) <= 2.0, rates
