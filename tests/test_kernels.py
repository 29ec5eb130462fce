"""Kernels chosen per machine: the tanh form and the BLAS threads change speed, not results."""

from __future__ import annotations

import numpy as np
import pytest

from lossdoctor import activations, threads


@pytest.mark.parametrize("dtype, atol", [(np.float64, 4e-16), (np.float32, 2e-7)])
def test_tanh_forms_agree_to_rounding(rng, dtype, atol):
    z = np.concatenate([rng.standard_normal(10_000) * 5, [0.0, -800.0, 800.0, 1e-300]])
    z = z.astype(dtype)
    exact = np.tanh(z.astype(np.float64))
    for form in activations._TANH_FORMS.values():
        out = form(z, np.empty_like(z))
        assert out.dtype == dtype
        np.testing.assert_allclose(out, exact, rtol=0, atol=atol)


def test_tanh_form_follows_the_environment(monkeypatch):
    monkeypatch.setenv("LOSSDOCTOR_TANH", "numpy")
    assert activations._measure_tanh_form() == "numpy"
    monkeypatch.setenv("LOSSDOCTOR_TANH", "exp")
    assert activations._measure_tanh_form() == "exp"
    monkeypatch.delenv("LOSSDOCTOR_TANH")
    assert activations._measure_tanh_form() in ("numpy", "exp")


def test_one_thread_below_the_work_threshold(monkeypatch):
    monkeypatch.delenv("LOSSDOCTOR_BLAS_THREADS", raising=False)
    classic = threads.largest_product((30, 128, 64, 1), 569)  # 569 * 128 * 64
    assert classic == 569 * 128 * 64
    assert threads.blas_threads(classic) == 1
    assert threads.blas_threads(threads.largest_product((50, 100, 1), 1_000_000)) is None
    monkeypatch.setenv("LOSSDOCTOR_BLAS_THREADS", "3")
    assert threads.blas_threads(classic) == 3
    monkeypatch.setenv("LOSSDOCTOR_BLAS_THREADS", "default")
    assert threads.blas_threads(classic) is None


def test_the_policy_limits_blas_inside_and_restores_it():
    from threadpoolctl import threadpool_info

    def blas_threads_now():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads_now()
    with threads.blas_threads_for((30, 128, 64, 1), 569):
        assert all(n == 1 for n in blas_threads_now())
    assert blas_threads_now() == before
