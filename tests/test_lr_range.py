"""The learning-rate range test: repeatable, seeds agree, weights untouched, the bound beside it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

from lossdoctor.diagnostics.lr_range import lr_range_test, make_setup, range_test, smooth
from lossdoctor.report.plots import plot_lr_range

SMALL = {"hidden_layer_sizes": (16, 8), "activation": "tanh"}


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def test_same_seed_same_suggestion_and_seeds_within_factor_2(data):
    X, y = data
    results = [lr_range_test(X, y, random_state=seed, stop=1e3, **SMALL) for seed in range(4)]
    again = lr_range_test(X, y, random_state=0, stop=1e3, **SMALL)
    assert again.suggestion == results[0].suggestion
    np.testing.assert_array_equal(again.losses, results[0].losses)
    suggestions = [r.suggestion for r in results]
    assert max(suggestions) / min(suggestions) <= 2.0, suggestions
    for r in results:
        assert "minimum of the smoothed loss" in r.rule
        assert r.stop_reason == "diverged"
        # The reading is a tenth of the learning rate at the minimum of the smoothed curve; the
        # suggestion is the advised rate (lr_advice): half the bound, as --lr auto and the doctor.
        reading = r.lrs[np.argmin(r.smoothed)] / 10
        assert r.evidence["range_suggestion"] == pytest.approx(reading)
        assert r.suggestion == pytest.approx(r.bound / 2)
        # The curvature bound at the initial weights is reported beside it.
        assert r.bound == pytest.approx(2 / r.sharpness)
        assert "2/L" in r.bound_rule


def test_weights_restored_and_divergence_stops(data):
    X, y = data
    s = make_setup(X, y, random_state=3, **SMALL)
    before = {k: p.copy() for k, p in s.params.items()}
    r = range_test(s.net, s.params, s.X, s.Y, start=1e-3, stop=1e4, n_steps=60)
    assert all(np.array_equal(s.params[k], before[k]) for k in before)
    assert r.stop_reason == "diverged"
    assert len(r.lrs) < 60 and np.all(np.isfinite(r.losses))
    assert np.all(np.diff(r.lrs) > 0)
    assert r.lrs[1] / r.lrs[0] == pytest.approx((1e4 / 1e-3) ** (1 / 59))


def test_regression_and_adam(data):
    X, _ = data
    rng = np.random.default_rng(0)
    y = X[:, :3] @ rng.normal(size=3) + 0.1 * rng.normal(size=X.shape[0])
    r = lr_range_test(X, y, hidden_layer_sizes=(8,), random_state=0)
    assert r.stop_reason == "diverged"
    assert 0 < r.suggestion < r.lrs[-1]
    r_adam = lr_range_test(X, y, hidden_layer_sizes=(8,), solver="adam", random_state=0)
    assert math.isnan(r_adam.bound) and "none is given for Adam" in r_adam.bound_rule


def test_smoothing_does_not_shift_the_minimum():
    x = np.linspace(-3, 3, 61)
    curve = (x - 1) ** 2 + 1
    assert np.argmin(smooth(curve, 0.8)) == np.argmin(curve)
    np.testing.assert_array_equal(smooth(curve, 0.0), curve)


def test_bad_range_is_refused(data):
    X, y = data
    s = make_setup(X[:50], y[:50], hidden_layer_sizes=(2,))
    with pytest.raises(ValueError, match="start < stop"):
        range_test(s.net, s.params, s.X, s.Y, start=1.0, stop=0.1)


def test_plot_is_written_atomically(data, tmp_path):
    X, y = data
    r = lr_range_test(X[:100], y[:100], hidden_layer_sizes=(4,), random_state=0, n_steps=30)
    path = tmp_path / "sub" / "lr.png"
    plot_lr_range(r, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == ["lr.png"]  # no temporary file left
    assert "suggested learning rate" in r.summary()


def test_weights_too_large_for_a_curvature_bound(data):
    # Initial weights of size 1e10: the range test still runs but gives no curvature bound, and
    # --lr auto refuses with a message instead of an eigensolver's traceback.
    from lossdoctor.diagnostics.lr_range import auto_learning_rate

    X, y = data
    setup = {"hidden_layer_sizes": (8,), "init_scale": 1e10, "random_state": 0}
    result = lr_range_test(X, y, n_steps=10, **setup)
    assert math.isnan(result.sharpness) and math.isnan(result.bound)
    assert "not measured" in result.bound_rule
    with pytest.raises(ValueError, match="sharpness at the initial weights is nan"):
        auto_learning_rate(X, y, **setup)


def test_adam_range_test_takes_the_estimators_betas(data):
    X, y = data
    setup = {"hidden_layer_sizes": (8,), "solver": "adam", "random_state": 0}
    runs = {
        (b1, b2): lr_range_test(X, y, n_steps=15, beta_1=b1, beta_2=b2, **setup).losses
        for b1, b2 in [(0.9, 0.999), (0.0, 0.999), (0.9, 0.5)]
    }
    default = lr_range_test(X, y, n_steps=15, **setup).losses
    assert np.array_equal(runs[0.9, 0.999], default)
    # beta_1 = 0 is a valid choice, not "unset"; beta_2 is passed on too.
    assert not np.array_equal(runs[0.0, 0.999], default)
    assert not np.array_equal(runs[0.9, 0.5], default)
