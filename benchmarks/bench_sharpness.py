"""Benchmark: sharpness of a 12,289-parameter network (30-128-64-1, tanh) on 569 samples.

Run ``python benchmarks/bench_sharpness.py``. It prints the median wall time of ``sharpness_of``
(Lanczos on exact Hessian-vector products) over several repeats, the number of products, and the
time of one product and of one gradient for scale, with BLAS on all its threads and on one (small
matrices like these often run faster on one thread, above all on a busy machine).
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from lossdoctor.data import builtin_dataset
from lossdoctor.diagnostics.curvature import hessian_operator, sharpness_of
from lossdoctor.network import Network, init_params
from lossdoctor.training import loss_and_grad


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(repeats: int = 7) -> None:
    data = builtin_dataset("breast_cancer")
    X = StandardScaler().fit_transform(data.X)
    Y = data.y[:, None].astype(np.float64)
    net = Network((30, 128, 64, 1), "tanh", "binary")
    params = init_params(net, np.random.default_rng(0))
    n_params = sum(p.size for p in params.values())
    op = hessian_operator(net, params, X, Y)
    counter = {"n": 0}
    matvec = op.matvec

    def counted(v: np.ndarray) -> np.ndarray:
        counter["n"] += 1
        return matvec(v)

    print(f"network 30-128-64-1 tanh, {n_params} parameters, {X.shape[0]} samples")
    for label, limit in (("BLAS default threads", None), ("BLAS 1 thread", 1)):
        with threadpool_limits(limit):
            L = sharpness_of(net, params, X, Y)[0]
            t_sharp = _median_time(lambda: sharpness_of(net, params, X, Y), repeats)
            v = np.random.default_rng(1).standard_normal(n_params)
            t_hvp = _median_time(lambda v=v: counted(v), 20)
            t_grad = _median_time(lambda: loss_and_grad(net, params, X, Y), 20)
        print(
            f"{label:>22}: sharpness {L:.6f} in {t_sharp * 1e3:.0f} ms (median of {repeats}); "
            f"one HVP {t_hvp * 1e3:.1f} ms, one gradient {t_grad * 1e3:.1f} ms"
        )
    # How many products one Lanczos run takes.
    from scipy.sparse.linalg import LinearOperator, eigsh

    counter["n"] = 0
    probe = LinearOperator(op.shape, matvec=counted, dtype=np.float64)
    eigsh(probe, k=1, which="LA", tol=1e-8, v0=np.random.default_rng(0).standard_normal(n_params))
    print(f"Lanczos (ARPACK eigsh, tol 1e-8) used {counter['n']} Hessian-vector products")


if __name__ == "__main__":
    main()
