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
poisson    exp(z)                  ``y log(y / exp(z)) - y + exp(z)``  (half deviance)
=========  ======================  ==============================================

Each loss takes an optional ``sample_weight``: the mean becomes ``sum_i w_i l_i / sum_i w_i``
and the gradient's rows are scaled by ``w_i / sum w`` instead of ``1 / n`` (scikit-learn's).

Each loss also takes a keyword ``total``, for rows that are one part of a larger batch: the
divisor of the whole batch (its number of rows, or its total weight with ``sample_weight``) in
place of the part's own, so that the parts' values and gradients are the whole's, summed.
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
    "poisson",
    "poisson_hvp",
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


def _mean(per_sample: Array, scale: Array | None = None, n: float | None = None) -> float:
    # Divide before summing so that n large-but-finite terms cannot overflow the sum.
    if scale is None:
        return float((per_sample / (per_sample.shape[0] if n is None else n)).sum())
    return float((per_sample * (scale[:, 0] if per_sample.ndim == 1 else scale)).sum())


def _row_scale(sample_weight: Array | None, total: float | None = None) -> Array | None:
    """``w / sum(w)`` as a column (the weight of each row in a weighted mean), or None for 1 / n.

    ``total`` replaces ``sum(w)`` when the rows are a part of a larger batch.
    """
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    return (w / (w.sum() if total is None else total))[:, None]


def _scale_rows(d: Array, n: float, scale: Array | None) -> Array:
    if scale is None:
        d /= n
    else:
        d *= scale.astype(d.dtype, copy=False)
    return d


def softmax(z: Array) -> Array:
    """Row-wise softmax of an ndarray of shape (n_samples, n_classes)."""
    e = np.exp(_shifted(z))
    e /= e.sum(axis=1, keepdims=True)
    return e


def binary_cross_entropy(
    logits: Array, Y: Array, sample_weight: Array | None = None, *, total: float | None = None
) -> tuple[float, Array]:
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
    n = logits.shape[0] if total is None else total
    scale = _row_scale(sample_weight, total)
    value = _mean(np.logaddexp(0, logits) - Y * logits, scale, n)
    d = sigmoid(logits)
    d -= Y
    return value, _scale_rows(d, n, scale)


def softmax_cross_entropy(
    logits: Array, Y: Array, sample_weight: Array | None = None, *, total: float | None = None
) -> tuple[float, Array]:
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
    n = logits.shape[0] if total is None else total
    shifted = _shifted(logits)
    e = np.exp(shifted)
    sums = e.sum(axis=1, keepdims=True)
    scale = _row_scale(sample_weight, total)
    value = _mean(np.log(sums[:, 0]) - (Y * shifted).sum(axis=1), scale, n)
    e /= sums
    e -= Y
    return value, _scale_rows(e, n, scale)


def squared_error(
    logits: Array, Y: Array, sample_weight: Array | None = None, *, total: float | None = None
) -> tuple[float, Array]:
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
    n = logits.shape[0] if total is None else total
    d = logits - Y
    scale = _row_scale(sample_weight, total)
    if scale is None:
        value = float(0.5 * np.vdot(d, d) / n)
    else:
        value = 0.5 * _mean((d * d).sum(axis=1), scale, n)
    return value, _scale_rows(d, n, scale)


def poisson(
    logits: Array, Y: Array, sample_weight: Array | None = None, *, total: float | None = None
) -> tuple[float, Array]:
    """Half the Poisson deviance with a log link, from logits (scikit-learn's ``poisson``).

    Parameters
    ----------
    logits : ndarray of shape (n_samples, n_outputs)
        The log of the predicted means.
    Y : ndarray of shape (n_samples, n_outputs)
        Non-negative counts.
    sample_weight : ndarray of shape (n_samples,), optional

    Returns
    -------
    value : float
        ``mean_i sum_j y log(y / exp(z)) - y + exp(z)`` (0 log 0 = 0).
    d_logits : ndarray of shape (n_samples, n_outputs)
        ``(exp(z) - y) / n_samples``.
    """
    n = logits.shape[0] if total is None else total
    scale = _row_scale(sample_weight, total)
    with np.errstate(over="ignore"):
        mu = np.exp(logits)
    ylogy = np.where(Y > 0, Y * np.log(np.where(Y > 0, Y, 1)), 0.0)
    value = _mean((ylogy - Y * logits - Y + mu).sum(axis=1), scale, n)
    mu -= Y
    return value, _scale_rows(mu, n, scale)


def poisson_hvp(logits: Array, R: Array) -> Array:
    """Hessian of :func:`poisson` with respect to the logits, applied to ``R``: ``exp(z) R / n``."""
    return np.exp(logits) * R / logits.shape[0]


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
    loss: Callable[..., tuple[float, Array]]  # (logits, Y, sample_weight=None)
    output: Callable[[Array], Array]
    loss_hvp: Callable[[Array, Array], Array]


def _identity(z: Array) -> Array:
    return z


HEADS: dict[str, Head] = {
    "binary": Head("binary", binary_cross_entropy, sigmoid, binary_cross_entropy_hvp),
    "softmax": Head("softmax", softmax_cross_entropy, softmax, softmax_cross_entropy_hvp),
    "identity": Head("identity", squared_error, _identity, squared_error_hvp),
    "poisson": Head("poisson", poisson, np.exp, poisson_hvp),
}


def get_head(name: str) -> Head:
    """Return the head called ``name``; raise ``ValueError`` naming the valid ones."""
    try:
        return HEADS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown output head {name!r}; expected one of: {', '.join(HEADS)}"
        ) from None
