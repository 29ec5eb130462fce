"""Training speed of lossdoctor against scikit-learn, PyTorch and the BLAS floor.

Run by hand (the tests never run it)::

    python benchmarks/bench_training.py            # everything: 4-5 minutes on the 2-core VM
    python benchmarks/bench_training.py --quick    # fewer repeats, smoke test
    python benchmarks/bench_training.py --isolate  # each run in its own process

Every implementation trains the same network from the same initial weights on the same batches in
the same order (no shuffling, plain gradient descent, no momentum, no L2), so that they do the same
arithmetic. Repeats are interleaved (A B C, B C A, C A B, ...) so that noise on a shared machine
hits all alike. For each workload and thread mode the script prints seconds per epoch (median, min
and max over the repeats), the ratio to scikit-learn, the GFLOP/s of the dense layers and the *BLAS
floor*: the matrix products of every step of an epoch, done by NumPy alone at the same shapes and
memory layouts into preallocated outputs. An implementation cannot beat the floor without a faster
BLAS.

The script then checks that all implementations end at the same loss, recomputed from each one's
final weights with one formula (lossdoctor's ``objective`` in float64): within 1e-10 in float64 and
within 1e-5 (relative) in float32, where the implementations' different summation orders round
differently. Finally it measures the peak memory of training on the large workload with
tracemalloc.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import itertools
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sklearn
from numpy.typing import NDArray
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info, threadpool_limits

from lossdoctor.activations import tanh_form
from lossdoctor.network import Network, init_params
from lossdoctor.optimizers import sgd
from lossdoctor.threads import describe_policy
from lossdoctor.training import fit, objective

try:
    import torch
except ImportError:  # PyTorch is optional
    torch = None

Params = dict[str, NDArray]


@dataclass
class Workload:
    name: str
    X: NDArray
    y: NDArray  # labels 0/1, shape (n_samples,)
    hidden: tuple[int, ...]
    batch_size: int | None  # None: full batch
    learning_rate: float
    epochs: int  # per repeat

    @property
    def net(self) -> Network:
        return Network((self.X.shape[1], *self.hidden, 1), "tanh", "binary")

    @property
    def Y(self) -> NDArray:
        return self.y[:, None].astype(self.X.dtype)

    def batches(self) -> list[slice]:
        n = self.X.shape[0]
        bs = n if self.batch_size is None else self.batch_size
        return [slice(s, min(s + bs, n)) for s in range(0, n, bs)]

    def flops_per_epoch(self) -> float:
        """Multiply-adds of the dense layers, times two: forward, weight gradients and the
        gradients with respect to every layer input except X."""
        sizes = self.net.layer_sizes
        fwd = sum(a * b for a, b in itertools.pairwise(sizes))
        back = fwd + sum(a * b for a, b in itertools.pairwise(sizes[1:]))
        return 2.0 * self.X.shape[0] * (fwd + back)


# --------------------------------------------------------------------------- implementations
# Each runner takes the workload and the initial parameters and returns the final parameters.


def run_lossdoctor(wl: Workload, params0: Params) -> Params:
    result = fit(
        wl.net,
        params0,
        wl.X,
        wl.Y,
        optimizer=sgd(wl.learning_rate),
        epochs=wl.epochs,
        batch_size=wl.batch_size,
        n_iter_no_change=None,
        progress=False,
    )
    return result.params


def run_sklearn(wl: Workload, params0: Params) -> Params:
    n_layers = len(wl.hidden) + 1
    clf = MLPClassifier(
        hidden_layer_sizes=wl.hidden,
        activation="tanh",
        solver="sgd",
        alpha=0.0,
        batch_size=8,
        learning_rate="constant",
        learning_rate_init=wl.learning_rate,
        momentum=0.0,
        nesterovs_momentum=False,
        shuffle=False,
        max_iter=1,
        tol=0.0,
        n_iter_no_change=10**9,
        warm_start=True,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # A one-epoch fit on a few rows creates the fitted attributes; then the initial weights are
        # replaced by ours and a warm-started fit trains from them.
        clf.fit(wl.X[:8], np.array([0, 1] * 4))
        clf.coefs_ = [params0[f"W{k}"].copy() for k in range(1, n_layers + 1)]
        clf.intercepts_ = [params0[f"b{k}"].copy() for k in range(1, n_layers + 1)]
        clf.loss_curve_, clf._no_improvement_count, clf.best_loss_ = [], 0, np.inf
        clf.set_params(
            max_iter=wl.epochs,
            batch_size=wl.X.shape[0] if wl.batch_size is None else wl.batch_size,
        )
        clf.fit(wl.X, wl.y)
    out: Params = {}
    for k in range(1, n_layers + 1):
        out[f"W{k}"], out[f"b{k}"] = clf.coefs_[k - 1], clf.intercepts_[k - 1]
    return out


def run_torch(wl: Workload, params0: Params) -> Params:
    assert torch is not None
    X, Y = torch.from_numpy(wl.X), torch.from_numpy(wl.Y)
    n_layers = len(wl.hidden) + 1
    W = [torch.tensor(params0[f"W{k}"], requires_grad=True) for k in range(1, n_layers + 1)]
    b = [torch.tensor(params0[f"b{k}"], requires_grad=True) for k in range(1, n_layers + 1)]
    trainable = W + b
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    lr = wl.learning_rate
    for _ in range(wl.epochs):
        total = 0.0
        for s in wl.batches():
            A = X[s]
            for k in range(n_layers - 1):
                A = torch.tanh(torch.addmm(b[k], A, W[k]))
            loss = bce(torch.addmm(b[-1], A, W[-1]), Y[s])
            grads = torch.autograd.grad(loss, trainable)
            with torch.no_grad():
                torch._foreach_add_(trainable, grads, alpha=-lr)
            total += loss.item() * (s.stop - s.start)
    out: Params = {}
    for k in range(1, n_layers + 1):
        out[f"W{k}"], out[f"b{k}"] = W[k - 1].detach().numpy(), b[k - 1].detach().numpy()
    return out


def run_blas_floor(wl: Workload, params0: Params) -> Params:
    """The matrix products of every step of ``wl.epochs`` epochs, and nothing else.

    Same shapes and layouts as a training step: ``Xb @ W1`` with ``Xb`` a row slice of ``X``,
    ``A.T @ delta`` with ``A`` a C-contiguous batch-by-units array (a transposed view), and
    ``delta @ W.T`` (a transposed view of the weights); outputs are preallocated.
    """
    rng = np.random.default_rng(0)
    L = len(wl.hidden) + 1
    W = [params0[f"W{k}"] for k in range(1, L + 1)]
    dtype = wl.X.dtype
    buffers: dict[int, tuple[list[NDArray], list[NDArray]]] = {}
    grads = [np.empty_like(w) for w in W]
    for s in wl.batches():
        nb = s.stop - s.start
        if nb not in buffers:
            Z = [np.empty((nb, w.shape[1]), dtype) for w in W]
            D = [rng.standard_normal((nb, w.shape[1])).astype(dtype) for w in W]
            buffers[nb] = (Z, D)
    for _ in range(wl.epochs):
        for s in wl.batches():
            Z, D = buffers[s.stop - s.start]
            A = wl.X[s]
            inputs = [A]
            for k in range(L):
                np.matmul(A, W[k], out=Z[k])
                A = Z[k]
                inputs.append(A)
            for k in range(L - 1, -1, -1):
                np.matmul(inputs[k].T, D[k], out=grads[k])
                if k > 0:
                    np.matmul(D[k], W[k].T, out=D[k - 1])
    return {}


# --------------------------------------------------------------------------- measurement


def measure(
    wl: Workload,
    params0: Params,
    runners: dict[str, Callable[[Workload, Params], Params]],
    repeats: int,
) -> tuple[dict[str, list[float]], dict[str, Params]]:
    """Seconds per epoch of each runner over ``repeats`` interleaved repeats, and final params."""
    names = list(runners)
    times: dict[str, list[float]] = {name: [] for name in names}
    finals: dict[str, Params] = {}
    for r in range(repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            t0 = time.perf_counter()
            finals[name] = runners[name](wl, params0)
            times[name].append((time.perf_counter() - t0) / wl.epochs)
    return times, finals


def measure_isolated(
    wl: Workload,
    names: list[str],
    repeats: int,
    mode: str,
    quick: bool,
) -> tuple[dict[str, list[float]], dict[str, Params]]:
    """As :func:`measure`, each run in a fresh process (interleaved the same way).

    In one process, a BLAS library's threads keep spinning for a while after a multi-threaded
    run and take a core from whatever runs next (scikit-learn's default-thread run before
    lossdoctor's two-thread step, say). Each child runs its implementation once for a few epochs
    to warm up, then times one run; the final weights come back through a temporary file.
    """
    times: dict[str, list[float]] = {name: [] for name in names}
    finals: dict[str, Params] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                out = os.path.join(tmp, "final.npz")
                cmd = [sys.executable, os.path.abspath(__file__), "--child", name, wl.name]
                cmd += [wl.X.dtype.name, mode, out] + (["--quick"] if quick else [])
                done = subprocess.run(cmd, check=True, capture_output=True, text=True)
                times[name].append(float(done.stdout.split()[-1]))
                with np.load(out) as saved:
                    finals[name] = {k: saved[k] for k in saved.files}
    return times, finals


def child(name: str, workload: str, dtype: str, mode: str, out: str, quick: bool) -> None:
    """One timed run of one implementation (``--isolate``): prints seconds per epoch."""
    wl = next(w for w in workloads(quick) if w.name == workload and w.X.dtype.name == dtype)
    params0 = init_params(wl.net, np.random.default_rng(0), dtype=wl.X.dtype)
    runner = RUNNERS[name]
    limit = None if mode == "default" else int(mode)
    if torch is not None and limit is not None:
        torch.set_num_threads(limit)
    with threadpool_limits(limits=limit):
        runner(dataclasses.replace(wl, epochs=5), params0)  # warm-up
        t0 = time.perf_counter()
        final = runner(wl, params0)
        seconds = (time.perf_counter() - t0) / wl.epochs
    np.savez(out, **(final or {}))
    print(seconds)


def final_losses(wl: Workload, finals: dict[str, Params]) -> dict[str, float]:
    """Each implementation's training objective from its final weights, by one formula."""
    X64, Y64 = wl.X.astype(np.float64), wl.Y.astype(np.float64)
    return {
        name: objective(wl.net, {k: v.astype(np.float64) for k, v in p.items()}, X64, Y64)
        for name, p in finals.items()
        if p
    }


def report(
    wl: Workload, mode: str, times: dict[str, list[float]], losses: dict[str, float]
) -> bool:
    dtype = wl.X.dtype.name
    print(f"\n## {wl.name}, {dtype}, threads: {mode}")
    n, d = wl.X.shape
    bs = "full" if wl.batch_size is None else wl.batch_size
    print(
        f"   {n} x {d}, hidden {wl.hidden}, batch {bs}, {len(wl.batches())} steps/epoch, "
        f"{wl.epochs} epochs x {len(next(iter(times.values())))} repeats"
    )
    flops = wl.flops_per_epoch()
    sk = statistics.median(times["scikit-learn"])
    floor = statistics.median(times["BLAS floor"])
    print(
        f"   {'implementation':<14} {'median s/ep':>12} {'min':>10} {'max':>10} "
        f"{'/sklearn':>9} {'/floor':>7} {'GFLOP/s':>8}"
    )
    for name, ts in times.items():
        med = statistics.median(ts)
        print(
            f"   {name:<14} {med:12.5f} {min(ts):10.5f} {max(ts):10.5f} "
            f"{med / sk:9.3f} {med / floor:7.3f} {flops / med / 1e9:8.2f}"
        )
    ref = losses["lossdoctor"]
    tol = 1e-10 if wl.X.dtype == np.float64 else 1e-5 * abs(ref)
    worst = max(abs(v - ref) for v in losses.values())
    agree = worst <= tol
    shown = ", ".join(f"{k} {v:.15g}" for k, v in losses.items())
    print(f"   final loss: {shown}")
    print(f"   max |difference| {worst:.3g} (tolerance {tol:.3g}): {'OK' if agree else 'MISMATCH'}")
    return agree


def peak_memory(wl: Workload, params0: Params) -> None:
    """Peak memory of one lossdoctor epoch on ``wl``, against data plus parameters."""
    data = wl.X.nbytes + wl.Y.nbytes
    Y = wl.Y  # materialised before tracing: it is part of the data
    param_bytes = sum(p.nbytes for p in params0.values())
    one_epoch = Workload(wl.name, wl.X, wl.y, wl.hidden, wl.batch_size, wl.learning_rate, 1)
    tracemalloc.start()
    tracemalloc.reset_peak()
    fit(
        one_epoch.net,
        params0,
        wl.X,
        Y,
        optimizer=sgd(wl.learning_rate),
        epochs=1,
        batch_size=wl.batch_size,
        n_iter_no_change=None,
        progress=False,
    )
    _, extra = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    base = data + param_bytes
    peak = base + extra
    print(
        f"\n## peak memory, {wl.name}, {wl.X.dtype.name}: data {data / 2**20:.1f} MiB + params "
        f"{param_bytes / 2**20:.2f} MiB; training allocates at most {extra / 2**20:.2f} MiB more "
        f"(tracemalloc) -> peak {peak / 2**20:.1f} MiB = {peak / base:.3f}x data+params "
        f"({'OK' if peak <= 1.5 * base else 'OVER'} <= 1.5x)"
    )


RUNNERS: dict[str, Callable[[Workload, Params], Params]] = {
    "lossdoctor": run_lossdoctor,
    "scikit-learn": run_sklearn,
    **({"PyTorch": run_torch} if torch is not None else {}),
    "BLAS floor": run_blas_floor,
}

# --------------------------------------------------------------------------- main


def workloads(quick: bool) -> list[Workload]:
    Xc, yc = load_breast_cancer(return_X_y=True)
    Xc = StandardScaler().fit_transform(Xc)
    classic = Workload(
        "classic (breast cancer)", Xc, yc, (128, 64), None, 0.01, 100 if quick else 300
    )
    Xl, yl = make_classification(
        n_samples=100_000, n_features=100, n_informative=20, random_state=0
    )
    large_epochs = 1
    large = [
        Workload(
            "large (make_classification)", Xl.astype(dt), yl, (512, 256), 256, 0.01, large_epochs
        )
        for dt in (np.float64, np.float32)
    ]
    return [classic, *large]


def header() -> None:
    print(f"# lossdoctor training benchmark, {datetime.datetime.now():%Y-%m-%d %H:%M}")
    uname = platform.uname()
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"machine: {cpu}, {os.cpu_count()} cores, {uname.system} {uname.release}")
    versions = f"python {platform.python_version()}, numpy {np.__version__}, "
    versions += f"scikit-learn {sklearn.__version__}"
    versions += f", torch {torch.__version__}" if torch is not None else ", torch not installed"
    print(versions)
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS"):
        print(f"{var}={os.environ.get(var, '(unset)')}")
    for lib in threadpool_info():
        print(
            f"{lib['internal_api']} {lib.get('version')} kernel {lib.get('architecture')}, "
            f"{lib['num_threads']} threads: {os.path.basename(lib['filepath'])}"
        )
    # What lossdoctor chose on this machine: the tanh form (timed) and the BLAS-thread policy.
    print(f"lossdoctor tanh: {tanh_form()}")
    print(f"lossdoctor BLAS threads: {describe_policy()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs and repeats")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--only", choices=["classic", "large"], default=None)
    parser.add_argument("--dtype", choices=["float64", "float32"], default=None)
    parser.add_argument("--threads", choices=["default", "1"], default=None)
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurement")
    parser.add_argument(
        "--isolate",
        action="store_true",
        help="run each implementation's each repeat in its own process (see measure_isolated)",
    )
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, quick=args.quick)
        return
    repeats = args.repeats or (2 if args.quick else 5)

    header()
    print(f"each run in its own process: {'yes' if args.isolate else 'no'}")
    runners = RUNNERS

    all_agree = True
    default_torch_threads = torch.get_num_threads() if torch is not None else 0
    for wl in workloads(args.quick):
        if args.only and not wl.name.startswith(args.only):
            continue
        if args.dtype and wl.X.dtype.name != args.dtype:
            continue
        params0 = init_params(wl.net, np.random.default_rng(0), dtype=wl.X.dtype)
        modes = ["default", "1"]
        modes = [m for m in modes if args.threads in (None, m)]
        for mode in modes:
            limit = None if mode == "default" else int(mode)
            if torch is not None:
                torch.set_num_threads(limit or default_torch_threads)
            if args.isolate:
                times, finals = measure_isolated(wl, list(runners), repeats, mode, args.quick)
            else:
                with threadpool_limits(limits=limit):
                    times, finals = measure(wl, params0, runners, repeats)
            all_agree &= report(wl, mode, times, final_losses(wl, finals))
        if wl.name.startswith("large") and not args.no_memory:
            peak_memory(wl, params0)
    print(f"\nall final losses agree: {all_agree}")


if __name__ == "__main__":
    main()
