"""What the sharpness costs: Hessian-vector products spent by tolerance, and what it checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.sparse.linalg import eigsh
from sklearn.preprocessing import StandardScaler

from lossdoctor.data import builtin_dataset
from lossdoctor.diagnostics.curvature import hessian_operator, sharpness_of, sharpness_or_nan
from lossdoctor.diagnostics.curvature.hvp import _ExactHessian
from lossdoctor.network import Network, init_params


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
    calls = {"n": 0}
    original = _ExactHessian.matvec

    def counted(self, v):
        calls["n"] += 1
        return original(self, v)

    monkeypatch.setattr(_ExactHessian, "matvec", counted)
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
