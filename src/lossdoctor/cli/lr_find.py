"""``lossdoctor lr-find``: the learning-rate range test, beside the curvature bound 2/L."""

from __future__ import annotations

import argparse
from typing import Any

from .argtypes import positive_float, positive_int
from .errors import UsageError
from .loading import scaled_xy
from .models import refuse_lbfgs, setup_params
from .options import TRAIN_SETUP, add_setup_options
from .output import architecture, check_plot_path, print_and_plot
from .progress import progress

#: Options of the shared set-up that the range test has no use for, and why.
REFUSED = {
    "--lr": "the range test tries every rate from --start to --stop",
    "--epochs": "the range test takes one full-batch step per rate (--steps)",
    "--batch-size": "the range test takes full-batch steps",
    "--validation-fraction": "the range test reads the training loss only",
}


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Declare ``lr-find``: the set-up options, ``--lr``, the range and ``--plot``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "lr-find",
        help="learning-rate range test, beside the curvature bound 2/L",
        description="From fixed initial weights (--seed), take one full-batch step per learning "
        "rate while the rate grows exponentially from --start to --stop; stop when the loss "
        "diverges (4x its lowest value). Print the curve, the suggested learning rate with the "
        "rule that produced it, and the stability bound from the curvature at the initial "
        "weights (2/L for gradient descent). The weights are left as they were.",
    )
    add_setup_options(parser, TRAIN_SETUP, refused=REFUSED)
    parser.add_argument("--start", type=positive_float, default=1e-4, help="first learning rate")
    parser.add_argument("--stop", type=positive_float, default=1e3, help="last learning rate")
    parser.add_argument(
        "--steps", type=positive_int, default=100, metavar="N", help="steps (default: 100)"
    )
    parser.add_argument("--plot", metavar="IMAGE", help="plot the curve here (.png, .pdf)")
    return parser


def run(args: argparse.Namespace) -> int:
    """Check the range and the plot path, run the test, print (and plot) the curve."""
    from ..diagnostics.lr_range import lr_range_test
    from ..report.plots import plot_lr_range

    check_plot_path(args.plot)
    refuse_lbfgs(args, "the range test varies the learning rate")
    if not args.start < args.stop:
        raise UsageError(f"--start {args.start:g} must be below --stop {args.stop:g}")
    # The refused options are None; the estimator's defaults stand in (none is used).
    filled = {"lr": None, "epochs": TRAIN_SETUP.epochs, "batch_size": None}
    args = argparse.Namespace(**{**vars(args), **filled, "validation_fraction": None})
    data, task, X, y = scaled_xy(args)
    params = setup_params(args, task)
    what = f"range test: up to {args.steps} rates from {args.start:g} to {args.stop:g}"
    with progress(what):
        result = lr_range_test(X, y, start=args.start, stop=args.stop, n_steps=args.steps, **params)
    header = (
        f"learning-rate range test: {architecture((X.shape[1], *args.hidden))} "
        f"{args.activation}, {args.optimizer}, seed {args.seed}, full batch, on {data.source} "
        f"({X.shape[0]} samples)"
    )
    return print_and_plot(header, result, args.plot, plot_lr_range)
