"""The full-batch step split into two chunks, computed on two threads.

Full-batch plain descent may split the samples into two fixed chunks and compute the second on a
worker thread (:func:`lossdoctor.threads.parallel_step` decides). The chunks' gradients are summed
in a fixed order, so the parallel step equals the serial chunked step bit for bit, whichever
thread computed which chunk, and a fit is reproducible; the chunked step equals the unchunked one
to rounding. The suite runs under ``threadpool_limits(1)``, where ``fit`` never splits, so these
tests force the split.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from step_problems import full_batch_problem
from threadpoolctl import threadpool_limits

from lossdoctor import threads, training
from lossdoctor.optimizers import sgd
from lossdoctor.training import _full_batch, _full_batch_loss_and_grad, fit

HEADS = [
    ((6, 16, 8, 1), "tanh", "binary"),
    ((6, 16, 8, 3), "relu", "softmax"),
    ((6, 9, 12, 2), "sigmoid", "identity"),
]
OTHER_DEPTHS = [
    ((6, 3, 7, 16, 1), "leaky_relu", "binary"),  # each layer wider than the one before
    ((6, 8, 1), "tanh", "binary"),  # one hidden layer
    ((6, 1), "identity", "identity"),  # no hidden layer
]


def _problem(sizes, activation, head, n=101, seed=5, dtype=np.float64):
    return full_batch_problem(sizes, activation, head, n=n, seed=seed, dtype=dtype)


@pytest.fixture
def pool():
    with ThreadPoolExecutor(1) as executor:
        yield executor


def _steps(net, fb, X, Y, alpha, sw, pool, n_steps, lr=0.05):
    """Plain descent through the prepared step; the values and the gradient of every step."""
    values, grads = [], []
    for step in range(n_steps):
        i = step % 2
        with np.errstate(over="ignore", invalid="ignore"):
            values.append(_full_batch_loss_and_grad(net, fb, i, X, Y, alpha, sw, pool))
        grads.append(fb.flat_grads["flat"].copy())
        np.subtract(fb.sets[i].flat, lr * fb.flat_grads["flat"], out=fb.sets[1 - i].flat)
    return values, grads


@pytest.mark.parametrize(("sizes", "activation", "head"), HEADS)
@pytest.mark.parametrize("alpha", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fused", [True, False])
def test_the_parallel_step_equals_the_serial_chunked_step_bit_for_bit(
    sizes, activation, head, alpha, weighted, fused, pool, monkeypatch
) -> None:
    if not fused:  # layer 1's bias added separately (X too large to copy)
        monkeypatch.setattr(training, "FUSED_BIAS_MAX_ENTRIES", 0)
    net, params, X, Y, w = _problem(sizes, activation, head)
    sw = w if weighted else None
    serial = _full_batch(net, params, X, None, 2)
    parallel = _full_batch(net, params, X, None, 2)
    assert serial is not None and parallel is not None
    assert len(serial.columns) == 2 and (serial.X1T is None) != fused
    expected = _steps(net, serial, X, Y, alpha, sw, None, 200)
    got = _steps(net, parallel, X, Y, alpha, sw, pool, 200)
    assert got[0] == expected[0]
    for a, b in zip(got[1], expected[1]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(parallel.sets[0].flat, serial.sets[0].flat)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("sizes", "activation", "head"), HEADS + OTHER_DEPTHS)
@pytest.mark.parametrize("alpha", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n", [2, 3, 101])
def test_the_chunked_step_equals_the_unchunked_step_to_rounding(
    dtype, sizes, activation, head, alpha, weighted, n, pool
) -> None:
    rounding = 1e-13 if dtype == np.float64 else 1e-5
    net, params, X, Y, w = _problem(sizes, activation, head, n=n, dtype=dtype)
    sw = w if weighted else None
    whole = _full_batch(net, params, X, None)
    chunked = _full_batch(net, params, X, None, 2)
    assert whole is not None and chunked is not None
    assert len(whole.columns) == 1 and len(chunked.columns) == 2
    for i in (0, 1):  # both parameter sets, the same parameters in each
        for fb in (whole, chunked):
            fb.sets[i].flat[:] = whole.sets[0].flat
        with np.errstate(over="ignore", invalid="ignore"):
            expected = _full_batch_loss_and_grad(net, whole, i, X, Y, alpha, sw)
            value = _full_batch_loss_and_grad(net, chunked, i, X, Y, alpha, sw, pool)
        assert value == pytest.approx(expected, rel=rounding, abs=0)
        for k, g in whole.grads.items():
            assert chunked.grads[k].dtype == dtype
            atol = rounding * np.max(np.abs(g))
            np.testing.assert_allclose(chunked.grads[k], g, rtol=0, atol=atol, err_msg=k)


def _force_parallel(monkeypatch) -> None:
    monkeypatch.setattr(training, "parallel_step", lambda layer_sizes, n_rows: True)


def test_a_parallel_fit_is_reproducible_and_close_to_the_serial_fit(monkeypatch) -> None:
    net, params, X, Y, w = _problem((6, 16, 8, 1), "tanh", "binary", n=300)
    kwargs: dict = dict(optimizer=sgd(0.1), epochs=100, n_iter_no_change=None, alpha=1e-3)
    serial = fit(net, params, X, Y, sample_weight=w, **kwargs)
    _force_parallel(monkeypatch)
    used = []
    real = training._full_batch_loss_and_grad

    def spy(*args):
        used.append(args[-1] is not None and len(args[1].columns) == 2)
        return real(*args)

    monkeypatch.setattr(training, "_full_batch_loss_and_grad", spy)
    first = fit(net, params, X, Y, sample_weight=w, **kwargs)
    second = fit(net, params, X, Y, sample_weight=w, **kwargs)
    assert used and all(used)  # a pool and two chunks in every step
    for k in params:
        np.testing.assert_array_equal(first.params[k], second.params[k])
        np.testing.assert_allclose(first.params[k], serial.params[k], rtol=1e-10, atol=1e-12)
    assert first.history.loss == second.history.loss
    assert first.history.loss == pytest.approx(serial.history.loss, rel=1e-10, abs=0)
    assert [t.name for t in threading.enumerate() if t.name.startswith("lossdoctor")] == []


def test_an_exception_in_the_worker_propagates(monkeypatch, pool) -> None:
    net, params, X, Y, _ = _problem((6, 16, 8, 1), "tanh", "binary")
    fb = _full_batch(net, params, X, None, 2)
    real = training._columns_loss_and_grad

    def failing(net, fb, i, col, *args):
        if col is fb.columns[1]:
            raise RuntimeError("chunk 1 failed")
        return real(net, fb, i, col, *args)

    monkeypatch.setattr(training, "_columns_loss_and_grad", failing)
    with pytest.raises(RuntimeError, match="chunk 1 failed"):
        _full_batch_loss_and_grad(net, fb, 0, X, Y, 0.0, None, pool)
    _force_parallel(monkeypatch)
    with pytest.raises(RuntimeError, match="chunk 1 failed"):
        fit(net, params, X, Y, optimizer=sgd(0.1), epochs=3)


def test_no_warning_escapes_from_the_worker(monkeypatch) -> None:
    # Weights so large that the logits overflow: the fit stops on a non-finite loss, quietly,
    # although the worker's chunk overflows too (filterwarnings = error would raise otherwise).
    net, params, X, Y, _ = _problem((6, 16, 8, 1), "relu", "identity", n=64)
    params = {k: p * 1e120 for k, p in params.items()}
    _force_parallel(monkeypatch)
    result = fit(net, params, X, Y, optimizer=sgd(1.0), epochs=5)
    assert result.history.stop_reason == "non-finite"


# -- the decision ---------------------------------------------------------------------------------
CLASSIC = (30, 128, 64, 1)


@pytest.fixture
def two_cpus(monkeypatch):
    monkeypatch.setattr(threads, "available_cpus", lambda: 2)
    monkeypatch.delenv("LOSSDOCTOR_BLAS_THREADS", raising=False)


def test_the_decision_parallel_on_the_classic_problem_with_two_blas_threads(two_cpus) -> None:
    with threadpool_limits(2, user_api="blas"):
        assert threads.parallel_step(CLASSIC, 569)
        assert threads.parallel_step(CLASSIC, 347)  # PARALLEL_MIN_WORK


def test_the_decision_honours_a_limit_of_one_thread(two_cpus) -> None:
    with threadpool_limits(1):  # as the suite (conftest.py) runs
        assert not threads.parallel_step(CLASSIC, 569)


@pytest.mark.parametrize("setting", ["1", "2", "4", "default"])
def test_the_decision_honours_lossdoctor_blas_threads(two_cpus, monkeypatch, setting) -> None:
    monkeypatch.setenv("LOSSDOCTOR_BLAS_THREADS", setting)
    with threadpool_limits(2, user_api="blas"):
        assert not threads.parallel_step(CLASSIC, 569)


@pytest.mark.parametrize("setting", ["auto", " Auto "])
def test_the_decision_with_auto(two_cpus, monkeypatch, setting) -> None:
    monkeypatch.setenv("LOSSDOCTOR_BLAS_THREADS", setting)
    with threadpool_limits(2, user_api="blas"):
        assert threads.parallel_step(CLASSIC, 569)


def test_the_decision_on_one_cpu(monkeypatch) -> None:
    monkeypatch.setattr(threads, "available_cpus", lambda: 1)
    with threadpool_limits(2, user_api="blas"):
        assert not threads.parallel_step(CLASSIC, 569)


def test_the_decision_on_little_work_few_rows_or_large_products(two_cpus) -> None:
    with threadpool_limits(2, user_api="blas"):
        assert not threads.parallel_step(CLASSIC, 346)  # below PARALLEL_MIN_WORK
        wide = (10, 256, 256, 1)  # much work per row: PARALLEL_MIN_ROWS decides
        assert threads.parallel_step(wide, threads.PARALLEL_MIN_ROWS)
        assert not threads.parallel_step(wide, threads.PARALLEL_MIN_ROWS - 1)
        big = -(-threads.SMALL_WORK // (128 * 64))  # the largest product reaches SMALL_WORK
        assert not threads.parallel_step(CLASSIC, big)
        assert threads.parallel_step(CLASSIC, big - 1)


def test_available_cpus_is_the_affinity_where_there_is_one() -> None:
    n = threads.available_cpus()
    assert n >= 1
    if hasattr(os, "sched_getaffinity"):
        assert n == len(os.sched_getaffinity(0))


def test_fit_under_a_limit_of_one_thread_never_splits(monkeypatch) -> None:
    # The suite's threadpool_limits(1): fit prepares the unchunked step and no worker.
    seen = []
    real = training._full_batch_loss_and_grad

    def spy(*args):
        seen.append((len(args[1].columns), args[-1]))
        return real(*args)

    monkeypatch.setattr(training, "_full_batch_loss_and_grad", spy)
    monkeypatch.setattr(threads, "available_cpus", lambda: 2)
    net, params, X, Y, _ = _problem(CLASSIC, "tanh", "binary", n=569)
    fit(net, params, X, Y, optimizer=sgd(0.1), epochs=2)
    assert seen == [(1, None), (1, None)]


def test_the_main_thread_computes_the_second_chunk_when_the_worker_is_busy(monkeypatch) -> None:
    # The worker is held by another task: each step cancels its request and computes the second
    # chunk itself, with the same result.
    net, params, X, Y, w = _problem((6, 16, 8, 1), "tanh", "binary")
    serial = _full_batch(net, params, X, None, 2)
    busy = _full_batch(net, params, X, None, 2)
    release = threading.Event()
    with ThreadPoolExecutor(1) as executor:
        blocker = executor.submit(release.wait)
        try:
            got = _steps(net, busy, X, Y, 0.1, w, executor, 20)
        finally:
            release.set()
        blocker.result()
    expected = _steps(net, serial, X, Y, 0.1, w, None, 20)
    assert got[0] == expected[0]
    np.testing.assert_array_equal(busy.sets[0].flat, serial.sets[0].flat)
