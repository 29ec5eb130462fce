"""Time of check_gradients in fast mode on a ~12,000-parameter network, with its loss evaluations.

Run by hand: ``python benchmarks/bench_gradcheck.py``. The network is the classic 30-128-64-1 tanh
network (12,289 parameters) on the breast-cancer data, built with lossdoctor and checked through
``loss_and_grad`` (the same path training uses); medians over interleaved repeats, one BLAS thread
and the default threads.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from sklearn.datasets import load_breast_cancer
from threadpoolctl import threadpool_limits

from lossdoctor import Network, check_gradients, init_params, loss_and_grad


def main(repeats: int = 7) -> None:
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    Y = y[:, None].astype(float)
    net = Network((30, 128, 64, 1), "tanh", "binary")
    n_params = sum(a * b + b for a, b in zip(net.layer_sizes[:-1], net.layer_sizes[1:]))
    print(f"network 30-128-64-1 tanh, {n_params} parameters, {X.shape[0]} samples")
    for dtype in (np.float64, np.float32):
        bench_dtype(net, X.astype(dtype), Y.astype(dtype), repeats)


def bench_dtype(net: Network, X: np.ndarray, Y: np.ndarray, repeats: int) -> None:
    """Print the median time of the fast check in one dtype, with default and one BLAS thread."""
    params = init_params(net, np.random.default_rng(0), dtype=X.dtype)

    def loss() -> float:
        return loss_and_grad(net, params, X, Y)[0]

    def grads() -> dict:
        return loss_and_grad(net, params, X, Y)[1]

    times: dict[str, list[float]] = {"default": [], "1": []}
    evals = 0
    for r in range(repeats):
        for threads in ("default", "1"):  # interleaved, so that noise hits both alike
            with threadpool_limits(None if threads == "default" else 1):
                t = time.perf_counter()
                report = check_gradients(loss, params, grads, rng=np.random.default_rng(r))
                times[threads].append(time.perf_counter() - t)
            assert report.ok, str(report)
            evals = report.n_evals
    for threads, ts in times.items():
        print(
            f"  {X.dtype.name}, BLAS threads {threads:>7}: fast mode "
            f"{statistics.median(ts):.3f} s (median of {repeats}; min {min(ts):.3f}, "
            f"max {max(ts):.3f}), {evals} loss evaluations"
        )


if __name__ == "__main__":
    main()
