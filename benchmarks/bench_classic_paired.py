"""Paired, in-process timing of full-batch plain descent on the classic workload.

Run by hand (the tests never run it)::

    python benchmarks/bench_classic_paired.py                  # this checkout against main
    python benchmarks/bench_classic_paired.py --baseline HEAD~1 --rounds 40

The classic workload: breast cancer (569 x 30, standardised), hidden (128, 64) tanh, one sigmoid
output with binary cross-entropy from logits, plain gradient descent on the full batch, one BLAS
thread, ``LOSSDOCTOR_TANH=numpy`` (unless set otherwise). Three implementations train from the same
initial weights: this checkout's ``fit``, the ``fit`` of a baseline revision of lossdoctor (its
``src/lossdoctor`` extracted with ``git archive`` and imported under another name) and
scikit-learn's ``MLPClassifier`` (its weights replaced by ours, as in ``bench_training.py``). One
process runs ``--rounds`` rounds, each timing ``--epochs`` epochs of every implementation in a
rotating order, so that load on a shared machine hits all three alike. It prints the medians of
the seconds per epoch and the median of the per-round ratios, which is less exposed to the noise.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

os.environ.setdefault("LOSSDOCTOR_TANH", "numpy")  # before lossdoctor picks its tanh

import numpy as np
import sklearn
from numpy.typing import NDArray
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import lossdoctor
from lossdoctor.network import Network, init_params
from lossdoctor.optimizers import sgd
from lossdoctor.training import fit, objective

Params = dict[str, NDArray]
REPO = Path(__file__).resolve().parents[1]
HIDDEN = (128, 64)
LEARNING_RATE = 0.01


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(
                line.split(":", 1)[1].strip() for line in f if line.startswith("model name")
            )
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def import_baseline(rev: str, where: Path) -> ModuleType:
    """``src/lossdoctor`` at ``rev``, imported as the package ``lossdoctor_baseline``."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev, "src/lossdoctor"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive, check=True)
    package = where / "src" / "lossdoctor"
    spec = importlib.util.spec_from_file_location(
        "lossdoctor_baseline", package / "__init__.py", submodule_search_locations=[str(package)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["lossdoctor_baseline"] = module
    spec.loader.exec_module(module)
    return importlib.import_module("lossdoctor_baseline.training")


def lossdoctor_runner(
    fit_fn: Callable[..., object], sgd_fn: Callable[[float], object], net: Network, X, Y, epochs
) -> Callable[[Params], Callable[[], Params]]:
    def prepare(params0: Params) -> Callable[[], Params]:
        def run() -> Params:
            result = fit_fn(
                net, params0, X, Y, optimizer=sgd_fn(LEARNING_RATE), epochs=epochs,
                n_iter_no_change=None, progress=False,
            )  # fmt: skip
            return result.params  # type: ignore[attr-defined, no-any-return]

        return run

    return prepare


def sklearn_runner(X, y, epochs) -> Callable[[Params], Callable[[], Params]]:
    L = len(HIDDEN) + 1

    def prepare(params0: Params) -> Callable[[], Params]:
        clf = MLPClassifier(
            hidden_layer_sizes=HIDDEN, activation="tanh", solver="sgd", alpha=0.0, batch_size=8,
            learning_rate="constant", learning_rate_init=LEARNING_RATE, momentum=0.0,
            nesterovs_momentum=False, shuffle=False, max_iter=1, tol=0.0,
            n_iter_no_change=10**9, warm_start=True, random_state=0,
        )  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X[:8], np.array([0, 1] * 4))  # creates the fitted attributes (untimed)
        clf.coefs_ = [params0[f"W{k}"].copy() for k in range(1, L + 1)]
        clf.intercepts_ = [params0[f"b{k}"].copy() for k in range(1, L + 1)]
        clf.loss_curve_, clf._no_improvement_count, clf.best_loss_ = [], 0, np.inf
        clf.set_params(max_iter=epochs, batch_size=X.shape[0])

        def run() -> Params:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.fit(X, y)
            out: Params = {}
            for k in range(1, L + 1):
                out[f"W{k}"], out[f"b{k}"] = clf.coefs_[k - 1], clf.intercepts_[k - 1]
            return out

        return run

    return prepare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", default="main", help="git revision to compare against")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=100, help="epochs per timing")
    args = parser.parse_args()

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    Y = y[:, None].astype(X.dtype)
    net = Network((X.shape[1], *HIDDEN, 1), "tanh", "binary")
    params0 = init_params(net, np.random.default_rng(0))

    head = git("rev-parse", "--short", "HEAD") + (" (modified)" if git("status", "--short") else "")
    base = git("rev-parse", "--short", args.baseline)
    print(f"# classic workload, paired: {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, {platform.system()}")
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"scikit-learn {sklearn.__version__}, LOSSDOCTOR_TANH={os.environ['LOSSDOCTOR_TANH']}"
    )
    print(f"this checkout: {head} ({lossdoctor.__file__}); baseline: {args.baseline} = {base}")
    print(f"{args.rounds} rounds x {args.epochs} epochs, one BLAS thread")
    print(f"load average before: {load_average()}")

    with tempfile.TemporaryDirectory() as tmp:
        baseline = import_baseline(args.baseline, Path(tmp))
        base_sgd = sys.modules["lossdoctor_baseline.optimizers"].sgd
        prepares = {
            "this": lossdoctor_runner(fit, sgd, net, X, Y, args.epochs),
            "baseline": lossdoctor_runner(baseline.fit, base_sgd, net, X, Y, args.epochs),
            "sklearn": sklearn_runner(X, y, args.epochs),
        }
        names = list(prepares)
        times: dict[str, list[float]] = {name: [] for name in names}
        finals: dict[str, Params] = {}
        with threadpool_limits(1):
            for name in names:  # warm-up: first-use costs (tanh choice, imports, caches)
                prepares[name](params0)()
            for r in range(args.rounds):
                for name in names[r % 3 :] + names[: r % 3]:
                    run = prepares[name](params0)
                    t0 = time.perf_counter()
                    finals[name] = run()
                    times[name].append((time.perf_counter() - t0) / args.epochs)
    print(f"load average after: {load_average()}")

    print(f"\n{'':10} {'median ms/epoch':>16} {'min':>8} {'max':>8}")
    for name in names:
        ts = times[name]
        print(
            f"{name:10} {1e3 * statistics.median(ts):16.3f} {1e3 * min(ts):8.3f} "
            f"{1e3 * max(ts):8.3f}"
        )
    med = {name: statistics.median(times[name]) for name in names}
    print()
    for a, b in [("this", "baseline"), ("this", "sklearn"), ("baseline", "sklearn")]:
        per_round = statistics.median(x / y for x, y in zip(times[a], times[b]))
        print(
            f"{a}/{b}: ratio of medians {med[a] / med[b]:.3f}, "
            f"median of per-round ratios {per_round:.3f}"
        )
    losses = {name: objective(net, p, X, Y) for name, p in finals.items()}
    print("\nfinal loss: " + ", ".join(f"{k} {v:.15g}" for k, v in losses.items()))


if __name__ == "__main__":
    main()
