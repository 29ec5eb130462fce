"""Reading data at the boundary: CSV, Parquet and NPZ files and scikit-learn's built-in data sets.

Everything that comes in from a file is checked here, once, and turned into a :class:`Dataset`
whose ``X`` is a finite, C-contiguous float64 matrix. Anything wrong raises :class:`DataError`
with a one-line message that names the file, the column and the offending value, so that the
command line can print it as it is.

Positions in a CSV file are file line numbers (1-based, the header is line 1); in Parquet and
NPZ files, rows counted from 0.
"""

from __future__ import annotations

import csv
import math
import os
import stat
import zipfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BUILTIN_DATASETS",
    "DataError",
    "Dataset",
    "builtin_dataset",
    "check_classification_target",
    "check_regression_target",
    "infer_task",
    "read_dataset",
]

# Columns (and NPZ arrays) taken as the target when none is named, in this order.
DEFAULT_TARGETS = ("target", "y")

BUILTIN_DATASETS = ("breast_cancer", "iris", "wine", "digits", "diabetes")

_CSV_SUFFIXES = (".csv", ".txt", ".csv.gz", ".txt.gz")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_NPZ_SUFFIXES = (".npz",)
_SUPPORTED = _CSV_SUFFIXES + _PARQUET_SUFFIXES + _NPZ_SUFFIXES

#: A numeric target of whole numbers with at most this many distinct values is taken as class
#: labels; with more (diabetes' 214 disease scores) it is a measurement.
MAX_AUTO_CLASSES = 20

# How many column names an error message lists before "...".
_MAX_LISTED = 8


class DataError(ValueError):
    """Bad input data; the message names the file, column or value."""


class UnsafeArchiveError(ValueError):
    """An NPZ archive whose ``.npy`` headers claim more data than the file holds, or objects."""


#: Limits on an NPZ archive, checked before any array is allocated.
MAX_COMPRESSION_RATIO = 1024
MAX_MEMBERS = 10_000
MAX_HEADER_BYTES = 10_000


class Dataset(NamedTuple):
    """A data set read at the boundary and checked.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features)
        Features as float64, C-contiguous, all finite.
    y : ndarray of shape (n_samples,) or None
        Target as read: numeric, or strings for class labels; None if there is no target.
    feature_names : list of str
        One name per column of ``X``.
    target_name : str or None
        Name of the target column or array; None if there is no target.
    source : str
        The file path, or ``"builtin:<name>"`` for a built-in data set.
    """

    X: np.ndarray
    y: np.ndarray | None
    feature_names: list[str]
    target_name: str | None
    source: str


def builtin_dataset(name: str = "breast_cancer") -> Dataset:
    """Load a small data set that ships inside scikit-learn (no download).

    Parameters
    ----------
    name : str, default "breast_cancer"
        One of ``"breast_cancer"`` (binary, 569 x 30), ``"iris"`` (3 classes, 150 x 4),
        ``"wine"`` (3 classes, 178 x 13), ``"digits"`` (10 classes, 1797 x 64) or
        ``"diabetes"`` (regression, 442 x 10).

    Returns
    -------
    Dataset
        ``X`` of shape (n_samples, n_features) as float64, ``y`` of shape (n_samples,) with
        integer class labels (or float targets for ``"diabetes"``), ``target_name`` ``"target"``
        and ``source`` ``"builtin:<name>"``.

    Raises
    ------
    DataError
        If ``name`` is not one of the names above; the message lists them.

    Examples
    --------
    >>> data = builtin_dataset("breast_cancer")
    >>> data.X.shape
    (569, 30)
    """
    # Imported here so that reading a CSV does not pay for importing scikit-learn's data sets.
    from sklearn import datasets

    loaders = {
        "breast_cancer": datasets.load_breast_cancer,
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
        "digits": datasets.load_digits,
        "diabetes": datasets.load_diabetes,
    }
    if name not in loaders:
        raise DataError(
            f"unknown built-in data set {name!r}; choose one of: {', '.join(BUILTIN_DATASETS)}"
        )
    bunch = loaders[name]()
    X = np.ascontiguousarray(bunch.data, dtype=np.float64)
    feature_names = [str(f) for f in bunch.feature_names]
    return Dataset(
        X=X,
        y=np.asarray(bunch.target),
        feature_names=feature_names,
        target_name="target",
        source=f"builtin:{name}",
    )


def read_dataset(
    path: str | os.PathLike[str],
    *,
    target: str | None = None,
    features: Sequence[str] | None = None,
    require_target: bool = True,
    missing: str = "error",
    text: str = "error",
) -> Dataset:
    """Read a data set from a CSV, Parquet or NPZ file and check it.

    Parameters
    ----------
    path : str or path-like
        A ``.csv``, ``.txt`` (delimiter sniffed), ``.csv.gz``, ``.txt.gz``, ``.parquet``, ``.pq``
        or ``.npz`` file. CSV and Parquet files have one column per feature and a header row.
        An NPZ file holds an array ``X`` of shape (n_samples, n_features), a target array
        (``y`` unless ``target`` names another) of shape (n_samples,), and optionally
        ``feature_names``, an array of n_features strings; without it the features are named
        ``x0`` .. ``x{n_features - 1}``.
    target : str, optional
        Name of the target column (or NPZ array). If None, a column named ``"target"`` or
        ``"y"`` is used if there is one (and is not listed in ``features``).
    features : sequence of str, optional
        Select exactly these feature columns by name, in this order, and ignore any others
        (this is how ``predict`` picks the columns a model was trained on). If None, every
        column except the target is a feature.
    require_target : bool, default True
        If True, a missing target is an error. If False, ``y`` and ``target_name`` are None
        when no target is named and none of the default names is present, and ``y`` is None
        when the target column has missing values (rows not labelled yet); the target column
        is never a feature.
    missing : {"error", "keep"}, default "error"
        ``"keep"``: missing feature values become NaN (for an imputer) instead of an error;
        infinities are still refused. CSV and Parquet only.
    text : {"error", "keep"}, default "error"
        ``"keep"``: text feature columns are kept as strings (for a one-hot encoder) and ``X``
        is then a :class:`pandas.DataFrame` of the feature columns (numbers as float64, text as
        Python strings, NaN where missing). CSV and Parquet only.

    Returns
    -------
    Dataset
        ``X`` of shape (n_samples, n_features) as finite, C-contiguous float64; ``y`` of shape
        (n_samples,) as read (numbers, or strings for text labels) or None.

    Raises
    ------
    DataError
        On a missing file, an unsupported extension, an unreadable or empty file, an unknown
        target or feature column, duplicated column names, a non-numeric or non-finite feature
        value, a missing target value, or X and y of different lengths. The message names the
        file and the column, value and row at fault.
    """
    path = Path(path)
    source = str(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise DataError(f"file not found: {source}") from None
    except OSError as exc:
        raise DataError(f"cannot read {source}: {_first_line(exc)}") from None
    if stat.S_ISDIR(mode):
        raise DataError(f"{source} is a directory, not a data file")
    if not stat.S_ISREG(mode):
        # A FIFO or a device would block or never end; only regular files are read.
        raise DataError(f"{source} is not a regular file (a pipe or a device); give a data file")
    if features is not None:
        features = [str(f) for f in features]
        _check_unique(features, f"features requested from {source}")
        if not features:
            raise DataError(f"no feature columns requested from {source}")

    name = path.name.lower()
    if name.endswith(_NPZ_SUFFIXES):
        return _read_npz(path, source, target, features, require_target)
    if name.endswith(_PARQUET_SUFFIXES):
        frame = _read_parquet(path, source)
    elif name.endswith(_CSV_SUFFIXES):
        frame = _read_csv(path, source)
    else:
        suffix = "".join(path.suffixes) or "(none)"
        raise DataError(
            f"unsupported file type {suffix!r} for {source}; use one of: {', '.join(_SUPPORTED)}"
        )
    # In a CSV file, row 0 is line 2 (the header is line 1); Parquet has no lines.
    first_line = 2 if name.endswith(_CSV_SUFFIXES) else None
    dataset = _from_frame(
        frame, source, target, features, require_target, first_line, missing, text
    )
    return dataset


def infer_task(y: Any) -> str:
    """``"classification"`` or ``"regression"`` for a target, as ``task="auto"`` decides it.

    Text or boolean labels and 0/1 indicator columns are classification; numbers that are not
    all finite whole numbers are regression; whole numbers are class labels when they take at
    most :data:`MAX_AUTO_CLASSES` distinct values, a measurement otherwise.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    """
    y = np.asarray(y)
    if y.dtype.kind not in "iuf":
        return "classification"
    if y.dtype.kind == "f" and not np.all(np.isfinite(y) & (y == np.round(y))):
        return "regression"
    if y.ndim == 2 and y.shape[1] > 1:
        return "classification" if np.isin(y, (0, 1)).all() else "regression"
    return "classification" if np.unique(y).size <= MAX_AUTO_CLASSES else "regression"


def check_classification_target(y: np.ndarray, source: str = "") -> None:
    """Check that a classification target is usable: 1-D, no missing labels, two classes or more.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Class labels, numbers or strings.
    source : str, optional
        What ``y`` is, for the message, such as ``"target column 'label' in data.csv"``.

    Raises
    ------
    DataError
        If ``y`` is not 1-D, is empty, has missing labels or holds only one class, for example
        ``target column 'label' in data.csv has only one class: 1 (in all 40 samples)``.
    """
    import pandas as pd

    what = source or "the target"
    y = _as_1d_target(y, what)
    missing = pd.isna(y)
    if missing.any():
        raise DataError(_count_message(f"{what} has", missing, "missing label"))
    classes = np.unique(y)
    if classes.size < 2:
        raise DataError(
            f"{what} has only one class: {_plain(classes[0])!r} (in all {y.shape[0]} samples); "
            "a classifier needs at least two"
        )


def check_regression_target(y: np.ndarray, source: str = "") -> None:
    """Check that a regression target is usable: 1-D, numeric and finite.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Target values.
    source : str, optional
        What ``y`` is, for the message, such as ``"target column 'price' in data.csv"``.

    Raises
    ------
    DataError
        If ``y`` is not 1-D, is empty, holds a value that is not a number (the message names
        the first such value and its row) or holds NaN or infinity (the message gives the count
        and the first row).
    """
    import pandas as pd

    what = source or "the target"
    y = _as_1d_target(y, what)
    if y.dtype.kind not in "biuf":
        numeric = pd.to_numeric(pd.Series(y), errors="coerce").to_numpy(dtype=np.float64)
        bad = np.isnan(numeric) & ~pd.isna(y)
        if bad.any():
            row = int(np.argmax(bad))
            raise DataError(
                f"{what} is not numeric, as regression needs: value {_plain(y[row])!r} at row {row}"
            )
        y = numeric
    bad = ~np.isfinite(y.astype(np.float64))
    if bad.any():
        raise DataError(_count_message(f"{what} has", bad, "missing or non-finite value"))


# --- helpers --------------------------------------------------------------------------------


def _read_csv(path: Path, source: str) -> pd.DataFrame:
    import pandas as pd

    # .txt files may be tab- or space-separated; let the python engine sniff the delimiter.
    options: dict[str, Any] = (
        {"sep": None, "engine": "python"} if ".txt" in path.name.lower() else {"sep": ","}
    )
    try:
        # pandas renames duplicated headers ("a", "a.1"), so read the raw header first.
        header = pd.read_csv(path, header=None, nrows=1, dtype=str, **options)
        frame = pd.read_csv(path, **options)
    except pd.errors.EmptyDataError:
        raise DataError(f"{source} is empty") from None
    except (
        pd.errors.ParserError,
        UnicodeDecodeError,
        EOFError,
        OSError,
        ValueError,
        csv.Error,  # the sniffer of .txt files: "Could not determine delimiter"
        IndexError,
        TypeError,
    ) as exc:
        raise DataError(f"cannot read {source} as CSV: {_first_line(exc)}") from None
    if header.shape[0] == 0 or frame.shape[1] == 0:
        raise DataError(f"{source} is empty")
    # Blank header cells are NaN here and become distinct "Unnamed: k" columns in pandas.
    _check_unique([str(c) for c in header.iloc[0].dropna().tolist()], f"column names in {source}")
    return frame


def _read_parquet(path: Path, source: str) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        names = [str(c) for c in pq.read_schema(path).names]
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(f"cannot read {source} as Parquet: {_first_line(exc)}") from None
    # Parquet allows duplicated names, on which read_table fails with an obscure message.
    _check_unique(names, f"column names in {source}")
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(f"cannot read {source} as Parquet: {_first_line(exc)}") from None
    frame = table.to_pandas()
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _from_frame(
    frame: pd.DataFrame,
    source: str,
    target: str | None,
    features: list[str] | None,
    require_target: bool,
    first_line: int | None = None,
    missing: str = "error",
    text: str = "error",
) -> Dataset:
    import pandas as pd

    keep_missing, keep_text = missing == "keep", text == "keep"
    columns = [str(c) for c in frame.columns]
    frame.columns = pd.Index(columns)
    if frame.shape[0] == 0:
        raise DataError(f"{source} has no rows (columns: {_listing(columns)})")

    if target is not None and target not in columns:
        raise DataError(
            f"unknown target column {target!r} in {source}; columns: {_all_names(columns)}"
        )
    if target is not None and features is not None and target in features:
        raise DataError(f"column {target!r} in {source} is both the target and a feature")
    if target is None:
        taken = set(features or ())
        target = next((c for c in DEFAULT_TARGETS if c in columns and c not in taken), None)
    if target is None and require_target:
        raise DataError(
            f"no target column in {source} (none is named 'target' or 'y'): name one with "
            f"--target COL (target= in Python); columns: {_all_names(columns)}"
        )

    if features is None:
        features = [c for c in columns if c != target]
    else:
        absent = [f for f in features if f not in columns]
        if absent:
            raise DataError(
                f"feature columns not found in {source}: {_listing(absent)}; "
                f"available columns: {_listing(columns)}"
            )
    if not features:
        raise DataError(f"{source} has no feature columns besides the target {target!r}")

    X: Any = np.empty((frame.shape[0], len(features)), dtype=np.float64)
    text_columns = {}
    for j, name in enumerate(features):
        column = frame[name]
        if keep_text and _is_text(column):
            text_columns[name] = column.map(str, na_action="ignore").astype(object)
            X[:, j] = 0.0
            continue
        X[:, j] = _numeric_column(column, name, source, first_line)
    if keep_missing:
        _check_finite(np.where(np.isnan(X), 0.0, X), features, source, first_line)
    else:
        _check_finite(X, features, source, first_line)
    if keep_text:
        X = pd.DataFrame(
            {n: text_columns[n] if n in text_columns else X[:, j] for j, n in enumerate(features)}
        )

    y = None
    if target is not None:
        try:
            y = _target_column(frame[target], target, source, first_line)
        except DataError:
            if require_target:
                raise
            # Rows waiting for a prediction have no labels yet: the column is set aside unread.
    return Dataset(X=X, y=y, feature_names=list(features), target_name=target, source=source)


def _is_text(column: pd.Series) -> bool:
    """Strings, categories or booleans stored as objects: what a one-hot encoder takes."""
    import pandas as pd

    dtype = column.dtype
    if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype):
        return False
    values = column.dropna()
    return all(isinstance(v, (str, bool, np.bool_)) for v in values.tolist())


def _numeric_column(
    column: pd.Series, name: str, source: str, first_line: int | None = None
) -> np.ndarray:
    """Return one feature column as float64 or say which value is not a number."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(column.dtype):
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    if pd.api.types.is_datetime64_any_dtype(column.dtype) or pd.api.types.is_timedelta64_dtype(
        column.dtype
    ):
        # pandas would turn these into nanosecond counts near 1e18, which no scaling makes useful.
        raise DataError(
            f"column {name!r} in {source} holds dates or durations ({column.dtype}); convert it "
            "to numbers first (days since a reference date, say) or leave it out"
        )
    numeric = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    # A value that was present but did not parse is non-numeric; a missing one is reported
    # later as non-finite, with the count.
    bad = np.isnan(numeric) & column.notna().to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(
            f"column {name!r} in {source} is not numeric: value {column.iloc[row]!r} at "
            f"{_position(row, first_line)}; one-hot encode text columns with --encode onehot"
        )
    return numeric


def _target_column(
    column: pd.Series, name: str, source: str, first_line: int | None = None
) -> np.ndarray:
    import pandas as pd

    missing = column.isna().to_numpy()
    if missing.any():
        raise DataError(
            _count_message(
                f"target column {name!r} in {source} has", missing, "missing value", first_line
            )
        )
    if pd.api.types.is_numeric_dtype(column.dtype):
        y = column.to_numpy()
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise DataError(
                _count_message(
                    f"target column {name!r} in {source} has",
                    ~np.isfinite(y),
                    "infinite value",
                    first_line,
                )
            )
        return y
    # Text labels come back as a NumPy string array rather than pandas' object array.
    return np.asarray([str(v) for v in column.tolist()], dtype=str)


def _read_npz(
    path: Path,
    source: str,
    target: str | None,
    features: list[str] | None,
    require_target: bool,
) -> Dataset:
    if not zipfile.is_zipfile(path):
        raise DataError(f"cannot read {source} as NPZ: it is not a zip archive of arrays")
    try:
        # Each header is checked against the file's size before its array is allocated, and
        # object arrays (pickles) are refused.
        with open(path, "rb") as f:
            arrays = read_npz_arrays(f, os.fstat(f.fileno()).st_size)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, SyntaxError, KeyError) as exc:
        raise DataError(f"cannot read {source} as NPZ: {_first_line(exc)}") from None
    keys = sorted(arrays)
    if not arrays:
        raise DataError(f"{source} is empty: it holds no arrays")
    if "X" not in arrays:
        raise DataError(f"{source} has no array 'X'; arrays: {_listing(keys)}")

    X = arrays["X"]
    if X.ndim != 2:
        raise DataError(
            f"array 'X' in {source} must be 2-D (n_samples, n_features), got shape {X.shape}"
        )
    if X.shape[0] == 0:
        raise DataError(f"{source} has no rows: array 'X' has shape {X.shape}")
    if X.shape[1] == 0:
        raise DataError(f"{source} has no feature columns: array 'X' has shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise DataError(f"array 'X' in {source} is not numeric: dtype {X.dtype}")

    if "feature_names" in arrays:
        names = [str(v) for v in np.ravel(arrays["feature_names"]).tolist()]
        if len(names) != X.shape[1]:
            raise DataError(
                f"array 'feature_names' in {source} has {len(names)} names "
                f"but X has {X.shape[1]} columns"
            )
        _check_unique(names, f"feature names in {source}")
    else:
        names = [f"x{j}" for j in range(X.shape[1])]

    if features is not None:
        missing = [f for f in features if f not in names]
        if missing:
            raise DataError(
                f"feature columns not found in {source}: {_listing(missing)}; "
                f"available: {_listing(names)}"
            )
        X = X[:, [names.index(f) for f in features]]
        names = list(features)
    X = np.ascontiguousarray(X, dtype=np.float64)
    _check_finite(X, names, source)

    if target is not None and target not in arrays:
        raise DataError(f"unknown target array {target!r} in {source}; arrays: {_listing(keys)}")
    if target is None:
        target = "y" if "y" in arrays else None
    if target is None:
        if require_target:
            raise DataError(
                f"no target array in {source}: expected 'y' or target=...; arrays: {_listing(keys)}"
            )
        return Dataset(X=X, y=None, feature_names=names, target_name=None, source=source)

    y = arrays[target]
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"target array {target!r} in {source} must be 1-D, got shape {y.shape}")
    if y.shape[0] != X.shape[0]:
        raise DataError(
            f"X and {target!r} in {source} have different lengths: "
            f"{X.shape[0]} rows vs {y.shape[0]} values"
        )
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise DataError(
            _count_message(
                f"target array {target!r} in {source} has",
                ~np.isfinite(y),
                "missing or non-finite value",
            )
        )
    return Dataset(X=X, y=y, feature_names=names, target_name=target, source=source)


def read_npz_arrays(f: Any, file_size: int, *, max_bytes: int = 4 * 2**30) -> dict[str, Any]:
    """Every ``.npy`` member of the archive, each header checked before its data is allocated.

    An array must hold no more bytes than its zip member declares, a stored (uncompressed)
    member no more than the file itself, a compressed one no more than
    :data:`MAX_COMPRESSION_RATIO` times its compressed size, and all together no more than
    ``max_bytes``. Raises :class:`UnsafeArchiveError` (message without the path) when a header
    claims too much or holds Python objects, zipfile's and NumPy's errors when damaged.
    """
    arrays: dict[str, Any] = {}
    total = 0
    with zipfile.ZipFile(f) as archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise UnsafeArchiveError(f"it holds {len(members)} arrays, more than {MAX_MEMBERS}")
        for member in members:
            name = member.filename.removesuffix(".npy")
            limit = member.file_size
            if member.compress_type == zipfile.ZIP_STORED:
                limit = min(limit, file_size)
            else:
                limit = min(limit, member.compress_size * MAX_COMPRESSION_RATIO)
            with archive.open(member) as stream:
                version = np.lib.format.read_magic(stream)
                if version not in ((1, 0), (2, 0), (3, 0)):
                    raise ValueError(f"array {name!r} has an unknown .npy version {version}")
                reader = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape, fortran, dtype = reader(stream, max_header_size=MAX_HEADER_BYTES)
                if dtype.hasobject:
                    raise UnsafeArchiveError(
                        f"array {name!r} holds Python objects, which only a pickle can "
                        "restore; lossdoctor never loads pickles"
                    )
                nbytes = math.prod(shape) * dtype.itemsize
                total += nbytes
                if nbytes > limit or total > max_bytes:
                    raise UnsafeArchiveError(
                        f"array {name!r} declares shape {shape} "
                        f"({nbytes} bytes), more than the file holds ({limit} bytes for it, "
                        f"{max_bytes} bytes in all)"
                    )
                data = stream.read(nbytes)
                if len(data) != nbytes:
                    raise EOFError(f"array {name!r} is cut short")
                array = np.frombuffer(data, dtype=dtype)
                array = array.reshape(shape[::-1]).T if fortran else array.reshape(shape)
                arrays[name] = array.copy()  # writable, like np.load's arrays
    return arrays


def _check_finite(
    X: np.ndarray, names: Sequence[str], source: str, first_line: int | None = None
) -> None:
    """Raise naming the first column of X that holds NaN or infinity."""
    bad = ~np.isfinite(X)
    if not bad.any():
        return
    j = int(np.argmax(bad.any(axis=0)))
    raise DataError(
        _count_message(
            f"column {names[j]!r} in {source} has",
            bad[:, j],
            "missing or non-finite value",
            first_line,
        )
        + (": fill them with --impute mean|median|most_frequent" if first_line else "")
    )


def _check_unique(names: Sequence[str], what: str) -> None:
    dupes = [name for name, count in Counter(names).items() if count > 1]
    if dupes:
        raise DataError(f"duplicated {what}: {_listing(dupes)}")


def _as_1d_target(y: Any, what: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise DataError(f"{what} must be 1-D (n_samples,), got shape {y.shape}")
    if y.shape[0] == 0:
        raise DataError(f"{what} is empty")
    return y


def _count_message(prefix: str, bad: np.ndarray, noun: str, first_line: int | None = None) -> str:
    count = int(bad.sum())
    plural = "" if count == 1 else "s"
    return (
        f"{prefix} {count} {noun}{plural} (first at {_position(int(np.argmax(bad)), first_line)})"
    )


def _position(row: int, first_line: int | None) -> str:
    """``line 4`` of a text file (1-based, header counted), else ``row 2`` (0-based)."""
    return f"row {row}" if first_line is None else f"line {row + first_line}"


def _all_names(names: Sequence[str]) -> str:
    """Every name, as a command line takes it: ``a b 'two words'``."""
    import shlex

    return " ".join(shlex.quote(n) for n in names)


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:_MAX_LISTED])
    more = len(names) - _MAX_LISTED
    return shown + (f", ... ({more} more)" if more > 0 else "")


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python value, so that messages show 1 and 'cat', not np.int64(1)."""
    return value.item() if isinstance(value, np.generic) else value


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
