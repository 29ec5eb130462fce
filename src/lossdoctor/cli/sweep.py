"""``lossdoctor sweep``: the same initial weights trained at several learning rates."""

from __future__ import annotations

import argparse
from typing import Any

from .argtypes import positive_float
from .errors import UsageError
from .loading import scaled_xy
from .models import setup_params
from .options import TRAIN_SETUP, add_setup_options
from .output import architecture, check_plot_path, print_and_plot

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
    add_setup_options(parser, TRAIN_SETUP)
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


def run(args: argparse.Namespace) -> int:
    """Check the options, train at every rate, print (and plot) the table."""
    from ..diagnostics.sweep import lr_sweep
    from ..report.plots import plot_sweep

    check_plot_path(args.plot)
    if args.jobs == 0:
        raise UsageError("--jobs must be a positive number of workers or -1 for all cores")
    data, task, X, y = scaled_xy(args)
    params = setup_params(args, task)
    params.pop("learning_rate_init")  # the swept rates, given below
    result = lr_sweep(X, y, args.lr, n_jobs=args.jobs, **params)
    header = (
        f"learning-rate sweep: {architecture((X.shape[1], *args.hidden))} {args.activation}, "
        f"{args.optimizer}, {args.epochs} epochs, seed {args.seed}, on {data.source} "
        f"({X.shape[0]} samples)"
    )
    return print_and_plot(header, result, args.plot, plot_sweep)
