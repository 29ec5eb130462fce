"""``lossdoctor sharpness``: the top Hessian eigenvalues, at the initial or the trained weights."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .argtypes import positive_float, positive_int
from .errors import UsageError
from .loading import scaled_xy
from .models import estimator_from_args, setup_params
from .options import TRAIN_SETUP, add_lr_option, add_setup_options
from .output import architecture, json_default, json_safe
from .progress import progress


def subsample_arg(text: str) -> int | str | None:
    """``auto``, ``all`` or a positive number of samples."""
    if text in ("auto", "all"):
        return None if text == "all" else text
    return positive_int(text)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Declare ``sharpness``: the set-up options, ``--lr``, ``--trained``, ``-k``, accuracy."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sharpness",
        help="top Hessian eigenvalues of the training loss, beside the stability limit",
        description="Measure the sharpness (the largest eigenvalues of the Hessian of the "
        "training objective, by Lanczos on exact Hessian-vector products) at the initial "
        "weights (--seed), or after training the set-up (--trained), and judge the learning "
        "rate against the stability limit (2/L for gradient descent). On large data a fixed "
        "random subset of the samples is used (--subsample).",
    )
    add_setup_options(parser, TRAIN_SETUP)
    add_lr_option(parser, TRAIN_SETUP)
    parser.add_argument(
        "--trained", action="store_true", help="train the set-up first, then measure"
    )
    parser.add_argument(
        "-k", type=positive_int, default=1, metavar="K", help="eigenvalues (default: 1)"
    )
    parser.add_argument(
        "--tol",
        type=positive_float,
        default=None,
        help="relative accuracy asked of the eigensolver (default: 1e-3, which gives the "
        "eigenvalue to about 1e-6)",
    )
    parser.add_argument(
        "--subsample",
        type=subsample_arg,
        default="auto",
        metavar="N",
        help="samples used: a number, 'all', or 'auto' (default: at most 16384)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def run(args: argparse.Namespace) -> int:
    """Build (and with ``--trained`` fit) the set-up, measure, print the eigenvalues."""
    from ..diagnostics.curvature import lr_verdict, sharpness, sharpness_of, stability_verdict
    from ..diagnostics.curvature.sharpness import DEFAULT_TOL
    from ..diagnostics.lr_range import make_setup

    data, task, X, y = scaled_xy(args)
    tol = DEFAULT_TOL if args.tol is None else args.tol
    if not tol < 1:
        raise UsageError(f"--tol must be below 1, got {tol:g}")
    params = setup_params(args, task)
    verdict: Any = None
    what = f"measuring the top {args.k} Hessian eigenvalue(s)" + (
        " after training" if args.trained else " at the initial weights"
    )
    with progress(what):
        if args.trained:
            model = estimator_from_args(args, task).fit(X, y)
            values = sharpness(
                model, X, y, k=args.k, subsample=args.subsample, rng=args.seed, tol=tol
            )
            verdict = stability_verdict(model, X, y, subsample=args.subsample)
            where = f"after {model.n_iter_} epochs"
        else:
            s = make_setup(X, y, **params)
            values = sharpness_of(
                s.net, s.params, s.X, s.Y, alpha=float(s.spec.alpha), k=args.k,
                subsample=args.subsample, rng=args.seed, tol=tol,
            )  # fmt: skip
            optimizer, momentum, nesterov = s.spec.optimizer_kind
            if optimizer != "adam":
                verdict = lr_verdict(
                    float(s.spec.learning_rate_init), float(values[0]), optimizer=optimizer,
                    momentum=momentum, nesterov=nesterov,
                )  # fmt: skip
            where = "at the initial weights"
    n_used = X.shape[0] if args.subsample is None else min(X.shape[0], _cap(args.subsample))
    header = (
        f"sharpness: {architecture((X.shape[1], *args.hidden))} {args.activation}, "
        f"{args.optimizer}, seed {args.seed}, {where}, on {data.source} ({X.shape[0]} samples, "
        f"{n_used} used), tolerance {tol:g}"
    )
    if args.json:
        out = {
            "eigenvalues": [float(v) for v in values],
            "samples": int(X.shape[0]),
            "samples_used": int(n_used),
            "tol": tol,
            "trained": bool(args.trained),
            "verdict": None if verdict is None else {"label": verdict.label, **verdict.evidence},
        }
        print(json.dumps(json_safe(out), default=json_default))
        return 0
    print(header)
    for i, v in enumerate(values, 1):
        print(f"  eigenvalue {i}: {v:.6g}")
    if verdict is not None:
        print(verdict.message)
    elif not args.trained:
        print("no stability limit is given for Adam at the initial weights (use --trained)")
    return 0


def _cap(subsample: int | str) -> int:
    from ..diagnostics.curvature.sharpness import AUTO_SUBSAMPLE

    return AUTO_SUBSAMPLE if subsample == "auto" else int(subsample)
