"""The command line of the learning-rate tools: lr-find, sweep and train --lr auto."""

from __future__ import annotations

import re

import pytest

from lossdoctor.cli import main

PNG = b"\x89PNG\r\n\x1a\n"


def test_lr_find_with_no_other_argument(tmp_path, capsys):
    """Built-in data, standardised, 128-64 tanh: a table, a suggestion, the bound and a plot."""
    plot = tmp_path / "lr.png"
    assert main(["lr-find", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "builtin:breast_cancer" in out and "30-128-64 tanh" in out
    assert "learning rate" in out and "smoothed" in out
    assert re.search(r"suggested learning rate [\d.e+-]+: 0.5 x the stability bound", out)
    assert "one tenth of the learning rate at the minimum" in out
    assert re.search(r"curvature bound at the initial weights: [\d.e+-]+ = 2/L", out)
    assert plot.read_bytes()[:8] == PNG


def test_lr_find_is_repeatable(capsys):
    args = ["lr-find", "--hidden", "8", "--steps", "40", "--seed", "3"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert main(args) == 0
    assert capsys.readouterr().out == first


def test_sweep_table_and_plot(tmp_path, capsys):
    plot = tmp_path / "sweep.png"
    argv = ["sweep", "--lr", "0.01", "1", "--epochs", "30", "--hidden", "8", "--plot", str(plot)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.lstrip().startswith("lr"))
    for column in ("final loss", "score", "curve", "sharpness", "limit", "verdict"):
        assert column in header
    rows = [line.split() for line in out.splitlines() if re.match(r"\s*(0\.01|1)\s", line)]
    assert [r[0] for r in rows] == ["0.01", "1"]
    assert "2/lr (gradient descent)" in out
    assert plot.read_bytes()[:8] == PNG


def test_sweep_defaults_run_on_builtin_data(capsys):
    """No learning rates given: the default ones, on the default set-up (fewer epochs here)."""
    assert main(["sweep", "--epochs", "5"]) == 0
    out = capsys.readouterr().out
    assert "30-128-64 tanh" in out
    for lr in ("0.01", "0.1", "1", "10"):
        assert re.search(rf"^\s*{re.escape(lr)}\s", out, re.MULTILINE)


def test_train_lr_auto_states_the_rule(capsys):
    assert main(["train", "--lr", "auto", "--hidden", "8", "--epochs", "20"]) == 0
    out = capsys.readouterr().out
    m = re.search(r"learning rate auto: ([\d.e+-]+)", out)
    assert m is not None
    assert "0.5 x stability limit" in out and "2/L" in out
    assert f"lr {float(m.group(1)):g}" in out  # the train summary reports the chosen rate


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--lr", "auto", "--optimizer", "adam", "--epochs", "2"], "no curvature rule"),
        (["train", "--lr", "fast"], "fast"),
        (["lr-find", "--start", "1", "--stop", "0.1"], "--start"),
        (["sweep", "--lr", "0.1", "-1"], "-1"),
        (["sweep", "--jobs", "0"], "--jobs"),
    ],
)
def test_bad_input_is_one_line_and_status_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("lossdoctor: error:") and message in err
    assert err.count("\n") == 1
