"""The model the set-up options describe, and fitting it to ``DATA``."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any, NamedTuple

from numpy.typing import NDArray

from .loading import frame, load_data, task_and_target
from .options import DEFAULT_LR

if TYPE_CHECKING:
    from ..data import Dataset
    from ..estimators import MLPClassifier, MLPRegressor


def estimator_from_args(args: argparse.Namespace, task: str) -> MLPClassifier | MLPRegressor:
    """The lossdoctor estimator the set-up options describe (not fitted, never scaled).

    ``--optimizer gd`` and ``momentum`` give solver ``gd`` (full batch) or ``sgd`` (with
    ``--batch-size``) with momentum 0 or 0.9 (heavy ball); ``adam`` gives solver ``adam``.
    Training always runs exactly ``--epochs`` epochs (``n_iter_no_change=None``).
    """
    from ..estimators import MLPClassifier, MLPRegressor

    optimizer = args.optimizer
    if optimizer == "adam":
        solver = "adam"
    else:
        solver = "gd" if args.batch_size is None else "sgd"
    lr = args.lr if args.lr is not None else DEFAULT_LR[optimizer]
    cls = MLPClassifier if task == "classification" else MLPRegressor
    return cls(
        hidden_layer_sizes=tuple(args.hidden),
        activation=args.activation,
        solver=solver,
        alpha=args.alpha,
        batch_size=args.batch_size,
        learning_rate_init=lr,
        max_iter=args.epochs,
        random_state=args.seed,
        momentum=0.9 if optimizer == "momentum" else 0.0,
        nesterovs_momentum=False,
        n_iter_no_change=None,
        init=args.init,
        init_scale=args.init_scale,
        dtype=args.dtype,
    )


def model_from_args(args: argparse.Namespace, task: str) -> Any:
    """:func:`estimator_from_args`, behind a ``StandardScaler`` when ``--scale standard``.

    The pipeline's steps are named ``scale`` and ``mlp``, so a sweep can set
    ``mlp__learning_rate_init``.
    """
    estimator = estimator_from_args(args, task)
    if args.scale == "none":
        return estimator
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([("scale", StandardScaler()), ("mlp", estimator)])


def final_estimator(model: Any) -> Any:
    """The lossdoctor estimator of a model, behind its scaler if it has one."""
    from sklearn.pipeline import Pipeline

    return model[-1] if isinstance(model, Pipeline) else model


def setup_params(args: argparse.Namespace, task: str) -> dict[str, Any]:
    """Estimator parameters of the set-up options, with the task, for the diagnostics."""
    return {**estimator_from_args(args, task).get_params(), "task": task}


class TrainResult(NamedTuple):
    """What :func:`fit_from_args` trained: the model, its data and how long it took.

    ``train`` and ``validation`` are ``(X, y)`` with ``X`` a DataFrame of the feature columns;
    ``validation`` is None without ``--validation-fraction``.
    """

    model: Any
    task: str
    data: Dataset
    train: tuple[Any, NDArray]
    validation: tuple[Any, NDArray] | None
    seconds: float


def fit_from_args(args: argparse.Namespace) -> TrainResult:
    """Load the data, hold out validation samples if asked, build the model and fit it."""
    data = load_data(args)
    task, y = task_and_target(data, args.task)
    X = frame(data)
    validation = None
    if args.validation_fraction is not None:
        from sklearn.model_selection import train_test_split

        X, X_val, y, y_val = train_test_split(
            X,
            y,
            test_size=args.validation_fraction,
            random_state=args.seed,
            stratify=y if task == "classification" else None,
        )
        validation = (X_val, y_val)
    model = model_from_args(args, task)
    start = time.perf_counter()
    model.fit(X, y)
    return TrainResult(model, task, data, (X, y), validation, time.perf_counter() - start)
