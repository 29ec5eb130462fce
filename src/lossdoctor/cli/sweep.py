"""``lossdoctor sweep``: the same initial weights trained at several learning rates."""

from __future__ import annotations

import argparse
from typing import Any

from .argtypes import lr_or_auto
from .errors import UsageError
from .loading import scaled_xy
from .models import auto_lr, refuse_lbfgs, setup_params
from .options import TRAIN_SETUP, add_setup_options
from .output import architecture, check_plot_path, print_and_plot
from .progress import progress

DEFAULT_SWEEP_LRS = (0.01, 0.1, 1.0, 10.0)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Declare ``sweep``: the set-up options, several ``--lr``, ``--jobs`` and ``--plot``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sweep",
        help="train the same initial weights at several learning rates",
        description="Train from the same initial weights (--seed) at each learning rate, in "
        "parallel (--jobs, through joblib), classify each loss curve and measure the sharpness "
        "at the end against the stability limit 2/lr. Print a table; --plot overlays the loss "
        "curves on a log axis.",
    )
    add_setup_options(
        parser,
        TRAIN_SETUP,
        refused={"--validation-fraction": "the sweep compares the training loss of each rate"},
    )
    parser.add_argument(
        "--lr",
        type=lr_or_auto,
        nargs="+",
        default=list(DEFAULT_SWEEP_LRS),
        metavar="LR",
        help="learning rates; auto: half the stability limit from the curvature at the initial "
        "weights (default: %(default)s)",
    )
    parser.add_argument(
        "--jobs", type=int, default=1, metavar="N", help="parallel workers, -1: all cores"
    )
    parser.add_argument("--plot", metavar="IMAGE", help="plot the loss curves here (.png, .pdf)")
    return parser


def run(args: argparse.Namespace) -> int:
    """Check the options, train at every rate, print (and plot) the table."""
    from ..diagnostics.sweep import lr_sweep
    from ..report.plots import plot_sweep

    check_plot_path(args.plot)
    refuse_lbfgs(args, "the sweep varies the learning rate")
    if args.jobs == 0:
        raise UsageError("--jobs must be a positive number of workers or -1 for all cores")
    rates = list(args.lr)
    if "auto" in rates:
        lr, rule = auto_lr(argparse.Namespace(**{**vars(args), "lr": "auto"}))
        rates = [lr if rate == "auto" else rate for rate in rates]
        print(f"learning rate auto: {lr:.4g} ({rule})")
    args = argparse.Namespace(**{**vars(args), "validation_fraction": None})
    data, task, X, y = scaled_xy(args)
    params = setup_params(argparse.Namespace(**{**vars(args), "lr": None}), task)
    params.pop("learning_rate_init")  # the swept rates, given below
    with progress(f"training {args.epochs} epochs at each of {len(rates)} learning rates"):
        result = lr_sweep(X, y, rates, n_jobs=args.jobs, **params)
    header = (
        f"learning-rate sweep: {architecture((X.shape[1], *args.hidden))} {args.activation}, "
        f"{args.optimizer}, {args.epochs} epochs, seed {args.seed}, on {data.source} "
        f"({X.shape[0]} samples)"
    )
    return print_and_plot(header, result, args.plot, plot_sweep)
