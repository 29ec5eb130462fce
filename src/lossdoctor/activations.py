"""Hidden-layer activations, each with its first and second derivatives beside it.

Every derivative is written in terms of the activation's *output* ``a`` rather than its input
``z``: the forward pass already stores ``a``, so backprop needs no second pass over ``z``
(tanh: ``1 - a**2``; sigmoid: ``a * (1 - a)``; ReLU: ``a > 0``). That is possible because each
activation here is monotone, so ``a`` determines ``z`` wherever the derivative differs. The
second derivatives (tanh: ``-2 a (1 - a**2)``; sigmoid: ``(1 - 2 a) a (1 - a)``; zero for the
piecewise-linear ones) serve the exact Hessian-vector products of
:mod:`lossdoctor.diagnostics.curvature`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

__all__ = ["ACTIVATIONS", "LEAKY_SLOPE", "Activation", "get_activation", "tanh_form"]

Array = NDArray[np.floating]

#: Slope of leaky ReLU for negative inputs (PyTorch's default).
LEAKY_SLOPE = 0.01


class Activation(NamedTuple):
    """An element-wise activation and its first and second derivatives.

    Attributes
    ----------
    name : str
    forward : callable (z, out) -> a
        Writes ``f(z)`` into ``out`` (which may be ``z`` itself) and returns it.
    grad_from_output : callable (a, delta, work=None) -> delta
        Multiplies ``delta`` in place by ``f'(z)`` expressed through ``a = f(z)``. ``work``, an
        optional array shaped like ``a``, holds ``f'(z)`` on the way so that nothing is allocated.
    second_from_output : callable (a) -> ndarray
        ``f''(z)`` expressed through ``a = f(z)``, as a new array shaped like ``a`` (zero for the
        piecewise-linear activations, whose kink is taken as having no curvature).
    """

    name: str
    forward: Callable[[Array, Array], Array]
    grad_from_output: Callable[..., Array]
    second_from_output: Callable[[Array], Array]


def _tanh_exp(z: Array, out: Array) -> Array:
    # NumPy's tanh runs one element at a time on CPUs without AVX-512 (17 ns each in float64),
    # and its exp is two to three times faster, so the hidden layers of a network spent half
    # their time here. tanh(z) = 1 - 2 / (exp(2 z) + 1) costs one exp and four vectorised passes:
    # half the time in float64 and 0.7 in float32, within 3.4e-16 (float64) or 1.8e-7 (float32)
    # of the exact value everywhere (absolute error; np.tanh's float32 is within 6e-8). exp
    # overflows to inf for large z, which gives exactly 1, and underflows to 0 for very negative
    # z, which gives exactly -1.
    with np.errstate(over="ignore", under="ignore"):
        np.multiply(z, 2, out=out)
        np.exp(out, out=out)
    out += 1
    np.divide(2, out, out=out)
    return np.subtract(1, out, out=out)


def _tanh_numpy(z: Array, out: Array) -> Array:
    # Where NumPy's tanh is vectorised (AVX-512 builds), it is 1.3 to 1.65 times faster than the
    # exp form above, and exact to within an ulp.
    return np.tanh(z, out=out)


_TANH_FORMS: dict[str, Callable[[Array, Array], Array]] = {"numpy": _tanh_numpy, "exp": _tanh_exp}
_tanh_chosen: list[str] = []  # the form chosen on first use, measured once per process


def _measure_tanh_form() -> str:
    """The faster tanh on this machine: the best of 7 interleaved timings of each on 8192 values.

    ``LOSSDOCTOR_TANH=numpy`` or ``exp`` in the environment skips the measurement. The two forms
    agree to rounding (3.4e-16 in float64), so the choice changes speed, not results beyond that.
    """
    forced = os.environ.get("LOSSDOCTOR_TANH", "").strip().lower()
    if forced in _TANH_FORMS:
        return forced
    z = np.linspace(-4.0, 4.0, 8192)
    out = np.empty_like(z)
    best = dict.fromkeys(_TANH_FORMS, float("inf"))
    for _ in range(7):
        for name, fn in _TANH_FORMS.items():
            start = time.perf_counter()
            for _ in range(4):
                fn(z, out)
            best[name] = min(best[name], time.perf_counter() - start)
    return min(best, key=lambda name: best[name])


def tanh_form() -> str:
    """Which tanh this process uses: ``"numpy"`` (``np.tanh``) or ``"exp"`` (``1 - 2/(e^2z+1)``).

    Chosen by measurement on first use (see :func:`_measure_tanh_form`).
    """
    if not _tanh_chosen:
        _tanh_chosen.append(_measure_tanh_form())
    return _tanh_chosen[0]


def _tanh(z: Array, out: Array) -> Array:
    return _TANH_FORMS[tanh_form()](z, out)


def _tanh_grad(a: Array, delta: Array, work: Array | None = None) -> Array:
    d = np.square(a, out=work)  # a * a, bit for bit, in a faster loop
    np.subtract(1, d, out=d)  # 1 - a**2
    delta *= d
    return delta


def _tanh_second(a: Array) -> Array:
    return -2 * a * (1 - a * a)  # f'' = -2 f f'


def _sigmoid(z: Array, out: Array) -> Array:
    # 0.5 * (1 + tanh(z / 2)) is the logistic function without exp overflow for any z.
    np.multiply(z, 0.5, out=out)
    _tanh(out, out)
    out += 1
    out *= 0.5
    return out


def _sigmoid_grad(a: Array, delta: Array, work: Array | None = None) -> Array:
    d = np.subtract(1, a, out=work)
    d *= a  # a * (1 - a)
    delta *= d
    return delta


def _sigmoid_second(a: Array) -> Array:
    return (1 - 2 * a) * (a * (1 - a))  # f'' = (1 - 2 f) f'


def _zero_second(a: Array) -> Array:
    # Piecewise linear: no curvature anywhere but at the kink, where none is defined.
    return np.zeros_like(a)


def _relu(z: Array, out: Array) -> Array:
    return np.maximum(z, 0, out=out)


def _relu_grad(a: Array, delta: Array, work: Array | None = None) -> Array:
    # The derivative at exactly 0 is taken as 0 (the subgradient PyTorch and sklearn use).
    delta[a <= 0] = 0
    return delta


def _leaky_relu(z: Array, out: Array) -> Array:
    # max(z, s*z) is z for z > 0 and s*z otherwise, because 0 < s < 1.
    return np.maximum(z, z * LEAKY_SLOPE, out=out)


def _leaky_relu_grad(a: Array, delta: Array, work: Array | None = None) -> Array:
    delta[a <= 0] *= LEAKY_SLOPE
    return delta


def _identity(z: Array, out: Array) -> Array:
    if out is not z:
        out[...] = z
    return out


def _identity_grad(a: Array, delta: Array, work: Array | None = None) -> Array:
    return delta


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("tanh", _tanh, _tanh_grad, _tanh_second),
        Activation("relu", _relu, _relu_grad, _zero_second),
        Activation("leaky_relu", _leaky_relu, _leaky_relu_grad, _zero_second),
        Activation("sigmoid", _sigmoid, _sigmoid_grad, _sigmoid_second),
        Activation("identity", _identity, _identity_grad, _zero_second),
    )
}
# scikit-learn calls the sigmoid "logistic"; accept its name too.
ACTIVATIONS["logistic"] = ACTIVATIONS["sigmoid"]


def get_activation(name: str) -> Activation:
    """Return the activation called ``name``; raise ``ValueError`` naming the valid ones."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        valid = ", ".join(sorted(ACTIVATIONS))
        raise ValueError(f"unknown activation {name!r}; expected one of: {valid}") from None
