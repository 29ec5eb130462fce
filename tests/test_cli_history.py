"""``train --history`` (issue 17): the per-epoch history, as CSV or JSON, written atomically."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from lossdoctor import cli
from lossdoctor.training import History

FAST = ["--hidden", "4", "--epochs", "4"]


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_history_is_written_with_one_row_per_epoch(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"run{suffix}"
    assert cli.main(["train", *FAST, "--history", str(path)]) == 0
    assert f"history written to {path}" in capsys.readouterr().out
    if suffix == ".csv":
        frame = pd.read_csv(path)
        assert list(frame.columns) == list(History.COLUMNS)
        assert frame["epoch"].tolist() == [1, 2, 3, 4]
        assert frame["loss"].is_monotonic_decreasing
    else:
        document = json.loads(path.read_text())
        assert document["epoch"] == [1, 2, 3, 4]
        assert document["stop_reason"] == "max_iter"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left


def test_history_needs_a_known_suffix_before_training(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert cli.main(["train", *FAST, "--history", str(tmp_path / "run.txt")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and ".csv or .json" in err


@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["--optimizer", "adam", "--batch-size", "64"],
        ["--scale", "none", "--lr", "0.001"],
    ],
)
def test_validation_loss_per_epoch_goes_to_history_and_plot(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, extra: list[str]
) -> None:
    # Issue 17: with --validation-fraction the plot showed the training curve only.
    history, plot = tmp_path / "run.csv", tmp_path / "loss.png"
    argv = ["train", *FAST, "--validation-fraction", "0.25", *extra]
    assert cli.main([*argv, "--history", str(history), "--plot", str(plot)]) == 0
    frame = pd.read_csv(history)
    assert frame["val_loss"].notna().all() and (frame["val_loss"] > 0).all()
    assert plot.stat().st_size > 0


def test_validation_loss_for_a_scaled_target(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    history = tmp_path / "run.json"
    argv = ["train", "builtin:diabetes", *FAST, "--scale-target", "--validation-fraction", "0.2"]
    assert cli.main([*argv, "--history", str(history)]) == 0
    val = json.loads(history.read_text())["val_loss"]
    assert len(val) == 4 and all(0 < v < 5 for v in val)  # in standardised units
