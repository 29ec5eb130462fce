"""Tests for lossdoctor.data: round trips through every file format and every error message."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lossdoctor.data import (
    BUILTIN_DATASETS,
    DataError,
    builtin_dataset,
    check_classification_target,
    check_regression_target,
    infer_task,
    read_dataset,
)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def frame(rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": rng.normal(40.0, 10.0, size=12),
            "income": rng.normal(size=12),
            "count": rng.integers(0, 5, size=12),
            "label": np.array(["cat", "dog"] * 6),
        }
    )


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# --- built-in data sets ----------------------------------------------------------------------


def test_breast_cancer_is_binary_569_by_30() -> None:
    data = builtin_dataset()
    assert data.X.shape == (569, 30)
    assert data.X.dtype == np.float64
    assert data.X.flags.c_contiguous
    assert data.y is not None
    assert data.y.shape == (569,)
    assert set(np.unique(data.y)) == {0, 1}
    assert len(data.feature_names) == 30
    assert data.feature_names[0] == "mean radius"
    assert data.target_name == "target"
    assert data.source == "builtin:breast_cancer"


@pytest.mark.parametrize(
    ("name", "shape", "n_classes"),
    [
        ("iris", (150, 4), 3),
        ("wine", (178, 13), 3),
        ("digits", (1797, 64), 10),
        ("diabetes", (442, 10), None),
    ],
)
def test_builtin_shapes(name: str, shape: tuple[int, int], n_classes: int | None) -> None:
    data = builtin_dataset(name)
    assert data.X.shape == shape
    assert data.y is not None
    assert data.y.shape == (shape[0],)
    assert len(data.feature_names) == shape[1]
    assert np.isfinite(data.X).all()
    if n_classes is None:
        check_regression_target(data.y)
        assert data.y.dtype.kind == "f"
    else:
        check_classification_target(data.y)
        assert np.unique(data.y).size == n_classes


def test_unknown_builtin_lists_valid_names() -> None:
    with pytest.raises(DataError, match=r"unknown built-in data set 'mnist'.*breast_cancer.*iris"):
        builtin_dataset("mnist")
    assert set(BUILTIN_DATASETS) == {"breast_cancer", "iris", "wine", "digits", "diabetes"}


# --- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet", ".pq"])
def test_round_trip_tabular(tmp_path: Path, frame: pd.DataFrame, suffix: str) -> None:
    path = tmp_path / f"data{suffix}"
    if suffix.endswith((".parquet", ".pq")):
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)

    data = read_dataset(path, target="label")

    np.testing.assert_allclose(data.X, frame[["age", "income", "count"]].to_numpy(float))
    assert data.X.dtype == np.float64
    assert data.X.flags.c_contiguous
    assert data.feature_names == ["age", "income", "count"]
    assert data.target_name == "label"
    assert data.source == str(path)
    # String labels are kept as strings, not encoded.
    assert data.y is not None
    assert data.y.tolist() == frame["label"].tolist()
    assert data.y.dtype.kind == "U"


def test_round_trip_npz_with_feature_names(tmp_path: Path, rng: np.random.Generator) -> None:
    X = rng.normal(size=(20, 3))
    y = rng.integers(0, 2, size=20)
    path = tmp_path / "data.npz"
    np.savez(path, X=X, y=y, feature_names=np.array(["a", "b", "c"]))

    data = read_dataset(path)

    np.testing.assert_array_equal(data.X, X)
    assert data.y is not None
    np.testing.assert_array_equal(data.y, y)
    assert data.feature_names == ["a", "b", "c"]
    assert data.target_name == "y"


def test_npz_default_feature_names_and_other_target(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    X = rng.normal(size=(10, 4)).astype(np.float32)
    path = tmp_path / "data.npz"
    np.savez_compressed(path, X=X, labels=np.array(["x", "y"] * 5))

    data = read_dataset(path, target="labels")

    assert data.feature_names == ["x0", "x1", "x2", "x3"]
    assert data.X.dtype == np.float64
    assert data.y is not None
    assert data.y.tolist() == ["x", "y"] * 5


def test_npz_without_target_when_not_required(tmp_path: Path, rng: np.random.Generator) -> None:
    path = tmp_path / "data.npz"
    np.savez(path, X=rng.normal(size=(5, 2)))
    data = read_dataset(path, require_target=False)
    assert data.y is None
    assert data.target_name is None
    with pytest.raises(DataError, match=r"no target array in .*data\.npz.*'X'"):
        read_dataset(path)


def test_npz_feature_selection(tmp_path: Path, rng: np.random.Generator) -> None:
    X = rng.normal(size=(6, 3))
    path = tmp_path / "data.npz"
    np.savez(path, X=X, y=np.arange(6), feature_names=np.array(["a", "b", "c"]))
    data = read_dataset(path, features=["c", "a"])
    np.testing.assert_array_equal(data.X, X[:, [2, 0]])
    assert data.feature_names == ["c", "a"]
    with pytest.raises(DataError, match=r"feature columns not found in .*: 'z'"):
        read_dataset(path, features=["a", "z"])


def test_txt_with_tabs_and_default_target_y(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "data.txt", "a\tb\ty\n1\t2\t0\n3\t4\t1\n")
    data = read_dataset(path)
    np.testing.assert_array_equal(data.X, [[1.0, 2.0], [3.0, 4.0]])
    assert data.target_name == "y"


def test_default_target_column_named_target(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", "target,a\n1,0.5\n0,1.5\n")
    data = read_dataset(path)
    assert data.target_name == "target"
    assert data.feature_names == ["a"]
    assert data.y is not None
    assert data.y.tolist() == [1, 0]


def test_features_select_by_name_and_ignore_extra_columns(tmp_path: Path) -> None:
    # As in `predict`: the file has the target and an extra column, in another order.
    path = write_csv(tmp_path / "new.csv", "extra,b,label,a\nzz,2,cat,1\nyy,4,dog,3\n")
    data = read_dataset(path, features=["a", "b"], require_target=False)
    np.testing.assert_array_equal(data.X, [[1.0, 2.0], [3.0, 4.0]])
    assert data.feature_names == ["a", "b"]
    assert data.y is None

    data = read_dataset(path, features=["a", "b"], target="label")
    assert data.y is not None
    assert data.y.tolist() == ["cat", "dog"]


def test_no_target_required_uses_all_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", "a,b\n1,2\n")
    data = read_dataset(path, require_target=False)
    assert data.feature_names == ["a", "b"]
    assert data.y is None


# --- errors ----------------------------------------------------------------------------------


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    with pytest.raises(DataError, match=r"file not found: .*nope\.csv"):
        read_dataset(path)


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is a directory"):
        read_dataset(tmp_path)


def test_unsupported_extension(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "data.xlsx", "a,b\n1,2\n")
    with pytest.raises(DataError, match=r"unsupported file type '\.xlsx'.*\.csv.*\.parquet.*\.npz"):
        read_dataset(path)


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("bad.parquet", b"not parquet at all", r"cannot read .*bad\.parquet as Parquet"),
        ("bad.npz", b"not a zip", r"cannot read .*bad\.npz as NPZ"),
        ("bad.csv.gz", gzip.compress(b"a,b\n1,2\n")[:12], r"cannot read .*bad\.csv\.gz as CSV"),
        ("bad.csv", b"a,b\n\xff\xfe,\x00\xc3\n", r"cannot read .*bad\.csv as CSV"),
    ],
)
def test_corrupt_files(tmp_path: Path, name: str, content: bytes, match: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=match):
        read_dataset(path)


def test_empty_file(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "empty.csv", "")
    with pytest.raises(DataError, match=r"empty\.csv is empty"):
        read_dataset(path)


def test_header_without_rows(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", "a,b,target\n")
    with pytest.raises(DataError, match=r"d\.csv has no rows"):
        read_dataset(path)


def test_empty_parquet(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    pd.DataFrame({"a": np.array([], dtype=float), "y": np.array([], dtype=int)}).to_parquet(path)
    with pytest.raises(DataError, match=r"d\.parquet has no rows"):
        read_dataset(path)


def test_unknown_target_lists_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", "a,b,label\n1,2,0\n")
    with pytest.raises(DataError, match=r"unknown target column 'lbl' in .*columns: a b label$"):
        read_dataset(path, target="lbl")


def test_no_target_asks_for_one(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", "a,b,label\n1,2,0\n")
    with pytest.raises(DataError, match=r"no target column in .*--target"):
        read_dataset(path)


def test_a_missing_target_lists_every_column_in_command_line_syntax(tmp_path: Path) -> None:
    # Issue 17: the list was cut at 8 ("(22 more)") and the hint was Python's target=....
    header = ",".join(f"c{k}" for k in range(29)) + ",two words"
    path = write_csv(tmp_path / "d.csv", header + "\n" + ",".join(["1"] * 30) + "\n")
    with pytest.raises(DataError, match=r"columns: c0 c1 c2 .* c28 'two words'$"):
        read_dataset(path, target="nope")
    with pytest.raises(DataError, match=r"--target COL .* c28 'two words'$"):
        read_dataset(path)


def test_missing_feature_columns_are_named(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", "a,b,y\n1,2,0\n")
    with pytest.raises(DataError, match=r"feature columns not found in .*: 'c', 'd'"):
        read_dataset(path, features=["a", "c", "d"])


def test_target_listed_as_feature(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", "a,b,y\n1,2,0\n")
    with pytest.raises(DataError, match=r"'y' .* both the target and a feature"):
        read_dataset(path, target="y", features=["a", "y"])


def test_non_numeric_feature_names_column_value_and_row(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", "age,height,y\n31,1.8,0\n42,tall,1\n50,1.7,0\n")
    with pytest.raises(
        DataError, match=r"column 'height' in .* not numeric: value 'tall' at line 3"
    ):
        read_dataset(path)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "a,b,y\n1,2,0\n3,,1\n5,,0\n",
            r"column 'b' in .* has 2 missing or non-finite values"
            r" \(first at line 3\)",
        ),
        (
            "a,b,y\n1,2,0\n3,inf,1\n",
            r"column 'b' in .* has 1 missing or non-finite value"
            r" \(first at line 3\)",
        ),
        ("a,b,y\nnan,2,0\n3,4,1\n", r"column 'a' in .* \(first at line 2\).*--impute"),
    ],
)
def test_non_finite_features(tmp_path: Path, text: str, match: str) -> None:
    path = write_csv(tmp_path / "d.csv", text)
    with pytest.raises(DataError, match=match):
        read_dataset(path)


def test_non_finite_in_npz(tmp_path: Path) -> None:
    X = np.ones((4, 2))
    X[2, 1] = np.inf
    path = tmp_path / "d.npz"
    np.savez(path, X=X, y=np.arange(4))
    with pytest.raises(DataError, match=r"column 'x1' in .* 1 missing or non-finite value .*row 2"):
        read_dataset(path)


@pytest.mark.parametrize("text", ["a,label\n1,cat\n2,\n3,dog\n", "a,label\n1,0\n2,\n3,1\n"])
def test_missing_target_values(tmp_path: Path, text: str) -> None:
    path = write_csv(tmp_path / "d.csv", text)
    with pytest.raises(
        DataError, match=r"target column 'label' .* 1 missing value \(first at line 3\)"
    ):
        read_dataset(path, target="label")


def test_infinite_target_value(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", "a,y\n1,0.5\n2,inf\n")
    with pytest.raises(DataError, match=r"target column 'y' .* 1 infinite value"):
        read_dataset(path)


def test_npz_mismatched_lengths(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, X=np.ones((5, 2)), y=np.ones(4))
    with pytest.raises(DataError, match=r"different lengths: 5 rows vs 4 values"):
        read_dataset(path)


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ({"y": np.ones(3)}, r"has no array 'X'; arrays: 'y'"),
        ({"X": np.ones(3), "y": np.ones(3)}, r"'X' .* must be 2-D .*got shape \(3,\)"),
        ({"X": np.ones((0, 2)), "y": np.ones(0)}, r"has no rows"),
        ({"X": np.array([["a", "b"]]), "y": np.ones(1)}, r"'X' .* not numeric"),
        ({"X": np.ones((2, 2)), "y": np.ones((2, 2))}, r"target array 'y' .* must be 1-D"),
        ({"X": np.ones((2, 2)), "y": np.array([1.0, np.nan])}, r"'y' .* 1 missing or non-finite"),
        (
            {"X": np.ones((2, 2)), "y": np.ones(2), "feature_names": np.array(["a"])},
            r"'feature_names' .* 1 names but X has 2 columns",
        ),
        (
            {"X": np.ones((2, 2)), "y": np.ones(2), "feature_names": np.array(["a", "a"])},
            r"duplicated feature names .*: 'a'",
        ),
    ],
)
def test_npz_errors(tmp_path: Path, arrays: dict[str, np.ndarray], match: str) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=match):
        read_dataset(path)


def test_npz_unknown_target_array(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, X=np.ones((2, 2)), y=np.ones(2))
    with pytest.raises(DataError, match=r"unknown target array 'labels' .*arrays: 'X', 'y'"):
        read_dataset(path, target="labels")


def test_duplicated_column_names_csv(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", "a,b,a,y\n1,2,3,0\n")
    with pytest.raises(DataError, match=r"duplicated column names in .*: 'a'$"):
        read_dataset(path)


def test_duplicated_column_names_parquet(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_arrays([pa.array([1.0]), pa.array([2.0]), pa.array([0])], ["a", "a", "y"])
    path = tmp_path / "d.parquet"
    pq.write_table(table, path)
    with pytest.raises(DataError, match=r"duplicated column names in .*: 'a'"):
        read_dataset(path)


def test_duplicated_requested_features(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", "a,b,y\n1,2,0\n")
    with pytest.raises(DataError, match=r"duplicated features requested .*: 'a'"):
        read_dataset(path, features=["a", "a"])


def test_only_target_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", "y\n1\n0\n")
    with pytest.raises(DataError, match="no feature columns besides the target 'y'"):
        read_dataset(path)


def test_messages_are_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv.gz"
    path.write_bytes(gzip.compress(b"a,b\n1,2\n")[:12])
    with pytest.raises(DataError) as info:
        read_dataset(path)
    assert "\n" not in str(info.value)


# --- target checks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("y", "match"),
    [
        (
            np.ones(5, dtype=int),
            r"target column 'label' has only one class: 1 \(in all 5 samples\)",
        ),
        (np.array(["cat", "cat"]), r"only one class: 'cat'"),
        (np.array([0.0, np.nan, 1.0]), r"1 missing label \(first at row 1\)"),
        (np.ones((3, 2)), r"must be 1-D"),
        (np.array([]), r"is empty"),
    ],
)
def test_check_classification_target_errors(y: np.ndarray, match: str) -> None:
    with pytest.raises(DataError, match=match):
        check_classification_target(y, "target column 'label'")


def test_check_classification_target_accepts_two_classes() -> None:
    check_classification_target(np.array(["cat", "dog", "cat"]))
    check_classification_target(np.array([0, 1, 1]))


@pytest.mark.parametrize(
    ("y", "match"),
    [
        (np.array(["1.5", "high", "2"]), r"the target is not numeric.*value 'high' at row 1"),
        (np.array([1.0, np.inf, np.nan]), r"2 missing or non-finite values \(first at row 1\)"),
        (np.array([[1.0, 2.0]]), r"must be 1-D"),
    ],
)
def test_check_regression_target_errors(y: np.ndarray, match: str) -> None:
    with pytest.raises(DataError, match=match):
        check_regression_target(y)


def test_check_regression_target_accepts_numbers() -> None:
    check_regression_target(np.array([0.5, -1.0, 3.0]))
    check_regression_target(np.array([1, 2, 3]))
    check_regression_target(np.array(["1.5", "2"], dtype=object))


def test_data_error_is_a_value_error() -> None:
    assert issubclass(DataError, ValueError)


@pytest.mark.parametrize(
    ("y", "task"),
    [
        (np.array(["cat", "dog", "cat"]), "classification"),
        (np.array([True, False, True]), "classification"),
        (np.array([0, 1, 2, 1]), "classification"),
        (np.array([0.0, 1.0, 1.0]), "classification"),
        (np.arange(21), "regression"),  # more whole numbers than MAX_AUTO_CLASSES: a measurement
        (np.array([0.5, 1.0]), "regression"),
        (np.array([1.0, np.nan]), "regression"),
        (np.array([[0, 1], [1, 1]]), "classification"),  # 0/1 indicator columns: multilabel
        (np.array([[0.5, 1.0], [1.0, 2.0]]), "regression"),
    ],
)
def test_infer_task(y: np.ndarray, task: str) -> None:
    assert infer_task(y) == task


def test_every_entry_point_infers_the_same_task_for_diabetes() -> None:
    # Diabetes' target: 214 distinct whole numbers stored as floats, a disease score.
    from lossdoctor.diagnostics.diagnose import _task_of
    from lossdoctor.diagnostics.lr_range import make_setup

    data = builtin_dataset("diabetes")
    assert infer_task(data.y) == "regression"
    assert _task_of(data.y, "auto") == "regression"
    setup = make_setup(data.X, data.y, hidden_layer_sizes=(4,))
    assert setup.net.head == "identity" and setup.Y.shape == (442, 1)


def test_date_column_is_refused_by_name(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "when": pd.date_range("2026-01-01", periods=4, freq="D"),
            "x": [0.1, 0.2, 0.3, 0.4],
            "target": [0, 1, 0, 1],
        }
    )
    path = tmp_path / "dated.parquet"
    frame.to_parquet(path)
    with pytest.raises(DataError, match=r"column 'when' in .*dated\.parquet holds dates"):
        read_dataset(path)
    assert read_dataset(path, features=["x"]).X.shape == (4, 1)  # leaving it out works


def test_npz_with_no_feature_columns_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nocols.npz"
    np.savez(path, X=np.ones((40, 0)), y=np.arange(40) % 2)
    with pytest.raises(DataError, match=r"nocols\.npz has no feature columns.*\(40, 0\)"):
        read_dataset(path)
