"""The fast paths of a training step compute what the straightforward path computes.

Workspaces (preallocated outputs, deltas and gradients), the in-place plain-descent update and the
gathering of shuffled batches into reused arrays are pure speed: these tests demand identical
results, in float64 and float32, and that the caller's parameters are never modified. The prepared
step of full-batch plain descent lays the arithmetic out differently (samples as columns, biases
inside the products), so it must agree to rounding: 1e-13 relative in float64 and 1e-6 in float32
for one step, and closely over tens of steps.
"""

from __future__ import annotations

import numpy as np
import pytest
from step_problems import full_batch_problem

from lossdoctor.activations import ACTIVATIONS
from lossdoctor.initializers import default_init
from lossdoctor.network import Network, backward, forward, init_params, make_workspace
from lossdoctor.optimizers import adam, apply_updates, global_norm, sgd
from lossdoctor.training import (
    Callback,
    History,
    _full_batch,
    _full_batch_loss_and_grad,
    fit,
    loss_and_grad,
)

DTYPES = [np.float64, np.float32]


def _problem(dtype: type, head: str = "binary", activation: str = "tanh", n: int = 37):
    rng = np.random.default_rng(0)
    n_out = 3 if head == "softmax" else 1
    net = Network((5, 8, 6, n_out), activation, head)
    params = init_params(net, rng, init=default_init(net.activation), dtype=dtype)
    for k in (1, 2, 3):  # non-zero biases, so that a bias mistake shows
        params[f"b{k}"] = rng.normal(size=params[f"b{k}"].shape).astype(dtype)
    X = rng.normal(size=(n, 5)).astype(dtype)
    if head == "softmax":
        Y = np.eye(3, dtype=dtype)[rng.integers(0, 3, n)]
    else:
        Y = (rng.random((n, 1)) < 0.5).astype(dtype)
    return net, params, X, Y


def _copy(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in params.items()}


def _assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        np.testing.assert_allclose(a[k], b[k], rtol=1e-12, atol=0, err_msg=k)


#: How closely the prepared full-batch step agrees with the general one after one step.
ROUNDING = {np.float64: 1e-13, np.float32: 1e-6}


def _assert_close(a: dict[str, np.ndarray], b: dict[str, np.ndarray], rtol: float) -> None:
    """Equal to ``rtol`` relative to each array's largest entry (sums in another order round
    differently, and an entry near zero may be the difference of larger terms)."""
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        scale = float(np.max(np.abs(b[k]), initial=0.0))
        np.testing.assert_allclose(a[k], b[k], rtol=rtol, atol=rtol * scale, err_msg=k)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("head", ["binary", "softmax", "identity"])
def test_workspace_gives_the_same_loss_and_gradients(dtype, activation, head) -> None:
    net, params, X, Y = _problem(dtype, head, activation)
    before = _copy(params)
    value, grads = loss_and_grad(net, params, X, Y, alpha=0.1)
    ws = make_workspace(net, X.shape[0], dtype, grads=True)
    for _ in range(2):  # a reused workspace gives the same answer again
        value_ws, grads_ws = loss_and_grad(net, params, X, Y, alpha=0.1, workspace=ws)
        assert value_ws == pytest.approx(value, rel=1e-12, abs=0)
        _assert_same(grads_ws, grads)
    _assert_same(params, before)


@pytest.mark.parametrize("dtype", DTYPES)
def test_workspace_forward_and_backward_keep_dtype_and_trace(dtype) -> None:
    net, params, X, Y = _problem(dtype)
    logits, trace = forward(net, params, X)
    ws = make_workspace(net, X.shape[0], dtype)
    logits_ws, trace_ws = forward(net, params, X, workspace=ws)
    assert logits_ws.dtype == dtype and logits_ws is ws.outputs[-1]
    np.testing.assert_array_equal(logits_ws, logits)
    for a, b in zip(trace_ws, trace):
        np.testing.assert_array_equal(a, b)
    trace_copy = [a.copy() for a in trace_ws]
    d = logits - Y
    grads = backward(net, params, trace, d.copy())
    grads_ws = backward(net, params, trace_ws, d.copy(), workspace=ws)
    _assert_same(grads_ws, grads)
    for a, b in zip(trace_ws, trace_copy):  # backward leaves the trace alone
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
def test_update_into_equals_update_then_apply(dtype) -> None:
    net, params, X, Y = _problem(dtype)
    _, grads = loss_and_grad(net, params, X, Y)
    opt = sgd(0.05)
    assert opt.update_into is not None
    before = _copy(params)
    updates, state = opt.update(grads, opt.init(params), params)
    expected = apply_updates(params, updates)
    out = {k: np.empty_like(p) for k, p in params.items()}
    state_into = opt.update_into(_copy(grads), opt.init(params), params, out)
    assert state_into == state
    _assert_same(out, expected)
    _assert_same(params, before)


class _Keeper(Callback):
    """Keeps every epoch's parameters and a copy of them, to check they never change."""

    def __init__(self) -> None:
        self.kept: list[dict[str, np.ndarray]] = []
        self.copies: list[dict[str, np.ndarray]] = []

    def on_epoch_end(self, epoch: int, params, history: History) -> None:
        self.kept.append(params)
        self.copies.append(_copy(params))


def _reference_fit(net, params, X, Y, lr, epochs, batch_size, rng):
    """The training loop written out plainly: new arrays every step, fancy-indexed batches."""
    n = X.shape[0]
    bs = n if batch_size is None else batch_size
    for _ in range(epochs):
        # fit shuffles only mini-batches: a full batch is the data in order
        order = rng.permutation(n) if rng is not None and bs < n else np.arange(n)
        for start in range(0, n, bs):
            idx = order[start : start + bs]
            _, grads = loss_and_grad(net, params, X[idx], Y[idx])
            params = {k: p + (-lr * grads[k]) for k, p in params.items()}
    return params


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_size", [None, 10])
@pytest.mark.parametrize("shuffle", [False, True])
def test_fit_fast_path_matches_the_plain_loop(dtype, batch_size, shuffle) -> None:
    net, params, X, Y = _problem(dtype)
    before = _copy(params)
    keeper = _Keeper()
    rng = np.random.default_rng(1) if shuffle else None
    result = fit(
        net,
        params,
        X,
        Y,
        optimizer=sgd(0.1),
        epochs=4,
        batch_size=batch_size,
        rng=rng,
        n_iter_no_change=None,
        callbacks=[keeper],
    )
    expected = _reference_fit(
        net, before, X, Y, 0.1, 4, batch_size, np.random.default_rng(1) if shuffle else None
    )
    if batch_size is None:  # the prepared full-batch step: equal to rounding
        _assert_close(result.params, expected, 10 * ROUNDING[dtype])
    else:
        _assert_same(result.params, expected)
    _assert_same(params, before)  # the caller's parameters are untouched
    for kept, copy in zip(keeper.kept, keeper.copies):  # and so is what callbacks kept
        _assert_same(kept, copy)
    assert len({id(k["W1"]) for k in keeper.kept}) == len(keeper.kept)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fit_with_gd_and_with_an_optimizer_without_update_into_agree(dtype) -> None:
    net, params, X, Y = _problem(dtype)
    plain = sgd(0.1)._replace(update_into=None)
    kwargs = dict(epochs=3, batch_size=8, n_iter_no_change=None)
    fast = fit(net, params, X, Y, optimizer=sgd(0.1), **kwargs)
    slow = fit(net, params, X, Y, optimizer=plain, **kwargs)
    _assert_same(fast.params, slow.params)
    assert fast.history.loss == pytest.approx(slow.history.loss, rel=1e-12, abs=0)
    assert fast.opt_state == slow.opt_state


@pytest.mark.parametrize("dtype", DTYPES)
def test_early_stopping_restores_a_snapshot_that_was_not_overwritten(dtype) -> None:
    net, params, X, Y = _problem(dtype, n=60)
    kwargs = dict(
        epochs=30,
        batch_size=8,
        validation=(X[:20], Y[:20]),
        early_stopping=True,
        n_iter_no_change=2,
        tol=10.0,  # nothing counts as an improvement: stops after 3 epochs, restores epoch 1
    )
    fast = fit(net, params, X, Y, optimizer=sgd(0.1), **kwargs)
    slow = fit(net, params, X, Y, optimizer=sgd(0.1)._replace(update_into=None), **kwargs)
    assert fast.history.best_epoch == slow.history.best_epoch == 1
    _assert_same(fast.params, slow.params)


def test_adam_keeps_its_new_array_semantics() -> None:
    net, params, X, Y = _problem(np.float64)
    before = _copy(params)
    result = fit(net, params, X, Y, optimizer=adam(0.01), epochs=2, n_iter_no_change=None)
    _assert_same(params, before)
    assert all(result.params[k] is not params[k] for k in params)


def test_non_finite_step_keeps_the_last_finite_parameters() -> None:
    net, params, X, Y = _problem(np.float64)
    kwargs = dict(epochs=50, batch_size=5, n_iter_no_change=None)
    with np.errstate(over="ignore", invalid="ignore"):
        fast = fit(net, params, X * 1e3, Y * 1e3, optimizer=sgd(1e3), **kwargs)
        slow = fit(
            net, params, X * 1e3, Y * 1e3, optimizer=sgd(1e3)._replace(update_into=None), **kwargs
        )
    assert fast.history.stop_reason == slow.history.stop_reason
    _assert_same(fast.params, slow.params)
    assert all(np.isfinite(p).all() for p in fast.params.values())


def test_fit_returns_the_arrays_the_last_callback_saw() -> None:
    net, params, X, Y = _problem(np.float64)
    keeper = _Keeper()
    result = fit(
        net, params, X, Y, optimizer=sgd(0.1), epochs=3, n_iter_no_change=None, callbacks=[keeper]
    )
    assert result.params is keeper.kept[-1]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_step_that_overflows_the_weights_is_caught(dtype: type) -> None:
    # The loss and the gradient are finite; only the step lr * g overflows.
    net, params, X, Y = _problem(dtype, head="identity")
    Y = Y + 100  # gradients well above 1
    lr = float(np.finfo(dtype).max) / 4
    for opt in (sgd(lr), sgd(lr)._replace(update_into=None)):
        with np.errstate(over="ignore", invalid="ignore"):
            result = fit(net, params, X, Y, optimizer=opt, epochs=3, n_iter_no_change=None)
        assert np.isfinite(global_norm(loss_and_grad(net, params, X, Y)[1]))
        assert result.history.stop_reason == "non-finite"
        assert len(result.history) == 0
        _assert_same(result.params, params)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("sizes", "activation", "head"),
    [
        ((5, 8, 6, 1), "tanh", "binary"),
        ((5, 8, 6, 3), "relu", "softmax"),
        ((5, 4, 9, 2), "sigmoid", "identity"),  # the second hidden layer is the wider
        ((5, 8, 1), "tanh", "binary"),  # one hidden layer
        ((5, 1), "identity", "identity"),  # no hidden layer
    ],
)
@pytest.mark.parametrize("options", ["plain", "alpha", "sample_weight", "clip_norm"])
def test_full_batch_plain_descent_matches_the_general_step(
    dtype, sizes, activation, head, options
) -> None:
    # Full-batch plain descent has its own prepared step (packed parameters, samples as columns,
    # every bias inside its layer's products, shared scratch arrays); the general step is the
    # reference, equal to rounding.
    rng = np.random.default_rng(3)
    net = Network(sizes, activation, head)
    params = init_params(net, rng, init=default_init(activation), dtype=dtype)
    for k in range(1, len(sizes)):
        params[f"b{k}"] = rng.normal(size=params[f"b{k}"].shape).astype(dtype)
    X = rng.normal(size=(23, sizes[0])).astype(dtype)
    if head == "softmax":
        Y = np.eye(sizes[-1], dtype=dtype)[rng.integers(0, sizes[-1], 23)]
    elif head == "binary":
        Y = (rng.random((23, 1)) < 0.5).astype(dtype)
    else:
        Y = rng.normal(size=(23, sizes[-1])).astype(dtype)
    kwargs: dict = dict(epochs=5, n_iter_no_change=None)
    if options == "alpha":
        kwargs["alpha"] = 0.3
    elif options == "sample_weight":
        kwargs["sample_weight"] = rng.random(23) + 0.5
    elif options == "clip_norm":
        kwargs["clip_norm"] = 0.05  # clips every step
    before = _copy(params)
    fast = fit(net, params, X, Y, optimizer=sgd(0.1), **kwargs)
    slow = fit(net, params, X, Y, optimizer=sgd(0.1)._replace(update_into=None), **kwargs)
    rtol = 10 * ROUNDING[dtype]  # five steps
    _assert_close(fast.params, slow.params, rtol)
    assert list(fast.params) == list(params)  # the caller's key order
    assert all(fast.params[k].shape == params[k].shape for k in params)
    assert fast.history.loss == pytest.approx(slow.history.loss, rel=rtol, abs=0)
    assert fast.history.grad_norm == pytest.approx(slow.history.grad_norm, rel=rtol, abs=0)
    _assert_same(params, before)


def _full_batch_problem(dtype, sizes, activation, head, n=23):
    return full_batch_problem(sizes, activation, head, n=n, seed=3, dtype=dtype)


ARCHITECTURES = [
    ((5, 8, 6, 1), "tanh", "binary"),
    ((5, 8, 6, 3), "relu", "softmax"),
    ((5, 4, 9, 2), "sigmoid", "identity"),  # the second hidden layer is the wider
    ((5, 3, 7, 16, 1), "leaky_relu", "binary"),  # each layer wider than the one before
    ((5, 8, 1), "tanh", "binary"),  # one hidden layer
    ((5, 1), "identity", "identity"),  # no hidden layer
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("sizes", "activation", "head"), ARCHITECTURES)
@pytest.mark.parametrize("alpha", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("layer_1", ["fused", "separate", "float32 X"])
def test_one_prepared_full_batch_step_equals_the_general_step_to_rounding(
    dtype, sizes, activation, head, alpha, weighted, layer_1, monkeypatch
) -> None:
    # The samples-as-columns step against loss_and_grad, for one step. Layer 1's bias is inside
    # its product when X can be copied with a row of ones; else (X too large, or not of the
    # parameters' dtype) it is added separately.
    net, params, X, Y, w = _full_batch_problem(dtype, sizes, activation, head)
    if layer_1 == "separate":
        monkeypatch.setattr("lossdoctor.training.FUSED_BIAS_MAX_ENTRIES", 0)
    elif layer_1 == "float32 X":  # float64 parameters: the products cast X, as in forward
        params = {k: p.astype(np.float64) for k, p in params.items()}
        X, Y, dtype = X.astype(np.float32), Y.astype(np.float64), np.float64
    sw = w if weighted else None
    before = _copy(params)
    fb = _full_batch(net, params, X, None)
    assert fb is not None
    assert (fb.X1T is None) == (layer_1 != "fused")
    for i in (0, 1):  # both parameter sets (the second holds a copy here)
        if i == 1:
            fb.sets[1].flat[:] = fb.sets[0].flat
        for _ in range(2):  # the reused arrays give the same answer again
            value = _full_batch_loss_and_grad(net, fb, i, X, Y, alpha, sw)
            expected_value, expected = loss_and_grad(net, params, X, Y, alpha, sample_weight=sw)
            assert value == pytest.approx(expected_value, rel=ROUNDING[dtype], abs=0)
            assert list(fb.grads) == list(expected)  # backprop order, as loss_and_grad
            _assert_close(fb.grads, expected, ROUNDING[dtype])
    _assert_same(params, before)


@pytest.mark.parametrize("dtype", DTYPES)
def test_packed_parameters_are_the_usual_dict_of_views(dtype) -> None:
    net, params, X, _, _ = _full_batch_problem(dtype, (5, 8, 6, 1), "tanh", "binary")
    fb = _full_batch(net, params, X, None)
    assert fb is not None
    for packed in fb.sets:
        views = packed.params
        assert list(views) == list(params)
        for k in params:
            assert views[k].shape == params[k].shape and views[k].dtype == dtype
            assert np.shares_memory(views[k], packed.flat)
    _assert_same(fb.sets[0].params, params)
    assert all(
        np.shares_memory(fb.grads[k], fb.flat_grads["flat"])
        and fb.grads[k].shape == params[k].shape
        for k in params
    )


def test_no_prepared_step_when_x_would_change_the_parameters_dtype() -> None:
    # float32 parameters with a float64 X compute in float64: the general step handles that.
    net, params, X, _, _ = _full_batch_problem(np.float32, (5, 8, 6, 1), "tanh", "binary")
    assert _full_batch(net, params, X.astype(np.float64), None) is None
    assert _full_batch(net, params, X, 10) is None  # mini-batches


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("sizes", "activation", "head"), ARCHITECTURES[:3])
def test_tens_of_full_batch_steps_stay_close_to_the_general_steps(
    dtype, sizes, activation, head
) -> None:
    # At a stable step size the rounding differences of each step do not grow.
    net, params, X, Y, _ = _full_batch_problem(dtype, sizes, activation, head, n=64)
    kwargs: dict = dict(epochs=40, n_iter_no_change=None, alpha=1e-3)
    keeper = _Keeper()
    fast = fit(net, params, X, Y, optimizer=sgd(0.05), callbacks=[keeper], **kwargs)
    slow = fit(net, params, X, Y, optimizer=sgd(0.05)._replace(update_into=None), **kwargs)
    rtol = 100 * ROUNDING[dtype]
    _assert_close(fast.params, slow.params, rtol)
    assert fast.history.loss == pytest.approx(slow.history.loss, rel=rtol, abs=0)
    assert fast.history.grad_norm == pytest.approx(slow.history.grad_norm, rel=rtol, abs=0)
    # What callbacks saw each epoch is what the loop trained on, never changed afterwards.
    for kept, copy in zip(keeper.kept, keeper.copies):
        _assert_same(kept, copy)
    _assert_same(keeper.kept[-1], fast.params)
