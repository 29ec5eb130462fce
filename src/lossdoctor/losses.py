"""Output heads: losses computed from logits, each returning its value and its gradient.

Every loss takes the network's *logits* (pre-activation outputs), never probabilities, so that it
is finite for every finite logit: there is no ``log(0)`` to clip and no ``exp`` that overflows.
Each returns ``(value, d_logits)`` where ``value`` is the mean over samples and ``d_logits`` is the
exact gradient of that mean with respect to the logits. Beside each loss, its Hessian with respect
to the logits applied to a direction (what the curvature code needs; each sample's block is
``diag(p) - p p^T`` for softmax, ``p (1 - p)`` for binary, the identity for squared error, over
``n_samples``).

=========  ======================  ==============================================
head       output                  loss per sample
=========  ======================  ==============================================
binary     sigmoid(z)              ``softplus(z) - y z``  (binary cross-entropy)
softmax    softmax(z)              ``logsumexp(z) - z_y``  (cross-entropy)
identity   z                       ``0.5 * ||z - y||**2``  (squared error)
=========  ======================  ==============================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "HEADS",
    "Head",
    "binary_cross_entropy",
    "binary_cross_entropy_hvp",
    "get_head",
    "log_sigmoid",
    "sigmoid",
    "softmax",
    "softmax_cross_entropy",
    "softmax_cross_entropy_hvp",
    "squared_error",
    "squared_error_hvp",
]

Array = NDArray[np.floating]


def log_sigmoid(z: Array) -> Array:
    """``log(sigmoid(z))`` without overflow or ``log(0)``: ``-logaddexp(0, -z)``."""
    return -np.logaddexp(0, -z)


def sigmoid(z: Array) -> Array:
    """The logistic function ``1 / (1 + exp(-z))``, finite and warning-free for every ``z``."""
    # exp of a non-positive number never overflows.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def _shifted(z: Array) -> Array:
    """``z - max(z)`` per row, floored at ``-sqrt(finfo.max)``.

    The floor only matters for logit gaps beyond ~1e154 (float64) or ~1e19 (float32), where
    ``exp`` is exactly 0 either way; it keeps ``0 * shifted`` and the sum over samples finite.
    """
    with np.errstate(over="ignore"):
        shifted = z - z.max(axis=1, keepdims=True)
    return np.maximum(shifted, -np.sqrt(np.finfo(z.dtype).max), out=shifted)


def _mean(per_sample: Array) -> float:
    # Divide before summing so that n large-but-finite terms cannot overflow the sum.
    return float((per_sample / per_sample.shape[0]).sum())


def softmax(z: Array) -> Array:
    """Row-wise softmax of an ndarray of shape (n_samples, n_classes)."""
    e = np.exp(_shifted(z))
    e /= e.sum(axis=1, keepdims=True)
    return e


def binary_cross_entropy(logits: Array, Y: Array) -> tuple[float, Array]:
    """Mean binary cross-entropy of sigmoid outputs, from logits.

    Parameters
    ----------
    logits : ndarray of shape (n_samples, n_outputs)
    Y : ndarray of shape (n_samples, n_outputs)
        Targets in [0, 1].

    Returns
    -------
    value : float
        ``mean_i sum_j softplus(z_ij) - y_ij z_ij``, which equals
        ``-y log(sigmoid(z)) - (1 - y) log(1 - sigmoid(z))``.
    d_logits : ndarray of shape (n_samples, n_outputs)
        ``(sigmoid(z) - y) / n_samples``.
    """
    n = logits.shape[0]
    value = _mean(np.logaddexp(0, logits) - Y * logits)
    d = sigmoid(logits)
    d -= Y
    d /= n
    return value, d


def softmax_cross_entropy(logits: Array, Y: Array) -> tuple[float, Array]:
    """Mean cross-entropy of softmax outputs, from logits.

    Parameters
    ----------
    logits : ndarray of shape (n_samples, n_classes)
    Y : ndarray of shape (n_samples, n_classes)
        One-hot targets (or any rows that sum to one).

    Returns
    -------
    value : float
        ``mean_i logsumexp(z_i) - sum_j y_ij z_ij``.
    d_logits : ndarray of shape (n_samples, n_classes)
        ``(softmax(z) - y) / n_samples``.
    """
    n = logits.shape[0]
    shifted = _shifted(logits)
    e = np.exp(shifted)
    sums = e.sum(axis=1, keepdims=True)
    value = _mean(np.log(sums[:, 0]) - (Y * shifted).sum(axis=1))
    e /= sums
    e -= Y
    e /= n
    return value, e


def squared_error(logits: Array, Y: Array) -> tuple[float, Array]:
    """Half the mean squared error, summed over outputs.

    Parameters
    ----------
    logits : ndarray of shape (n_samples, n_outputs)
    Y : ndarray of shape (n_samples, n_outputs)

    Returns
    -------
    value : float
        ``mean_i 0.5 * ||z_i - y_i||**2`` (scikit-learn's ``squared_loss`` for one output).
    d_logits : ndarray of shape (n_samples, n_outputs)
        ``(z - y) / n_samples``.
    """
    n = logits.shape[0]
    d = logits - Y
    value = float(0.5 * np.vdot(d, d) / n)
    d /= n
    return value, d


def binary_cross_entropy_hvp(logits: Array, R: Array) -> Array:
    """Hessian of :func:`binary_cross_entropy` with respect to the logits, applied to ``R``.

    Parameters
    ----------
    logits : ndarray of shape (n_samples, n_outputs)
    R : ndarray of shape (n_samples, n_outputs)
        The direction in logit space.

    Returns
    -------
    ndarray of shape (n_samples, n_outputs)
        ``sigmoid(z) (1 - sigmoid(z)) R / n_samples``, element-wise.
    """
    p = sigmoid(logits)
    return p * (1 - p) * R / logits.shape[0]


def softmax_cross_entropy_hvp(logits: Array, R: Array) -> Array:
    """Hessian of :func:`softmax_cross_entropy` with respect to the logits, applied to ``R``.

    Parameters
    ----------
    logits : ndarray of shape (n_samples, n_classes)
    R : ndarray of shape (n_samples, n_classes)
        The direction in logit space.

    Returns
    -------
    ndarray of shape (n_samples, n_classes)
        Row by row ``(diag(p) - p p^T) r / n_samples = (p r - p (p . r)) / n_samples`` with
        ``p = softmax(z)``.
    """
    p = softmax(logits)
    pR = p * R
    return (pR - p * pR.sum(axis=1, keepdims=True)) / logits.shape[0]


def squared_error_hvp(logits: Array, R: Array) -> Array:
    """Hessian of :func:`squared_error` with respect to the logits, applied to ``R``.

    Returns
    -------
    ndarray of shape (n_samples, n_outputs)
        ``R / n_samples``.
    """
    return R / logits.shape[0]


class Head(NamedTuple):
    """An output head: the loss from logits, the map from logits to predictions, and the
    Hessian-vector product of the loss with respect to the logits."""

    name: str
    loss: Callable[[Array, Array], tuple[float, Array]]
    output: Callable[[Array], Array]
    loss_hvp: Callable[[Array, Array], Array]


def _identity(z: Array) -> Array:
    return z


HEADS: dict[str, Head] = {
    "binary": Head("binary", binary_cross_entropy, sigmoid, binary_cross_entropy_hvp),
    "softmax": Head("softmax", softmax_cross_entropy, softmax, softmax_cross_entropy_hvp),
    "identity": Head("identity", squared_error, _identity, squared_error_hvp),
}


def get_head(name: str) -> Head:
    """Return the head called ``name``; raise ``ValueError`` naming the valid ones."""
    try:
        return HEADS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown output head {name!r}; expected one of: {', '.join(HEADS)}"
        ) from None
