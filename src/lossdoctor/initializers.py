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

__all__ = [
    "DEFAULT_INIT",
    "INITIALIZERS",
    "default_init",
    "expected_std",
    "get_initializer",
    "reference_init",
]

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

    The reference scale the doctor measures naive initialisers against (:func:`reference_init`);
    the estimators' default draw is :data:`DEFAULT_INIT` (scikit-learn's).
    """
    return "he_uniform" if activation in ("relu", "leaky_relu") else "glorot_uniform"


#: Initialisers with no scale of their own for a layer (what people write by hand).
NAIVE = frozenset({"normal", "uniform"})


def reference_init(init: str | None, activation: str) -> str:
    """The initialiser whose scale layer weights drawn by ``init`` are judged against.

    A principled initialiser (``init=None`` is :data:`DEFAULT_INIT`) is its own reference: the
    weights it draws at ``init_scale=1`` are what the user asked for. A naive one (``normal``,
    ``uniform``) knows nothing of the layer, so its reference is the one that fits the
    activation, :func:`default_init`.
    """
    name = DEFAULT_INIT if init is None else init
    return default_init(activation) if name in NAIVE else name


def expected_std(init: str | None, activation: str, fan_in: int, fan_out: int) -> float:
    """Standard deviation of a layer's weights under ``init``'s reference, at ``init_scale=1``.

    Parameters
    ----------
    init : str or None
        The initialiser actually used (None: :data:`DEFAULT_INIT`).
    activation : str
        The hidden activation (scikit-learn's draw uses a smaller range for the logistic one).
    fan_in, fan_out : int
        The layer's weight matrix has shape (fan_in, fan_out).

    Returns
    -------
    float
        Uniform on +-``a`` has standard deviation ``a / sqrt(3)``, so ``sklearn_uniform`` gives
        ``sqrt(factor / 3 / (fan_in + fan_out))`` (factor 2 for logistic, 6 otherwise),
        ``glorot_*`` ``sqrt(2 / (fan_in + fan_out))``, ``he_*`` ``sqrt(2 / fan_in)`` and
        ``lecun_normal`` ``sqrt(1 / fan_in)``; for ``normal`` and ``uniform``, that of
        :func:`reference_init`.

    Examples
    --------
    >>> round(expected_std(None, "relu", 2, 32), 4)  # scikit-learn's draw: Glorot's spread
    0.2425
    >>> round(expected_std("normal", "relu", 2, 32), 4)  # judged against He
    1.0
    """
    name = reference_init(init, activation)
    get_initializer(name)  # an unknown name is an error, not a silent reference
    if name == "sklearn_uniform":
        factor = 2.0 if activation in ("logistic", "sigmoid") else 6.0
        return float(np.sqrt(factor / 3.0 / (fan_in + fan_out)))
    if name.startswith("glorot"):
        return float(np.sqrt(2.0 / (fan_in + fan_out)))
    if name.startswith("he"):
        return float(np.sqrt(2.0 / fan_in))
    return float(np.sqrt(1.0 / fan_in))  # lecun_normal


def get_initializer(name: str) -> Init:
    """Return the initialiser called ``name``; raise ``ValueError`` naming the valid ones."""
    try:
        return INITIALIZERS[name]
    except (KeyError, TypeError):
        valid = ", ".join(INITIALIZERS)
        raise ValueError(f"unknown init {name!r}; expected one of: {valid}") from None
