"""Hessian-vector products of the training objective, exact and by central differences.

* :func:`hvp` and :func:`hessian_operator`: forward-over-reverse (Pearlmutter's R-operator)
  through :func:`lossdoctor.network.forward` and the network's backprop rules. One product costs
  about two gradient evaluations and is exact to rounding. The second derivatives it needs come
  from where the first ones live: each activation's ``second_from_output`` and each head's
  ``loss_hvp``.
* :func:`hvp_central`: ``(g(theta + h v) - g(theta - h v)) / (2 h)``, for anyone's hand-written
  network, given only a callable that returns its gradients.

Flat vectors and parameter dicts convert with :func:`pack_params` and :func:`unpack_params`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ...activations import get_activation
from ...losses import get_head
from ...network import Network, Params, forward, n_layers

if TYPE_CHECKING:
    from scipy.sparse.linalg import LinearOperator

__all__ = ["hessian_operator", "hvp", "hvp_central", "pack_params", "unpack_params"]

F64 = NDArray[np.float64]


def pack_params(params: Mapping[str, NDArray]) -> F64:
    """Concatenate the raveled arrays of a parameter dict, in the dict's order, as float64.

    Returns
    -------
    ndarray of shape (n_parameters,)
    """
    return np.concatenate([np.asarray(p, dtype=np.float64).ravel() for p in params.values()])


def unpack_params(vector: NDArray, like: Mapping[str, NDArray]) -> dict[str, NDArray]:
    """Split a flat vector into arrays with the keys and shapes of ``like`` (views, no copy).

    Parameters
    ----------
    vector : ndarray of shape (n_parameters,)
    like : dict of str to ndarray
        Gives the keys, their order and the shapes.
    """
    out: dict[str, NDArray] = {}
    start = 0
    for key, p in like.items():
        size = int(np.size(p))
        out[key] = vector[start : start + size].reshape(np.shape(p))
        start += size
    if start != vector.size:
        raise ValueError(f"vector has {vector.size} entries but the parameters have {start}")
    return out


class _ExactHessian:
    """The state of one point (activations, backprop deltas) shared by many products."""

    def __init__(self, net: Network, params: Params, X: NDArray, Y: NDArray, l2: float) -> None:
        self.net, self.l2 = net, l2
        self.keys = list(params)
        self.params = {k: np.asarray(p, dtype=np.float64) for k, p in params.items()}
        X = np.asarray(X, dtype=np.float64)
        L = n_layers(net)
        logits, trace = forward(net, self.params, X)
        _, d_logits = get_head(net.head).loss(logits, np.asarray(Y, dtype=np.float64))
        self.logits, self.trace = logits, trace
        # f'(Z_k) and f''(Z_k) of hidden layer k at index k, both through A_k = f(Z_k).
        act = get_activation(net.activation)
        self.d1: list[NDArray] = [np.ones(0)]
        self.d2: list[NDArray] = [np.ones(0)]
        for k in range(1, L):
            self.d1.append(act.grad_from_output(trace[k], np.ones_like(trace[k])))
            self.d2.append(act.second_from_output(trace[k]))
        # deltas[k] = d loss / d Z_k;  pre[k] = deltas[k+1] @ W_{k+1}.T = d loss / d A_k.
        self.deltas: dict[int, F64] = {L: np.asarray(d_logits, dtype=np.float64)}
        self.pre: dict[int, F64] = {}
        for k in range(L, 1, -1):
            self.pre[k - 1] = self.deltas[k] @ self.params[f"W{k}"].T
            self.deltas[k - 1] = self.pre[k - 1] * self.d1[k - 1]

    def __call__(self, V: Mapping[str, NDArray]) -> dict[str, F64]:
        P, L, trace = self.params, n_layers(self.net), self.trace
        # Forward: directional derivatives R(Z_k), R(A_k) of the pre-activations and outputs.
        RA: F64 | None = None  # R(X) = 0
        RZ: dict[int, F64] = {}
        RAs: dict[int, F64 | None] = {0: None}
        for k in range(1, L + 1):
            rz = trace[k - 1] @ V[f"W{k}"] + V[f"b{k}"]
            if RA is not None:
                rz += RA @ P[f"W{k}"]
            RZ[k] = rz
            if k < L:
                RA = self.d1[k] * rz
                RAs[k] = RA
        # Backward: directional derivatives of the deltas, then of the gradients.
        Rdelta = get_head(self.net.head).loss_hvp(self.logits, RZ[L])
        out: dict[str, F64] = {}
        for k in range(L, 0, -1):
            delta, ra_prev = self.deltas[k], RAs[k - 1]
            hw = trace[k - 1].T @ Rdelta
            if ra_prev is not None:
                hw += ra_prev.T @ delta
            if self.l2:
                hw += self.l2 * V[f"W{k}"]
            out[f"W{k}"] = hw
            out[f"b{k}"] = Rdelta.sum(axis=0)
            if k > 1:
                back = Rdelta @ P[f"W{k}"].T + delta @ V[f"W{k}"].T
                Rdelta = back * self.d1[k - 1] + self.pre[k - 1] * self.d2[k - 1] * RZ[k - 1]
        return {key: out[key] for key in self.keys}


def hvp(
    net: Network,
    params: Params,
    X: NDArray,
    Y: NDArray,
    V: Mapping[str, NDArray],
    alpha: float = 0.0,
) -> dict[str, F64]:
    """Exact Hessian-vector product of the training objective (forward-over-reverse).

    Parameters
    ----------
    net : Network
    params : dict of str to ndarray
        The point at which the Hessian is taken.
    X : ndarray of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_outputs)
        Encoded targets, as for :func:`lossdoctor.training.loss_and_grad`.
    V : dict of str to ndarray
        The direction; same keys and shapes as ``params``.
    alpha : float
        L2 penalty; its Hessian ``alpha / n`` is added on the weights.

    Returns
    -------
    dict of str to ndarray
        ``H V`` in float64, with the keys and shapes of ``params``.
    """
    n = np.shape(X)[0]
    V64 = {k: np.asarray(v, dtype=np.float64) for k, v in V.items()}
    return _ExactHessian(net, params, X, Y, alpha / n)(V64)


def hvp_central(
    grads: Callable[[], Mapping[str, Any]],
    params: Mapping[str, NDArray],
    V: Mapping[str, NDArray],
    *,
    step: float | None = None,
) -> dict[str, F64]:
    """Hessian-vector product by central differences of a gradient callable.

    ``(g(theta + h v) - g(theta - h v)) / (2 h)``, with ``theta`` the live arrays in ``params``:
    they are perturbed in place, ``grads()`` is called, and they are restored bit-exactly
    afterwards, also when ``grads`` raises.

    Parameters
    ----------
    grads : callable () -> dict of str to array
        Returns the gradient of the user's objective at the current values of the arrays in
        ``params`` (e.g. runs the user's forward and backward pass).
    params : dict of str to ndarray
        The live, writable parameter arrays that ``grads`` reads.
    V : dict of str to ndarray
        The direction, same keys and shapes as ``params``.
    step : float, optional
        The step ``h`` along ``V``; by default ``eps ** (1/3) * max(1, max |theta|) / max |V|``,
        which balances the truncation error (``h**2``) against rounding (``eps / h``).

    Returns
    -------
    dict of str to ndarray
        ``H V`` in float64 with the keys and shapes of ``params``.
    """
    if step is None:
        eps = max(float(np.finfo(np.asarray(p).dtype).eps) for p in params.values())
        scale = max(1.0, max(float(np.max(np.abs(p), initial=0.0)) for p in params.values()))
        vmax = max(float(np.max(np.abs(v), initial=0.0)) for v in V.values())
        step = eps ** (1 / 3) * scale / (vmax if vmax > 0 else 1.0)
    saved = {k: np.array(p, copy=True) for k, p in params.items()}
    try:
        for k, p in params.items():
            p += (step * np.asarray(V[k], dtype=np.float64)).astype(p.dtype)
        plus = _copy_grads(grads(), params)
        for k, p in params.items():
            np.copyto(p, saved[k])
            p -= (step * np.asarray(V[k], dtype=np.float64)).astype(p.dtype)
        minus = _copy_grads(grads(), params)
    finally:
        for k, p in params.items():
            np.copyto(p, saved[k])
    # The actual displacement, which rounding may make differ from h V, is what the difference
    # quotient divides; with the default step the difference is below rounding anyway.
    return {k: (plus[k] - minus[k]) / (2 * step) for k in params}


def _copy_grads(g: Mapping[str, Any], params: Mapping[str, NDArray]) -> dict[str, F64]:
    # Copy at once: a user's code may overwrite the same gradient arrays on its next call.
    out = {}
    for k, p in params.items():
        if k not in g:
            raise KeyError(f"grads() returned no gradient for parameter {k!r}")
        arr = np.array(g[k], dtype=np.float64)
        if arr.shape != np.shape(p):
            arr = np.broadcast_to(arr, np.shape(p)).copy() if arr.size == 1 else arr
        if arr.shape != np.shape(p):
            raise ValueError(
                f"gradient of {k!r} has shape {arr.shape} but the parameter has {np.shape(p)}"
            )
        out[k] = arr
    return out


def hessian_operator(
    net: Network,
    params: Params,
    X: NDArray,
    Y: NDArray,
    alpha: float = 0.0,
    *,
    n_total: int | None = None,
    preconditioner: Mapping[str, NDArray] | None = None,
) -> LinearOperator:
    """The Hessian of the training objective as a symmetric ``LinearOperator`` on flat vectors.

    Parameters
    ----------
    net, params, X, Y, alpha
        As for :func:`hvp`.
    n_total : int, optional
        Number of training samples the L2 term divides by (``alpha / n_total``); defaults to
        ``len(X)``. Pass the full size when ``X`` is a subsample.
    preconditioner : dict of str to ndarray, optional
        Positive diagonal ``P`` (keys and shapes of ``params``): the operator is then
        ``P**-1/2 H P**-1/2``, which has the eigenvalues of ``P**-1 H`` (Adam's preconditioned
        Hessian).

    Returns
    -------
    LinearOperator of shape (n_parameters, n_parameters)
    """
    from scipy.sparse.linalg import LinearOperator

    n = np.shape(X)[0] if n_total is None else n_total
    H = _ExactHessian(net, params, X, Y, alpha / n)
    size = sum(int(np.size(p)) for p in params.values())
    scale = None if preconditioner is None else 1 / np.sqrt(pack_params(preconditioner))

    def matvec(v: NDArray) -> F64:
        v = np.asarray(v, dtype=np.float64).ravel()
        if scale is not None:
            v = v * scale
        out = pack_params(H(unpack_params(v, params)))
        return out if scale is None else out * scale

    return LinearOperator((size, size), matvec=matvec, rmatvec=matvec, dtype=np.float64)


def _central_operator(
    grads: Callable[[], Mapping[str, Any]],
    params: Mapping[str, NDArray],
    step: float | None,
) -> LinearOperator:
    """The Hessian of ``grads`` by central differences, as a ``LinearOperator`` (see
    :func:`hvp_central`)."""
    from scipy.sparse.linalg import LinearOperator

    size = sum(int(np.size(p)) for p in params.values())

    def matvec(v: NDArray) -> F64:
        V = unpack_params(np.asarray(v, dtype=np.float64).ravel(), params)
        return pack_params(hvp_central(grads, params, V, step=step))

    return LinearOperator((size, size), matvec=matvec, rmatvec=matvec, dtype=np.float64)
