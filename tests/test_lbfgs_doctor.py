"""lbfgs has no learning rate: the doctor says so instead of judging one, and the CLI trains
with ``--optimizer lbfgs`` (issue 14, item 3)."""

from __future__ import annotations

import numpy as np
import pytest

import lossdoctor
from lossdoctor.cli import main
from lossdoctor.data import builtin_dataset
from lossdoctor.diagnostics.evidence import Evidence
from lossdoctor.diagnostics.rules import NO_LEARNING_RATE, evaluate

LR_CODES = {"lr-too-high", "lr-too-low"}


def _scaled_iris() -> tuple[np.ndarray, np.ndarray]:
    data = builtin_dataset("iris")
    X = (data.X - data.X.mean(axis=0)) / data.X.std(axis=0)
    return X, data.y


def test_diagnose_lbfgs_judges_no_learning_rate() -> None:
    X, y = _scaled_iris()
    d = lossdoctor.diagnose(X, y, solver="lbfgs", hidden_layer_sizes=(16,), random_state=0)
    assert not LR_CODES & {f.code for f in d.findings}
    assert d.monitor["sharpness"] == []  # no stability bound measured for a step it lacks
    assert "learning rate" not in d.summary  # a healthy run says nothing about it


def test_diagnose_lbfgs_bad_run_says_there_is_no_learning_rate() -> None:
    # alpha so large that the weights stay at zero: the loss sits at chance level.
    X, y = _scaled_iris()
    d = lossdoctor.diagnose(
        X, y, solver="lbfgs", hidden_layer_sizes=(16,), alpha=1e4, random_state=0
    )
    codes = {f.code for f in d.findings}
    assert codes and not LR_CODES & codes
    assert NO_LEARNING_RATE in d.summary
    for f in d.findings:
        assert "learning_rate_init" not in f.fix


@pytest.mark.parametrize("label", ["diverging", "oscillating", "non-finite", "plateau"])
def test_lr_rules_never_fire_for_lbfgs(label: str) -> None:
    losses = {
        "diverging": (1.0, 2.0, 5.0, 20.0, 100.0),
        "oscillating": (1.0, 3.0, 1.0, 3.0, 1.0),
        "non-finite": (1.0, 2.0),
        "plateau": (1.1, 1.1, 1.1, 1.1, 1.1),
    }[label]
    common = dict(
        losses=losses,
        n_epochs=len(losses),
        curve_label=label,
        curve_message="a curve",
        stop_reason="non-finite" if label == "non-finite" else None,
        lr={"label": "unstable", "sharpness": 10.0, "threshold": 0.2, "ratio": 5.0, "epoch": 0},
        learning_rate_init=1.0,
    )
    gd_codes = {f.code for f in evaluate(Evidence(optimizer="gd", solver="gd", **common))[0]}
    assert "lr-too-high" in gd_codes  # the same evidence convicts a real learning rate
    lbfgs = {**common, "lr": {}}  # the monitored run measures no bound for lbfgs
    findings, summary = evaluate(Evidence(optimizer="lbfgs", solver="lbfgs", **lbfgs))
    assert not summary.startswith("Healthy")
    assert not LR_CODES & {f.code for f in findings}
    assert NO_LEARNING_RATE in summary
    for f in findings:
        assert "learning_rate_init" not in f.fix


def test_cli_train_lbfgs_on_builtin_data(
    tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    out = f"{tmp_path}/m.npz"
    argv = ["train", "builtin:iris", "--optimizer", "lbfgs", "--hidden", "8", "--epochs", "200"]
    assert main([*argv, "--out", out]) == 0
    text = capsys.readouterr().out
    assert "lbfgs, no learning rate" in text
    assert "training accuracy" in text
    assert main(["predict", out, "builtin:iris"]) == 0
    assert capsys.readouterr().out.startswith("prediction,")


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--optimizer", "lbfgs", "--lr", "0.1"],
        ["train", "--optimizer", "lbfgs", "--lr", "auto"],
        ["train", "--optimizer", "lbfgs", "--batch-size", "32"],
        ["lr-find", "--optimizer", "lbfgs"],
        ["sweep", "--optimizer", "lbfgs"],
    ],
)
def test_cli_lbfgs_refuses_what_needs_a_learning_rate(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert "lbfgs" in capsys.readouterr().err


def test_cli_diagnose_lbfgs(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["diagnose", "builtin:iris", "--optimizer", "lbfgs", "--hidden", "8", "--epochs", "50"]
    assert main(argv) in (0, 1)
    text = capsys.readouterr().out
    assert "solver=lbfgs" in text
    assert "learning_rate_init" not in text
    assert "lr-too" not in text


def test_lbfgs_absurd_penalty_fix_is_capped_and_proven() -> None:
    # alpha 1e4 holds every weight at zero; a tenth of it (1e3) did too (iris accuracy 1/3 before
    # and after), so the fix caps the proposed penalty at 1.
    X, y = _scaled_iris()
    d = lossdoctor.diagnose(
        X, y, solver="lbfgs", hidden_layer_sizes=(16,), alpha=1e4, random_state=0, fix=True
    )
    assert d.findings[0].code == "regularization-too-strong"
    assert d.findings[0].flags["--alpha"] == "1"
    first = d.fix_rounds[0]
    assert first["changes"]["alpha"] == 1.0
    assert first["proven"], first["why"]
    assert d.fixed is not None and d.fixed.history.loss[-1] < 0.5 * d.history.loss[-1]
