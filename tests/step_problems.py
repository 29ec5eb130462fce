"""A small random training problem for the full-batch step's tests (test_speed_paths and
test_parallel_step): a network, parameters with non-zero biases, data, targets for its head and
positive sample weights."""

from __future__ import annotations

from typing import Any

import numpy as np

from lossdoctor.initializers import default_init
from lossdoctor.network import Network, init_params


def full_batch_problem(
    sizes: tuple[int, ...], activation: str, head: str, *, n: int, seed: int, dtype: Any
) -> tuple[Network, dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """``(net, params, X, Y, sample_weight)`` drawn from ``np.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    net = Network(sizes, activation, head)
    params = init_params(net, rng, init=default_init(activation), dtype=dtype)
    for k in range(1, len(sizes)):
        params[f"b{k}"] = rng.normal(size=params[f"b{k}"].shape).astype(dtype)
    X = rng.normal(size=(n, sizes[0])).astype(dtype)
    if head == "softmax":
        Y = np.eye(sizes[-1], dtype=dtype)[rng.integers(0, sizes[-1], n)]
    elif head == "binary":
        Y = (rng.random((n, 1)) < 0.5).astype(dtype)
    else:
        Y = rng.normal(size=(n, sizes[-1])).astype(dtype)
    return net, params, X, Y, rng.random(n) + 0.5
