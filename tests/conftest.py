"""Shared fixtures: a seeded Generator (never the global RNG) and the built-in data."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

# The tanh form is chosen per machine by timing (lossdoctor.activations.tanh_form); the two forms
# agree to rounding, but a chaotic run (the classic set-up at learning rate 1) amplifies rounding
# into the 4th digit of a saturation fraction. The golden files were frozen with the exp form, so
# the suite pins it for every machine; tests/test_kernels.py compares the forms directly.
os.environ.setdefault("LOSSDOCTOR_TANH", "exp")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--seed", type=int, default=None, help="seed of the rng fixture")


@pytest.fixture(scope="session", autouse=True)
def _one_blas_thread() -> Iterator[None]:
    """One BLAS thread for the whole suite.

    The test matrices are small, and on a shared 2-core machine several BLAS threads spin-wait on
    each other and make them 4-7x slower. No result depends on the number of threads.
    """
    with threadpool_limits(1):
        yield


@pytest.fixture
def seed(request: pytest.FixtureRequest) -> int:
    """A fresh seed each run unless --seed is given; printed on failure so a run can be repeated."""
    value = request.config.getoption("--seed")
    if value is None:
        value = int(np.random.SeedSequence().entropy % (2**31))  # fresh entropy, no global state
    print(f"seed={value}")
    return value


@pytest.fixture
def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.fixture(scope="session")
def cancer() -> tuple[np.ndarray, np.ndarray]:
    """Breast-cancer data (569 x 30), standardised, with 0/1 targets."""
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    return (X - X.mean(axis=0)) / X.std(axis=0), y
