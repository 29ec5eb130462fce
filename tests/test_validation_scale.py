"""Validation scoring on large data: in chunks, and in ``diagnose`` on a fixed subsample."""

from __future__ import annotations

import math

import numpy as np
import pytest

import lossdoctor.training as training
from lossdoctor.diagnostics import monitored_run
from lossdoctor.diagnostics.diagnose import diagnose
from lossdoctor.network import Network, forward, init_params
from lossdoctor.training import score_from_logits


@pytest.mark.parametrize(
    ("head", "n_out"), [("binary", 1), ("softmax", 3), ("identity", 2), ("poisson", 1)]
)
def test_chunked_validation_equals_one_pass_and_never_forwards_more_than_a_chunk(
    head: str, n_out: int, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    net = Network((4, 16, n_out), "tanh", head)
    params = init_params(net, rng)
    n = 1_050
    X = rng.standard_normal((n, 4))
    if head == "softmax":
        Y = np.eye(n_out)[rng.integers(0, n_out, n)]
    elif head == "binary":
        Y = rng.integers(0, 2, (n, 1)).astype(float)
    elif head == "poisson":
        Y = rng.poisson(2.0, (n, 1)).astype(float)
    else:
        Y = rng.standard_normal((n, n_out))
    logits, _ = forward(net, params, X)
    want_loss, _ = training.get_head(head).loss(logits, Y)
    want_score = score_from_logits(head, logits, Y)
    # At most one chunk: the one pass it always was, bit for bit.
    assert training._validate(net, params, (X, Y)) == (want_loss, want_score)

    rows_seen: list[int] = []

    def recording_forward(net_, params_, X_, **kw):  # type: ignore[no-untyped-def]
        rows_seen.append(X_.shape[0])
        return forward(net_, params_, X_, **kw)

    monkeypatch.setattr(training, "VALIDATION_CHUNK", 100)
    monkeypatch.setattr(training, "forward", recording_forward)
    loss, score = training._validate(net, params, (X, Y))
    assert max(rows_seen) == 100 and sum(rows_seen) == n
    assert loss == pytest.approx(want_loss, rel=1e-12)
    if head in ("binary", "softmax"):
        assert score == want_score  # a count of right rows: exact
    else:
        assert score == pytest.approx(want_score, rel=1e-12, abs=1e-12)


def test_validation_rows_all_below_the_threshold_else_a_fixed_sorted_subsample(
    seed: int,
) -> None:
    limit = monitored_run.VALIDATION_SUBSAMPLE_ABOVE
    assert monitored_run.validation_rows(limit, seed) == slice(None)
    rows = monitored_run.validation_rows(limit + 1, seed)
    assert isinstance(rows, np.ndarray)
    assert rows.size == monitored_run.VALIDATION_SUBSAMPLE
    assert np.all(np.diff(rows) > 0) and rows[0] >= 0 and rows[-1] <= limit
    assert np.array_equal(rows, monitored_run.validation_rows(limit + 1, seed))


def _data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    X = rng.standard_normal((n, 5))
    y = (X @ rng.standard_normal(5) + 0.5 * rng.standard_normal(n) > 0).astype(int)
    return X, y


def test_subsampled_validation_leaves_training_alone_and_says_so(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    X, y = _data(500, rng)
    setup = {"hidden_layer_sizes": (8,), "solver": "sgd", "max_iter": 5, "random_state": 3}
    full = diagnose(X, y, **setup)
    assert "n_validation_scored" not in full.setup
    monkeypatch.setattr(monitored_run, "VALIDATION_SUBSAMPLE_ABOVE", 50)
    monkeypatch.setattr(monitored_run, "VALIDATION_SUBSAMPLE", 40)
    sub = diagnose(X, y, **setup)
    assert sub.setup["n_validation"] == full.setup["n_validation"] == 100
    assert sub.setup["n_validation_scored"] == 40
    # Same weights, same batches: only what is scored on the holdout changes.
    assert sub.history.loss == full.history.loss
    assert sub.history.val_loss != full.history.val_loss
    assert all(math.isfinite(v) for v in sub.history.val_loss)
    again = diagnose(X, y, **setup)
    assert again.history.val_loss == sub.history.val_loss  # the same rows every time


def test_subsampled_validation_loss_is_close_to_the_full_one(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A holdout of 22,000 rows (above the threshold) against the same run scored on all of it."""
    X, y = _data(110_000, rng)
    setup = {"hidden_layer_sizes": (8,), "solver": "sgd", "max_iter": 2, "batch_size": 512}
    sub = diagnose(X, y, **setup, random_state=0, sharpness=False)
    assert sub.setup["n_validation_scored"] == monitored_run.VALIDATION_SUBSAMPLE
    monkeypatch.setattr(monitored_run, "VALIDATION_SUBSAMPLE_ABOVE", 10**9)
    full = diagnose(X, y, **setup, random_state=0, sharpness=False)
    assert "n_validation_scored" not in full.setup
    assert sub.history.loss == full.history.loss
    # Measured error at losses above 0.1: at most 1.9% (monitored_run.validation_rows).
    np.testing.assert_allclose(sub.history.val_loss, full.history.val_loss, rtol=0.05)
    np.testing.assert_allclose(sub.history.val_score, full.history.val_score, atol=0.02)


@pytest.mark.parametrize(("head", "n_out"), [("binary", 1), ("softmax", 4)])
def test_training_set_predictions_for_the_evidence_are_made_in_chunks(
    head: str, n_out: int, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    net = Network((3, 8, n_out), "relu", head)
    params = init_params(net, rng)
    X = rng.standard_normal((1_003, 3))
    logits, _ = forward(net, params, X)
    want = logits.argmax(axis=1) if n_out > 1 else (logits[:, 0] > 0).astype(int)
    assert np.array_equal(monitored_run._predicted_classes(net, params, X), want)
    monkeypatch.setattr(monitored_run, "VALIDATION_CHUNK", 100)
    assert np.array_equal(monitored_run._predicted_classes(net, params, X), want)
