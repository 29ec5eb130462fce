"""Curvature of the training objective: Hessian-vector products, sharpness and stability.

The *sharpness* of a network is the largest eigenvalue ``L`` of the Hessian of its training
objective (mean loss plus ``alpha / (2 n) * sum ||Wk||**2``). On a quadratic, gradient descent
with step ``lr`` converges if and only if ``lr < 2 / L``; the same bound, measured at the current
weights, is what decides whether a learning rate is too large for a network.

Hessian-vector products are computed two ways:

* ``exact``: forward-over-reverse (Pearlmutter's R-operator) through
  :func:`lossdoctor.network.forward` and :func:`~lossdoctor.network.backward`. One product costs
  about two gradient evaluations and is exact to rounding.
* central differences of a gradient, ``(g(theta + h v) - g(theta - h v)) / (2 h)``: for
  anyone's hand-written network, given only a callable that returns its gradients.

The top eigenvalues come from a Lanczos solver (ARPACK's ``eigsh``) on a
:class:`scipy.sparse.linalg.LinearOperator`, which needs only these products.

Example
-------
>>> import numpy as np
>>> from lossdoctor.network import Network, init_params
>>> from lossdoctor.diagnostics.curvature import sharpness_of, lr_verdict
>>> rng = np.random.default_rng(0)
>>> X, Y = rng.normal(size=(50, 3)), rng.normal(size=(50, 1))
>>> net = Network((3, 1), head="identity")  # linear regression: H = [X 1]^T [X 1] / n
>>> L = sharpness_of(net, init_params(net, rng), X, Y)[0]
>>> Xa = np.hstack([X, np.ones((50, 1))])
>>> bool(np.isclose(L, np.linalg.eigvalsh(Xa.T @ Xa / 50)[-1], rtol=1e-10))
True
>>> lr_verdict(1.9 / L, L).label, lr_verdict(2.1 / L, L).label
('edge', 'unstable')
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.sparse.linalg import ArpackError, ArpackNoConvergence, LinearOperator, eigsh

from ..activations import get_activation
from ..losses import get_head
from ..network import Network, Params, forward, n_layers
from ..optimizers import Optimizer, global_norm
from ..training import Callback, History, loss_and_grad

__all__ = [
    "EDGE_BAND",
    "LRSuggestion",
    "SharpnessCallback",
    "StabilityVerdict",
    "hessian_operator",
    "hvp",
    "hvp_central",
    "lr_verdict",
    "pack_params",
    "sharpness",
    "sharpness_of",
    "sharpness_or_nan",
    "stability_threshold",
    "stability_verdict",
    "suggest_lr",
    "unpack_params",
]

F64 = NDArray[np.float64]
Which = Literal["LA", "both"]

#: A learning rate whose ratio to the stability limit lies in ``[1 - EDGE_BAND, 1]`` is "at the
#: edge": it still converges on the quadratic model, but the sharpest direction barely contracts
#: (by ``|1 - lr L| >= 1 - 2 * EDGE_BAND`` per step for gradient descent) and oscillates.
EDGE_BAND = 0.15


# -- flattening ------------------------------------------------------------------------------------
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


# -- exact Hessian-vector products (R-operator) ----------------------------------------------------
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
    size = sum(int(np.size(p)) for p in params.values())

    def matvec(v: NDArray) -> F64:
        V = unpack_params(np.asarray(v, dtype=np.float64).ravel(), params)
        return pack_params(hvp_central(grads, params, V, step=step))

    return LinearOperator((size, size), matvec=matvec, rmatvec=matvec, dtype=np.float64)


# -- eigenvalues ----------------------------------------------------------------------------------
def _extreme_eigs(
    op: LinearOperator,
    k: int,
    which: str,
    rng: np.random.Generator,
    tol: float,
    v0: NDArray | None = None,
) -> tuple[F64, F64]:
    """The ``k`` largest (``LA``) or smallest (``SA``) eigenpairs, largest first."""
    n = op.shape[0]
    if k >= n:
        # ARPACK needs k < n; a tiny problem is solved densely from n products.
        dense = np.column_stack([op.matvec(e) for e in np.eye(n)])
        vals, vecs = np.linalg.eigh(0.5 * (dense + dense.T))
        order = np.argsort(vals)[::-1] if which == "LA" else np.argsort(vals)
        order = order[:k]
    else:
        start = v0 if v0 is not None and v0.shape == (n,) else rng.standard_normal(n)
        try:
            vals, vecs = eigsh(op, k=k, which=which, tol=tol, v0=start)
        except ArpackNoConvergence as err:  # pragma: no cover - depends on the spectrum
            if len(err.eigenvalues) == 0:
                raise
            vals, vecs = err.eigenvalues, err.eigenvectors
        order = np.argsort(vals)[::-1] if which == "LA" else np.argsort(vals)
    return np.asarray(vals[order], dtype=np.float64), np.asarray(vecs[:, order])


def _subsample(
    X: NDArray, Y: NDArray, subsample: int | None, rng: np.random.Generator
) -> tuple[NDArray, NDArray]:
    n = X.shape[0]
    if subsample is None or subsample >= n:
        return X, Y
    # A fixed subset (sorted, so the order of the data is kept) for the whole Lanczos run.
    idx = np.sort(rng.choice(n, size=subsample, replace=False))
    return X[idx], Y[idx]


def _as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    # Default seed 0: the same weights give the same sharpness on every call.
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng or 0)


def _check_k(k: int, which: str) -> None:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if which not in ("LA", "both"):
        raise ValueError(f"which must be 'LA' or 'both', got {which!r}")


def _solve(op: LinearOperator, k: int, which: str, rng: np.random.Generator, tol: float) -> F64:
    k = min(k, op.shape[0])
    top, _ = _extreme_eigs(op, k, "LA", rng, tol)
    if which == "LA":
        return top
    low, _ = _extreme_eigs(op, 1, "SA", rng, tol)
    return np.concatenate([top, low])


def sharpness_of(
    net: Network,
    params: Params,
    X: NDArray,
    Y: NDArray,
    *,
    alpha: float = 0.0,
    k: int = 1,
    which: Which = "LA",
    subsample: int | None = None,
    rng: np.random.Generator | int | None = None,
    preconditioner: Mapping[str, NDArray] | None = None,
    tol: float = 1e-8,
) -> F64:
    """Top eigenvalues of the Hessian of the training objective of a lossdoctor network.

    Parameters
    ----------
    net : Network
    params : dict of str to ndarray
    X : ndarray of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_outputs)
        Encoded targets.
    alpha : float
        L2 penalty of the objective ``mean loss + alpha / (2 n) * sum ||Wk||**2``.
    k : int
        How many of the largest eigenvalues.
    which : {"LA", "both"}
        ``"LA"``: the ``k`` largest. ``"both"``: the ``k`` largest followed by the smallest (most
        negative) eigenvalue, ``k + 1`` values in all.
    subsample : int, optional
        Use a fixed random subset of this many samples for the loss part (the L2 part keeps
        ``n``); None uses every sample.
    rng : numpy.random.Generator or int, optional
        Draws the subsample and Lanczos' start vector; default seed 0 (repeatable).
    preconditioner : dict of str to ndarray, optional
        Positive diagonal ``P``: return eigenvalues of ``P**-1 H`` instead (Adam).
    tol : float
        Relative accuracy asked of ARPACK.

    Returns
    -------
    ndarray of shape (k,) or (k + 1,)
        Eigenvalues, largest first (then the smallest, for ``which="both"``).
    """
    _check_k(k, which)
    gen = _as_rng(rng)
    Xs, Ys = _subsample(np.asarray(X), np.asarray(Y), subsample, gen)
    op = hessian_operator(
        net, params, Xs, Ys, alpha, n_total=np.shape(X)[0], preconditioner=preconditioner
    )
    return _solve(op, k, which, gen, tol)


#: Weights larger than this have blown up: their curvature says nothing about training any more
#: and their Hessian-vector products overflow on the way.
_SANE_WEIGHT = 1e8


def sharpness_or_nan(
    net: Network,
    params: Params,
    X: NDArray,
    Y: NDArray,
    *,
    alpha: float = 0.0,
    subsample: int | None = None,
    rng: np.random.Generator | int | None = None,
    tol: float = 1e-8,
) -> float:
    """The top Hessian eigenvalue (:func:`sharpness_of`), or NaN where it cannot be measured.

    NaN for non-finite data, weights that are not finite or exceed 1e8 in size, a non-finite
    loss or gradient, and an eigensolver that fails (as ARPACK does on non-finite or all-zero
    products). The diagnostics measure runs that diverge, so these are results, not errors.
    """
    if not (np.isfinite(X).all() and np.isfinite(Y).all()):
        return math.nan
    if not all(
        np.isfinite(p).all() and np.abs(p).max(initial=0) < _SANE_WEIGHT for p in params.values()
    ):
        return math.nan
    with np.errstate(all="ignore"):
        value, grads = loss_and_grad(net, params, X, Y, alpha)
        if not (math.isfinite(value) and math.isfinite(global_norm(grads))):
            return math.nan
        try:
            top = sharpness_of(
                net, params, X, Y, alpha=alpha, subsample=subsample, rng=rng, tol=tol
            )
        except (ArpackError, ArpackNoConvergence, np.linalg.LinAlgError):
            return math.nan
    return float(top[0]) if math.isfinite(top[0]) else math.nan


def sharpness(
    model: Any,
    X: ArrayLike | Mapping[str, NDArray],
    y: ArrayLike | None = None,
    *,
    k: int = 1,
    which: Which = "LA",
    subsample: int | None = None,
    rng: np.random.Generator | int | None = None,
    preconditioned: bool = False,
    step: float | None = None,
    tol: float = 1e-8,
) -> F64:
    """Top-k eigenvalues of the Hessian of a model's training objective at its current weights.

    Two ways to call it:

    * ``sharpness(model, X, y)`` with a fitted :class:`~lossdoctor.MLPClassifier` or
      :class:`~lossdoctor.MLPRegressor`: exact Hessian-vector products of
      ``mean loss + alpha / (2 n) * sum ||Wk||**2`` on ``(X, y)``.
    * ``sharpness(grads, params)`` for a hand-written network, as for ``check_gradients``:
      ``grads()`` returns the user's gradients (a dict keyed like ``params``) at the current
      values of the live arrays in ``params``. Products come from central differences of
      ``grads``; the arrays are restored bit-exactly after every call.

    Parameters
    ----------
    model : fitted lossdoctor estimator, or callable () -> dict of str to ndarray
    X : array-like of shape (n_samples, n_features), or dict of str to ndarray
        The training inputs, or the user's live parameters in the second form.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs), optional
        Training targets (first form only).
    k : int
        How many eigenvalues.
    which : {"LA", "both"}
        ``"both"`` appends the smallest (most negative) eigenvalue.
    subsample : int, optional
        First form: a fixed random subset of the samples, for large data.
    rng : numpy.random.Generator or int, optional
        Subsample and start vector; default seed 0.
    preconditioned : bool
        First form, ``solver="adam"`` only: eigenvalues of ``P**-1 H`` with Adam's preconditioner
        ``P = sqrt(v_hat) + epsilon`` from the optimiser's state (Adam's stability is decided by
        these; see :func:`stability_threshold`).
    step : float, optional
        Second form: central-difference step along a unit direction (see :func:`hvp_central`).
    tol : float
        Relative accuracy asked of ARPACK.

    Returns
    -------
    ndarray of shape (k,) or (k + 1,)
        Eigenvalues, largest first.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.diag([3.0, 1.0])
    >>> params = {"w": np.array([1.0, -2.0])}
    >>> sharpness(lambda: {"w": A @ params["w"]}, params, k=2).round(6)
    array([3., 1.])
    """
    _check_k(k, which)
    if callable(model) and isinstance(X, Mapping):
        if y is not None:
            raise TypeError("sharpness(grads, params) takes no y")
        op = _central_operator(model, X, step)
        return _solve(op, k, which, _as_rng(rng), tol)
    if not hasattr(model, "params_"):
        raise TypeError(
            "sharpness expects a fitted lossdoctor estimator with X and y, or (grads, params); "
            f"got {type(model).__name__}"
        )
    if y is None:
        raise TypeError("sharpness(model, X, y) needs y")
    X64 = np.ascontiguousarray(np.asarray(X, dtype=np.float64))
    Y = np.asarray(model._encode(np.asarray(y), fitting=False), dtype=np.float64)
    precond = adam_preconditioner(model) if preconditioned else None
    return sharpness_of(
        model.network_,
        model.params_,
        X64,
        Y,
        alpha=float(model.alpha),
        k=k,
        which=which,
        subsample=subsample,
        rng=rng,
        preconditioner=precond,
        tol=tol,
    )


def adam_preconditioner(model: Any) -> dict[str, F64]:
    """Adam's diagonal preconditioner ``sqrt(v / (1 - beta_2**t)) + epsilon`` of a fitted model.

    Raises
    ------
    ValueError
        If the model was not trained with Adam.
    """
    state: Any = getattr(model, "_opt_state", None)
    if getattr(model, "solver", None) != "adam" or not hasattr(state, "nu"):
        raise ValueError(
            f"the preconditioned sharpness needs a model trained with solver='adam', "
            f"got solver={getattr(model, 'solver', None)!r}"
        )
    t = max(int(state.step), 1)
    correction = 1 - float(model.beta_2) ** t
    return {
        key: np.sqrt(np.asarray(v, dtype=np.float64) / correction) + float(model.epsilon)
        for key, v in state.nu.items()
    }


# -- stability ------------------------------------------------------------------------------------
_OPTIMIZERS = ("gd", "sgd", "momentum", "nesterov", "adam")


def stability_threshold(
    L: float, optimizer: str = "gd", momentum: float = 0.0, nesterov: bool = False
) -> float:
    r"""The largest stable learning rate on a quadratic with largest curvature ``L``.

    ========================  ==============================  ==================================
    optimiser                 bound on ``lr``                 source
    ========================  ==============================  ==================================
    gradient descent          :math:`2 / L`                   classical
    heavy ball, momentum b    :math:`2 (1 + b) / L`           Polyak (1964)
    Nesterov, momentum b      :math:`(2 + 2b) / ((1 + 2b) L)` Cohen et al. (2021), App. A
    Adam, beta_1 = b          :math:`(2 + 2b) / ((1 - b) L)`  Cohen et al. (2022), with ``L`` the
                                                              *preconditioned* sharpness
    ========================  ==============================  ==================================

    The momentum bounds are those of the update lossdoctor (and scikit-learn) uses,
    ``v <- b v - lr g``, with the gradient taken at the current point; both follow from where the
    two roots of the characteristic polynomial of the linear recurrence reach -1. For Adam the
    bound holds for the preconditioned Hessian ``P**-1 H`` with ``P`` frozen; no bound in terms of
    the plain sharpness is given.

    Parameters
    ----------
    L : float
        Largest Hessian eigenvalue (preconditioned for Adam).
    optimizer : {"gd", "sgd", "momentum", "nesterov", "adam"}
        ``"sgd"``/``"gd"`` use ``momentum`` and ``nesterov`` as scikit-learn's solvers do.
    momentum : float
        Heavy-ball or Nesterov coefficient, or Adam's ``beta_1``.
    nesterov : bool

    Returns
    -------
    float
        ``inf`` when ``L <= 0`` (no positive curvature limits the step).
    """
    if optimizer not in _OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; expected one of {_OPTIMIZERS}")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    if not L > 0:
        return math.inf
    b = float(momentum)
    if optimizer == "adam":
        return (2 + 2 * b) / ((1 - b) * L)
    if optimizer == "nesterov" or (nesterov and b > 0):
        return (2 + 2 * b) / ((1 + 2 * b) * L)
    if optimizer == "gd" and not b:
        return 2 / L
    return 2 * (1 + b) / L


def _rule_name(optimizer: str, momentum: float, nesterov: bool) -> str:
    if optimizer == "adam":
        return f"(2+2b1)/((1-b1) L) for Adam with b1={momentum:g} (L preconditioned)"
    if optimizer == "nesterov" or (nesterov and momentum > 0):
        return f"(2+2b)/((1+2b) L) for Nesterov momentum b={momentum:g}"
    if momentum > 0:
        return f"2(1+b)/L for heavy-ball momentum b={momentum:g}"
    return "2/L for gradient descent"


@dataclass(frozen=True)
class StabilityVerdict:
    """Whether a learning rate is stable for the measured curvature.

    Attributes
    ----------
    label : {"stable", "edge", "unstable"}
        ``ratio < 1 - EDGE_BAND``: stable. ``1 - EDGE_BAND <= ratio <= 1``: at the edge (converges
        on the quadratic model, oscillating along the sharpest direction). ``ratio > 1``:
        unstable by a factor ``ratio``.
    threshold : float
        The largest stable learning rate (:func:`stability_threshold`).
    ratio : float
        ``lr / threshold``.
    message : str
    evidence : dict
        ``lr, sharpness, threshold, ratio, rule``.
    """

    label: str
    threshold: float
    ratio: float
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)


def lr_verdict(
    lr: float,
    L: float,
    *,
    optimizer: str = "gd",
    momentum: float = 0.0,
    nesterov: bool = False,
) -> StabilityVerdict:
    """Classify a learning rate against the stability limit of the curvature ``L``.

    Parameters
    ----------
    lr : float
    L : float
        Sharpness (preconditioned for Adam).
    optimizer, momentum, nesterov
        As for :func:`stability_threshold`.

    Returns
    -------
    StabilityVerdict
    """
    threshold = stability_threshold(L, optimizer, momentum, nesterov)
    ratio = lr / threshold if math.isfinite(threshold) else 0.0
    rule = _rule_name(optimizer, momentum, nesterov)
    limit = f"the stability limit {threshold:.4g} = {rule}, L = {L:.4g}"
    if ratio > 1:
        label = "unstable"
        message = (
            f"unstable: learning rate {lr:.4g} is {ratio:.3g}x {limit}; along the sharpest "
            f"direction the iterates grow instead of shrinking"
        )
        if ratio <= 1 + EDGE_BAND:
            message += (
                " (only slightly above: a network often settles at this edge of stability "
                "with the sharpness near the limit, at the cost of an oscillating loss)"
            )
    elif ratio >= 1 - EDGE_BAND:
        label = "edge"
        message = (
            f"at the edge: learning rate {lr:.4g} is {ratio:.3g}x {limit}; it still converges "
            f"on the local quadratic, but oscillates along the sharpest direction, and any rise "
            f"in sharpness during training tips it over"
        )
    else:
        label = "stable"
        message = f"stable: learning rate {lr:.4g} is {ratio:.3g}x {limit}"
    evidence = {"lr": lr, "sharpness": L, "threshold": threshold, "ratio": ratio, "rule": rule}
    return StabilityVerdict(label, threshold, ratio, message, evidence)


def stability_verdict(
    model: Any,
    X: ArrayLike,
    y: ArrayLike,
    *,
    lr: float | None = None,
    subsample: int | None = None,
) -> StabilityVerdict:
    """The verdict for a fitted estimator's learning rate at its current weights.

    Uses the estimator's optimiser: ``gd``/``sgd`` with its ``momentum`` and
    ``nesterovs_momentum`` against the sharpness, ``adam`` (with ``beta_1``) against the
    preconditioned sharpness.

    Parameters
    ----------
    model : fitted MLPClassifier or MLPRegressor
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    lr : float, optional
        The learning rate to judge; by default the model's ``learning_rate_init``.
    subsample : int, optional
        Fixed subset of the samples for the sharpness.

    Returns
    -------
    StabilityVerdict
    """
    rate = float(model.learning_rate_init if lr is None else lr)
    if model.solver == "adam":
        L = float(sharpness(model, X, y, subsample=subsample, preconditioned=True)[0])
        return lr_verdict(rate, L, optimizer="adam", momentum=float(model.beta_1))
    momentum = float(model.momentum)
    nesterov = bool(model.nesterovs_momentum and momentum > 0)
    name = "gd" if momentum == 0 else ("nesterov" if nesterov else "momentum")
    L = float(sharpness(model, X, y, subsample=subsample)[0])
    return lr_verdict(rate, L, optimizer=name, momentum=momentum, nesterov=nesterov)


@dataclass(frozen=True)
class LRSuggestion:
    """A learning rate chosen from the curvature, and the rule that produced it.

    Attributes
    ----------
    learning_rate : float
    rule : str
        The rule in words, with the numbers.
    sharpness : float
    threshold : float
    """

    learning_rate: float
    rule: str
    sharpness: float
    threshold: float


def suggest_lr(
    L: float,
    *,
    optimizer: str = "gd",
    momentum: float = 0.0,
    nesterov: bool = False,
    fraction: float = 0.5,
) -> LRSuggestion:
    """A learning rate from the sharpness at the initial weights: half the stability limit.

    For gradient descent this is ``1 / L``. The factor 1/2 leaves room for the sharpness to
    rise during training (progressive sharpening), which it typically does by a factor of a few
    before the loss falls.

    Parameters
    ----------
    L : float
        Sharpness at the initial weights.
    optimizer, momentum, nesterov
        As for :func:`stability_threshold`; Adam is refused (its limit involves a preconditioner
        that does not exist before training).
    fraction : float
        Fraction of the stability limit.

    Returns
    -------
    LRSuggestion
    """
    if optimizer == "adam":
        raise ValueError(
            "no curvature rule is given for Adam at the initial weights (its stability depends "
            "on a preconditioner built during training); use the learning-rate range test"
        )
    if not L > 0:
        raise ValueError(f"the sharpness must be positive to suggest a learning rate, got {L!r}")
    threshold = stability_threshold(L, optimizer, momentum, nesterov)
    lr = fraction * threshold
    rule = (
        f"lr = {fraction:g} x stability limit = {fraction:g} x "
        f"{_rule_name(optimizer, momentum, nesterov)} = {lr:.4g}, "
        f"with L = {L:.4g} the sharpness at the initial weights"
    )
    return LRSuggestion(lr, rule, float(L), threshold)


# -- during training ---------------------------------------------------------------------------
class SharpnessCallback(Callback):
    """Measure the sharpness every ``every`` epochs during :func:`lossdoctor.training.fit`.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_outputs)
        Encoded targets of the training objective.
    every : int
        Measure after epochs ``every, 2 * every, ...`` (and at the initial weights, epoch 0).
    alpha : float
        L2 penalty of the objective.
    subsample : int, optional
        Fixed subset of the samples (drawn once), for large data.
    rng : numpy.random.Generator or int, optional
    k : int
        Eigenvalues per measurement; ``sharpness`` records the largest.

    Attributes
    ----------
    epochs : list of int
    sharpness : list of float
    learning_rate : list of float
        The step size at each measurement: the last one of the epoch (for the ``2 / lr`` line).
    """

    def __init__(
        self,
        X: NDArray,
        Y: NDArray,
        *,
        every: int = 10,
        alpha: float = 0.0,
        subsample: int | None = None,
        rng: np.random.Generator | int | None = None,
        k: int = 1,
    ) -> None:
        if every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}")
        gen = _as_rng(rng)
        self.X, self.Y = _subsample(np.asarray(X), np.asarray(Y), subsample, gen)
        self.n_total = np.shape(X)[0]
        self.every, self.alpha, self.k, self.rng = every, alpha, k, gen
        self.epochs: list[int] = []
        self.sharpness: list[float] = []
        self.learning_rate: list[float] = []
        self._net: Network | None = None
        self._optimizer: Optimizer | None = None
        self._v0: F64 | None = None

    def _measure(self, epoch: int, params: Params, lr: float) -> None:
        assert self._net is not None and self._optimizer is not None
        op = hessian_operator(self._net, params, self.X, self.Y, self.alpha, n_total=self.n_total)
        # Warm start from the last top eigenvector: the sharpest direction moves slowly.
        vals, vecs = _extreme_eigs(op, min(self.k, op.shape[0]), "LA", self.rng, 1e-6, self._v0)
        self._v0 = vecs[:, 0]

        self.epochs.append(epoch)
        self.sharpness.append(float(vals[0]))
        self.learning_rate.append(lr)

    def on_train_begin(self, net: Network, params: Params, optimizer: Optimizer) -> None:
        """Measure at the initial weights."""
        from ..schedules import value_at

        self._net, self._optimizer = net, optimizer
        self._measure(0, params, value_at(optimizer.learning_rate, 0))

    def on_epoch_end(self, epoch: int, params: Params, history: History) -> bool | None:
        """Measure every ``every`` epochs."""
        if epoch % self.every == 0:
            # The step size of the epoch's last update, as the history records it.
            self._measure(epoch, params, history.learning_rate[-1])
        return None
