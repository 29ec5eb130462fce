"""``lossdoctor train``: fit a network for exactly ``--epochs`` epochs and report how it went."""

from __future__ import annotations

import argparse
import warnings
from typing import Any

import numpy as np

from .argtypes import positive_float
from .errors import UsageError
from .models import TrainResult, final_estimator, fit_from_args, settle_auto_lr
from .options import TRAIN_SETUP, add_lr_option, add_setup_options
from .output import (
    architecture,
    check_output_path,
    check_plot_path,
    json_default,
    json_safe,
    plot_format,
)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Declare ``train``: the set-up options, ``--lr`` (a number or ``auto``), the outputs."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "train",
        help="train a network and report how training went",
        description="Train a multi-layer perceptron on a data file or a built-in data set, for "
        "exactly --epochs epochs, and print the final loss, scores and time.",
    )
    add_setup_options(parser, TRAIN_SETUP)
    add_lr_option(parser, TRAIN_SETUP)
    parser.add_argument(
        "--scale-target",
        action="store_true",
        help="regression: standardise the target for training and undo it in predictions "
        "(stored with the model); a target in the hundreds otherwise blows up plain descent",
    )
    parser.add_argument(
        "--clip-norm",
        type=positive_float,
        default=None,
        metavar="N",
        help="rescale each step's gradient to a global norm of at most N (diagnose's fix for "
        "exploding gradients and a non-finite loss; default: no clipping)",
    )
    parser.add_argument(
        "--early-stopping",
        action="store_true",
        help="hold out 10%% of the training samples and stop when their score has not improved "
        "for 10 epochs (then training may end before --epochs; diagnose's fix for overfitting)",
    )
    parser.add_argument(
        "--impute",
        choices=("mean", "median", "most_frequent"),
        default=None,
        help="fill missing feature values with the column's mean, median or most frequent "
        "value (a scikit-learn SimpleImputer stored with the model and reused by predict)",
    )
    parser.add_argument(
        "--encode",
        choices=("onehot",),
        default=None,
        help="onehot: one column per category of each text feature (a OneHotEncoder stored "
        "with the model; categories unseen in training encode as zeros in predict)",
    )
    parser.add_argument("--out", metavar="MODEL", help="save the trained model here (.npz)")
    parser.add_argument("--plot", metavar="IMAGE", help="plot the loss curve here (.png, .pdf)")
    parser.add_argument(
        "--history",
        metavar="FILE",
        help="write the per-epoch history (epoch, loss, learning rate, gradient norm, time ...) "
        "here, as CSV (.csv) or JSON (.json), atomically",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    """Check the outputs, settle ``--lr auto``, fit, print the summary, write model and plot."""
    check_output_path(args.out, "--out")
    check_plot_path(args.plot)
    check_history_path(args.history)
    args, line = settle_auto_lr(args)
    if line:
        print(line)
    result = fit_from_args(args)
    history = final_estimator(result.model).history_
    if result.validation is not None and (args.plot or args.history):
        history = with_validation_loss(result)
    lines = summary(result, args.optimizer) + write_outputs(result, args.out, args.plot, history)
    if args.history is not None:
        write_history(args.history, history)
        lines.append(f"history written to {args.history}")
    print("\n".join(lines))
    warning = training_warning(result, scale_target=args.scale_target)
    if warning is not None:
        warnings.warn(warning, RuntimeWarning, stacklevel=1)
    return 0


def training_warning(result: TrainResult, *, scale_target: bool) -> str | None:
    """One line with the fix when the run diverged or ended worse than it started, else None."""
    loss = np.asarray(final_estimator(result.model).history_.loss, dtype=float)
    if loss.size == 0:
        return None
    fix = "lower --lr (or try --lr auto)"
    if result.task == "regression" and not scale_target:
        fix += ", or add --scale-target"
    with np.errstate(over="ignore", invalid="ignore"):
        if not np.isfinite(loss).all() or loss.max() > 1e6 * max(loss[0], 1e-300):
            bad = int(np.argmax(~np.isfinite(loss) | (loss > 1e6 * loss[0])))
            return (
                f"training diverged: the loss went from {loss[0]:.4g} to {loss[bad]:.4g} by "
                f"epoch {bad + 1}; {fix}"
            )
        if loss[-1] > loss[0]:
            return (
                f"training ended worse than it started: loss {loss[0]:.4g} at epoch 1, "
                f"{loss[-1]:.4g} at the end; {fix}"
            )
    return None


def check_history_path(path: str | None) -> None:
    """Fail before training on an unwritable --history path or a suffix other than .csv/.json."""
    check_output_path(path, "--history")
    if path is not None and not path.lower().endswith((".csv", ".json")):
        raise UsageError(f"--history {path}: give a .csv or .json file name")


def write_history(path: str, history: Any) -> None:
    """The per-epoch history as CSV (one row per epoch) or JSON, written atomically."""
    import csv
    import io
    import json

    from ..atomic import atomic_write

    columns = history.as_dict()
    if path.lower().endswith(".json"):
        document = {
            **columns,
            "stop_reason": history.stop_reason,
            "message": history.message,
            "best_epoch": history.best_epoch,
        }
        text = json.dumps(json_safe(document), default=json_default, allow_nan=False) + "\n"
    else:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(list(columns))
        for row in zip(*columns.values(), strict=True):
            writer.writerow([repr(float(v)) if isinstance(v, float) else v for v in row])
        text = buffer.getvalue()
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def summary(result: TrainResult, optimizer: str) -> list[str]:
    """The report of a fit: network, data, epochs, final loss, scores and time."""
    model, est, data = result.model, final_estimator(result.model), result.data
    score_name = "accuracy" if result.task == "classification" else "R^2"
    n_samples, n_features = data.X.shape
    kind = (
        f"classification, {len(est.classes_)} classes"
        if result.task == "classification"
        else "regression"
    )
    rows = [
        ("epochs", f"{est.n_iter_} ({est.history_.message})"),
        ("final loss", f"{est.loss_:.6g}"),
        (f"training {score_name}", f"{model.score(*result.train):.4g}"),
    ]
    if result.validation is not None:
        n_val = len(result.validation[1])
        score = model.score(*result.validation)
        rows.append((f"validation {score_name}", f"{score:.4g} ({n_val} held-out samples)"))
    rows.append(("time", f"{result.seconds:.2f} s"))
    step = "no learning rate" if est.solver == "lbfgs" else f"lr {est.learning_rate_init:g}"
    return [
        f"trained {type(est).__name__} {architecture(est.network_.layer_sizes)} "
        f"({est.activation}, {optimizer}, {step}, {est.dtype}) on "
        f"{data.source}: {n_samples} samples x {n_features} features, {kind}",
        *(f"  {label:<20}{value}" for label, value in rows),
    ]


def with_validation_loss(result: TrainResult) -> Any:
    """A copy of the fitted history with ``val_loss``: the loss on the held-out samples after
    each epoch.

    The estimator has no hook for it, so the run is replayed through the run specification (the
    seam the estimators use: same weights, batches and steps) with a callback that evaluates
    the held-out samples; the replay must reproduce the training loss bit for bit, else the
    fitted history is returned unchanged. The fitted model is not touched.
    """
    import copy

    from sklearn.compose import TransformedTargetRegressor
    from sklearn.pipeline import Pipeline

    from ..runspec import make_spec, start_run, train
    from ..training import Callback, loss_and_grad

    assert result.validation is not None
    model, est = result.model, final_estimator(result.model)
    (X, y), (X_val, y_val) = result.train, result.validation
    if isinstance(model, TransformedTargetRegressor):
        scale_y = model.transformer_
        y = scale_y.transform(np.asarray(y).reshape(-1, 1)).ravel()
        y_val = scale_y.transform(np.asarray(y_val).reshape(-1, 1)).ravel()
        model = model.regressor_
    if isinstance(model, Pipeline):
        X, X_val = model[:-1].transform(X), model[:-1].transform(X_val)
    spec = make_spec(est.get_params())
    dtype = spec.np_dtype
    X = np.ascontiguousarray(np.asarray(X, dtype=float), dtype=dtype)
    X_val = np.ascontiguousarray(np.asarray(X_val, dtype=float), dtype=dtype)
    encoding = est.target_encoding_
    Y = encoding.encode(np.asarray(y)).astype(dtype, copy=False)
    Y_val = encoding.encode(np.asarray(y_val)).astype(dtype, copy=False)
    run = start_run(spec, X, Y, encoding.head)
    val_loss: list[float] = []

    class HeldOut(Callback):
        def on_epoch_end(self, epoch: int, params: Any, history: Any) -> bool | None:
            with np.errstate(all="ignore"):
                val_loss.append(float(loss_and_grad(run.net, params, X_val, Y_val, 0.0)[0]))
            return None

    replay = train(spec, run, callbacks=[HeldOut()], progress=False)
    history = copy.deepcopy(est.history_)
    if list(replay.history.loss) != list(history.loss):
        return history
    history.val_loss = val_loss
    return history


def write_outputs(
    result: TrainResult, out: str | None, plot: str | None, history: Any = None
) -> list[str]:
    """Save the model to ``out`` and plot the loss curve to ``plot``; one line for each."""
    from ..model_files import save

    lines = []
    if out is not None:
        save(result.model, out)
        lines.append(f"model written to {out}")
    if plot is not None:
        est = final_estimator(result.model)
        title = f"{type(est).__name__} {architecture(est.network_.layer_sizes)} on "
        history = est.history_ if history is None else history
        write_loss_plot(plot, history, title=title + result.data.source)
        lines.append(f"loss curve written to {plot}")
    return lines


def write_loss_plot(path: str, history: Any, title: str) -> None:
    """The loss per epoch on a log axis, written atomically; no pyplot, no global state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    from ..atomic import atomic_write

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
    fmt = plot_format(path)
    # A diverged run has losses near the float64 limit; tick placement on the log axis then
    # overflows harmlessly.
    with np.errstate(over="ignore", invalid="ignore"):
        atomic_write(path, lambda f: fig.savefig(f, format=fmt))
