"""The network's backward pass is the exact gradient of the training objective."""

from __future__ import annotations

import numpy as np
import pytest

from lossdoctor.activations import ACTIVATIONS
from lossdoctor.initializers import INITIALIZERS, expected_std, get_initializer
from lossdoctor.network import Network, forward, init_params
from lossdoctor.training import loss_and_grad, objective

HEAD_OUTPUTS = {"binary": 1, "softmax": 3, "identity": 2}


def _data(head: str, rng: np.random.Generator, n: int = 9, d: int = 4):
    X = rng.normal(size=(n, d))
    k = HEAD_OUTPUTS[head]
    if head == "binary":
        Y = rng.integers(0, 2, size=(n, 1)).astype(float)
    elif head == "softmax":
        Y = np.eye(k)[rng.integers(0, k, size=n)]
    else:
        Y = rng.normal(size=(n, k))
    return X, Y


def _relative_gradient_error(net, params, X, Y, alpha, h=1e-6) -> float:
    _, grads = loss_and_grad(net, params, X, Y, alpha)
    num, ana = [], []
    for name, p in params.items():
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + h
            up = objective(net, params, X, Y, alpha)
            p[i] = old - h
            down = objective(net, params, X, Y, alpha)
            p[i] = old
            num.append((up - down) / (2 * h))
            ana.append(grads[name][i])
    num_a, ana_a = np.array(num), np.array(ana)
    return float(np.linalg.norm(num_a - ana_a) / np.linalg.norm(num_a))


@pytest.mark.parametrize("activation", sorted(set(ACTIVATIONS) - {"logistic"}))
@pytest.mark.parametrize("head", sorted(HEAD_OUTPUTS))
def test_gradient_is_exact(activation: str, head: str, rng: np.random.Generator) -> None:
    X, Y = _data(head, rng)
    net = Network((X.shape[1], 5, 4, HEAD_OUTPUTS[head]), activation, head)
    params = init_params(net, rng, init="glorot_normal")
    for k in (1, 2, 3):  # non-zero biases, so that their gradients are exercised too
        params[f"b{k}"] = rng.normal(scale=0.3, size=params[f"b{k}"].shape)
    assert _relative_gradient_error(net, params, X, Y, alpha=0.3) < 1e-7


@pytest.mark.parametrize("head", sorted(HEAD_OUTPUTS))
def test_no_hidden_layer_is_a_linear_model(head: str, rng: np.random.Generator) -> None:
    X, Y = _data(head, rng)
    net = Network((X.shape[1], HEAD_OUTPUTS[head]), "tanh", head)
    params = init_params(net, rng)
    assert set(params) == {"W1", "b1"}
    logits, trace = forward(net, params, X)
    np.testing.assert_allclose(logits, X @ params["W1"] + params["b1"])
    assert len(trace) == 1
    assert _relative_gradient_error(net, params, X, Y, alpha=0.1) < 1e-7


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept_end_to_end(dtype: type, rng: np.random.Generator) -> None:
    net = Network((4, 8, 3), "relu", "softmax")
    params = init_params(net, rng, dtype=dtype)
    X, Y = _data("softmax", rng)
    _, grads = loss_and_grad(net, params, X.astype(dtype), Y.astype(dtype), alpha=0.1)
    assert all(p.dtype == dtype for p in params.values())
    assert all(g.dtype == dtype for g in grads.values())
    assert all(g.shape == params[k].shape for k, g in grads.items())


def test_forward_and_gradient_leave_params_untouched(rng: np.random.Generator) -> None:
    net = Network((4, 6, 1), "tanh", "binary")
    params = init_params(net, rng)
    before = {k: v.copy() for k, v in params.items()}
    X, Y = _data("binary", rng)
    loss_and_grad(net, params, X, Y, alpha=1.0)
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])


def test_default_init_is_sklearns_draw(rng: np.random.Generator) -> None:
    # scikit-learn's _init_coef: per layer, weights then biases, uniform in
    # +-sqrt(factor / (fan_in + fan_out)), factor 2 for logistic and 6 otherwise.
    seed = int(rng.integers(1000))
    for activation, factor in (("relu", 6.0), ("tanh", 6.0), ("logistic", 2.0)):
        params = init_params(Network((4, 3, 2), activation), np.random.RandomState(seed))
        ref = np.random.RandomState(seed)
        for k, (fan_in, fan_out) in enumerate(((4, 3), (3, 2)), 1):
            bound = np.sqrt(factor / (fan_in + fan_out))
            np.testing.assert_array_equal(
                params[f"W{k}"], ref.uniform(-bound, bound, (fan_in, fan_out))
            )
            np.testing.assert_array_equal(params[f"b{k}"], ref.uniform(-bound, bound, fan_out))


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
def test_initializer_statistics(name: str, rng: np.random.Generator) -> None:
    fan_in, fan_out, scale = 300, 200, 0.5
    W = get_initializer(name)(rng, (fan_in, fan_out), scale)
    expected_var = {
        "glorot_uniform": 2 / (fan_in + fan_out),
        "sklearn_uniform": 2 / (fan_in + fan_out),
        "glorot_normal": 2 / (fan_in + fan_out),
        "he_uniform": 2 / fan_in,
        "he_normal": 2 / fan_in,
        "lecun_normal": 1 / fan_in,
        "normal": 1.0,
        "uniform": 1 / 12,
    }[name] * scale**2
    assert W.shape == (fan_in, fan_out)
    assert W.var() == pytest.approx(expected_var, rel=0.05)
    if name == "uniform":  # the naive np.random.rand: all of one sign
        assert W.min() >= 0 and W.max() < scale


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic"])
@pytest.mark.parametrize("name", sorted(set(INITIALIZERS) - {"normal", "uniform"}))
def test_expected_std_is_the_spread_the_initialiser_draws(
    name: str, activation: str, rng: np.random.Generator
) -> None:
    # The doctor's reference for a layer is what init_params actually draws there at scale 1.
    net = Network((300, 200, 1), activation)
    W = init_params(net, rng, init=name)["W1"]
    assert W.std() == pytest.approx(expected_std(name, activation, 300, 200), rel=0.05)


def test_expected_std_of_a_naive_initialiser_is_the_activations() -> None:
    # N(0, 1) knows nothing of the layer: it is held to He for ReLU, Glorot otherwise.
    assert expected_std("normal", "relu", 50, 10) == pytest.approx(np.sqrt(2 / 50))
    assert expected_std("uniform", "tanh", 50, 10) == pytest.approx(np.sqrt(2 / 60))
    # init=None is scikit-learn's draw, uniform in +-sqrt(6 / (fan_in + fan_out)).
    assert expected_std(None, "relu", 50, 10) == pytest.approx(np.sqrt(6 / 60) / np.sqrt(3))
    with pytest.raises(ValueError, match="unknown init"):
        expected_std("zeros", "relu", 50, 10)


def test_init_draws_only_from_the_given_generator() -> None:
    state = np.random.get_state()[1].copy()  # type: ignore[index]  # noqa: NPY002
    net = Network((5, 7, 2), "tanh", "softmax")
    a = init_params(net, np.random.default_rng(3))
    b = init_params(net, np.random.default_rng(3))
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # type: ignore[index]  # noqa: NPY002
