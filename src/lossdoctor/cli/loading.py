"""Reading ``DATA`` for a command: the file or built-in set, the task, the features as the
network sees them."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .options import DEFAULT_DATA

if TYPE_CHECKING:
    from ..data import Dataset

_BUILTIN_PREFIX = "builtin:"


def read_data(
    spec: str | None,
    *,
    target: str | None = None,
    features: Sequence[str] | None = None,
    require_target: bool = True,
    missing: str = "error",
    text: str = "error",
) -> Dataset:
    """Read a data file or a ``builtin:NAME`` data set (None: the built-in breast cancer data).

    ``missing`` and ``text`` (``"keep"`` for ``--impute`` and ``--encode``) are passed to
    :func:`~lossdoctor.data.read_dataset`; the built-in data sets have neither.
    """
    from ..data import DataError, builtin_dataset, read_dataset

    spec = DEFAULT_DATA if spec is None else spec
    if not spec.startswith(_BUILTIN_PREFIX):
        return read_dataset(
            spec,
            target=target,
            features=features,
            require_target=require_target,
            missing=missing,
            text=text,
        )
    data = builtin_dataset(spec[len(_BUILTIN_PREFIX) :])
    if target is not None and target != data.target_name:
        raise DataError(f"{data.source} has no column {target!r}; its target is 'target'")
    if features is None:
        return data
    absent = [f for f in features if f not in data.feature_names]
    if absent:
        shown = ", ".join(repr(f) for f in absent[:5]) + (", ..." if len(absent) > 5 else "")
        raise DataError(f"{len(absent)} feature columns not found in {data.source}: {shown}")
    columns = [data.feature_names.index(f) for f in features]
    return data._replace(X=np.ascontiguousarray(data.X[:, columns]), feature_names=list(features))


def load_data(args: argparse.Namespace) -> Dataset:
    """Read the ``DATA`` argument with its ``--target``; the result has a target.

    With ``--impute`` missing feature values are kept (NaN), with ``--encode onehot`` text
    columns are kept (``X`` is then a DataFrame).
    """
    impute, encode = getattr(args, "impute", None), getattr(args, "encode", None)
    return read_data(
        args.data,
        target=args.target,
        missing="keep" if impute else "error",
        text="keep" if encode else "error",
    )


def task_and_target(data: Dataset, requested: str = "auto") -> tuple[str, NDArray]:
    """Settle the task and check the target for it.

    Returns
    -------
    task : {"classification", "regression"}
    y : ndarray of shape (n_samples,)
        The target, as float64 for regression.

    Raises
    ------
    DataError
        If the target does not suit the task (one class only, non-numeric values for
        regression, missing values).
    """
    from ..data import (
        DataError,
        check_classification_target,
        check_regression_target,
        infer_task,
    )

    assert data.y is not None  # load_data asks for a target
    y = data.y
    task = requested if requested != "auto" else infer_task(y)
    what = f"target {data.target_name!r} of {data.source}"
    if task == "classification":
        check_classification_target(y, source=what)
        if y.dtype.kind == "f" and not np.all(y == np.round(y)):
            first_fraction = float(y[np.argmax(y != np.round(y))])
            raise DataError(
                f"{what} has fractional values such as {first_fraction!r}; classification "
                "needs class labels (use --task regression for a numeric target)"
            )
        return task, y
    check_regression_target(y, source=what)
    return task, np.asarray(y, dtype=np.float64)


def scaled_xy(args: argparse.Namespace) -> tuple[Dataset, str, NDArray, NDArray]:
    """The data of the set-up options as the network sees it: standardised with ``--scale``.

    Returns
    -------
    data : Dataset
    task : {"classification", "regression"}
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    """
    from ..diagnostics.evidence import standardize
    from .limits import check_args_memory, n_outputs

    data = load_data(args)
    task, y = task_and_target(data, args.task)
    check_args_memory(args, data.X.shape, n_outputs(task, y))
    X = data.X if args.scale == "none" else standardize(data.X)
    return data, task, X, y


def frame(data: Dataset) -> Any:
    """The features as a DataFrame, so that a fitted model records ``feature_names_in_``."""
    import pandas as pd

    if isinstance(data.X, pd.DataFrame):
        return data.X
    return pd.DataFrame(data.X, columns=data.feature_names, copy=False)
