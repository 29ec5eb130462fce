"""The training loop: it learns, it never produces NaN, it restores weights, it records history."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from lossdoctor.network import Network, forward, init_params
from lossdoctor.optimizers import adam, sgd
from lossdoctor.training import (
    Callback,
    History,
    fit,
    iter_batches,
    loss_and_grad,
    score_from_logits,
)

CLASSIC = Network((30, 128, 64, 1), "tanh", "binary")


def test_classic_network_learns_the_built_in_data(cancer, rng: np.random.Generator) -> None:
    # lr = 0.1: ten times the asker's 0.01 and still well inside the stability bound 2/L of this
    # network on standardised data, so the loss falls monotonically for every seed.
    X, y = cancer
    Y = y[:, None].astype(float)
    result = fit(
        CLASSIC,
        init_params(CLASSIC, rng),
        X,
        Y,
        optimizer=sgd(0.1),
        epochs=300,
        n_iter_no_change=None,
    )
    logits, _ = forward(CLASSIC, result.params, X)
    assert score_from_logits("binary", logits, Y) >= 0.97
    assert len(result.history) == 300
    assert np.all(np.diff(result.history.loss) <= 1e-12)


def test_learning_rate_10_stays_finite(cancer, rng: np.random.Generator) -> None:
    X, y = cancer
    result = fit(
        CLASSIC,
        init_params(CLASSIC, rng),
        X,
        y[:, None].astype(float),
        optimizer=sgd(10.0),
        epochs=100,
        n_iter_no_change=None,
    )
    assert len(result.history) == 100
    assert all(math.isfinite(v) for v in result.history.loss)
    assert result.history.stop_reason == "max_iter"


def test_non_finite_loss_stops_and_keeps_last_finite_weights(rng: np.random.Generator) -> None:
    # Linear regression with a step far above 2/L: the weights grow geometrically until they
    # overflow. Training must stop there and hand back the last finite weights.
    X = rng.normal(size=(50, 3)) * 10
    Y = X @ np.array([[1.0], [2.0], [3.0]])
    net = Network((3, 1), "identity", "identity")
    result = fit(
        net, init_params(net, rng), X, Y, optimizer=sgd(5.0), epochs=10_000, n_iter_no_change=None
    )
    assert result.history.stop_reason == "non-finite"
    assert "non-finite" in result.history.message
    assert len(result.history) < 10_000
    assert all(np.isfinite(p).all() for p in result.params.values())
    assert all(math.isfinite(v) for v in result.history.loss)


def test_early_stopping_restores_the_best_weights(rng: np.random.Generator) -> None:
    # Few noisy samples and a wide network overfit: validation accuracy peaks, then falls.
    X = rng.normal(size=(60, 20))
    y = (X[:, 0] + rng.normal(scale=1.5, size=60) > 0).astype(float)[:, None]
    Xv = rng.normal(size=(200, 20))
    yv = (Xv[:, 0] > 0).astype(float)[:, None]
    net = Network((20, 64, 1), "tanh", "binary")

    class Snapshots(Callback):
        def __init__(self) -> None:
            self.params: dict[int, dict] = {}

        def on_epoch_end(self, epoch, params, history):
            self.params[epoch] = params
            return None

    snaps = Snapshots()
    result = fit(
        net,
        init_params(net, rng),
        X,
        y,
        optimizer=adam(0.01),
        epochs=300,
        validation=(Xv, yv),
        early_stopping=True,
        n_iter_no_change=20,
        tol=0.0,
        callbacks=[snaps],
    )
    best = result.history.best_epoch
    assert best is not None
    assert result.history.val_score[best - 1] == max(result.history.val_score)
    for k, p in result.params.items():
        np.testing.assert_array_equal(p, snaps.params[best][k])


def test_minibatches_are_deterministic_and_cover_every_sample(rng: np.random.Generator) -> None:
    seed = int(rng.integers(1000))
    a = list(iter_batches(103, 10, np.random.default_rng(seed)))
    b = list(iter_batches(103, 10, np.random.default_rng(seed)))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert sorted(np.concatenate(a).tolist()) == list(range(103))
    assert [len(x) for x in a] == [10] * 10 + [3]
    assert list(iter_batches(50, None, rng)) == [slice(None)]


def test_callback_protocol_and_history(cancer, rng: np.random.Generator) -> None:
    X, y = cancer
    calls: list[str] = []

    class Stopper(Callback):
        def on_train_begin(self, net, params, optimizer):
            calls.append("begin")

        def on_epoch_end(self, epoch, params, history):
            calls.append(f"epoch{epoch}")
            return epoch == 3

        def on_train_end(self, params, history):
            calls.append("end")

    net = Network((30, 8, 1), "relu", "binary")
    result = fit(
        net,
        init_params(net, rng),
        X,
        y[:, None].astype(float),
        optimizer=sgd(0.1),
        epochs=50,
        batch_size=64,
        rng=rng,
        callbacks=[Stopper()],
    )
    assert calls == ["begin", "epoch1", "epoch2", "epoch3", "end"]
    h = result.history
    assert h.stop_reason == "callback"
    d = h.as_dict()
    assert set(d) == {
        "epoch",
        "loss",
        "val_loss",
        "val_score",
        "learning_rate",
        "grad_norm",
        "time",
    }
    assert d["epoch"] == [1, 2, 3] and all(len(v) == 3 for v in d.values())
    assert d["learning_rate"] == [0.1] * 3
    assert all(math.isnan(v) for v in d["val_loss"])
    assert d["time"] == sorted(d["time"])
    frame = h.to_frame()
    assert list(frame.index) == [1, 2, 3] and "grad_norm" in frame.columns


def test_params_passed_in_are_never_modified(cancer, rng: np.random.Generator) -> None:
    X, y = cancer
    net = Network((30, 16, 1), "tanh", "binary")
    params = init_params(net, rng)
    before = {k: v.copy() for k, v in params.items()}
    fit(net, params, X, y[:, None].astype(float), optimizer=sgd(0.5, momentum=0.9), epochs=5)
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_training_keeps_the_dtype(cancer, dtype: type, rng: np.random.Generator) -> None:
    X, y = cancer
    net = Network((30, 16, 1), "tanh", "binary")
    result = fit(
        net,
        init_params(net, rng, dtype=dtype),
        X.astype(dtype),
        y[:, None].astype(dtype),
        optimizer=adam(0.01),
        epochs=3,
        batch_size=100,
        rng=rng,
        alpha=0.1,
        clip_norm=1.0,
    )
    assert all(p.dtype == dtype for p in result.params.values())
    # The history records the norm before clipping, which is what shows an explosion.
    assert all(np.isfinite(result.history.grad_norm))


def test_history_default_is_empty() -> None:
    h = History()
    assert len(h) == 0 and h.as_dict()["loss"] == []


def test_score_from_logits_is_the_estimators_score(rng: np.random.Generator) -> None:
    from sklearn.metrics import accuracy_score, r2_score

    # Two regression outputs on very different scales: R^2 is averaged per output, not pooled.
    Y = np.column_stack([rng.normal(size=50), 100 * rng.normal(size=50)])
    P = Y + rng.normal(size=(50, 2)) * np.array([1.0, 10.0])
    assert score_from_logits("identity", P, Y) == pytest.approx(r2_score(Y, P), rel=1e-12)
    constant = np.column_stack([Y[:, 0], np.full(50, 3.0)])
    assert score_from_logits("identity", constant, constant) == 1.0
    # Multilabel: a row counts only when every label is right (subset accuracy).
    labels = rng.integers(0, 2, size=(60, 3))
    logits = np.where(labels == 1, 1.0, -1.0) * np.where(rng.random((60, 3)) < 0.2, -1, 1)
    assert score_from_logits("binary", logits, labels.astype(float)) == pytest.approx(
        accuracy_score(labels, (logits > 0).astype(int))
    )


@pytest.mark.parametrize("momentum", [0.0, 0.5])  # the in-place update path, and the other one
@pytest.mark.parametrize("batch_size", [None, 64])
def test_a_non_finite_loss_keeps_the_last_weights_whose_loss_was_finite(
    momentum: float, batch_size: int | None
) -> None:
    # A linear network with lr 1 on diabetes' raw features and targets diverges within a few
    # epochs. It used to return the very weights whose loss was inf or nan.
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    net = Network((10, 32, 16, 1), "identity", "identity")
    p0 = init_params(net, np.random.default_rng(0))
    opt = sgd(1.0, momentum=momentum)
    result = fit(net, p0, X, y[:, None], optimizer=opt, epochs=50, batch_size=batch_size,
                 n_iter_no_change=None)  # fmt: skip
    assert result.history.stop_reason == "non-finite"
    with np.errstate(over="ignore"):
        value, _ = loss_and_grad(net, result.params, X, y[:, None])
    assert math.isfinite(value)
    assert all(np.isfinite(p).all() for p in result.params.values())


def test_history_columns_are_its_per_epoch_lists() -> None:
    per_epoch = [f.name for f in dataclasses.fields(History) if str(f.type).startswith("list")]
    assert list(History.COLUMNS) == per_epoch
    assert list(History().as_dict()) == list(History.COLUMNS)


def test_concat_continues_the_first_history_with_the_second() -> None:
    a = History(epoch=[1, 2], loss=[3.0, 2.0], val_loss=[math.nan] * 2, val_score=[0.5, 0.6],
                learning_rate=[0.1] * 2, grad_norm=[1.0, 0.5], time=[0.5, 1.0])  # fmt: skip
    b = History(epoch=[1], loss=[1.5], val_loss=[math.nan], val_score=[0.7],
                learning_rate=[0.05], grad_norm=[0.25], time=[0.25],
                stop_reason="converged", message="m", best_epoch=1)  # fmt: skip
    c = History.concat(a, b)
    assert c.epoch == [1, 2, 3] and c.time == [0.5, 1.0, 1.25]
    assert c.loss == [3.0, 2.0, 1.5] and c.val_score == [0.5, 0.6, 0.7]
    assert c.learning_rate == [0.1, 0.1, 0.05] and c.grad_norm == [1.0, 0.5, 0.25]
    assert (c.stop_reason, c.message, c.best_epoch) == ("converged", "m", 1)
    assert a.epoch == [1, 2] and len(History.concat(History(), b)) == 1


def test_verbose_prints_each_epoch_before_the_callbacks_run(capsys, rng) -> None:
    class Shout(Callback):
        def on_epoch_end(self, epoch, params, history):
            print(f"callback {epoch}")

    net = Network((3, 1), "identity", "identity")
    X, Y = rng.normal(size=(10, 3)), rng.normal(size=(10, 1))
    capsys.readouterr()  # what the fixtures printed
    result = fit(net, init_params(net, rng), X, Y, optimizer=sgd(0.1), epochs=2,
                 verbose=True, callbacks=[Shout()])  # fmt: skip
    h = result.history
    assert capsys.readouterr().out == (
        f"Iteration 1, loss = {h.loss[0]:.8f}\ncallback 1\n"
        f"Iteration 2, loss = {h.loss[1]:.8f}\ncallback 2\n"
    )


def test_progress_bar_changes_no_result_and_is_closed_on_error(rng, monkeypatch) -> None:
    from rich.progress import Progress

    events: list[str] = []
    start, stop = Progress.start, Progress.stop
    monkeypatch.setattr(Progress, "start", lambda self: (events.append("start"), start(self))[1])
    monkeypatch.setattr(Progress, "stop", lambda self: (events.append("stop"), stop(self))[1])
    net = Network((3, 4, 1), "tanh", "binary")
    X, Y = rng.normal(size=(10, 3)), (rng.random((10, 1)) < 0.5).astype(float)
    params = init_params(net, rng)
    plain = fit(net, params, X, Y, optimizer=sgd(0.1), epochs=3, progress=False)
    shown = fit(net, params, X, Y, optimizer=sgd(0.1), epochs=3, progress=True)
    assert shown.history.loss == plain.history.loss
    assert events == ["start", "stop"]

    class Boom(Callback):
        def on_epoch_end(self, epoch, params, history):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fit(net, params, X, Y, optimizer=sgd(0.1), epochs=3, progress=True, callbacks=[Boom()])
    # A bar left running would keep rich's live display alive.
    assert events == ["start", "stop"] * 2
