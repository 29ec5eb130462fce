"""The model the set-up options describe, and fitting it to ``DATA``."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any, NamedTuple

from numpy.typing import NDArray

from .errors import UsageError
from .limits import check_args_memory, n_outputs
from .loading import frame, load_data, task_and_target
from .options import DEFAULT_LR
from .progress import progress

if TYPE_CHECKING:
    from ..data import Dataset
    from ..estimators import MLPClassifier, MLPRegressor


def estimator_from_args(args: argparse.Namespace, task: str) -> MLPClassifier | MLPRegressor:
    """The lossdoctor estimator the set-up options describe (not fitted, never scaled).

    ``--optimizer gd`` and ``momentum`` give solver ``gd`` (full batch) or ``sgd`` (with
    ``--batch-size``) with momentum 0 or 0.9 (heavy ball); ``adam`` gives solver ``adam``;
    ``lbfgs`` gives solver ``lbfgs`` (full batch, no learning rate: ``--lr`` and
    ``--batch-size`` are refused with it). Training runs exactly ``--epochs`` epochs
    (``n_iter_no_change=None``), or fewer with lbfgs when L-BFGS-B converges, or when train's
    ``--early-stopping`` stops it (10 epochs without improvement on 10% held out); train's
    ``--clip-norm`` sets ``clip_norm``.
    """
    from ..estimators import MLPClassifier, MLPRegressor

    optimizer = args.optimizer
    if optimizer == "lbfgs":
        check_lbfgs_args(args)
        solver = "lbfgs"
    elif optimizer == "adam":
        solver = "adam"
    else:
        solver = "gd" if args.batch_size is None else "sgd"
    # lbfgs never reads learning_rate_init: the estimator's default stands.
    lr = args.lr if args.lr is not None else DEFAULT_LR.get(optimizer, 0.001)
    # train's own options (other commands do not declare them)
    early_stopping = bool(getattr(args, "early_stopping", False))
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
        n_iter_no_change=10 if early_stopping else None,
        early_stopping=early_stopping,
        clip_norm=getattr(args, "clip_norm", None),
        init=args.init,
        init_scale=args.init_scale,
        dtype=args.dtype,
    )


def refuse_lbfgs(args: argparse.Namespace, what: str) -> None:
    """Refuse ``--optimizer lbfgs`` for a command whose point is varying the learning rate."""
    if args.optimizer == "lbfgs":
        raise UsageError(f"--optimizer lbfgs does not apply here: {what}, and lbfgs has none")


def check_lbfgs_args(args: argparse.Namespace) -> None:
    """Refuse the options ``--optimizer lbfgs`` has no use for: ``--lr`` and ``--batch-size``."""
    if getattr(args, "lr", None) is not None:
        raise UsageError(
            "--lr does not apply to --optimizer lbfgs: it has no learning rate (L-BFGS-B's "
            "line search chooses every step)"
        )
    if getattr(args, "batch_size", None) is not None:
        raise UsageError(
            "--batch-size does not apply to --optimizer lbfgs: it takes full-batch steps"
        )


def model_from_args(args: argparse.Namespace, task: str, columns: Any = None) -> Any:
    """:func:`estimator_from_args`, behind a ``StandardScaler`` when ``--scale standard``.

    The pipeline's steps are named ``scale`` and ``mlp``, so a sweep can set
    ``mlp__learning_rate_init``. With ``--scale-target`` (regression) the model is wrapped in a
    ``TransformedTargetRegressor`` that standardises the target for training and undoes it in
    ``predict``; the model file stores the scaler.
    """
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    model: Any = estimator_from_args(args, task)
    if args.scale != "none":
        model = Pipeline([("scale", StandardScaler()), ("mlp", model)])
    prep = preprocessor(args, columns)
    if prep is not None:
        steps = model.steps if isinstance(model, Pipeline) else [("mlp", model)]
        model = Pipeline([("prep", prep), *steps])
    if getattr(args, "scale_target", False):
        from sklearn.compose import TransformedTargetRegressor

        model = TransformedTargetRegressor(regressor=model, transformer=StandardScaler())
    return model


def preprocessor(args: argparse.Namespace, columns: Any) -> Any:
    """``--impute`` and ``--encode onehot`` as one ``ColumnTransformer`` step, or None.

    Text columns are one-hot encoded (a missing value is a category of its own; a category
    ``predict`` meets for the first time encodes as all zeros); numeric columns are imputed
    with ``--impute``'s strategy or passed through.
    """
    impute, encode = getattr(args, "impute", None), getattr(args, "encode", None)
    if impute is None and encode is None:
        return None
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder

    # ``columns``: the DataFrame's dtypes; the columns are named, never chosen by a callable,
    # so that the model file can hold them.
    text_columns = [str(c) for c, dtype in columns.items() if dtype.kind == "O"]
    numeric = [str(c) for c, dtype in columns.items() if dtype.kind != "O"]
    transformers: list[tuple[str, Any, Any]] = []
    if text_columns:
        onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        transformers.append(("onehot", onehot, text_columns))
    transformers.append(
        ("impute", SimpleImputer(strategy=impute) if impute else "passthrough", numeric)
    )
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)


def final_estimator(model: Any) -> Any:
    """The lossdoctor estimator of a model, behind its scaler if it has one."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.pipeline import Pipeline

    if isinstance(model, TransformedTargetRegressor):
        model = model.regressor_ if hasattr(model, "regressor_") else model.regressor
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
    check_args_memory(args, data.X.shape, n_outputs(task, y))
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
    if getattr(args, "scale_target", False) and task != "regression":
        raise UsageError("--scale-target is for regression; this target is class labels")
    model = model_from_args(args, task, X.dtypes)
    start = time.perf_counter()
    with progress(f"training {args.epochs} epochs on {data.source}"):
        model.fit(X, y)
    return TrainResult(model, task, data, (X, y), validation, time.perf_counter() - start)


def auto_lr(args: argparse.Namespace) -> tuple[float, str]:
    """``--lr auto``: half the stability limit at the initial weights, and the rule in words."""
    from ..diagnostics.lr_range import auto_learning_rate
    from .loading import scaled_xy

    _, task, X, y = scaled_xy(args)
    params = setup_params(argparse.Namespace(**{**vars(args), "lr": None}), task)
    with progress("--lr auto: measuring the curvature at the initial weights"):
        suggestion = auto_learning_rate(X, y, **params)
    return suggestion.learning_rate, suggestion.rule


def settle_auto_lr(args: argparse.Namespace) -> tuple[argparse.Namespace, str | None]:
    """``args`` with ``--lr auto`` replaced by the rate, and the line that says so (or None)."""
    if getattr(args, "optimizer", None) == "lbfgs":
        check_lbfgs_args(args)  # --lr auto included: lbfgs has no learning rate
    if args.lr != "auto":
        return args, None
    lr, rule = auto_lr(args)
    return argparse.Namespace(**{**vars(args), "lr": lr}), f"learning rate auto: {lr:.4g} ({rule})"
