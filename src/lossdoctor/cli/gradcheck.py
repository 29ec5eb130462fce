"""``lossdoctor gradcheck``: lossdoctor's own backpropagation against finite differences."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from .argtypes import positive_int
from .options import TRAIN_SETUP, add_network_options
from .output import architecture
from .progress import progress

if TYPE_CHECKING:
    from ..network import Network

# The built-in data set behind each --task, and so the head that is checked.
_GRADCHECK_DATA = {
    "classification": "breast_cancer",
    "multiclass": "wine",
    "regression": "diabetes",
}


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Declare ``gradcheck``: the network options, ``--task``, ``--exhaustive``, ``--samples``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "gradcheck",
        help="check lossdoctor's own backpropagation against finite differences",
        description="Build lossdoctor's network on built-in data (standardised), draw weights and "
        "compare the gradients of lossdoctor.training.loss_and_grad with central finite "
        "differences. Exit status 0 when they agree, 1 when they do not.",
    )
    add_network_options(parser, TRAIN_SETUP)
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


def run(args: argparse.Namespace) -> int:
    """Draw the problem, compare the gradients, print the report; 1 if they disagree."""
    from ..diagnostics.gradcheck import check_gradients
    from ..network import init_params
    from ..training import loss_and_grad

    rng = np.random.default_rng(args.seed)
    problem = sample_problem(args, rng)
    net, X, Y, alpha = problem.net, problem.X, problem.Y, args.alpha
    params = init_params(net, rng, init=args.init, init_scale=args.init_scale, dtype=X.dtype)
    _, grads = loss_and_grad(net, params, X, Y, alpha)
    # Exhaustive: two loss evaluations per weight (retries at smaller steps come on top).
    n_weights = sum(int(p.size) for p in params.values())
    total = 2 * n_weights if args.exhaustive else None
    what = f"checking {n_weights} weights" if args.exhaustive else "checking the gradients"
    with progress(what, total=total) as advance:

        def loss() -> float:
            advance()
            return loss_and_grad(net, params, X, Y, alpha)[0]

        report = check_gradients(
            loss, params, grads, mode="exhaustive" if args.exhaustive else "fast", rng=rng
        )
    if args.json:
        print(report.to_json(indent=2))
    else:
        print(
            f"network {architecture(net.layer_sizes)}, {net.activation}, {problem.head} head, "
            f"{args.dtype}, alpha {alpha:g}, {X.shape[0]} samples of {problem.source}"
        )
        print(report)
    return 0 if report.ok else 1


class Problem(NamedTuple):
    """The network and the standardised samples a gradient check runs on."""

    net: Network
    head: str
    X: NDArray
    Y: NDArray
    source: str


def sample_problem(args: argparse.Namespace, rng: np.random.Generator) -> Problem:
    """``--samples`` random rows of ``--task``'s data set, standardised, in ``--dtype``.

    ``Y`` has one column per output unit: the standardised target for regression, one-hot
    labels for softmax, the positive class's indicator for the binary head.
    """
    from ..data import builtin_dataset
    from ..diagnostics.evidence import standardize
    from ..network import Network
    from .limits import check_args_memory

    data = builtin_dataset(_GRADCHECK_DATA[args.task])
    assert data.y is not None
    rows = rng.permutation(data.X.shape[0])[: args.samples]
    dtype = np.dtype(args.dtype)
    X = standardize(data.X)[rows].astype(dtype)
    y = data.y[rows]
    if args.task == "regression":
        Y = standardize(y.astype(np.float64)[:, None])  # unit-scale targets and gradients
        head = "identity"
    else:
        classes = np.unique(data.y)
        head = "binary" if classes.size == 2 else "softmax"
        Y = (y[:, None] == classes[None, :]).astype(np.float64)
        Y = Y[:, 1:] if head == "binary" else Y
    Y = Y.astype(dtype)
    check_args_memory(args, X.shape, Y.shape[1])
    net = Network((X.shape[1], *args.hidden, Y.shape[1]), args.activation, head)
    return Problem(net, head, X, Y, data.source)
