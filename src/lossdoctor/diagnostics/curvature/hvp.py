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
    """The state of one point (activations, backprop deltas) shared by many products.

    Every batch-sized array a product needs is allocated here, once: a product writes its
    directional derivatives into these buffers and allocates only arrays of the parameters' size
    (and of the batch times the number of outputs, in the head).
    """

    def __init__(self, net: Network, params: Params, X: NDArray, Y: NDArray, l2: float) -> None:
        self.net, self.l2 = net, l2
        self.keys = list(params)
        self.params = {k: np.asarray(p, dtype=np.float64) for k, p in params.items()}
        self.size = sum(int(p.size) for p in self.params.values())
        X = np.asarray(X, dtype=np.float64)
        L = n_layers(net)
        logits, trace = forward(net, self.params, X)
        value, d_logits = get_head(net.head).loss(logits, np.asarray(Y, dtype=np.float64))
        self.logits, self.trace = logits, trace
        # f'(Z_k) of hidden layer k at index k, through A_k = f(Z_k); and, once the deltas are
        # known, curv[k] = (d loss / d A_k) * f''(Z_k), the only way f'' enters a product.
        act = get_activation(net.activation)
        self.d1: list[NDArray] = [np.ones(0)]
        for k in range(1, L):
            self.d1.append(act.grad_from_output(trace[k], np.ones_like(trace[k])))
        self.deltas: dict[int, F64] = {L: np.asarray(d_logits, dtype=np.float64)}
        self.curv: dict[int, F64] = {}
        for k in range(L, 1, -1):
            pre = self.deltas[k] @ self.params[f"W{k}"].T
            self.deltas[k - 1] = pre * self.d1[k - 1]
            pre *= act.second_from_output(trace[k - 1])
            self.curv[k - 1] = pre
        # What the products use is finite: the loss, its deltas and the weights.
        self.finite = bool(
            np.isfinite(value)
            and all(np.isfinite(d).all() for d in self.deltas.values())
            and all(np.isfinite(c).all() for c in self.curv.values())
        )
        n = X.shape[0]
        sizes = net.layer_sizes
        # R(Z_k), R(A_k) and a scratch array per layer, shape (n_samples, layer_sizes[k]).
        self.RZ = {k: np.empty((n, sizes[k])) for k in range(1, L + 1)}
        self.RA = {k: np.empty((n, sizes[k])) for k in range(1, L)}
        self.tmp = {k: np.empty((n, sizes[k])) for k in range(1, L + 1)}

    def apply(self, V: Mapping[str, NDArray], out: Mapping[str, NDArray]) -> None:
        """Write ``H V`` into ``out`` (arrays keyed and shaped like the parameters)."""
        P, L, trace = self.params, n_layers(self.net), self.trace
        RZ, RA, tmp = self.RZ, self.RA, self.tmp
        # Forward: directional derivatives R(Z_k), R(A_k) of the pre-activations and outputs.
        for k in range(1, L + 1):
            rz = np.matmul(trace[k - 1], V[f"W{k}"], out=RZ[k])
            rz += V[f"b{k}"]
            if k > 1:  # R(X) = 0
                rz += np.matmul(RA[k - 1], P[f"W{k}"], out=tmp[k])
            if k < L:
                np.multiply(self.d1[k], rz, out=RA[k])
        # Backward: directional derivatives of the deltas, then of the gradients.
        Rdelta = get_head(self.net.head).loss_hvp(self.logits, RZ[L])
        for k in range(L, 0, -1):
            delta = self.deltas[k]
            hw = np.matmul(trace[k - 1].T, Rdelta, out=out[f"W{k}"])
            if k > 1:
                hw += RA[k - 1].T @ delta
            if self.l2:
                hw += self.l2 * V[f"W{k}"]
            np.sum(Rdelta, axis=0, out=out[f"b{k}"])
            if k > 1:
                # R(A_{k-1}) has been used (in hw above): its buffer takes R(delta_{k-1}).
                back = np.matmul(Rdelta, P[f"W{k}"].T, out=RA[k - 1])
                back += np.matmul(delta, V[f"W{k}"].T, out=tmp[k - 1])
                back *= self.d1[k - 1]
                np.multiply(self.curv[k - 1], RZ[k - 1], out=tmp[k - 1])
                back += tmp[k - 1]
                Rdelta = back

    def matvec(self, v: NDArray) -> F64:
        """``H v`` for a flat vector, as a new flat vector."""
        out = np.empty(self.size)
        self.apply(unpack_params(v, self.params), unpack_params(out, self.params))
        return out

    def __call__(self, V: Mapping[str, NDArray]) -> dict[str, F64]:
        out = np.empty(self.size)
        views = unpack_params(out, self.params)
        self.apply(V, views)
        return {key: views[key] for key in self.keys}


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

    n = np.shape(X)[0] if n_total is None else n_total
    return _as_operator(_ExactHessian(net, params, X, Y, alpha / n), preconditioner)


def _as_operator(
    H: _ExactHessian, preconditioner: Mapping[str, NDArray] | None = None
) -> LinearOperator:
    """``H`` (optionally ``P**-1/2 H P**-1/2``) as a symmetric ``LinearOperator``."""
    from scipy.sparse.linalg import LinearOperator

    scale = None if preconditioner is None else 1 / np.sqrt(pack_params(preconditioner))

    def matvec(v: NDArray) -> F64:
        v = np.asarray(v, dtype=np.float64).ravel()
        if scale is None:
            return H.matvec(v)
        return H.matvec(v * scale) * scale

    return LinearOperator((H.size, H.size), matvec=matvec, rmatvec=matvec, dtype=np.float64)


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
