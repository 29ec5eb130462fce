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
