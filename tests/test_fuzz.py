"""Property-based tests (issue 17): whatever the input, ``read_dataset``, ``load`` and the
command line's parser end in a result or the project's own error, never another exception.

Bounded (``max_examples``, 60; ``LOSSDOCTOR_FUZZ_EXAMPLES=800`` for a longer hunt) so that
they run in CI in seconds; ``deadline=None`` because file
system calls on a shared machine vary.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lossdoctor import MLPClassifier
from lossdoctor.cli import build_parser
from lossdoctor.cli.errors import UsageError
from lossdoctor.data import DataError, Dataset, read_dataset
from lossdoctor.model_files import ModelFileError, load, save

FUZZ = settings(
    max_examples=int(os.environ.get("LOSSDOCTOR_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

# Text that looks like a data file often enough to reach the parser's corners.
_cell = st.one_of(
    st.sampled_from(["", "1", "-2.5", "nan", "inf", "x", '"', "a b", "1e999", "target", "y"]),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=6),
)
_table = st.lists(st.lists(_cell, min_size=0, max_size=5), max_size=6).flatmap(
    lambda rows: st.sampled_from([",", "\t", " ", ";", "|"]).map(
        lambda sep: "\n".join(sep.join(row) for row in rows)
    )
)


@FUZZ
@given(
    content=st.one_of(_table, st.text(max_size=200), st.binary(max_size=200)),
    suffix=st.sampled_from([".csv", ".txt", ".npz", ".parquet", ".csv.gz"]),
    target=st.one_of(st.none(), st.sampled_from(["target", "y", "a", "1"])),
    keep=st.booleans(),
)
def test_read_dataset_returns_data_or_a_data_error(
    content: str | bytes, suffix: str, target: str | None, keep: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"data{suffix}"
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        mode = "keep" if keep else "error"
        try:
            data = read_dataset(path, target=target, missing=mode, text=mode)
        except DataError:
            return
    assert isinstance(data, Dataset)
    if not keep:
        assert np.isfinite(data.X).all()


def test_a_parquet_list_column_is_refused(tmp_path: Path) -> None:
    import pandas as pd

    path = tmp_path / "lists.parquet"
    pd.DataFrame({"a": [[1, 2], [3], [4]], "b": [1.0, 2.0, 3.0], "y": [0, 1, 0]}).to_parquet(path)
    with pytest.raises(DataError, match="'a'"):
        read_dataset(path)


@pytest.fixture(scope="module")
def model_bytes() -> bytes:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3))
    y = (X[:, 0] > 0).astype(int)
    clf = MLPClassifier((3,), max_iter=2, n_iter_no_change=None, random_state=0).fit(X, y)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.npz"
        save(clf, path)
        return path.read_bytes()


@FUZZ
@given(data=st.data())
def test_load_returns_a_model_or_a_model_file_error(
    model_bytes: bytes, data: st.DataObject
) -> None:
    kind = data.draw(st.sampled_from(["flip", "truncate", "random", "splice"]))
    raw = bytearray(model_bytes)
    if kind == "flip":
        for _ in range(data.draw(st.integers(1, 8))):
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] ^= 1 << data.draw(st.integers(0, 7))
    elif kind == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    elif kind == "random":
        raw = bytearray(data.draw(st.binary(max_size=300)))
    else:
        i = data.draw(st.integers(0, len(raw)))
        raw[i:i] = data.draw(st.binary(min_size=1, max_size=40))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.npz"
        path.write_bytes(bytes(raw))
        try:
            model = load(path)
        except ModelFileError:
            return
    assert hasattr(model, "predict")


_TOKENS = [
    "train", "predict", "gradcheck", "lr-find", "sweep", "diagnose", "--hidden", "--lr",
    "auto", "--epochs", "--batch-size", "--seed", "--dtype", "float32", "--activation", "relu",
    "--init", "--init-scale", "--alpha", "--optimizer", "adam", "--scale", "none", "--target",
    "--task", "--validation-fraction", "--out", "--plot", "--history", "--fix", "--json",
    "--impute", "median", "--encode", "onehot", "--scale-target", "--exhaustive", "--samples",
    "--start", "--stop", "--steps", "--jobs", "--report", "0", "1", "-1", "0.5", "1e309", "nan",
    "-", "--", "x.csv", "m.npz", "--help", "--version", "=", "--lr=0.1", "--hid",
]  # fmt: skip


@FUZZ
@given(argv=st.lists(st.one_of(st.sampled_from(_TOKENS), st.text(max_size=8)), max_size=8))
def test_parsing_any_command_line_ends_in_arguments_or_a_usage_error(argv: list[str]) -> None:
    parser = build_parser()
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            args = parser.parse_args(argv)
    except UsageError:
        return
    except SystemExit as exc:  # --help and --version print and exit 0
        assert exc.code == 0
        return
    assert isinstance(args, argparse.Namespace) and callable(args.run)
