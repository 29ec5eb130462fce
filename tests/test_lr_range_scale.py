"""The range test in chunks: the same curve as one full batch, to rounding, and the caller's
weights untouched."""

from __future__ import annotations

import numpy as np
import pytest

from lossdoctor.diagnostics import lr_range
from lossdoctor.diagnostics.lr_range import make_setup, range_test


@pytest.mark.parametrize("optimizer, momentum", [("gd", 0.0), ("gd", 0.9), ("adam", 0.9)])
def test_chunked_steps_match_one_batch(monkeypatch, optimizer, momentum):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((700, 5))
    y = (X[:, 0] + 0.3 * rng.standard_normal(700) > 0).astype(int)
    s = make_setup(X, y, hidden_layer_sizes=(8,), random_state=0, alpha=0.01)
    before = {k: p.copy() for k, p in s.params.items()}
    kwargs = dict(alpha=0.01, optimizer=optimizer, momentum=momentum, n_steps=40, rng=1)
    whole = range_test(s.net, s.params, s.X, s.Y, **kwargs)
    monkeypatch.setattr(lr_range, "CHUNK_ROWS", 128)  # 700 rows: five chunks and a remainder
    chunked = range_test(s.net, s.params, s.X, s.Y, **kwargs)
    np.testing.assert_allclose(chunked.losses, whole.losses, rtol=1e-12)
    assert chunked.suggestion == whole.suggestion
    for k, p in s.params.items():
        np.testing.assert_array_equal(p, before[k])
