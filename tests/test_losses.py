"""Losses from logits: exact gradients, finite for every finite logit, dtype kept."""

from __future__ import annotations

import numpy as np
import pytest

from lossdoctor.losses import HEADS, get_head, log_sigmoid, sigmoid, softmax


def _targets(head: str, rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    if head == "binary":
        return rng.integers(0, 2, size=(n, k)).astype(float)
    if head == "softmax":
        return np.eye(k)[rng.integers(0, k, size=n)]
    if head == "poisson":
        return rng.poisson(2.0, size=(n, k)).astype(float)
    return rng.normal(size=(n, k))


def _numerical_grad(f, z: np.ndarray, h: float = 1e-6) -> np.ndarray:
    g = np.zeros_like(z)
    for i in np.ndindex(z.shape):
        old = z[i]
        z[i] = old + h
        up = f(z)
        z[i] = old - h
        down = f(z)
        z[i] = old
        g[i] = (up - down) / (2 * h)
    return g


@pytest.mark.parametrize("head", sorted(HEADS))
def test_loss_gradient_matches_finite_differences(head: str, rng: np.random.Generator) -> None:
    k = 1 if head == "binary" else 3
    z = rng.normal(scale=2.0, size=(7, k))
    Y = _targets(head, rng, 7, k)
    loss = get_head(head).loss
    _, d = loss(z, Y)
    num = _numerical_grad(lambda zz: loss(zz, Y)[0], z.copy())
    rel = np.linalg.norm(d - num) / np.linalg.norm(num)
    assert rel < 1e-7


@pytest.mark.parametrize("head", sorted(HEADS))
def test_loss_hvp_matches_finite_differences_of_the_gradient(
    head: str, rng: np.random.Generator
) -> None:
    # Central differences of d_logits along R: (g(z + h R) - g(z - h R)) / (2 h) = H R + O(h**2).
    k = 2 if head == "binary" else 3
    z = rng.normal(scale=2.0, size=(9, k))
    R = rng.normal(size=(9, k))
    Y = _targets(head, rng, 9, k)
    loss, loss_hvp = get_head(head).loss, get_head(head).loss_hvp
    h = 1e-5
    num = (loss(z + h * R, Y)[1] - loss(z - h * R, Y)[1]) / (2 * h)
    ana = loss_hvp(z, R)
    assert ana.shape == z.shape and ana.dtype == np.float64
    assert np.linalg.norm(ana - num) / np.linalg.norm(num) < 1e-8


@pytest.mark.parametrize("head", sorted(HEADS))
def test_loss_hvp_is_a_symmetric_positive_semidefinite_map(
    head: str, rng: np.random.Generator
) -> None:
    # Each loss is convex in the logits: <R, H S> = <S, H R> and <R, H R> >= 0.
    z, R, S = (rng.normal(scale=3.0, size=(6, 3)) for _ in range(3))
    hvp = get_head(head).loss_hvp
    assert np.vdot(R, hvp(z, S)) == pytest.approx(np.vdot(S, hvp(z, R)), rel=1e-12)
    assert np.vdot(R, hvp(z, R)) >= 0


@pytest.mark.parametrize("head", ["binary", "softmax"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_logits_are_finite(head: str, dtype: type, rng: np.random.Generator) -> None:
    k = 1 if head == "binary" else 4
    big = np.finfo(dtype).max / 4
    z = np.array([[1e4] * k, [-1e4] * k, [big] * k, [-big] * k, [0.0] * k], dtype=dtype)
    if head == "softmax":
        z[:, 0] *= -1  # a logit far from the others in each row
    Y = _targets(head, rng, 5, k).astype(dtype)
    with np.errstate(
        over="raise", invalid="raise", divide="raise"
    ):  # any overflow or invalid operation fails the test
        value, d = get_head(head).loss(z, Y)
    assert np.isfinite(value)
    assert np.isfinite(d).all()
    assert d.dtype == dtype


def test_binary_cross_entropy_of_confident_mistake_is_the_logit() -> None:
    # -log(sigmoid(-1000)) = 1000 exactly in floating point: no log(0), no clipping at 1e-15.
    value, d = get_head("binary").loss(np.array([[-1000.0]]), np.array([[1.0]]))
    assert value == pytest.approx(1000.0)
    assert d[0, 0] == pytest.approx(-1.0)


@pytest.mark.parametrize("head", sorted(HEADS))
def test_loss_matches_textbook_formula(head: str, rng: np.random.Generator) -> None:
    k = 1 if head == "binary" else 3
    z = rng.normal(size=(11, k))
    Y = _targets(head, rng, 11, k)
    value, _ = get_head(head).loss(z, Y)
    if head == "binary":
        p = 1 / (1 + np.exp(-z))
        expected = -np.mean(Y * np.log(p) + (1 - Y) * np.log(1 - p))
    elif head == "softmax":
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        expected = -np.mean(np.sum(Y * np.log(p), axis=1))
    elif head == "poisson":  # half the Poisson deviance of mu = exp(z)
        mu = np.exp(z)
        ylogy = np.where(Y > 0, Y * np.log(np.where(Y > 0, Y / mu, 1)), 0)
        expected = np.mean(np.sum(ylogy - Y + mu, axis=1))
    else:
        expected = 0.5 * np.mean(np.sum((z - Y) ** 2, axis=1))
    assert value == pytest.approx(expected, rel=1e-12)


def test_sigmoid_log_sigmoid_softmax_are_stable() -> None:
    z = np.array([-1e308, -800.0, -30.0, 0.0, 30.0, 800.0, 1e308])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = sigmoid(z)
        ls = log_sigmoid(z)
        sm = softmax(np.stack([z, -z], axis=1))
    assert np.all((s >= 0) & (s <= 1))
    assert s[3] == 0.5
    assert ls[1] == pytest.approx(-800.0)
    assert np.isfinite(ls[1:]).all()
    np.testing.assert_allclose(sm.sum(axis=1), 1.0)


def test_unknown_head_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"'hinge'.*binary"):
        get_head("hinge")


@pytest.mark.parametrize("head", ["binary", "softmax"])
def test_mean_of_many_huge_losses_does_not_overflow(head: str) -> None:
    k = 1 if head == "binary" else 2
    z = np.full((1000, k), -np.finfo(np.float64).max / 2)
    z[:, -1] *= -1 if head == "softmax" else 1
    Y = np.zeros((1000, k))
    Y[:, 0] = 1.0
    value, d = get_head(head).loss(z, Y)
    assert np.isfinite(value) and value > 1e150
    assert np.isfinite(d).all()
