"""Tests for lossdoctor.diagnostics.curves: synthetic histories for every label, then real ones.

The real histories come from a few lines of NumPy gradient descent on scikit-learn's breast
cancer data (standardised), independent of lossdoctor's own trainer.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_breast_cancer

from lossdoctor.diagnostics.curves import (
    CONVERGING,
    DIVERGING,
    LABELS,
    NON_FINITE,
    OSCILLATING,
    PLATEAU,
    SLOW,
    TOO_SHORT,
    CurveLabel,
    classify_curve,
)

SEEDS = [0, 1, 2, 3, 4]
LN2 = math.log(2)
EPOCHS = np.arange(100)


def noisy(curve: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Multiply by log-normal noise, as mini-batch losses scatter by a fraction of their value."""
    return curve * np.exp(sigma * rng.normal(size=curve.shape))


# --- synthetic histories ---------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("sigma", [0.0, 0.05, 0.3])
def test_exponential_decay_is_converging(seed: int, sigma: float) -> None:
    rng = np.random.default_rng(seed)
    losses = noisy(0.05 + 0.65 * np.exp(-EPOCHS / 15), rng, sigma)
    result = classify_curve(losses)
    assert result.label == CONVERGING, result.message
    assert result.evidence["end_over_start"] < 0.5


@pytest.mark.parametrize("seed", SEEDS)
def test_noisy_per_step_losses_still_converging_are_no_false_alarm(seed: int) -> None:
    # 2000 mini-batch losses scattering by a factor of e either way, still falling at the end.
    rng = np.random.default_rng(seed)
    steps = np.arange(2000)
    losses = noisy(0.02 + 0.67 * np.exp(-steps / 800), rng, 1.0)
    result = classify_curve(losses)
    assert result.label == CONVERGING, result.message
    assert result.evidence["epochs_to_settle"] > 0  # still falling


@pytest.mark.parametrize("seed", SEEDS)
def test_fast_fall_then_wobble_near_zero_is_converging(seed: int) -> None:
    # After a fall from 0.7 to 1e-4, a tenfold wobble at 1e-4 is noise, not divergence.
    rng = np.random.default_rng(seed)
    losses = np.concatenate([0.7 * np.exp(-np.arange(30) / 3), noisy(np.full(70, 1e-4), rng, 1.0)])
    assert classify_curve(losses).label == CONVERGING


def test_decay_to_exactly_zero_is_converging() -> None:
    losses = np.maximum(0.7 - 0.05 * EPOCHS, 0.0)
    result = classify_curve(losses)
    assert result.label == CONVERGING
    assert result.evidence["epochs_to_settle"] == 0


@pytest.mark.parametrize("seed", SEEDS)
def test_linear_decline_is_slow(seed: int) -> None:
    rng = np.random.default_rng(seed)
    losses = noisy(0.69 - 0.0014 * EPOCHS, rng, 0.01)
    result = classify_curve(losses)
    assert result.label == SLOW, result.message
    assert result.evidence["settle_ratio"] >= 3
    assert "more epochs to settle" in result.message


@pytest.mark.parametrize("seed", SEEDS)
def test_exponential_approach_with_long_time_constant_is_slow(seed: int) -> None:
    # Time constant 300 epochs, 100 run: about 800 more epochs to get within 5% of the floor.
    rng = np.random.default_rng(seed)
    losses = noisy(0.1 + 0.6 * np.exp(-EPOCHS / 300), rng, 0.01)
    result = classify_curve(losses)
    assert result.label == SLOW, result.message
    assert result.evidence["settle_ratio"] >= 3


def test_pace_decides_between_slow_and_converging() -> None:
    # The same shape, run for 100 epochs, with time constants 20 and 300 epochs.
    fast = classify_curve(0.1 + 0.6 * np.exp(-EPOCHS / 20))
    slow = classify_curve(0.1 + 0.6 * np.exp(-EPOCHS / 300))
    assert (fast.label, slow.label) == (CONVERGING, SLOW)
    assert fast.evidence["time_constant"] == pytest.approx(20, rel=0.05)
    assert slow.evidence["time_constant"] == pytest.approx(300, rel=0.05)


@pytest.mark.parametrize("seed", SEEDS)
def test_flat_at_chance_is_plateau(seed: int) -> None:
    rng = np.random.default_rng(seed)
    losses = noisy(np.full(100, LN2), rng, 0.02)
    result = classify_curve(losses, chance_loss=LN2)
    assert result.label == PLATEAU
    assert result.evidence["end_over_chance"] == pytest.approx(1, abs=0.05)
    assert "chance level" in result.message
    assert classify_curve(losses).label == PLATEAU  # also without knowing the chance level


def test_falling_to_chance_and_staying_is_plateau_only_with_chance_loss() -> None:
    # A bad initialisation starts far above chance; learning the class prior is not learning.
    losses = np.concatenate([LN2 + 3 * np.exp(-np.arange(5)), np.full(95, LN2)])
    assert classify_curve(losses).label == CONVERGING
    result = classify_curve(losses, chance_loss=LN2)
    assert result.label == PLATEAU
    assert "fell to the chance level" in result.message


@pytest.mark.parametrize("seed", SEEDS)
def test_sawtooth_is_oscillating(seed: int) -> None:
    rng = np.random.default_rng(seed)
    losses = noisy(LN2 * (1 + 0.6 * (EPOCHS % 2)), rng, 0.03)
    result = classify_curve(losses)
    assert result.label == OSCILLATING, result.message
    assert result.evidence["swing_ratio"] == pytest.approx(1.6, rel=0.1)


@pytest.mark.parametrize("period", [3, 7, 12, 25])
def test_slow_waves_are_oscillating(period: int) -> None:
    losses = LN2 * np.exp(0.4 * np.sin(2 * np.pi * EPOCHS / period))
    assert classify_curve(losses).label == OSCILLATING


@pytest.mark.parametrize("seed", SEEDS)
def test_large_irregular_swings_are_oscillating(seed: int) -> None:
    # Like gradient descent bouncing across a valley: between a third and three times chance.
    rng = np.random.default_rng(seed)
    losses = LN2 * np.exp(rng.uniform(-1.1, 1.1, size=100))
    assert classify_curve(losses).label == OSCILLATING


@pytest.mark.parametrize("seed", SEEDS)
def test_explosion_is_diverging(seed: int) -> None:
    rng = np.random.default_rng(seed)
    losses = noisy(LN2 * np.exp(0.05 * EPOCHS), rng, 0.1)
    result = classify_curve(losses)
    assert result.label == DIVERGING
    assert result.evidence["end_over_start"] > 50


@pytest.mark.parametrize("seed", SEEDS)
def test_fall_then_rise_far_above_best_is_diverging(seed: int) -> None:
    rng = np.random.default_rng(seed)
    curve = np.concatenate(
        [0.7 * np.exp(-np.arange(50) / 10), 0.7 * np.exp(-5 + np.arange(50) / 10)]
    )
    result = classify_curve(noisy(curve, rng, 0.1))
    assert result.label == DIVERGING
    assert 40 <= result.evidence["best_epoch"] <= 60
    assert result.evidence["end_over_best"] > 10


@pytest.mark.parametrize("seed", SEEDS)
def test_sustained_slow_rise_after_a_fall_is_diverging(seed: int) -> None:
    rng = np.random.default_rng(seed)
    curve = np.concatenate([0.1 + 0.6 * np.exp(-np.arange(50) / 5), 0.1 + 0.003 * np.arange(50)])
    result = classify_curve(noisy(curve, rng, 0.02))
    assert result.label == DIVERGING
    assert result.evidence["tail_tau"] >= 0.6


def test_explosion_that_comes_back_above_its_start_is_diverging() -> None:
    losses = np.concatenate([[0.7], 0.7 * 100.0 ** np.arange(1, 60), np.full(40, 2.1)])
    result = classify_curve(losses)
    assert result.label == DIVERGING
    assert result.evidence["end_over_start"] == pytest.approx(3)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_names_the_first_bad_epoch(bad: float) -> None:
    losses = [0.7, 0.9, 3.0, 40.0, bad, np.nan]
    result = classify_curve(losses)
    assert result.label == NON_FINITE
    assert result.evidence["first_bad_epoch"] == 5
    assert result.evidence["best_epoch"] == 1
    assert result.evidence["last_finite_loss"] == 40.0
    assert "at epoch 5, after rising from its best of 0.7 at epoch 1 to 40" in result.message


def test_non_finite_first_loss() -> None:
    result = classify_curve([float("nan")])
    assert result.label == NON_FINITE
    assert result.evidence == {"n_epochs": 1, "first_bad_epoch": 1, "n_finite_before": 0}


# --- short histories and input checks --------------------------------------------------------


@pytest.mark.parametrize(
    ("losses", "label"),
    [
        ([0.7], TOO_SHORT),
        ([0.7, 0.5], CONVERGING),
        ([0.7, 0.69], PLATEAU),
        ([0.7, 1.5], DIVERGING),
        ([0.7, 0.5, 0.4], CONVERGING),
        ([0.7, 1.0, 0.7], PLATEAU),
        ([0.7, 0.1, 0.7, 0.1], PLATEAU),
        ([0.7, 0.5, 0.6, 2.0], DIVERGING),
    ],
)
def test_short_histories(losses: list[float], label: str) -> None:
    assert classify_curve(losses).label == label


def test_short_histories_are_never_slow_or_oscillating() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        losses = rng.uniform(0.1, 1.0, size=rng.integers(2, 5))
        assert classify_curve(losses).label in {CONVERGING, PLATEAU, DIVERGING}


@pytest.mark.parametrize(
    ("losses", "kwargs", "match"),
    [
        ([], {}, "empty"),
        ([[0.5, 0.4]], {}, r"1-D .*got shape \(1, 2\)"),
        ([0.5, -0.1], {}, r"non-negative, got -0.1 at epoch 2"),
        ([0.5, 0.4], {"chance_loss": 0.0}, "chance_loss must be a positive"),
        ([0.5, 0.4], {"chance_loss": float("nan")}, "chance_loss must be a positive"),
    ],
)
def test_bad_input(losses: list[float], kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        classify_curve(losses, **kwargs)


def test_all_zero_losses_are_a_plateau() -> None:
    result = classify_curve(np.zeros(20))
    assert result.label == PLATEAU
    assert result.evidence["start_loss"] == result.evidence["end_loss"] == 0.0
    assert "exactly 0 in all 20 epochs" in result.message  # it said "from 1 to 1"


@pytest.mark.parametrize("scale", [1e-6, 1.0, 1e6])
def test_label_does_not_depend_on_the_loss_scale(scale: float) -> None:
    rng = np.random.default_rng(0)
    curves = {
        CONVERGING: noisy(0.05 + 0.65 * np.exp(-EPOCHS / 15), rng, 0.1),
        SLOW: 0.69 - 0.0014 * EPOCHS,
        PLATEAU: np.full(100, LN2),
        OSCILLATING: LN2 * (1 + 0.6 * (EPOCHS % 2)),
        DIVERGING: LN2 * np.exp(0.05 * EPOCHS),
    }
    for label, losses in curves.items():
        assert classify_curve(scale * losses).label == label


def test_result_is_frozen_and_evidence_is_json_ready() -> None:
    result = classify_curve(0.05 + 0.65 * np.exp(-EPOCHS / 15), chance_loss=LN2)
    assert isinstance(result, CurveLabel)
    assert result.label in LABELS
    with pytest.raises(AttributeError):
        result.label = PLATEAU  # type: ignore[misc]
    assert all(type(v) in (int, float) for v in result.evidence.values())
    json.dumps(result.evidence, allow_nan=False)
    assert result.evidence["n_epochs"] == 100


# --- real histories --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_breast_cancer(return_X_y=True)
    return (X - X.mean(axis=0)) / X.std(axis=0), y.astype(np.float64)


def bce_and_grad(z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean binary cross-entropy over logits z and its gradient with respect to z."""
    loss = float(np.mean(np.logaddexp(0.0, z) - y * z))
    return loss, (0.5 * (1.0 + np.tanh(z / 2)) - y) / z.shape[0]  # sigmoid(z) - y, stable


def logistic_regression_losses(X: np.ndarray, y: np.ndarray, lr: float, epochs: int) -> list[float]:
    """Full-batch gradient descent from zero weights: deterministic."""
    w, b, losses = np.zeros(X.shape[1]), 0.0, []
    for _ in range(epochs):
        loss, dz = bce_and_grad(X @ w + b, y)
        losses.append(loss)
        w, b = w - lr * X.T @ dz, b - lr * dz.sum()
    return losses


def mlp_losses(
    X: np.ndarray,
    y: np.ndarray,
    lr: float,
    rng: np.random.Generator,
    epochs: int,
    batch_size: int | None = None,
) -> list[float]:
    """A 30-16-1 ReLU network; one loss per full batch, or per mini-batch if batch_size."""
    W1 = rng.normal(size=(X.shape[1], 16)) * np.sqrt(2 / X.shape[1])
    b1, w2, b2 = np.zeros(16), rng.normal(size=16) / 4, 0.0
    n, losses = X.shape[0], []
    # A too-large step overflows to inf and NaN; that is the behaviour under test.
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(epochs):
            order = rng.permutation(n) if batch_size else np.arange(n)
            for start in range(0, n, batch_size or n):
                i = order[start : start + (batch_size or n)]
                A = X[i] @ W1 + b1
                H = np.maximum(A, 0.0)
                loss, dz = bce_and_grad(H @ w2 + b2, y[i])
                losses.append(loss)
                dA = np.outer(dz, w2) * (A > 0)
                W1, b1 = W1 - lr * X[i].T @ dA, b1 - lr * dA.sum(axis=0)
                w2, b2 = w2 - lr * H.T @ dz, b2 - lr * dz.sum()
    return losses


@pytest.mark.parametrize(("lr", "label"), [(3e-4, SLOW), (0.5, CONVERGING)])
def test_logistic_regression_histories(
    breast_cancer: tuple[np.ndarray, np.ndarray], lr: float, label: str
) -> None:
    losses = logistic_regression_losses(*breast_cancer, lr=lr, epochs=200)
    assert losses[0] == pytest.approx(LN2)
    assert classify_curve(losses, chance_loss=LN2).label == label


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("lr", "label"), [(3e-4, SLOW), (0.3, CONVERGING), (20.0, NON_FINITE)])
def test_mlp_histories(
    breast_cancer: tuple[np.ndarray, np.ndarray], seed: int, lr: float, label: str
) -> None:
    losses = mlp_losses(*breast_cancer, lr=lr, rng=np.random.default_rng(seed), epochs=200)
    result = classify_curve(losses)
    assert result.label == label, result.message
    if label == NON_FINITE:
        # A trainer that stops at the first non-finite loss records only the finite part.
        finite = losses[: int(result.evidence["first_bad_epoch"]) - 1]
        assert classify_curve(finite).label == DIVERGING


@pytest.mark.parametrize("seed", SEEDS)
def test_mini_batch_sgd_history_is_converging(
    breast_cancer: tuple[np.ndarray, np.ndarray], seed: int
) -> None:
    # Per-step losses of batches of 8: noisy, but converging.
    losses = mlp_losses(
        *breast_cancer, lr=0.05, rng=np.random.default_rng(seed), epochs=20, batch_size=8
    )
    assert len(losses) == 20 * 72
    steps = np.asarray(losses)
    assert np.std(np.diff(np.log(steps[-200:]))) > 0.5  # the noise is real
    assert classify_curve(losses).label == CONVERGING


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False),
        min_size=1,
        max_size=200,
    )
)
def test_any_finite_history_gets_a_label_with_json_ready_evidence(losses: list[float]) -> None:
    result = classify_curve(losses)
    assert result.label in LABELS
    assert result.message
    json.dumps(result.evidence, allow_nan=False)
