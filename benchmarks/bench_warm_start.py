"""Benchmark: Hessian-vector products saved by warm-starting Lanczos across epochs.

Run ``python benchmarks/bench_warm_start.py``. The classic network (569 x 30 breast cancer,
standardised; 30-128-64-1 tanh) is trained with plain gradient descent and with Adam while a
:class:`~lossdoctor.diagnostics.curvature.SharpnessCallback` measures the sharpness every few
epochs at the default tolerance, once starting each Lanczos run from the previous top
eigenvector (``warm_start=True``, the default) and once from a random vector. It prints the
products per measurement and the largest relative difference of the two runs' eigenvalues.
Then the same for ``diagnose`` with the classic set-up (``CLASSIC_SETUP``: gradient descent at
learning rate 1, normal initialisation), which measures the sharpness at the initial weights and
at two later snapshots.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from sklearn.preprocessing import StandardScaler

from lossdoctor.data import builtin_dataset
from lossdoctor.diagnostics import monitored_run
from lossdoctor.diagnostics.curvature import LanczosStart, SharpnessCallback
from lossdoctor.diagnostics.curvature.hvp import _ExactHessian
from lossdoctor.diagnostics.diagnose import CLASSIC_SETUP, diagnose
from lossdoctor.network import Network, init_params
from lossdoctor.optimizers import adam, sgd
from lossdoctor.training import fit


class _Count:
    """Counts exact Hessian-vector products while active."""

    def __enter__(self) -> _Count:
        self.n = 0
        self.original = _ExactHessian.matvec

        def counted(h, v):
            self.n += 1
            return self.original(h, v)

        _ExactHessian.matvec = counted  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc) -> None:
        _ExactHessian.matvec = self.original  # type: ignore[method-assign]


class _Cold(LanczosStart):
    """A LanczosStart that never keeps a vector: every measurement starts cold."""

    @property  # type: ignore[override]
    def vector(self):
        return None

    @vector.setter
    def vector(self, value) -> None:
        pass


def diagnose_products(seed: int, warm: bool) -> tuple[int, list[float]]:
    data = builtin_dataset("breast_cancer")
    X = StandardScaler().fit_transform(data.X)
    saved = monitored_run.LanczosStart
    monitored_run.LanczosStart = LanczosStart if warm else _Cold  # type: ignore[misc]
    try:
        with _Count() as count, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            d = diagnose(X, data.y, **{**CLASSIC_SETUP, "random_state": seed})
    finally:
        monitored_run.LanczosStart = saved  # type: ignore[misc]
    return count.n, list(d.monitor["sharpness"])


class _Counted(SharpnessCallback):
    """Records the products each measurement spends."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.products: list[int] = []

    def _measure(self, epoch, params, lr) -> None:
        with _Count() as count:
            super()._measure(epoch, params, lr)
        self.products.append(count.n)


def run(optimizer_name: str, epochs: int, every: int, seed: int, warm: bool) -> _Counted:
    data = builtin_dataset("breast_cancer")
    X = StandardScaler().fit_transform(data.X)
    Y = data.y[:, None].astype(np.float64)
    net = Network((30, 128, 64, 1), "tanh", "binary")
    params = init_params(net, np.random.default_rng(seed))
    opt = sgd(0.1) if optimizer_name == "gd" else adam(1e-3)
    cb = _Counted(X, Y, every=every, rng=seed, warm_start=warm)
    with np.errstate(all="ignore"):
        fit(net, params, X, Y, optimizer=opt, epochs=epochs, callbacks=[cb], progress=False)
    return cb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    print(
        f"# classic network, SharpnessCallback every {args.every} epochs over {args.epochs} "
        f"(measurements after the first), default tolerance; {args.seeds} seeds"
    )
    for name in ("gd", "adam"):
        warm_total, cold_total, worst, measured = 0, 0, 0.0, 0
        for seed in range(args.seeds):
            warm = run(name, args.epochs, args.every, seed, True)
            cold = run(name, args.epochs, args.every, seed, False)
            # The first measurement has nothing to start from: compare the later ones.
            warm_total += sum(warm.products[1:])
            cold_total += sum(cold.products[1:])
            measured += len(warm.products) - 1
            a, b = np.array(warm.sharpness), np.array(cold.sharpness)
            worst = max(worst, float(np.max(np.abs(a - b) / np.abs(b))))
            if seed == 0:
                print(f"{name:>5} seed 0 warm products {warm.products}")
                print(f"{name:>5} seed 0 cold products {cold.products}")
        m = measured
        print(
            f"{name:>5}: {m} measurements: warm {warm_total} products ({warm_total / m:.2f} each), "
            f"cold {cold_total} ({cold_total / m:.2f} each): {1 - warm_total / cold_total:.0%} "
            f"fewer; eigenvalues differ by at most {worst:.1e} (relative)"
        )
    warm_total, cold_total, worst = 0, 0, 0.0
    for seed in range(args.seeds):
        n_warm, s_warm = diagnose_products(seed, True)
        n_cold, s_cold = diagnose_products(seed, False)
        warm_total, cold_total = warm_total + n_warm, cold_total + n_cold
        a, b = np.array(s_warm), np.array(s_cold)
        worst = max(worst, float(np.max(np.abs(a - b) / np.abs(b))))
        if seed == 0:
            print(f"diagnose seed 0: sharpness {s_warm}, products warm {n_warm}, cold {n_cold}")
    print(
        f"diagnose (classic set-up, {args.seeds} seeds): warm {warm_total} products, cold "
        f"{cold_total}: {1 - warm_total / cold_total:.0%} fewer; eigenvalues differ by at most "
        f"{worst:.1e} (relative)"
    )


if __name__ == "__main__":
    main()
