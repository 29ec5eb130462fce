"""``lossdoctor gradcheck``: backpropagation against finite differences.

Without ``CODE`` it checks lossdoctor's own network; with ``CODE`` (``path/to/net.py[:NAME]``) it
checks the user's hand-written network in one of the styles that
:func:`~lossdoctor.diagnostics.gradcheck.check_gradients_of` recognises.
"""

from __future__ import annotations

import argparse
import inspect
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from .argtypes import positive_int
from .errors import UsageError
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
        "differences. With CODE, check your own network instead: CODE is path/to/net.py[:NAME], "
        "where NAME is a network object in that file, or a function with no arguments that "
        "returns a network or (network, X, y); without NAME the file itself is the network "
        "(deeplearning.ai's module style). Recognised styles: W1/dW1 attributes, cs231n "
        "(params dict and loss(X, y) -> (loss, grads)), Nielsen (weights/biases lists and "
        "backprop), deeplearning.ai (parameters and grads dicts). Without X and y from your "
        "code, --samples rows of --task's built-in data are used, samples as rows or, if your "
        "network wants them, as columns. Exit status 0 when the gradients agree, 1 when they "
        "do not.",
    )
    parser.add_argument(
        "code",
        nargs="?",
        metavar="CODE",
        help="your network: path/to/net.py or path/to/net.py:NAME",
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
    """Check the user's network (CODE) or lossdoctor's own; print the report; 1 if they disagree."""
    if args.code is not None:
        return run_user_code(args)
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


def run_user_code(args: argparse.Namespace) -> int:
    """Import ``CODE``, find the network and its data, check it in one call, print the report."""
    from ..diagnostics.gradcheck import check_gradients_of

    net, data = user_network(args.code)
    if inspect.ismodule(net) and not hasattr(net, "L_model_backward"):
        raise UsageError(
            f"CODE {args.code}: name the network in the file, path/to/net.py:NAME, where NAME "
            "is a network object or a function with no arguments that returns one"
        )
    rng = np.random.default_rng(args.seed)
    mode = "exhaustive" if args.exhaustive else "fast"
    if data is not None:
        report = check_gradients_of(net, *data, mode=mode, rng=rng)
        source = "the data your code returned"
    else:
        problem = sample_problem(args, rng)
        report, source = _check_either_layout(net, problem, mode, rng)
    if args.json:
        print(report.to_json(indent=2))
    else:
        print(f"{args.code}: {type(net).__name__} on {source}")
        print(report)
    return 0 if report.ok else 1


def user_network(code: str) -> tuple[Any, tuple[Any, Any] | None]:
    """The network ``path.py[:NAME]`` names, and ``(X, y)`` when the code provides them.

    Raises
    ------
    UsageError
        When the file cannot be read or imported, or NAME is not in it.
    """
    import importlib.util
    from pathlib import Path

    path_text, _, name = code.partition(":") if not Path(code).is_file() else (code, "", "")
    path = Path(path_text)
    if not path.is_file() or path.suffix != ".py":
        raise UsageError(f"CODE {code}: {path_text} is not a Python file (path/to/net.py[:NAME])")
    spec = importlib.util.spec_from_file_location(f"lossdoctor_user_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise UsageError(f"CODE {code}: {path_text} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # the user's code: any error of theirs is reported in one line
        raise UsageError(
            f"CODE {code}: importing {path_text} raised {type(err).__name__}: {err}"
        ) from None
    if not name:
        return module, None
    if not hasattr(module, name):
        defined = sorted(
            n for n, v in vars(module).items() if not n.startswith("_") and _defined_in(v, module)
        )
        listed = ", ".join(defined) or "nothing"
        raise UsageError(f"CODE {code}: {path_text} has no {name!r}; it defines: {listed}")
    obj = getattr(module, name)
    if inspect.isclass(obj) or inspect.isfunction(obj):
        try:
            obj = obj()
        except Exception as err:  # as above: the user's function
            raise UsageError(f"CODE {code}: {name}() raised {type(err).__name__}: {err}") from None
    if isinstance(obj, tuple) and len(obj) == 3:
        return obj[0], (obj[1], obj[2])
    return obj, None


def _defined_in(value: Any, module: Any) -> bool:
    return getattr(value, "__module__", None) == module.__name__


def _check_either_layout(net: Any, problem: Problem, mode: str, rng: np.random.Generator) -> Any:
    """Check on the built-in samples as rows, or as columns if the network wants them so."""
    from ..diagnostics.gradcheck import check_gradients_of

    labels = problem.Y[:, 0] if problem.Y.shape[1] == 1 else problem.Y.argmax(axis=1)
    layouts = (
        ("samples as rows", problem.X, labels),
        ("samples as columns", problem.X.T, problem.Y.T),
    )
    failures = []
    for words, X, y in layouts:
        try:
            report = check_gradients_of(net, X, y, mode=mode, rng=rng)
        except (ValueError, IndexError) as err:  # a shape the network does not take
            failures.append(f"{words}: {err}")
            continue
        return report, f"{X.shape} {words} of {problem.source}"
    raise UsageError("your network took neither layout of the data; " + "; ".join(failures))
