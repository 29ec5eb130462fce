"""``lossdoctor predict``: predictions of a saved model as CSV."""

from __future__ import annotations

import argparse
import csv
import sys
from io import StringIO
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .loading import frame, read_data
from .output import check_output_path
from .progress import progress


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Declare ``predict``: ``MODEL``, ``DATA`` and ``--out``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "predict",
        help="predict with a saved model",
        description="Predict with a model saved by 'lossdoctor train --out'. The model's feature "
        "columns are selected from DATA by name; other columns (such as the target) are ignored. "
        "Writes CSV: 'prediction' and, for classifiers, 'proba_<class>' per class.",
    )
    parser.add_argument("model", metavar="MODEL", help="model file written by train --out")
    parser.add_argument("data", metavar="DATA", help="CSV, Parquet or NPZ file, or builtin:NAME")
    parser.add_argument("--out", metavar="CSV", help="write here instead of standard output")
    return parser


def run(args: argparse.Namespace) -> int:
    """Load the model, select its features from ``DATA``, write the predictions."""
    from ..atomic import atomic_write
    from ..model_files import load

    check_output_path(args.out, "--out")
    with progress(f"predicting with {args.model}"):
        model = load(args.model)
        X, n_samples = model_features(model, args.model, args.data)
        text = predictions_csv(model, X)
    if args.out is None:
        sys.stdout.write(text)
    else:
        atomic_write(args.out, lambda f: f.write(text.encode("utf-8")))
        print(f"{n_samples} predictions written to {args.out}")
    return 0


def model_features(model: Any, model_path: str, spec: str) -> tuple[Any, int]:
    """The columns of ``spec`` the model was fitted on, and the number of samples.

    By name when the model knows its feature names; a model fitted on a bare array knows none,
    so every non-target column is taken and their number checked.
    """
    from ..data import DataError

    names = getattr(model, "feature_names_in_", None)
    # A model trained with --impute/--encode reads missing values and text as training did.
    keep = "keep" if _has_column_transformer(model) else "error"
    if names is not None:
        features = [str(n) for n in names]
        data = read_data(spec, features=features, require_target=False, missing=keep, text=keep)
        return frame(data), data.X.shape[0]
    data = read_data(spec, require_target=False)
    expected = int(model.n_features_in_)
    if data.X.shape[1] != expected:
        raise DataError(
            f"the model {model_path} expects {expected} features but {data.source} has "
            f"{data.X.shape[1]} feature columns"
        )
    return data.X, data.X.shape[0]


def _has_column_transformer(model: Any) -> bool:
    from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
    from sklearn.pipeline import Pipeline

    if isinstance(model, TransformedTargetRegressor):
        model = model.regressor_
    return isinstance(model, Pipeline) and isinstance(model.steps[0][1], ColumnTransformer)


def predictions_csv(model: Any, X: Any) -> str:
    """Predictions (and class probabilities) as CSV text whose numbers round-trip exactly."""
    pred = np.asarray(model.predict(X))
    columns: list[NDArray] = []
    header: list[str] = []
    if pred.ndim == 1:
        header.append("prediction")
        columns.append(pred)
    else:
        header += [f"prediction_{j}" for j in range(pred.shape[1])]
        columns += list(pred.T)
    if hasattr(model, "predict_proba"):
        proba = model.predict_proba(X)
        header += [f"proba_{_cell(c)}" for c in model.classes_]
        columns += list(proba.T)
    buffer = StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in zip(*columns):
        writer.writerow([_cell(v) for v in row])
    return buffer.getvalue()


def _cell(value: Any) -> str:
    # repr of a Python float is the shortest string that reads back as the same double, and a
    # float32 widens to double exactly, so the CSV holds the predictions bit for bit.
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, np.generic):
        return str(value.item())
    return str(value)
