"""Weight initialisers: each is ``f(rng, shape, scale) -> ndarray``.

``shape`` is ``(fan_in, fan_out)``. The principled ones follow Glorot & Bengio (2010), He et al.
(2015) and LeCun et al. (1998); ``scale`` multiplies them (1 gives the textbook variance). The
naive ones are what people write by hand, kept so that the doctor can reproduce their runs:
``normal`` is ``scale * standard_normal`` (``np.random.randn``) and ``uniform`` is uniform on
``[0, scale)`` (``np.random.rand``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

__all__ = ["DEFAULT_INIT", "INITIALIZERS", "default_init", "get_initializer"]

Init = Callable[[np.random.Generator, tuple[int, int], float], NDArray[np.float64]]


def glorot_uniform(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> NDArray:
    limit = scale * np.sqrt(6.0 / (shape[0] + shape[1]))
    return rng.uniform(-limit, limit, size=shape)


def glorot_normal(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> NDArray:
    return rng.standard_normal(shape) * (scale * np.sqrt(2.0 / (shape[0] + shape[1])))


def he_uniform(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> NDArray:
    limit = scale * np.sqrt(6.0 / shape[0])
    return rng.uniform(-limit, limit, size=shape)


def he_normal(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> NDArray:
    return rng.standard_normal(shape) * (scale * np.sqrt(2.0 / shape[0]))


def lecun_normal(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> NDArray:
    return rng.standard_normal(shape) * (scale * np.sqrt(1.0 / shape[0]))


def sklearn_uniform(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> NDArray:
    """scikit-learn's weights: Glorot uniform, ``+-sqrt(6 / (fan_in + fan_out))``.

    :func:`lossdoctor.network.init_params` draws the biases from the same range right after each
    layer's weights, and uses factor 2 instead of 6 for the logistic activation, as
    ``sklearn.neural_network`` does.
    """
    limit = scale * np.sqrt(6.0 / (shape[0] + shape[1]))
    return rng.uniform(-limit, limit, size=shape)


def normal(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> NDArray:
    return rng.standard_normal(shape) * scale


def uniform(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> NDArray:
    return rng.uniform(0.0, scale, size=shape)


INITIALIZERS: dict[str, Init] = {
    f.__name__: f
    for f in (
        sklearn_uniform,
        glorot_uniform,
        glorot_normal,
        he_uniform,
        he_normal,
        lecun_normal,
        normal,
        uniform,
    )
}


#: The initialiser of ``init=None``: scikit-learn's draw, whatever the activation.
DEFAULT_INIT = "sklearn_uniform"


def default_init(activation: str) -> str:
    """The initialiser that fits ``activation``: He for the ReLU family, Glorot otherwise.

    This is the reference scale the doctor measures weights against; the estimators' default
    draw is :data:`DEFAULT_INIT` (scikit-learn's).
    """
    return "he_uniform" if activation in ("relu", "leaky_relu") else "glorot_uniform"


def get_initializer(name: str) -> Init:
    """Return the initialiser called ``name``; raise ``ValueError`` naming the valid ones."""
    try:
        return INITIALIZERS[name]
    except (KeyError, TypeError):
        valid = ", ".join(INITIALIZERS)
        raise ValueError(f"unknown init {name!r}; expected one of: {valid}") from None
