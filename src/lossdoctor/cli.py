"""The command line: ``lossdoctor train``, ``predict``, ``gradcheck``, ``lr-find``, ``sweep``
and ``diagnose``.

Every subcommand is a pair of functions, ``_add_<name>(subparsers) -> parser`` declaring its
options and ``_run_<name>(args) -> int`` doing the work, registered once in :data:`SUBCOMMANDS`.
A new subcommand reuses the shared pieces:

* :func:`_add_setup_options` declares the data and training set-up (``DATA``, ``--target``,
  ``--task``, ``--hidden``, ``--activation``, ``--lr``, ``--epochs``, ``--batch-size``,
  ``--optimizer``, ``--init``, ``--init-scale``, ``--alpha``, ``--scale``, ``--seed``,
  ``--dtype``, ``--validation-fraction``);
* :func:`_load_data` reads ``DATA`` (a file, ``builtin:NAME`` or nothing for the built-in breast
  cancer data) and :func:`_task_and_target` settles the task and checks the target;
* :func:`_estimator_from_args` builds the lossdoctor estimator and :func:`_model_from_args` wraps
  it in a ``StandardScaler`` pipeline when ``--scale standard``;
* :func:`_fit_from_args` does all of the above, holds out ``--validation-fraction`` and fits.

Bad input of any kind ends with one line on standard error, ``lossdoctor: error: <message>``, and
exit status 2; tracebacks are left for bugs.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from io import StringIO
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

import numpy as np
from numpy.typing import NDArray

from . import __version__
from .activations import ACTIVATIONS
from .atomic import atomic_write
from .data import (
    BUILTIN_DATASETS,
    MAX_AUTO_CLASSES,
    DataError,
    Dataset,
    builtin_dataset,
    check_classification_target,
    check_regression_target,
    infer_task,
    read_dataset,
)
from .estimators import MLPClassifier, MLPRegressor
from .initializers import INITIALIZERS
from .model_files import ModelFileError, load, save

__all__ = ["SUBCOMMANDS", "build_parser", "main"]

PROG = "lossdoctor"

#: Learning rate used when ``--lr`` is not given, by optimiser. With standardised inputs these
#: train the default network on the built-in data sets; momentum 0.9 multiplies the effective
#: step by 1 / (1 - 0.9) = 10, hence a tenth of plain descent's rate.
DEFAULT_LR = {"gd": 0.1, "momentum": 0.01, "adam": 0.001}
DEFAULT_HIDDEN = (128, 64)
DEFAULT_EPOCHS = 200
#: ``--task auto`` takes an integer-valued numeric target with at most this many distinct values
#: for class labels.
DEFAULT_DATA = "builtin:breast_cancer"
_BUILTIN_PREFIX = "builtin:"


class UsageError(Exception):
    """A bad command line or a bad combination of options; printed as one line."""


# The errors a user causes: bad files, bad values, bad options. Anything else is a bug and keeps
# its traceback.
_USER_ERRORS: tuple[type[Exception], ...] = (
    UsageError,
    DataError,
    ModelFileError,
    ValueError,
    TypeError,
    OSError,
)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, without the usage dump."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


# --- argument types: messages name the offending value ---------------------------------------


def _int_at_least(text: str, minimum: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """Parse a positive integer, for ``type=``."""
    return _int_at_least(text, 1, "a positive integer")


def seed(text: str) -> int:
    """Parse a random seed, an integer >= 0 (what NumPy's generators take), for ``type=``."""
    return _int_at_least(text, 0, "a non-negative integer")


def positive_float(text: str) -> float:
    """Parse a positive finite number, for ``type=``."""
    value = _float(text, "a positive number")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """Parse a finite number >= 0, for ``type=``."""
    value = _float(text, "a non-negative number")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative number, got {text!r}")
    return value


def fraction(text: str) -> float:
    """Parse a number strictly between 0 and 1, for ``type=``."""
    value = _float(text, "a number between 0 and 1")
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be a number between 0 and 1, got {text!r}")
    return value


def _float(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return value


# --- shared set-up: data, network, training ------------------------------------------------


def _add_network_options(parser: argparse.ArgumentParser) -> None:
    """Options that describe the network and its initial weights."""
    parser.add_argument(
        "--hidden",
        type=positive_int,
        nargs="*",
        default=list(DEFAULT_HIDDEN),
        metavar="WIDTH",
        help="widths of the hidden layers; none gives a linear model (default: %(default)s)",
    )
    parser.add_argument(
        "--activation",
        choices=sorted(ACTIVATIONS),
        default="tanh",
        help="hidden activation (default: %(default)s)",
    )
    parser.add_argument(
        "--init",
        choices=list(INITIALIZERS),
        default=None,
        help="weight initialiser (default: Glorot for tanh/sigmoid, He for ReLU)",
    )
    parser.add_argument(
        "--init-scale",
        type=positive_float,
        default=1.0,
        metavar="S",
        help="multiplies the initialiser's scale (default: %(default)s)",
    )
    parser.add_argument(
        "--alpha",
        type=non_negative_float,
        default=0.0,
        metavar="A",
        help="L2 penalty alpha / (2 n) * sum ||W||^2 (default: %(default)s)",
    )
    parser.add_argument(
        "--dtype",
        choices=("float64", "float32"),
        default="float64",
        help="precision of the weights and of training (default: %(default)s)",
    )
    parser.add_argument(
        "--seed", type=seed, default=0, help="seeds weights and shuffling (default: %(default)s)"
    )


def _add_setup_options(parser: argparse.ArgumentParser) -> None:
    """Declare the data and training set-up shared by every subcommand that trains.

    Adds the positional ``DATA`` and ``--target``, ``--task``, ``--validation-fraction``,
    ``--scale``, the network options (``--hidden``, ``--activation``, ``--init``,
    ``--init-scale``, ``--alpha``, ``--dtype``, ``--seed``) and the optimiser options
    (``--optimizer``, ``--lr``, ``--epochs``, ``--batch-size``).
    """
    parser.add_argument(
        "data",
        nargs="?",
        default=None,
        metavar="DATA",
        help="CSV, Parquet or NPZ file, or builtin:NAME with NAME one of "
        f"{', '.join(BUILTIN_DATASETS)} (default: {DEFAULT_DATA})",
    )
    parser.add_argument(
        "--target", default=None, metavar="COL", help="target column (default: 'target' or 'y')"
    )
    parser.add_argument(
        "--task",
        choices=("auto", "classification", "regression"),
        default="auto",
        help="auto: classification for text, boolean or integer labels with at most "
        f"{MAX_AUTO_CLASSES} values, else regression (default: %(default)s)",
    )
    parser.add_argument(
        "--validation-fraction",
        type=fraction,
        default=None,
        metavar="F",
        help="hold out this fraction of the samples (stratified for classification) and report "
        "the score on them",
    )
    parser.add_argument(
        "--scale",
        choices=("standard", "none"),
        default="standard",
        help="standard: standardise the features; the statistics are stored with the model "
        "(default: %(default)s)",
    )
    _add_network_options(parser)
    parser.add_argument(
        "--optimizer",
        choices=tuple(DEFAULT_LR),
        default="gd",
        help="gd: plain gradient descent; momentum: heavy ball, 0.9; adam (default: %(default)s)",
    )
    parser.add_argument(
        "--lr",
        type=positive_float,
        default=None,
        help="learning rate (default: "
        + ", ".join(f"{lr} for {opt}" for opt, lr in DEFAULT_LR.items())
        + ")",
    )
    parser.add_argument(
        "--epochs",
        type=positive_int,
        default=DEFAULT_EPOCHS,
        help="passes over the data; training runs exactly this many (default: %(default)s)",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=None,
        metavar="N",
        help="mini-batch size, shuffled each epoch (default: the full batch)",
    )


def _read_data(
    spec: str | None,
    *,
    target: str | None = None,
    features: Sequence[str] | None = None,
    require_target: bool = True,
) -> Dataset:
    """Read a data file or a ``builtin:NAME`` data set (None: the built-in breast cancer data)."""
    spec = DEFAULT_DATA if spec is None else spec
    if not spec.startswith(_BUILTIN_PREFIX):
        return read_dataset(spec, target=target, features=features, require_target=require_target)
    data = builtin_dataset(spec[len(_BUILTIN_PREFIX) :])
    if target is not None and target != data.target_name:
        raise DataError(f"{data.source} has no column {target!r}; its target is 'target'")
    if features is None:
        return data
    missing = [f for f in features if f not in data.feature_names]
    if missing:
        shown = ", ".join(repr(f) for f in missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise DataError(f"{len(missing)} feature columns not found in {data.source}: {shown}")
    columns = [data.feature_names.index(f) for f in features]
    return data._replace(X=np.ascontiguousarray(data.X[:, columns]), feature_names=list(features))


def _load_data(args: argparse.Namespace) -> Dataset:
    """Read the ``DATA`` argument with its ``--target``; the result has a target."""
    return _read_data(args.data, target=args.target)


def _task_and_target(data: Dataset, requested: str = "auto") -> tuple[str, NDArray]:
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
    assert data.y is not None  # _load_data asks for a target
    y = data.y
    task = requested if requested != "auto" else infer_task(y)
    what = f"target {data.target_name!r} of {data.source}"
    if task == "classification":
        check_classification_target(y, source=what)
        if y.dtype.kind == "f" and not np.all(y == np.round(y)):
            raise DataError(
                f"{what} has fractional values such as {_first_fraction(y)!r}; classification "
                "needs class labels (use --task regression for a numeric target)"
            )
        return task, y
    check_regression_target(y, source=what)
    return task, np.asarray(y, dtype=np.float64)


def _first_fraction(y: NDArray) -> float:
    return float(y[np.argmax(y != np.round(y))])


def _estimator_from_args(args: argparse.Namespace, task: str) -> MLPClassifier | MLPRegressor:
    """The lossdoctor estimator the set-up options describe (not fitted, never scaled).

    ``--optimizer gd`` and ``momentum`` give solver ``gd`` (full batch) or ``sgd`` (with
    ``--batch-size``) with momentum 0 or 0.9 (heavy ball); ``adam`` gives solver ``adam``.
    Training always runs exactly ``--epochs`` epochs (``n_iter_no_change=None``).
    """
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


def _model_from_args(args: argparse.Namespace, task: str) -> Any:
    """:func:`_estimator_from_args`, behind a ``StandardScaler`` when ``--scale standard``.

    The pipeline's steps are named ``scale`` and ``mlp``, so a sweep can set
    ``mlp__learning_rate_init``.
    """
    estimator = _estimator_from_args(args, task)
    if args.scale == "none":
        return estimator
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([("scale", StandardScaler()), ("mlp", estimator)])


def _frame(data: Dataset) -> Any:
    """The features as a DataFrame, so that a fitted model records ``feature_names_in_``."""
    import pandas as pd

    return pd.DataFrame(data.X, columns=data.feature_names, copy=False)


def _final_estimator(model: Any) -> Any:
    from sklearn.pipeline import Pipeline

    return model[-1] if isinstance(model, Pipeline) else model


def _check_output_path(path: str | None, option: str) -> None:
    """Fail before training, not after, when an output cannot be written."""
    if path is None:
        return
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{option} {path} is a directory; give a file name")
    parent = p.parent
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: directory {str(parent)!r} does not exist")


# --- train ---------------------------------------------------------------------------------


def _add_train(subparsers: Any) -> argparse.ArgumentParser:
    # "resolve": train's --lr also accepts "auto" and replaces the set-up's --lr.
    parser = subparsers.add_parser(
        "train",
        conflict_handler="resolve",
        help="train a network and report how training went",
        description="Train a multi-layer perceptron on a data file or a built-in data set, for "
        "exactly --epochs epochs, and print the final loss, scores and time.",
    )
    _add_setup_options(parser)
    parser.add_argument(
        "--lr",
        type=_lr_or_auto,
        default=None,
        help="learning rate, or auto: half the stability limit from the curvature at the initial "
        "weights (1/L for gd) (default: "
        + ", ".join(f"{lr} for {opt}" for opt, lr in DEFAULT_LR.items())
        + ")",
    )
    parser.add_argument("--out", metavar="MODEL", help="save the trained model here (.npz)")
    parser.add_argument("--plot", metavar="IMAGE", help="plot the loss curve here (.png, .pdf)")
    return parser


class TrainResult(NamedTuple):
    """What :func:`_fit_from_args` trained: the model, its data and how long it took.

    ``train`` and ``validation`` are ``(X, y)`` with ``X`` a DataFrame of the feature columns;
    ``validation`` is None without ``--validation-fraction``.
    """

    model: Any
    task: str
    data: Dataset
    train: tuple[Any, NDArray]
    validation: tuple[Any, NDArray] | None
    seconds: float


def _fit_from_args(args: argparse.Namespace) -> TrainResult:
    """Load the data, hold out validation samples if asked, build the model and fit it."""
    data = _load_data(args)
    task, y = _task_and_target(data, args.task)
    X = _frame(data)
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
    model = _model_from_args(args, task)
    start = time.perf_counter()
    model.fit(X, y)
    return TrainResult(model, task, data, (X, y), validation, time.perf_counter() - start)


def _run_train(args: argparse.Namespace) -> int:
    _check_output_path(args.out, "--out")
    _check_plot_path(args.plot)
    if args.lr == "auto":
        args.lr, rule = _auto_lr(args)
        print(f"learning rate auto: {args.lr:.4g} ({rule})")
    result = _fit_from_args(args)
    model, est = result.model, _final_estimator(result.model)
    history = est.history_
    score_name = "accuracy" if result.task == "classification" else "R^2"
    data = result.data
    n_samples, n_features = data.X.shape
    kind = (
        f"classification, {len(est.classes_)} classes"
        if result.task == "classification"
        else "regression"
    )
    arch = "-".join(str(s) for s in est.network_.layer_sizes)
    rows = [
        ("epochs", f"{est.n_iter_} ({history.message})"),
        ("final loss", f"{est.loss_:.6g}"),
        (f"training {score_name}", f"{model.score(*result.train):.4g}"),
    ]
    if result.validation is not None:
        n_val = len(result.validation[1])
        score = model.score(*result.validation)
        rows.append((f"validation {score_name}", f"{score:.4g} ({n_val} held-out samples)"))
    rows.append(("time", f"{result.seconds:.2f} s"))
    lines = [
        f"trained {type(est).__name__} {arch} ({est.activation}, {args.optimizer}, "
        f"lr {est.learning_rate_init:g}, {est.dtype}) on {data.source}: "
        f"{n_samples} samples x {n_features} features, {kind}",
        *(f"  {label:<20}{value}" for label, value in rows),
    ]
    if args.out is not None:
        save(model, args.out)
        lines.append(f"model written to {args.out}")
    if args.plot is not None:
        _write_loss_plot(args.plot, history, title=f"{type(est).__name__} {arch} on {data.source}")
        lines.append(f"loss curve written to {args.plot}")
    print("\n".join(lines))
    return 0


def _check_plot_path(path: str | None) -> None:
    """Fail now, not after training, on an unwritable --plot path or an unknown image format."""
    _check_output_path(path, "--plot")
    if path is not None:
        _plot_format(path)


def _plot_format(path: str) -> str:
    from matplotlib.backend_bases import FigureCanvasBase

    suffix = Path(path).suffix.lower().lstrip(".")
    supported = FigureCanvasBase.get_supported_filetypes()
    if suffix not in supported:
        raise UsageError(
            f"--plot {path}: unknown image format {suffix or '(none)'!r}; use one of: "
            + ", ".join(sorted(supported))
        )
    return suffix


def _write_loss_plot(path: str, history: Any, title: str) -> None:
    """The loss per epoch on a log axis, written atomically; no pyplot, no global state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(history.epoch, history.loss, label="training loss")
    val = np.asarray(history.val_loss, dtype=float)
    if np.isfinite(val).any():
        ax.plot(history.epoch, val, label="validation loss")
    if history.loss:
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (log scale)")
    ax.set_title(title, fontsize="medium")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fmt = _plot_format(path)
    # A diverged run has losses near the float64 limit; tick placement on the log axis then
    # overflows harmlessly.
    with np.errstate(over="ignore", invalid="ignore"):
        atomic_write(path, lambda f: fig.savefig(f, format=fmt))


# --- predict -------------------------------------------------------------------------------


def _add_predict(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
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


def _run_predict(args: argparse.Namespace) -> int:
    _check_output_path(args.out, "--out")
    model = load(args.model)
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        data = _read_data(args.data, features=[str(n) for n in names], require_target=False)
        X: Any = _frame(data)
    else:
        # A model fitted on a bare array knows no column names: take every non-target column.
        data = _read_data(args.data, require_target=False)
        X = data.X
        expected = int(model.n_features_in_)
        if X.shape[1] != expected:
            raise DataError(
                f"the model {args.model} expects {expected} features but {data.source} has "
                f"{X.shape[1]} feature columns"
            )
    text = _predictions_csv(model, X)
    if args.out is None:
        sys.stdout.write(text)
    else:
        atomic_write(args.out, lambda f: f.write(text.encode("utf-8")))
        print(f"{data.X.shape[0]} predictions written to {args.out}")
    return 0


def _predictions_csv(model: Any, X: Any) -> str:
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


# --- gradcheck -----------------------------------------------------------------------------

_GRADCHECK_DATA = {
    "classification": "breast_cancer",
    "multiclass": "wine",
    "regression": "diabetes",
}


def _add_gradcheck(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "gradcheck",
        help="check lossdoctor's own backpropagation against finite differences",
        description="Build lossdoctor's network on built-in data (standardised), draw weights and "
        "compare the gradients of lossdoctor.training.loss_and_grad with central finite "
        "differences. Exit status 0 when they agree, 1 when they do not.",
    )
    _add_network_options(parser)
    parser.add_argument(
        "--task",
        choices=tuple(_GRADCHECK_DATA),
        default="classification",
        help="classification: breast cancer, sigmoid head; multiclass: wine, softmax head; "
        "regression: diabetes, squared error (default: %(default)s)",
    )
    parser.add_argument(
        "--exhaustive",
        action="store_true",
        help="check every weight, not random directions and coordinates",
    )
    parser.add_argument(
        "--samples",
        type=positive_int,
        default=128,
        metavar="N",
        help="random samples the loss is computed on (default: %(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def _run_gradcheck(args: argparse.Namespace) -> int:
    from .diagnostics.gradcheck import check_gradients
    from .network import Network, init_params
    from .training import loss_and_grad

    data = builtin_dataset(_GRADCHECK_DATA[args.task])
    assert data.y is not None
    rng = np.random.default_rng(args.seed)
    rows = rng.permutation(data.X.shape[0])[: args.samples]
    dtype = np.dtype(args.dtype)
    X = _standardise(data.X)[rows].astype(dtype)
    y = data.y[rows]
    if args.task == "regression":
        Y = _standardise(y.astype(np.float64)[:, None])  # unit-scale targets, unit-scale gradients
        head = "identity"
    else:
        classes = np.unique(data.y)
        head = "binary" if classes.size == 2 else "softmax"
        Y = (y[:, None] == classes[None, :]).astype(np.float64)
        Y = Y[:, 1:] if head == "binary" else Y
    Y = Y.astype(dtype)
    net = Network((X.shape[1], *args.hidden, Y.shape[1]), args.activation, head)
    params = init_params(net, rng, init=args.init, init_scale=args.init_scale, dtype=dtype)
    alpha = args.alpha
    _, grads = loss_and_grad(net, params, X, Y, alpha)
    report = check_gradients(
        lambda: loss_and_grad(net, params, X, Y, alpha)[0],
        params,
        grads,
        mode="exhaustive" if args.exhaustive else "fast",
        rng=rng,
    )
    if args.json:
        print(report.to_json(indent=2))
    else:
        arch = "-".join(str(s) for s in net.layer_sizes)
        print(
            f"network {arch}, {net.activation}, {head} head, {args.dtype}, alpha {alpha:g}, "
            f"{X.shape[0]} samples of {data.source}"
        )
        print(report)
    return 0 if report.ok else 1


def _standardise(X: NDArray) -> NDArray:
    std = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)


# --- lr-find and sweep: learning rate against curvature -------------------------------------

DEFAULT_SWEEP_LRS = (0.01, 0.1, 1.0, 10.0)


def _scaled_xy(args: argparse.Namespace) -> tuple[Dataset, str, NDArray, NDArray]:
    """The data of the set-up options as the network sees it: standardised with ``--scale``."""
    data = _load_data(args)
    task, y = _task_and_target(data, args.task)
    X = data.X if args.scale == "none" else _standardise(data.X)
    return data, task, X, y


def _setup_params(args: argparse.Namespace, task: str) -> dict[str, Any]:
    """Estimator parameters of the set-up options, with the task, for the diagnostics."""
    return {**_estimator_from_args(args, task).get_params(), "task": task}


def _print_and_plot(
    header: str, result: Any, plot: str | None, draw: Callable[[Any, str], Any]
) -> int:
    """Print a header line and ``result``'s table; ``draw`` it to ``plot`` if given."""
    print(header)
    print(result.format())
    if plot is not None:
        # Diverged runs leave inf and nan in the curves, which the axis arithmetic warns about.
        with np.errstate(over="ignore", invalid="ignore"):
            draw(result, plot)
        print(f"plot written to {plot}")
    return 0


def _add_lr_find(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "lr-find",
        help="learning-rate range test, beside the curvature bound 2/L",
        description="From fixed initial weights (--seed), take one full-batch step per learning "
        "rate while the rate grows exponentially from --start to --stop; stop when the loss "
        "diverges (4x its lowest value). Print the curve, the suggested learning rate with the "
        "rule that produced it, and the stability bound from the curvature at the initial "
        "weights (2/L for gradient descent). The weights are left as they were.",
    )
    _add_setup_options(parser)
    parser.add_argument("--start", type=positive_float, default=1e-4, help="first learning rate")
    parser.add_argument("--stop", type=positive_float, default=1e3, help="last learning rate")
    parser.add_argument(
        "--steps", type=positive_int, default=100, metavar="N", help="steps (default: 100)"
    )
    parser.add_argument("--plot", metavar="IMAGE", help="plot the curve here (.png, .pdf)")
    return parser


def _run_lr_find(args: argparse.Namespace) -> int:
    from .diagnostics.lr_range import lr_range_test
    from .report.plots import plot_lr_range

    _check_plot_path(args.plot)
    if not args.start < args.stop:
        raise UsageError(f"--start {args.start:g} must be below --stop {args.stop:g}")
    data, task, X, y = _scaled_xy(args)
    params = _setup_params(args, task)
    result = lr_range_test(X, y, start=args.start, stop=args.stop, n_steps=args.steps, **params)
    arch = "-".join(str(s) for s in (X.shape[1], *args.hidden))
    header = (
        f"learning-rate range test: {arch} {args.activation}, {args.optimizer}, seed "
        f"{args.seed}, full batch, on {data.source} ({X.shape[0]} samples)"
    )
    return _print_and_plot(header, result, args.plot, plot_lr_range)


def _add_sweep(subparsers: Any) -> argparse.ArgumentParser:
    # "resolve": the sweep's --lr takes several values and replaces the set-up's single --lr.
    parser = subparsers.add_parser(
        "sweep",
        conflict_handler="resolve",
        help="train the same initial weights at several learning rates",
        description="Train from the same initial weights (--seed) at each learning rate, in "
        "parallel (--jobs, through joblib), classify each loss curve and measure the sharpness "
        "at the end against the stability limit 2/lr. Print a table; --plot overlays the loss "
        "curves on a log axis.",
    )
    _add_setup_options(parser)
    parser.add_argument(
        "--lr",
        type=positive_float,
        nargs="+",
        default=list(DEFAULT_SWEEP_LRS),
        metavar="LR",
        help="learning rates (default: %(default)s)",
    )
    parser.add_argument(
        "--jobs", type=int, default=1, metavar="N", help="parallel workers, -1: all cores"
    )
    parser.add_argument("--plot", metavar="IMAGE", help="plot the loss curves here (.png, .pdf)")
    return parser


def _run_sweep(args: argparse.Namespace) -> int:
    from .diagnostics.sweep import lr_sweep
    from .report.plots import plot_sweep

    _check_plot_path(args.plot)
    if args.jobs == 0:
        raise UsageError("--jobs must be a positive number of workers or -1 for all cores")
    data, task, X, y = _scaled_xy(args)
    params = _setup_params(args, task)
    params.pop("learning_rate_init")
    result = lr_sweep(X, y, args.lr, n_jobs=args.jobs, **params)
    arch = "-".join(str(s) for s in (X.shape[1], *args.hidden))
    header = (
        f"learning-rate sweep: {arch} {args.activation}, {args.optimizer}, {args.epochs} epochs, "
        f"seed {args.seed}, on {data.source} ({X.shape[0]} samples)"
    )
    return _print_and_plot(header, result, args.plot, plot_sweep)


def _lr_or_auto(text: str) -> float | str:
    """``--lr`` of train: a positive number, or ``auto`` (chosen from the curvature)."""
    return "auto" if text == "auto" else positive_float(text)


def _auto_lr(args: argparse.Namespace) -> tuple[float, str]:
    """``--lr auto``: half the stability limit at the initial weights, and the rule in words."""
    from .diagnostics.lr_range import auto_learning_rate

    _, task, X, y = _scaled_xy(args)
    placeholder = argparse.Namespace(**{**vars(args), "lr": None})
    params = _setup_params(placeholder, task)
    suggestion = auto_learning_rate(X, y, **params)
    return suggestion.learning_rate, suggestion.rule


# --- diagnose: why does it not train? ----------------------------------------------------------


class _Unset:
    """An option the user did not give (None can be a real value); ``--help`` prints it."""

    def __str__(self) -> str:
        return "train's with DATA, the classic set-up's without"


_UNSET: Any = _Unset()
# The options whose default differs between the classic set-up (no DATA) and train's.
_DIAGNOSE_SETUP_KEYS = (
    "hidden",
    "activation",
    "init",
    "init_scale",
    "alpha",
    "optimizer",
    "lr",
    "epochs",
    "scale",
)


def _add_diagnose(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "diagnose",
        help="train with monitors and explain, root causes first, why it does not train",
        description="Check the data, the initial weights and the learning rate against the "
        "curvature bound, train with monitors on every layer, and report the findings ranked "
        "root causes first, each with its evidence and a fix. With no DATA and no set-up "
        "options: the classic question on the built-in breast-cancer data (hidden 128 64, tanh, "
        "unscaled inputs, init normal with scale 1, full-batch gradient descent at lr 1, 100 "
        "epochs). With DATA the set-up defaults are train's. 20% of the samples are held out "
        "(--validation-fraction) to detect overfitting. Your files are never changed.",
    )
    _add_setup_options(parser)
    parser.set_defaults(**dict.fromkeys(_DIAGNOSE_SETUP_KEYS, _UNSET))
    for action in parser._actions:
        if action.dest == "lr" and action.help:  # its help spells out train's defaults
            action.help = action.help.rstrip(")") + "; without DATA: 1, the classic set-up's)"
    parser.add_argument(
        "--fix",
        action="store_true",
        help="apply the fixes of the root causes, retrain from the same seed and show the loss "
        "before and after, with the findings that remain",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object instead of the report"
    )
    parser.add_argument("--report", metavar="HTML", help="also write an HTML report here")
    return parser


def _diagnose_setup(args: argparse.Namespace) -> argparse.Namespace:
    """Fill the options not given: the classic set-up without DATA, train's defaults with it."""
    from .diagnostics.diagnose import CLASSIC_SETUP

    if args.data is None:
        defaults = {
            "hidden": list(CLASSIC_SETUP["hidden_layer_sizes"]),
            "activation": CLASSIC_SETUP["activation"],
            "init": CLASSIC_SETUP["init"],
            "init_scale": CLASSIC_SETUP["init_scale"],
            "alpha": CLASSIC_SETUP["alpha"],
            "optimizer": "gd",
            "lr": CLASSIC_SETUP["learning_rate_init"],
            "epochs": CLASSIC_SETUP["max_iter"],
            "scale": "none",
        }
    else:
        reference = argparse.Namespace()
        _add_setup_options(probe := _Parser(add_help=False))
        probe.parse_args([], namespace=reference)
        defaults = {k: getattr(reference, k) for k in _DIAGNOSE_SETUP_KEYS}
    filled = {k: defaults[k] if getattr(args, k) is _UNSET else getattr(args, k) for k in defaults}
    return argparse.Namespace(**{**vars(args), **filled})


def _run_diagnose(args: argparse.Namespace) -> int:
    import json

    from .diagnostics.diagnose import diagnose
    from .report.terminal import print_report

    _check_output_path(args.report, "--report")
    write_html: Any = None
    if args.report is not None:
        try:
            from .report.html import write_html_report as write_html
        except ImportError:
            raise UsageError(
                "--report needs lossdoctor.report.html, which this installation does not have"
            ) from None
    args = _diagnose_setup(args)
    data = _load_data(args)
    task, y = _task_and_target(data, args.task)
    X = data.X if args.scale == "none" else _standardise(data.X)
    params = _estimator_from_args(args, task).get_params()
    for key in ("random_state", "diagnose", "verbose", "warm_start"):
        params.pop(key, None)
    holdout = 0.2 if args.validation_fraction is None else args.validation_fraction
    diagnosis = diagnose(
        X, y, task=task, fix=args.fix, random_state=args.seed, holdout=holdout, **params
    )
    diagnosis.setup["data"] = data.source
    diagnosis.setup["scale"] = args.scale
    if write_html is not None:
        write_html(diagnosis, args.report)
    if args.json:
        # Strict JSON for machines: NaN and infinities (a blown-up loss) become null.
        print(json.dumps(_json_safe(diagnosis.to_dict()), default=_json_default, allow_nan=False))
    else:
        print_report(diagnosis)
        if args.report is not None:
            print(f"HTML report written to {args.report}")
    return 0


def _json_safe(value: Any) -> Any:
    """A copy of nested dicts and lists with non-finite floats replaced by None."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def _json_default(value: Any) -> Any:
    """NumPy scalars and arrays, and anything else, in a form JSON accepts."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


# --- main ----------------------------------------------------------------------------------

Add = Callable[[Any], argparse.ArgumentParser]
Run = Callable[[argparse.Namespace], int]

#: Every subcommand, as ``(add, run)``: ``add(subparsers)`` declares it and returns its parser,
#: ``run(args)`` carries it out and returns the exit status.
SUBCOMMANDS: list[tuple[Add, Run]] = [
    (_add_train, _run_train),
    (_add_predict, _run_predict),
    (_add_gradcheck, _run_gradcheck),
    (_add_lr_find, _run_lr_find),
    (_add_sweep, _run_sweep),
    (_add_diagnose, _run_diagnose),
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand of :data:`SUBCOMMANDS`."""
    parser = _Parser(
        prog=PROG,
        description="lossdoctor: train small neural networks with NumPy and find out, with "
        "numbers, why they do not train.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add, run in SUBCOMMANDS:
        add(subparsers).set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return the exit status.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name; by default ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 1 when a check fails (``gradcheck``), 2 on bad input, with one line
        ``lossdoctor: error: <message>`` on standard error.
    """
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help and --version
            return exc.code if isinstance(exc.code, int) else 0
        with warnings.catch_warnings():
            # Warnings (a diverged run, say) become one line each instead of source dumps.
            warnings.simplefilter("default")
            warnings.showwarning = _show_warning
            return int(args.run(args))
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, and keep Python from complaining
        # again when it flushes standard output at exit.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 1
    except _USER_ERRORS as exc:
        print(f"{PROG}: error: {_message(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    text = " ".join(str(message).split()).removeprefix("lossdoctor: ")
    print(f"{PROG}: warning: {text}", file=sys.stderr)


def _message(exc: BaseException) -> str:
    """One line for an error; for OSError the reason and the file."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        text = f"{exc.strerror}: {exc.filename}"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
