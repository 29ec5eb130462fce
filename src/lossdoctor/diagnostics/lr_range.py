"""The learning-rate range test, next to the curvature bound at the initial weights.

Starting from fixed initial weights, take one optimiser step per learning rate while the learning
rate grows exponentially from ``start`` to ``stop``; stop when the loss diverges. The loss against
the learning rate falls, reaches a minimum and shoots up; a reading is taken from that curve by a
stated rule, and the suggestion is :func:`~.lr_advice.advise_lr` of the reading and the curvature
bound: the rate that ``--lr auto`` and the doctor advise too. The initial weights are never
modified (the core returns new arrays), so "restoring" them is keeping a reference.

Unlike finders that run on shuffled mini-batches, the default here is the full batch: the curve
then depends only on the initial weights, and the rule below reads it where it is flat and
well-determined, which keeps suggestions from different seeds within a factor of 2 of each other.

Example
-------
>>> from sklearn.datasets import load_breast_cancer
>>> from sklearn.preprocessing import StandardScaler
>>> X, y = load_breast_cancer(return_X_y=True)
>>> result = lr_range_test(StandardScaler().fit_transform(X), y, hidden_layer_sizes=(16,),
...                        activation="tanh", random_state=0)
>>> 0.01 < result.suggestion < 10
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..network import Network, Params, Workspace, make_workspace, n_layers
from ..optimizers import adam, apply_updates, sgd
from ..runspec import RunSpec, fit_target_encoding, make_spec
from ..schedules import exponential_decay
from ..threads import SMALL_WORK, blas_threads_for
from ..training import iter_batches, l2_penalty, loss_and_grad
from .curvature import LRSuggestion, sharpness_or_nan, stability_threshold, suggest_lr
from .lr_advice import BOUND_FRACTION, advise_lr

__all__ = ["RangeTestResult", "auto_learning_rate", "lr_range_test", "make_setup", "range_test"]

#: The loss has diverged once it exceeds this multiple of the lowest loss seen (fastai's 4).
DIVERGENCE_FACTOR = 4.0

#: Most rows per chunk of a step's gradient: the batch-sized arrays of a step (the training step's
#: workspace) hold at most this many rows whatever the size of the data, so the memory of the test
#: is the data's plus a constant. Chunks change the gradient by rounding only (a sum in another
#: order).
CHUNK_ROWS = 8192


def _chunk_rows(net: Network) -> int:
    """Rows per chunk: at most :data:`CHUNK_ROWS`, and few enough that each product is small
    (:data:`lossdoctor.threads.SMALL_WORK`), so that the steps run on one BLAS thread. Measured on
    the shared 2-core machine, 200 full-batch steps of 50,000 x 50 through 100 units: 4.1 to 4.6 s
    of CPU on one thread, 14 to 24 s on two (spinning threads), and 2 to 5 times less wall time."""
    widest = max(a * b for a, b in pairwise(net.layer_sizes))
    return min(CHUNK_ROWS, max(256, SMALL_WORK // widest))


class _Gradients:
    """The objective and gradient of a batch, computed in chunks of rows into reused arrays.

    Each chunk runs :func:`~lossdoctor.training.loss_and_grad` on a workspace of its size (made
    once per size), as a training step does; a batch of more than ``chunk`` rows is the
    size-weighted mean of its chunks, plus the L2 term of the whole batch. Batches drawn as index
    arrays are gathered into arrays allocated once per batch size.
    """

    def __init__(self, net: Network, alpha: float, dtype: Any, chunk: int) -> None:
        self.net, self.alpha, self.dtype, self.chunk = net, alpha, dtype, chunk
        self.workspaces: dict[int, Workspace] = {}
        self.gathered: dict[int, tuple[NDArray, NDArray]] = {}
        self.total: Params | None = None

    def _workspace(self, n: int) -> Workspace:
        if n not in self.workspaces:
            self.workspaces[n] = make_workspace(self.net, n, self.dtype, grads=True)
        return self.workspaces[n]

    def rows(self, X: NDArray, Y: NDArray, idx: slice | NDArray) -> tuple[NDArray, NDArray]:
        """The batch ``idx`` of the data: a view for a slice, else gathered into reused arrays."""
        if isinstance(idx, slice):
            return X[idx], Y[idx]
        n = len(idx)
        if n not in self.gathered:
            self.gathered[n] = (
                np.empty((n, *X.shape[1:]), X.dtype),
                np.empty((n, *Y.shape[1:]), Y.dtype),
            )
        Xb, Yb = self.gathered[n]
        return np.take(X, idx, axis=0, out=Xb), np.take(Y, idx, axis=0, out=Yb)

    def __call__(self, params: Params, X: NDArray, Y: NDArray) -> tuple[float, Params]:
        """Objective and gradient on ``(X, Y)``; the gradient arrays are reused by the next call."""
        n = X.shape[0]
        if n <= self.chunk:
            return loss_and_grad(self.net, params, X, Y, self.alpha, workspace=self._workspace(n))
        if self.total is None:
            self.total = {k: np.empty_like(p, dtype=self.dtype) for k, p in params.items()}
        total = self.total
        for t in total.values():
            t.fill(0)
        value = 0.0
        for start in range(0, n, self.chunk):
            stop = min(start + self.chunk, n)
            m = stop - start
            v, g = loss_and_grad(
                self.net, params, X[start:stop], Y[start:stop], workspace=self._workspace(m)
            )
            value += v * (m / n)
            for k, t in total.items():
                gk = g[k]
                gk *= m / n
                t += gk
        if self.alpha:
            value += l2_penalty(self.net, params, self.alpha, n)
            for layer in range(1, n_layers(self.net) + 1):
                total[f"W{layer}"] += (self.alpha / n) * params[f"W{layer}"]
        return value, total


@dataclass(frozen=True)
class RangeTestResult:
    """The outcome of a learning-rate range test.

    Attributes
    ----------
    lrs : ndarray of shape (n_done,)
        Learning rates tried, one per step, until divergence.
    losses : ndarray of shape (n_done,)
        Training objective before each step (full batch, or the step's batch).
    smoothed : ndarray of shape (n_done,)
        ``losses`` smoothed by a forward-backward exponential moving average (no lag).
    suggestion : float
        Suggested learning rate.
    rule : str
        How ``suggestion`` was read off the curve, with the numbers.
    sharpness : float
        Largest Hessian eigenvalue at the initial weights.
    bound : float
        Stability limit at the initial weights for the optimiser (``2 / L`` for gradient
        descent); ``nan`` for Adam, for which none is given.
    bound_rule : str
    stop_reason : str
        ``diverged`` or ``stop`` (reached the largest learning rate).
    evidence : dict
    """

    lrs: NDArray
    losses: NDArray
    smoothed: NDArray
    suggestion: float
    rule: str
    sharpness: float
    bound: float
    bound_rule: str
    stop_reason: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        """Two lines: the suggestion with its rule, and the curvature bound."""
        return f"suggested learning rate {self.suggestion:.3g}: {self.rule}\n{self.bound_rule}"

    def format(self, n_rows: int = 12) -> str:
        """A plain-text table of about ``n_rows`` points of the curve, then the summary."""
        step = max(1, len(self.lrs) // n_rows)
        idx = list(range(0, len(self.lrs), step))
        if idx and idx[-1] != len(self.lrs) - 1:
            idx.append(len(self.lrs) - 1)
        lines = [f"{'learning rate':>14}  {'loss':>10}  {'smoothed':>10}"]
        lines += [
            f"{self.lrs[i]:>14.4g}  {self.losses[i]:>10.4g}  {self.smoothed[i]:>10.4g}" for i in idx
        ]
        stop = (
            f"stopped at learning rate {self.evidence.get('stopped_at', math.nan):.4g}: the loss "
            f"exceeded {DIVERGENCE_FACTOR:g}x its lowest value"
            if self.stop_reason == "diverged"
            else "reached the largest learning rate without diverging"
        )
        out = [*lines, stop, self.summary()]
        if math.isfinite(self.bound) and self.bound > 0:
            ratio = self.suggestion / self.bound
            out.append(
                f"the suggestion is {ratio:.3g}x the bound at the initial weights"
                + (
                    "; the bound holds where the test starts, and a rate above it is only safe "
                    "if the sharpness falls in the first steps, as it did here"
                    if ratio > 1
                    else ""
                )
            )
        return "\n".join(out)


def _ema(values: NDArray, beta: float) -> NDArray:
    out = np.empty_like(values)
    avg = 0.0
    for i, v in enumerate(values):
        avg = beta * avg + (1 - beta) * v
        out[i] = avg / (1 - beta ** (i + 1))  # bias correction, as in fastai
    return out


def smooth(values: ArrayLike, beta: float) -> NDArray:
    """Forward-backward exponential moving average: smooths without shifting the minimum."""
    v = np.asarray(values, dtype=np.float64)
    if beta <= 0 or v.size < 2:
        return v.copy()
    return 0.5 * (_ema(v, beta) + _ema(v[::-1], beta)[::-1])


def _suggest(lrs: NDArray, smoothed: NDArray) -> tuple[float, str, dict[str, Any]]:
    # The minimum of the smoothed curve sits just before divergence, where the step size is
    # bounded by the curvature; a tenth of it is on the flat, steeply falling part (fastai's
    # "lr_min / 10"). Reading the minimum, not the steepest slope, keeps seeds within a factor 2.
    i_min = int(np.argmin(smoothed))
    lr_min = float(lrs[i_min])
    suggestion = lr_min / 10
    rule = (
        f"one tenth of the learning rate at the minimum of the smoothed loss "
        f"({lr_min:.3g} -> {suggestion:.3g})"
    )
    return suggestion, rule, {"lr_at_min": lr_min, "min_loss": float(smoothed[i_min])}


def range_test(
    net: Network,
    params: Params,
    X: NDArray,
    Y: NDArray,
    *,
    alpha: float = 0.0,
    optimizer: str = "gd",
    momentum: float | None = None,
    nesterov: bool = False,
    beta_2: float = 0.999,
    epsilon: float = 1e-8,
    start: float = 1e-4,
    stop: float = 1000.0,
    n_steps: int = 100,
    smoothing: float = 0.7,
    batch_size: int | None = None,
    rng: np.random.Generator | int | None = None,
) -> RangeTestResult:
    """Range test from given initial weights (which are left untouched).

    Parameters
    ----------
    net : Network
    params : dict of str to ndarray
        Initial weights; never modified.
    X : ndarray of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_outputs)
        Encoded targets.
    alpha : float
        L2 penalty.
    optimizer : {"gd", "sgd", "adam"}
        ``gd``/``sgd`` use ``momentum`` and ``nesterov``; ``adam`` uses ``momentum`` as beta_1,
        with ``beta_2`` and ``epsilon``.
    momentum : float, optional
        Default 0 for gradient descent, 0.9 for Adam (its beta_1).
    nesterov : bool
    beta_2, epsilon : float
        Adam's second-moment decay and its denominator's constant.
    start, stop : float
        First and last learning rate; the rate grows by ``(stop / start) ** (1 / (n_steps - 1))``
        per step.
    n_steps : int
    smoothing : float
        Coefficient of the forward-backward moving average (0 for none).
    batch_size : int, optional
        Mini-batches drawn from ``rng``; None (default) uses the full batch every step.
    rng : numpy.random.Generator or int, optional
        Mini-batch order and the Lanczos start vector of the bound.

    Returns
    -------
    RangeTestResult
    """
    if not (0 < start < stop) or n_steps < 3:
        raise ValueError(
            f"need 0 < start < stop and n_steps >= 3, got start={start}, stop={stop}, "
            f"n_steps={n_steps}"
        )
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng or 0)
    growth = (stop / start) ** (1 / (n_steps - 1))
    if momentum is None:
        momentum = 0.9 if optimizer == "adam" else 0.0
    schedule = exponential_decay(start, growth)
    if optimizer == "adam":
        opt = adam(schedule, b1=momentum, b2=beta_2, eps=epsilon)
    elif optimizer in ("gd", "sgd"):
        opt = sgd(schedule, momentum, bool(nesterov and momentum > 0))
    else:
        raise ValueError(f"unknown optimizer {optimizer!r}; expected gd, sgd or adam")

    L = sharpness_or_nan(net, params, X, Y, alpha=alpha, rng=gen)
    bound, bound_rule = _bound(L, optimizer, momentum, nesterov)

    state = opt.init(params)
    dtype = np.result_type(X.dtype, *(p.dtype for p in params.values()))
    chunk = _chunk_rows(net)
    gradients = _Gradients(net, alpha, dtype, chunk)
    # Plain descent writes each step's weights into two sets of arrays owned here, in turn (the
    # caller's initial weights are never written): a step then allocates nothing.
    in_place = opt.update_into is not None
    current = {k: p.copy() for k, p in params.items()} if in_place else params
    spare = {k: np.empty_like(p) for k, p in params.items()} if in_place else {}
    lrs: list[float] = []
    losses: list[float] = []
    batches = _batches(X.shape[0], batch_size, gen)
    stop_reason = "stop"
    best = math.inf
    stopped_at = math.nan
    # One BLAS thread for the chunks' small products (lossdoctor.threads).
    with blas_threads_for(net.layer_sizes, min(chunk, batch_size or X.shape[0])):
        for i in range(n_steps):
            Xb, Yb = gradients.rows(X, Y, next(batches))
            with np.errstate(all="ignore"):  # the run is meant to blow up at the end
                value, grads = gradients(current, Xb, Yb)
            if not math.isfinite(value) or value > DIVERGENCE_FACTOR * best:
                stop_reason, stopped_at = "diverged", start * growth**i
                break
            best = min(best, value)
            lrs.append(start * growth**i)
            losses.append(value)
            with np.errstate(all="ignore"):
                if opt.update_into is not None:
                    state = opt.update_into(grads, state, current, spare)
                    current, spare = spare, current
                else:
                    updates, state = opt.update(grads, state, current)
                    current = apply_updates(current, updates)
    lr_arr, loss_arr = np.asarray(lrs), np.asarray(losses)
    smoothed = smooth(loss_arr, smoothing)
    reading, reading_rule, evidence = _suggest(lr_arr, smoothed)
    # The suggestion is the one advised rate (lr_advice): the reading, capped by the curvature.
    advice = advise_lr(bound=bound, range_lr=reading)
    suggestion = advice.rate if math.isfinite(advice.rate) else reading
    rule = reading_rule if advice.bound is None else f"{advice.rule} (range test: {reading_rule})"
    evidence.update(
        {
            "range_suggestion": reading,
            "advice_source": advice.source,
            "sharpness": L,
            "bound": bound,
            "n_steps_done": len(lrs),
            "growth": growth,
            "stopped_at": stopped_at,
        }
    )
    return RangeTestResult(
        lr_arr, loss_arr, smoothed, suggestion, rule, L, bound, bound_rule, stop_reason, evidence
    )


def _bound(L: float, optimizer: str, momentum: float, nesterov: bool) -> tuple[float, str]:
    if optimizer == "adam":
        return math.nan, (
            f"curvature bound: none is given for Adam at the initial weights (sharpness "
            f"L = {L:.4g}; Adam's limit applies to the preconditioned Hessian built in training)"
        )
    if not math.isfinite(L):
        return math.nan, (
            "curvature bound: not measured (the initial weights or their Hessian are too large "
            "or not finite)"
        )
    bound = stability_threshold(L, "gd", momentum, nesterov)
    kind = (
        "(2+2b)/((1+2b) L), Nesterov"
        if nesterov and momentum > 0
        else ("2(1+b)/L, heavy ball" if momentum > 0 else "2/L, gradient descent")
    )
    return bound, f"curvature bound at the initial weights: {bound:.3g} = {kind}, L = {L:.4g}"


def _batches(n: int, batch_size: int | None, rng: np.random.Generator) -> Any:
    while True:
        yield from iter_batches(n, batch_size, rng if batch_size else None)


# -- from estimator parameters ------------------------------------------------------------------
@dataclass
class Setup:
    """What a run needs, built the way the estimators build it (same seed, same weights)."""

    spec: RunSpec
    net: Network
    params: Params
    X: NDArray
    Y: NDArray
    rng: np.random.Generator | np.random.RandomState


def make_setup(X: ArrayLike, y: ArrayLike, **estimator_params: Any) -> Setup:
    """Validate data and parameters as an estimator's ``fit`` does and draw the initial weights.

    ``task="classification"`` or ``"regression"`` picks the estimator; by default
    :func:`lossdoctor.data.infer_task` decides, as the command line and ``diagnose`` do.
    """
    from sklearn.utils.validation import check_X_y

    from ..data import infer_task

    task = estimator_params.pop("task", "auto")
    y_arr = np.asarray(y)
    if task == "auto":
        task = infer_task(y_arr)
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'auto', 'classification' or 'regression', got {task!r}")
    spec = make_spec(estimator_params, caller="the range test")
    dtype = spec.np_dtype
    name = "MLPClassifier" if task == "classification" else "MLPRegressor"
    Xv, yv = check_X_y(X, y_arr, dtype=dtype, multi_output=True, y_numeric=False, estimator=name)
    Xc = np.ascontiguousarray(Xv, dtype=dtype)
    encoding = fit_target_encoding(task, yv)
    Y = encoding.encode(yv).astype(dtype, copy=False)
    rng = spec.rng()
    net = spec.network(Xc.shape[1], Y.shape[1], encoding.head)
    return Setup(spec, net, spec.initial_params(net, rng), Xc, Y, rng)


def lr_range_test(
    X: ArrayLike,
    y: ArrayLike,
    *,
    start: float = 1e-4,
    stop: float = 1000.0,
    n_steps: int = 100,
    smoothing: float = 0.7,
    **estimator_params: Any,
) -> RangeTestResult:
    """Range test of an :class:`~lossdoctor.MLPClassifier` / ``MLPRegressor`` set-up.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    start, stop, n_steps, smoothing
        See :func:`range_test`.
    **estimator_params
        Estimator parameters (``hidden_layer_sizes``, ``activation``, ``solver``, ``momentum``,
        ``alpha``, ``random_state``, ...), plus ``task``. ``solver="gd"`` or ``"sgd"`` gives
        gradient descent with ``momentum`` (default here 0: plain descent); the test always runs
        on the full batch, whatever ``batch_size`` says, so that it is repeatable.

    Returns
    -------
    RangeTestResult
    """
    estimator_params.setdefault("solver", "gd")
    estimator_params.setdefault("momentum", 0.0)
    s = make_setup(X, y, **estimator_params)
    est = s.spec
    momentum = float(est.beta_1) if est.solver == "adam" else float(est.momentum)
    return range_test(
        s.net,
        s.params,
        s.X,
        s.Y,
        alpha=float(est.alpha),
        optimizer="adam" if est.solver == "adam" else "gd",
        momentum=momentum,
        nesterov=bool(est.nesterovs_momentum),
        beta_2=float(est.beta_2),
        epsilon=float(est.epsilon),
        start=start,
        stop=stop,
        n_steps=n_steps,
        smoothing=smoothing,
        rng=s.rng if isinstance(s.rng, np.random.Generator) else int(s.rng.randint(2**31 - 1)),
    )


def auto_learning_rate(X: ArrayLike, y: ArrayLike, **estimator_params: Any) -> LRSuggestion:
    """The learning rate for ``--lr auto``: from the curvature at the initial weights.

    Gradient descent and momentum: half the stability limit at the initial weights
    (:func:`~lossdoctor.diagnostics.curvature.suggest_lr`; ``1 / L`` for plain descent).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The inputs as the network sees them (already scaled).
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    **estimator_params
        As for :func:`lr_range_test` (``solver``, ``momentum``, ``hidden_layer_sizes``, ...).

    Returns
    -------
    LRSuggestion

    Raises
    ------
    ValueError
        For ``solver="adam"``: Adam's stability depends on a preconditioner that exists only
        after training starts, so no curvature rule is given for it.
    """
    if estimator_params.get("solver") == "adam":
        raise ValueError(
            "--lr auto: no curvature rule is given for Adam (its stability limit involves a "
            "preconditioner built during training); run 'lossdoctor lr-find --optimizer adam' "
            "or give --lr"
        )
    s = make_setup(X, y, **estimator_params)
    est = s.spec
    L = sharpness_or_nan(
        s.net,
        s.params,
        s.X,
        s.Y,
        alpha=float(est.alpha),
        rng=s.rng if isinstance(s.rng, np.random.Generator) else 0,
    )
    if not L > 0:
        raise ValueError(
            f"--lr auto: the sharpness at the initial weights is {L:.4g}, so it gives no "
            f"learning rate (the weights or their Hessian are not finite, or it is not positive); "
            f"give --lr or run 'lossdoctor lr-find'"
        )
    optimizer, momentum, nesterov = est.optimizer_kind
    s_lr = suggest_lr(
        L, optimizer=optimizer, momentum=momentum, nesterov=nesterov, fraction=BOUND_FRACTION
    )
    # The one advised rate (lr_advice), from the same bound as lr-find's and the doctor's.
    return replace(s_lr, learning_rate=advise_lr(bound=s_lr.threshold).rate)
