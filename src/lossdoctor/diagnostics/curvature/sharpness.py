"""Sharpness: the top eigenvalues of the Hessian of the training objective.

A Lanczos solver (ARPACK's ``eigsh``) runs on a :class:`scipy.sparse.linalg.LinearOperator` of
Hessian-vector products (:mod:`.hvp`): :func:`sharpness_of` for a network and its parameters,
:func:`sharpness` for a fitted estimator or a hand-written network's gradient callable,
:func:`sharpness_or_nan` for the diagnostics (NaN where a diverged run cannot be measured), and
:func:`stability_verdict`, which measures a fitted estimator and judges its learning rate with
:func:`.stability.lr_verdict`. SciPy is imported where it is used.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ...network import Network, Params
from ...threads import blas_threads_for
from .hvp import _as_operator, _central_operator, _ExactHessian
from .stability import StabilityVerdict, lr_verdict

if TYPE_CHECKING:
    from scipy.sparse.linalg import LinearOperator

__all__ = [
    "LanczosStart",
    "adam_preconditioner",
    "sharpness",
    "sharpness_of",
    "sharpness_or_nan",
    "stability_verdict",
]

F64 = NDArray[np.float64]
Which = Literal["LA", "both"]
Subsample = int | Literal["auto"] | None

#: Default relative accuracy asked of ARPACK: a bound on the residual ``||H v - l v|| / |l|``.
#: The eigenvalue itself is a Rayleigh quotient, accurate to about the square of that: on the
#: classic network (569 x 30 breast cancer, 30-128-64-1 tanh) 1e-3 gives the top eigenvalue within
#: 1e-7 (relative) of its exact value, from 7 to 10 Hessian-vector products instead of 21.
DEFAULT_TOL = 1e-3

#: ``subsample="auto"`` keeps at most this many samples. The Hessian is a mean over samples, so a
#: random subset estimates it with an error falling as one over the square root of its size.
#: Measured on 200,000 x 50 (benchmarks/bench_scaling.py's data, a 50-100-1 ReLU network, five
#: draws each): at the initial weights within 0.6% of the full-data sharpness (mean 0.4%), after
#: one epoch of Adam within 1.4% (mean 0.8%); a learning rate is judged against a bound that
#: changes by far more than that during training.
AUTO_SUBSAMPLE = 16_384


def _ncv(k: int, n: int) -> int:
    """Lanczos vectors kept by ARPACK: few, so that the number of products follows ``tol``.

    SciPy's default (``max(2 k + 1, 20)``) spends 21 products on one eigenvalue whatever the
    tolerance; 6 needs 7 to 10 at tolerance 1e-3 and 12 to 19 at 1e-8 on the classic network.
    """
    return min(n, max(2 * k + 4, 6))


#: A warm start is the previous top eigenvector plus a random direction of this norm relative to
#: it. The random part keeps a component along every eigenvector, so that an old top eigenvector
#: that is no longer the top one does not hold Lanczos (at its loose default tolerance) in the
#: wrong invariant subspace. Started exactly on the second eigenvector of a diagonal 40 x 40
#: matrix whose top two eigenvalues are 2% apart: the top one was found from 0 of 50 seeds with
#: no random part, 24 with 0.1, 47 with 1; with a 10% gap from 300 of 300 with 1; a miss reports
#: the second eigenvalue, an error of at most the gap. On the classic network the random part
#: costs no product (5.1 products a measurement with 0.1 and with 1).
_WARM_NOISE = 1.0


def _ncv_warm(k: int, n: int) -> int:
    """Lanczos vectors from a warm start: 4 for one eigenvalue.

    Measured on the classic network (benchmarks/bench_warm_start.py, SharpnessCallback every 10
    of 200 epochs of GD and of Adam, 3 seeds): 5.1 products a measurement with 4 vectors, 7.0 with
    :func:`_ncv`'s 6, 8.0 from a random start; 3 vectors gave 4.3 but a larger error.
    """
    return min(n, max(2 * k + 2, 4))


def _warm_vector(v0: NDArray | None, n: int, rng: np.random.Generator) -> F64 | None:
    """The start vector from a previous eigenvector, or None when there is no usable one."""
    if v0 is None or v0.shape != (n,):
        return None
    norm = float(np.linalg.norm(v0))
    if not (math.isfinite(norm) and norm > 0):
        return None
    noise = rng.standard_normal(n)
    return np.asarray(v0 / norm + (_WARM_NOISE / float(np.linalg.norm(noise))) * noise)


class LanczosStart:
    """The top eigenvector of the last measurement, to start the next one from (warm start).

    Pass one instance to successive :func:`sharpness_or_nan` calls on the same network: each
    call starts Lanczos from the vector the previous one left (plus a random direction, see
    :data:`_WARM_NOISE`; with 4 Lanczos vectors) and leaves its own top eigenvector here.
    """

    def __init__(self) -> None:
        self.vector: F64 | None = None


def _extreme_eigs(
    op: LinearOperator,
    k: int,
    which: str,
    rng: np.random.Generator,
    tol: float,
    v0: NDArray | None = None,
) -> tuple[F64, F64]:
    """The ``k`` largest (``LA``) or smallest (``SA``) eigenpairs, largest first.

    ``v0``: a previous eigenvector to start from (see :class:`LanczosStart`); the run then keeps
    :func:`_ncv_warm` Lanczos vectors instead of :func:`_ncv`.
    """
    from scipy.sparse.linalg import ArpackNoConvergence, eigsh

    n = op.shape[0]
    if k >= n:
        # ARPACK needs k < n; a tiny problem is solved densely from n products.
        dense = np.column_stack([op.matvec(e) for e in np.eye(n)])
        vals, vecs = np.linalg.eigh(0.5 * (dense + dense.T))
        order = np.argsort(vals)[::-1] if which == "LA" else np.argsort(vals)
        order = order[:k]
    else:
        warm = _warm_vector(v0, n, rng)
        start = rng.standard_normal(n) if warm is None else warm
        ncv = _ncv(k, n) if warm is None else _ncv_warm(k, n)
        try:
            vals, vecs = eigsh(op, k=k, which=which, tol=tol, v0=start, ncv=ncv)
        except ArpackNoConvergence as err:  # pragma: no cover - depends on the spectrum
            if len(err.eigenvalues) == 0:
                raise
            vals, vecs = err.eigenvalues, err.eigenvectors
        order = np.argsort(vals)[::-1] if which == "LA" else np.argsort(vals)
    return np.asarray(vals[order], dtype=np.float64), np.asarray(vecs[:, order])


def _subsample(
    X: NDArray, Y: NDArray, subsample: Subsample, rng: np.random.Generator
) -> tuple[NDArray, NDArray]:
    n = X.shape[0]
    if subsample == "auto":
        subsample = AUTO_SUBSAMPLE
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
    subsample: Subsample = "auto",
    rng: np.random.Generator | int | None = None,
    preconditioner: Mapping[str, NDArray] | None = None,
    tol: float = DEFAULT_TOL,
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
    subsample : int, "auto" or None
        Use a fixed random subset of this many samples for the loss part (the L2 part keeps
        ``n``); None uses every sample; ``"auto"`` (default) at most :data:`AUTO_SUBSAMPLE`.
    rng : numpy.random.Generator or int, optional
        Draws the subsample and Lanczos' start vector; default seed 0 (repeatable).
    preconditioner : dict of str to ndarray, optional
        Positive diagonal ``P``: return eigenvalues of ``P**-1 H`` instead (Adam).
    tol : float
        Relative accuracy asked of ARPACK (see :data:`DEFAULT_TOL`).

    Returns
    -------
    ndarray of shape (k,) or (k + 1,)
        Eigenvalues, largest first (then the smallest, for ``which="both"``).
    """
    _check_k(k, which)
    gen = _as_rng(rng)
    Xs, Ys = _subsample(np.asarray(X), np.asarray(Y), subsample, gen)
    with blas_threads_for(net.layer_sizes, Xs.shape[0]):
        H = _ExactHessian(net, params, Xs, Ys, alpha / np.shape(X)[0])
        return _solve(_as_operator(H, preconditioner), k, which, gen, tol)


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
    subsample: Subsample = "auto",
    rng: np.random.Generator | int | None = None,
    tol: float = DEFAULT_TOL,
    warm_start: LanczosStart | None = None,
) -> float:
    """The top Hessian eigenvalue (:func:`sharpness_of`), or NaN where it cannot be measured.

    NaN for non-finite data, weights that are not finite or exceed 1e8 in size, a non-finite
    loss or backpropagated gradient, and an eigensolver that fails (as ARPACK does on non-finite
    or all-zero products). The diagnostics measure runs that diverge, so these are results, not
    errors. Finiteness is checked on what the products use: the subsample, not the whole data.

    ``warm_start``: a :class:`LanczosStart` shared by successive measurements of one run (the
    sharpness over epochs); Lanczos starts from the top eigenvector it holds and updates it.
    """
    from scipy.sparse.linalg import ArpackError, ArpackNoConvergence

    if not all(
        np.isfinite(p).all() and np.abs(p).max(initial=0) < _SANE_WEIGHT for p in params.values()
    ):
        return math.nan
    gen = _as_rng(rng)
    Xs, Ys = _subsample(np.asarray(X), np.asarray(Y), subsample, gen)
    if not (np.isfinite(Xs).all() and np.isfinite(Ys).all()):
        return math.nan
    with np.errstate(all="ignore"), blas_threads_for(net.layer_sizes, Xs.shape[0]):
        H = _ExactHessian(net, params, Xs, Ys, alpha / np.shape(X)[0])
        if not H.finite:
            return math.nan
        v0 = None if warm_start is None else warm_start.vector
        try:
            top, vecs = _extreme_eigs(_as_operator(H), 1, "LA", gen, tol, v0)
        except (ArpackError, ArpackNoConvergence, np.linalg.LinAlgError):
            return math.nan
    if not math.isfinite(top[0]):
        return math.nan
    if warm_start is not None:
        warm_start.vector = vecs[:, 0]
    return float(top[0])


def sharpness(
    model: Any,
    X: ArrayLike | Mapping[str, NDArray],
    y: ArrayLike | None = None,
    *,
    k: int = 1,
    which: Which = "LA",
    subsample: Subsample = "auto",
    rng: np.random.Generator | int | None = None,
    preconditioned: bool = False,
    step: float | None = None,
    tol: float = DEFAULT_TOL,
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
    subsample : int, "auto" or None
        First form: a fixed random subset of the samples, for large data; ``"auto"`` (default)
        keeps at most :data:`AUTO_SUBSAMPLE`, None all.
    rng : numpy.random.Generator or int, optional
        Subsample and start vector; default seed 0.
    preconditioned : bool
        First form, ``solver="adam"`` only: eigenvalues of ``P**-1 H`` with Adam's preconditioner
        ``P = sqrt(v_hat) + epsilon`` from the optimiser's state (Adam's stability is decided by
        these; see :func:`stability_threshold`).
    step : float, optional
        Second form: central-difference step along a unit direction (see :func:`hvp_central`).
    tol : float
        Relative accuracy asked of ARPACK (see :data:`DEFAULT_TOL`).

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
    Y = np.asarray(model.target_encoding_.encode(np.asarray(y)), dtype=np.float64)
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
    state: Any = getattr(model, "optimizer_state_", None)
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


def stability_verdict(
    model: Any,
    X: ArrayLike,
    y: ArrayLike,
    *,
    lr: float | None = None,
    subsample: Subsample = "auto",
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
