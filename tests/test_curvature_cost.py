"""What the sharpness costs: Hessian-vector products spent by tolerance, and what it checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.sparse.linalg import LinearOperator, eigsh
from sklearn.preprocessing import StandardScaler

from lossdoctor.data import builtin_dataset
from lossdoctor.diagnostics.curvature import (
    LanczosStart,
    SharpnessCallback,
    hessian_operator,
    sharpness_of,
    sharpness_or_nan,
)
from lossdoctor.diagnostics.curvature.hvp import _ExactHessian
from lossdoctor.diagnostics.curvature.sharpness import _extreme_eigs
from lossdoctor.network import Network, init_params
from lossdoctor.optimizers import adam
from lossdoctor.training import fit


@pytest.fixture(scope="module")
def classic():
    data = builtin_dataset("breast_cancer")
    X = StandardScaler().fit_transform(data.X)
    Y = data.y[:, None].astype(np.float64)
    net = Network((30, 128, 64, 1), "tanh", "binary")
    return net, init_params(net, np.random.default_rng(0)), X, Y


def test_default_tolerance_spends_few_products_and_is_accurate(classic, monkeypatch):
    # The target: at most 12 products on the classic network, within 1e-4 of the exact
    # top eigenvalue (here a Lanczos run to 1e-12 with SciPy's 20 vectors).
    net, params, X, Y = classic
    op = hessian_operator(net, params, X, Y)
    exact = eigsh(op, k=1, which="LA", tol=1e-12, v0=np.ones(op.shape[0]))[0][0]
    calls = _counting(monkeypatch)
    L = sharpness_of(net, params, X, Y)[0]
    assert calls["n"] <= 12
    assert abs(L - exact) <= 1e-4 * abs(exact)


def test_finiteness_is_checked_on_the_subsample_only(classic):
    # A non-finite row outside the subsample does not make the sharpness NaN; inside it does.
    net, params, X, Y = classic
    rows = np.sort(np.random.default_rng(3).choice(len(X), size=100, replace=False))
    outside = np.setdiff1d(np.arange(len(X)), rows)[0]
    Xbad = X.copy()
    Xbad[outside, 0] = np.nan
    assert math.isfinite(sharpness_or_nan(net, params, Xbad, Y, subsample=100, rng=3))
    Xbad[rows[0], 0] = np.nan
    assert math.isnan(sharpness_or_nan(net, params, Xbad, Y, subsample=100, rng=3))


def test_subsample_auto_keeps_small_data_whole(classic):
    net, params, X, Y = classic
    auto = sharpness_of(net, params, X, Y, subsample="auto")
    whole = sharpness_of(net, params, X, Y, subsample=None)
    np.testing.assert_array_equal(auto, whole)


def _counting(monkeypatch) -> dict[str, int]:
    calls = {"n": 0}
    original = _ExactHessian.matvec

    def counted(self, v):
        calls["n"] += 1
        return original(self, v)

    monkeypatch.setattr(_ExactHessian, "matvec", counted)
    return calls


class _ProductsPerMeasurement(SharpnessCallback):
    def __init__(self, calls: dict[str, int], *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.calls, self.products = calls, []

    def _measure(self, epoch, params, lr) -> None:
        before = self.calls["n"]
        super()._measure(epoch, params, lr)
        self.products.append(self.calls["n"] - before)


def test_warm_start_across_epochs_spends_fewer_products_for_the_same_sharpness(
    classic, seed, monkeypatch
):
    # benchmarks/bench_warm_start.py: 5.1 products a measurement warm, 7.7 to 7.9 cold.
    net, _, X, Y = classic
    params = init_params(net, np.random.default_rng(seed))
    calls = _counting(monkeypatch)
    runs = {}
    for warm in (True, False):
        cb = _ProductsPerMeasurement(calls, X, Y, every=10, rng=seed, warm_start=warm)
        fit(net, params, X, Y, optimizer=adam(1e-3), epochs=60, callbacks=[cb], progress=False)
        runs[warm] = cb
    warm_run, cold_run = runs[True], runs[False]
    assert warm_run.epochs == cold_run.epochs == [0, 10, 20, 30, 40, 50, 60]
    # The first measurement has nothing to start from; the six after it do.
    assert sum(warm_run.products[1:]) < sum(cold_run.products[1:])
    np.testing.assert_allclose(warm_run.sharpness, cold_run.sharpness, rtol=1e-4)


def test_warm_start_of_sharpness_or_nan_is_carried_and_accurate(classic, monkeypatch):
    net, params, X, Y = classic
    calls = _counting(monkeypatch)
    cold = sharpness_or_nan(net, params, X, Y)
    n_cold = calls["n"]
    start = LanczosStart()
    first = sharpness_or_nan(net, params, X, Y, warm_start=start)
    assert start.vector is not None and start.vector.shape == (op_size(params),)
    calls["n"] = 0
    again = sharpness_or_nan(net, params, X, Y, warm_start=start)
    assert calls["n"] < n_cold
    assert abs(again - cold) <= 1e-4 * cold and abs(first - cold) <= 1e-4 * cold


def op_size(params) -> int:
    return sum(p.size for p in params.values())


@pytest.mark.parametrize(("gap", "rel"), [(0.2, 1e-4), (0.02, 0.021)])
def test_a_warm_start_from_an_eigenvector_that_is_no_longer_the_top_one(
    gap: float, rel: float, seed: int
) -> None:
    # Started exactly on the eigenvector of the second eigenvalue, plain Lanczos stays in that
    # invariant subspace; the random part of the start finds the top eigenvalue when it stands
    # apart, and errs by at most the gap when the two are close.
    values = np.r_[5.0, np.linspace(5.0 * (1 - gap), 1.0, 39)]
    op = LinearOperator((40, 40), matvec=lambda v: values * np.ravel(v), dtype=np.float64)
    second = np.zeros(40)
    second[1] = 1.0
    vals, _ = _extreme_eigs(op, 1, "LA", np.random.default_rng(seed), 1e-3, second)
    assert vals[0] == pytest.approx(5.0, rel=rel)
