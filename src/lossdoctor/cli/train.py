"""``lossdoctor train``: fit a network for exactly ``--epochs`` epochs and report how it went."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from .argtypes import lr_or_auto
from .models import TrainResult, final_estimator, fit_from_args, setup_params
from .options import TRAIN_SETUP, add_setup_options, default_help
from .output import architecture, check_output_path, check_plot_path, plot_format


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Declare ``train``: the set-up options, ``--lr`` (a number or ``auto``), the outputs."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "train",
        help="train a network and report how training went",
        description="Train a multi-layer perceptron on a data file or a built-in data set, for "
        "exactly --epochs epochs, and print the final loss, scores and time.",
    )
    add_setup_options(parser, TRAIN_SETUP)
    parser.add_argument(
        "--lr",
        type=lr_or_auto,
        default=TRAIN_SETUP.lr,
        help="learning rate, or auto: half the stability limit from the curvature at the initial "
        "weights (1/L for gd) " + default_help("lr", TRAIN_SETUP),
    )
    parser.add_argument("--out", metavar="MODEL", help="save the trained model here (.npz)")
    parser.add_argument("--plot", metavar="IMAGE", help="plot the loss curve here (.png, .pdf)")
    return parser


def run(args: argparse.Namespace) -> int:
    """Check the outputs, settle ``--lr auto``, fit, print the summary, write model and plot."""
    check_output_path(args.out, "--out")
    check_plot_path(args.plot)
    if args.lr == "auto":
        lr, rule = auto_lr(args)
        args = argparse.Namespace(**{**vars(args), "lr": lr})
        print(f"learning rate auto: {lr:.4g} ({rule})")
    result = fit_from_args(args)
    lines = summary(result, args.optimizer) + write_outputs(result, args.out, args.plot)
    print("\n".join(lines))
    return 0


def auto_lr(args: argparse.Namespace) -> tuple[float, str]:
    """``--lr auto``: half the stability limit at the initial weights, and the rule in words."""
    from ..diagnostics.lr_range import auto_learning_rate
    from .loading import scaled_xy

    _, task, X, y = scaled_xy(args)
    params = setup_params(argparse.Namespace(**{**vars(args), "lr": None}), task)
    suggestion = auto_learning_rate(X, y, **params)
    return suggestion.learning_rate, suggestion.rule


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
    return [
        f"trained {type(est).__name__} {architecture(est.network_.layer_sizes)} "
        f"({est.activation}, {optimizer}, lr {est.learning_rate_init:g}, {est.dtype}) on "
        f"{data.source}: {n_samples} samples x {n_features} features, {kind}",
        *(f"  {label:<20}{value}" for label, value in rows),
    ]


def write_outputs(result: TrainResult, out: str | None, plot: str | None) -> list[str]:
    """Save the model to ``out`` and plot the loss curve to ``plot``; one line for each."""
    from ..model_files import save

    lines = []
    if out is not None:
        save(result.model, out)
        lines.append(f"model written to {out}")
    if plot is not None:
        est = final_estimator(result.model)
        title = f"{type(est).__name__} {architecture(est.network_.layer_sizes)} on "
        write_loss_plot(plot, est.history_, title=title + result.data.source)
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
