"""Learning-rate sweep: same initial weights, labelled curves, n_jobs does not change numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

from lossdoctor.diagnostics.sweep import chance_loss, lr_sweep
from lossdoctor.report.plots import plot_sweep

SETUP = {"hidden_layer_sizes": (8,), "activation": "tanh", "max_iter": 40, "random_state": 0}


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X)[::2], y[::2]


@pytest.fixture(scope="module")
def serial(data):
    X, y = data
    return lr_sweep(X, y, [0.001, 0.5, 200.0], n_jobs=1, **SETUP)


def test_two_workers_give_the_same_numbers(data, serial):
    X, y = data
    parallel = lr_sweep(X, y, [0.001, 0.5, 200.0], n_jobs=2, **SETUP)
    for a, b in zip(serial.rows, parallel.rows):
        assert a.losses == b.losses  # bit-identical curves
        assert a.as_dict() == b.as_dict()


def test_table_labels_and_verdicts(serial):
    tiny, good, huge = serial.rows
    table = serial.table()
    assert [row["lr"] for row in table] == [0.001, 0.5, 200.0]
    assert set(table[0]) == {"lr", "final_loss", "score", "label", "sharpness", "limit",
                             "verdict", "ratio"}  # fmt: skip
    # Same initial weights: every run starts from the same loss.
    assert tiny.losses[0] == pytest.approx(good.losses[0], rel=0.05)
    assert good.label == "converging" and good.score > 0.95
    assert good.final_loss < tiny.final_loss
    assert tiny.label in ("slow", "plateau")
    assert huge.label in ("diverging", "non-finite", "oscillating")
    for row in serial.rows:
        assert row.limit == pytest.approx(2 / row.lr)
        assert row.verdict is not None
        assert row.verdict.ratio == pytest.approx(row.sharpness / row.limit)
    assert good.verdict.label in ("stable", "edge")
    # (A huge step saturates tanh: the final sharpness is then tiny, so no verdict is asserted.)
    assert "2/lr" in serial.limit_rule


def test_plot_overlays_curves_on_log_axis(serial, tmp_path):
    fig = plot_sweep(serial, tmp_path / "sweep.png")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert len(ax.get_lines()) == 3
    assert (tmp_path / "sweep.png").stat().st_size > 1000


def test_chance_loss():
    Y = np.array([[1.0], [0.0], [1.0], [0.0]])
    assert chance_loss("binary", Y) == pytest.approx(math.log(2))
    assert chance_loss("softmax", np.eye(4)) == pytest.approx(math.log(4))
    assert chance_loss("identity", np.array([[1.0], [3.0]])) == pytest.approx(0.5)
    assert chance_loss("binary", np.ones((3, 1))) is None


def test_bad_learning_rates(data):
    X, y = data
    with pytest.raises(ValueError, match="positive"):
        lr_sweep(X, y, [0.1, -1.0])
    with pytest.raises(ValueError, match="positive"):
        lr_sweep(X, y, [])


def test_runs_that_blow_up_get_no_sharpness_and_a_readable_row() -> None:
    # Unscaled regression targets (25-346): lr 1 and 10 overflow the weights, and
    # ARPACK fails on the Hessian at the end; those rows must say n/a, not raise.
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    setup = {**SETUP, "activation": "tanh", "hidden_layer_sizes": (16,), "max_iter": 60}
    result = lr_sweep(X, y, [0.01, 1.0, 10.0], task="regression", **setup)
    ok, *blown = result.rows
    assert math.isfinite(ok.sharpness) and ok.verdict is not None
    for row in blown:
        assert math.isnan(row.sharpness) and row.verdict is None
        assert not math.isfinite(row.score) or abs(row.score) > 1e3
    # Every cell stays short: a score of -2e161 prints as such, not as 160 digits.
    table = result.format().splitlines()[:-1]  # the last line explains the columns
    assert max(len(line) for line in table) < 100
