"""Healthy runs the doctor used to flag, and the faults it used to miss (issue 13).

Each test builds the evidence the rule reads, or trains the run, and checks the finding the
real-case suite (``tests/real_cases.py``) showed to be wrong before.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lossdoctor.diagnostics.diagnose import fix_verdict
from lossdoctor.diagnostics.evidence import Evidence
from lossdoctor.diagnostics.findings import Diagnosis
from lossdoctor.diagnostics.monitors import TrainingMonitor
from lossdoctor.diagnostics.rules import RULES, _rms_band
from lossdoctor.training import History


def detect(code: str, ev: Evidence):  # type: ignore[no-untyped-def]
    """The finding of one row of the table, or None."""
    return next(rule for rule in RULES if rule.code == code).detect(ev)


def _init_layer(size: int, ratio: float) -> dict[str, float | str | int]:
    return {
        "name": "W9",
        "size": size,
        "std": ratio,
        "mean": 0.0,
        "rms": ratio,
        "expected_std": 1.0,
        "std_ratio": ratio,
        "positive_share": 0.4,
    }


@pytest.mark.parametrize("size", [5, 1000])
def test_init_scale_allows_the_sampling_spread_of_a_small_layer(size: int) -> None:
    # He's rule draws the 5 weights of an output layer with an RMS below a third of the
    # expected one about once in a hundred draws (chi-squared with 5 degrees of freedom).
    ev = Evidence(
        init={"init": "he_normal", "reference": "he_normal", "layers": [_init_layer(size, 0.29)]},
        activation="relu",
    )
    found = detect("init-scale", ev)
    assert (found is None) == (size == 5)


def test_rms_band_is_the_fixed_factor_for_large_layers_and_wider_for_tiny_ones() -> None:
    assert _rms_band(10_000) == pytest.approx((1 / 3, 3.0))
    low, high = _rms_band(5)
    assert low < 0.2 and high == 3.0
    rng = np.random.default_rng()
    # A correct draw of 5 weights lands inside the band (misses at rate 1e-4 by construction).
    ratios = np.sqrt(np.mean(rng.standard_normal((2000, 5)) ** 2, axis=1))
    assert np.mean((ratios < low) | (ratios > high)) < 0.005


def _overfit_evidence(end_score: float, end_val: float) -> Evidence:
    n = 60
    train = tuple(0.6 * 0.93**i for i in range(n))
    val = tuple(0.3 if i < 20 else 0.3 + (end_val - 0.3) * (i - 20) / (n - 21) for i in range(n))
    scores = tuple(0.98 if i < 20 else end_score for i in range(n))
    return Evidence(
        task="classification",
        chance_loss=0.66,
        losses=train,
        val_losses=val,
        val_scores=scores,
        n_validation=114,
        curve_label="converging",
        n_epochs=n,
    )


def test_overfitting_whose_score_held_is_info_and_one_that_lost_it_a_warning() -> None:
    held = detect("overfitting", _overfit_evidence(end_score=0.965, end_val=0.6))
    assert held is not None and held.severity == "info"
    assert "more confident, not worse" in held.message
    lost = detect("overfitting", _overfit_evidence(end_score=0.85, end_val=0.6))
    assert lost is not None and lost.severity == "warning"
    # Worse than guessing at the end: a warning even with the score held.
    worse = detect("overfitting", _overfit_evidence(end_score=0.965, end_val=0.9))
    assert worse is not None and worse.severity == "warning"


def test_saturation_that_develops_in_a_settled_run_is_healthy() -> None:
    falling = tuple(0.69 * 0.9**i for i in range(40))
    late = {"saturation": {"A1": [0.1, 0.6, 0.7, 0.7]}}
    ev = Evidence(
        activation="sigmoid",
        chance_loss=0.69,
        losses=falling,
        curve_label="converging",
        monitor=late,
        n_epochs=40,
        lr={"label": "stable", "sharpness": 1.0, "threshold": 2.0, "ratio": 0.5},
    )
    assert detect("saturated-activations", ev) is None
    early = {"saturation": {"A1": [0.6, 0.6, 0.7, 0.7]}}
    assert detect("saturated-activations", Evidence(**{**ev.__dict__, "monitor": early}))


def test_a_jump_inside_the_first_epoch_is_a_learning_rate_too_high() -> None:
    # Adam at 0.5 on the digits: the first epoch's mean loss is already 6x the loss at the
    # initial weights, and the curve falls from there.
    losses = (16.5, 17.2, 5.0, 2.9, 2.5, 2.3, 2.1, 2.0)
    ev = Evidence(
        optimizer="adam",
        solver="adam",
        learning_rate_init=0.5,
        chance_loss=2.3,
        losses=losses,
        curve_label="converging",
        monitor={"epoch": [0, 4], "loss": [2.58, 2.5]},
        n_epochs=len(losses),
    )
    found = detect("lr-too-high", ev)
    assert found is not None and "at the initial weights" in found.message
    assert detect("lr-too-high", Evidence(**{**ev.__dict__, "monitor": {}})) is None


def test_monitor_checks_the_loops_output_and_loss_and_computes_chance() -> None:
    rng = np.random.default_rng()
    X = rng.standard_normal((120, 4))
    y = (X[:, 0] > 0).astype(int)
    mon = TrainingMonitor(activation="tanh")
    W = rng.standard_normal((4, 8)) * 0.5
    for epoch in range(1, 21):
        # A softmax over one unit: the loss never moves and every gradient is zero.
        mon.record(
            epoch=epoch,
            loss=10.02,
            activations={"A1": np.tanh(X @ W)},
            grads={"W1": np.zeros_like(W), "W2": np.zeros((8, 1))},
            params={"W1": W},
        )
    d = mon.diagnose(lr=0.1, X=X, y=y, output_activation="softmax", loss="binary_crossentropy")
    codes = [f.code for f in d.findings]
    assert codes[0] == "output-loss-mismatch"
    assert "zero-gradients" in codes
    assert d.setup["output_activation"] == "softmax"
    plateau = next(f for f in d.findings if f.code == "plateau")
    share = float(np.mean(y))
    chance = -(share * math.log(share) + (1 - share) * math.log(1 - share))
    assert f"({chance:.4g})" in plateau.message and "above" in plateau.message
    with pytest.raises(ValueError, match="need X and y"):
        mon.diagnose(lr=0.1, output_activation="softmax")
    with pytest.raises(ValueError, match="unknown output_activation"):
        mon.diagnose(lr=0.1, X=X, y=y, output_activation="softplus")


def _diagnosis(loss: str, score: float, val_loss: float) -> Diagnosis:
    h = History()
    h.loss, h.val_score, h.val_loss = [0.5], [score], [val_loss]
    return Diagnosis(findings=[], setup={"loss": loss}, history=h, monitor={}, summary="")


def test_a_fix_that_changes_the_loss_is_judged_on_the_metric_alone() -> None:
    before = _diagnosis("binary_crossentropy", 0.83, 0.60)
    after = _diagnosis("categorical_crossentropy", 0.83, 0.37)
    verdict = fix_verdict(before, after)
    assert verdict["proven"] is False and "do not compare" in verdict["why"]
    same = fix_verdict(before, _diagnosis("binary_crossentropy", 0.83, 0.37))
    assert same["proven"] is True


def test_gradient_fix_is_tanh_for_narrow_layers_and_relu_otherwise() -> None:
    from lossdoctor.diagnostics.rules import gradient_activation

    assert gradient_activation((5,) * 8) == "tanh"
    assert gradient_activation((128, 64)) == "relu"
    narrow = Evidence(
        monitor={"grad_norm": {"W1": [1e-7, 1e-7], "W2": [1.0, 1.0], "W3": [1.0, 1.0]}},
        hidden_widths=(5, 5),
    )
    found = detect("vanishing-gradients", narrow)
    assert found is not None and "activation='tanh'" in found.fix


@pytest.mark.parametrize(("value", "severity"), [(0.0, "info"), (1.0, "info"), (2019.0, "warning")])
def test_constant_columns_are_a_note_unless_large(value: float, severity: str) -> None:
    from lossdoctor.diagnostics.evidence import data_evidence

    rng = np.random.default_rng()
    X = np.hstack([rng.standard_normal((50, 3)), np.full((50, 1), value)])
    data = data_evidence(X, task="classification", feature_names=["a", "b", "c", "year"])
    found = detect("constant-features", Evidence(data=data))
    assert found is not None and found.severity == severity
    assert "['year']" in found.message


def test_multilabel_targets_get_no_class_balance_from_argmax() -> None:
    from lossdoctor.diagnostics.evidence import data_evidence

    rng = np.random.default_rng()
    X = rng.standard_normal((200, 3))
    # Label 0 on every row, label 1 on a third: argmax would call class 1 a 0% minority.
    Y = np.column_stack([np.ones(200), rng.random(200) < 1 / 3]).astype(int)
    data = data_evidence(X, Y, task="classification")
    assert "imbalance_ratio" not in data and data["label_positives"]["0"] == 200
    assert detect("class-imbalance", Evidence(data=data)) is None
    one_hot = np.eye(3, dtype=int)[rng.integers(0, 3, 200)]
    assert "imbalance_ratio" in data_evidence(X, one_hot, task="classification")
