"""The training loop and the one seam every diagnostic goes through, :func:`loss_and_grad`.

Gradient checks, Hessian-vector products and the learning-rate range test all call
``loss_and_grad``, so they measure exactly what training optimises. Diagnostics plug into
:func:`fit` only through the :class:`Callback` protocol; this module never imports them.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from .losses import get_head
from .network import Network, Params, Workspace, backward, forward, make_workspace, n_layers
from .optimizers import Optimizer, apply_updates, clip_by_global_norm, global_norm
from .schedules import value_at

__all__ = [
    "Callback",
    "FitResult",
    "History",
    "fit",
    "iter_batches",
    "l2_penalty",
    "loss_and_grad",
    "objective",
    "score_from_logits",
]


def l2_penalty(net: Network, params: Params, alpha: float, n_samples: int) -> float:
    """The L2 term of the objective, ``alpha / (2 n) * sum_k ||Wk||**2`` (scikit-learn's)."""
    if alpha == 0.0:
        return 0.0
    sq = sum(float(np.vdot(params[f"W{k}"], params[f"W{k}"])) for k in range(1, n_layers(net) + 1))
    return 0.5 * alpha * sq / n_samples


def loss_and_grad(
    net: Network,
    params: Params,
    X: NDArray,
    Y: NDArray,
    alpha: float = 0.0,
    *,
    workspace: Workspace | None = None,
) -> tuple[float, Params]:
    """The training objective and its exact gradient.

    Parameters
    ----------
    net : Network
    params : dict of str to ndarray
    X : ndarray of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_outputs)
        Encoded targets (0/1 column for binary, one-hot for softmax, values for regression).
    alpha : float
        L2 penalty on the weights (not the biases).
    workspace : Workspace, optional
        Preallocated arrays for ``X.shape[0]`` samples that forward and backward reuse (see
        :func:`lossdoctor.network.make_workspace`); the results are the same.

    Returns
    -------
    loss : float
        Mean loss over the samples plus ``alpha / (2 n) * sum ||Wk||**2``.
    grads : dict of str to ndarray
        Same keys, shapes and dtype as ``params``, in backprop order.
    """
    logits, trace = forward(net, params, X, workspace=workspace)
    value, d_logits = get_head(net.head).loss(logits, Y)
    grads = backward(net, params, trace, d_logits, workspace=workspace)
    if alpha:
        n = X.shape[0]
        value += l2_penalty(net, params, alpha, n)
        for k in range(1, n_layers(net) + 1):
            grads[f"W{k}"] += (alpha / n) * params[f"W{k}"]
    return value, grads


def objective(net: Network, params: Params, X: NDArray, Y: NDArray, alpha: float = 0.0) -> float:
    """The training objective alone (no backward pass)."""
    logits, _ = forward(net, params, X)
    value, _ = get_head(net.head).loss(logits, Y)
    return value + l2_penalty(net, params, alpha, X.shape[0])


def score_from_logits(head: str, logits: NDArray, Y: NDArray) -> float:
    """The estimators' ``score``, computed from logits.

    Classification: accuracy, with a row right only when all its labels are (scikit-learn's
    subset accuracy for multilabel targets). Regression: R^2 of each output, averaged over the
    outputs (``r2_score``'s ``"uniform_average"``); an output whose target is constant scores 1
    when predicted exactly and 0 otherwise.
    """
    if head == "binary":
        return float(np.mean(np.all((logits > 0) == (Y > 0.5), axis=1)))
    if head == "softmax":
        return float(np.mean(logits.argmax(axis=1) == Y.argmax(axis=1)))
    resid = ((Y - logits) ** 2).sum(axis=0)
    total = ((Y - Y.mean(axis=0)) ** 2).sum(axis=0)
    scores = [
        1.0 - r / t if t > 0 else (1.0 if r == 0 else 0.0)
        for r, t in zip(resid.tolist(), total.tolist())
    ]
    return float(np.mean(scores))


_COLUMNS = ("epoch", "loss", "val_loss", "val_score", "learning_rate", "grad_norm", "time")


@dataclass
class History:
    """Per-epoch record of a run, as a dict of lists.

    Attributes
    ----------
    epoch, loss, val_loss, val_score, learning_rate, grad_norm, time : list
        One entry per epoch: the mean training objective over the epoch's batches, the validation
        loss and score (NaN without validation data), the step size of the epoch's last update, the
        mean global gradient norm over its batches, and the wall time since training began.
    stop_reason : str
        Why training stopped: ``max_iter``, ``converged``, ``early_stopping``, ``callback`` or
        ``non-finite``, with details in ``message``.
    message : str
    best_epoch : int or None
        The epoch whose weights were restored (early stopping or a non-finite loss), else None.
    """

    epoch: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_score: list[float] = field(default_factory=list)
    learning_rate: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    time: list[float] = field(default_factory=list)
    stop_reason: str = ""
    message: str = ""
    best_epoch: int | None = None

    def as_dict(self) -> dict[str, list[Any]]:
        """The per-epoch columns as a plain dict of lists (copies)."""
        return {c: list(getattr(self, c)) for c in _COLUMNS}

    def to_frame(self) -> Any:
        """The per-epoch columns as a pandas DataFrame indexed by epoch (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(self.as_dict()).set_index("epoch")

    def __len__(self) -> int:
        return len(self.epoch)


class Callback:
    """Base class of the callback protocol; override what you need.

    ``fit`` calls ``on_train_begin`` once, ``on_epoch_end`` after every epoch (return ``True`` to
    stop training) and ``on_train_end`` once with the final parameters. The parameters passed are
    never modified afterwards, so a callback may keep references to them.
    """

    def on_train_begin(self, net: Network, params: Params, optimizer: Optimizer) -> None:
        """Called before the first epoch."""

    def on_epoch_end(self, epoch: int, params: Params, history: History) -> bool | None:
        """Called after each epoch with the current parameters; return True to stop."""
        return None

    def on_train_end(self, params: Params, history: History) -> None:
        """Called once with the parameters training returns."""


class FitResult(NamedTuple):
    """The trained parameters, the optimiser's final state and the history."""

    params: Params
    opt_state: Any
    history: History


def iter_batches(
    n_samples: int, batch_size: int | None, rng: np.random.Generator | None
) -> Iterator[slice | NDArray]:
    """Index batches for one epoch: one slice for full batch, else shuffled or in order.

    With ``rng`` the samples are permuted once per epoch; the batches are index arrays into the
    data, so the data set itself is never copied as a whole.
    """
    if batch_size is None or batch_size >= n_samples:
        yield slice(None)
        return
    if rng is None:
        for start in range(0, n_samples, batch_size):
            yield slice(start, start + batch_size)
        return
    order = rng.permutation(n_samples)
    for start in range(0, n_samples, batch_size):
        yield order[start : start + batch_size]


class _StepArrays(NamedTuple):
    """Arrays that every training step on batches of one size reuses."""

    workspace: Workspace
    X: NDArray  # the gathered batch when the batches are index arrays
    Y: NDArray


def _step_arrays(
    cache: dict[int, _StepArrays],
    net: Network,
    params: Params,
    X: NDArray,
    Y: NDArray,
    n: int,
    grads: bool,
) -> _StepArrays:
    """The reusable arrays for batches of ``n`` samples, allocated on first use.

    With ``grads`` the workspace holds the gradients too: only for an optimiser that is done
    with them within the step (``update_into``).
    """
    if n not in cache:
        # The dtype forward computes in, so that a workspace never changes a result's dtype.
        dtype = np.result_type(X.dtype, *(p.dtype for p in params.values()))
        cache[n] = _StepArrays(
            make_workspace(net, n, dtype, grads=grads),
            np.empty((n, *X.shape[1:]), X.dtype),
            np.empty((n, *Y.shape[1:]), Y.dtype),
        )
    return cache[n]


def _finite_params(params: Params) -> bool:
    return all(np.isfinite(p).all() for p in params.values())


def fit(
    net: Network,
    params: Params,
    X: NDArray,
    Y: NDArray,
    *,
    optimizer: Optimizer,
    epochs: int,
    batch_size: int | None = None,
    rng: np.random.Generator | None = None,
    alpha: float = 0.0,
    clip_norm: float | None = None,
    validation: tuple[NDArray, NDArray] | None = None,
    early_stopping: bool = False,
    n_iter_no_change: int | None = 10,
    tol: float = 1e-4,
    callbacks: Sequence[Callback] = (),
    opt_state: Any = None,
    progress: bool | None = None,
    verbose: bool = False,
) -> FitResult:
    """Train ``params`` with ``optimizer`` and return the new parameters and a history.

    Parameters
    ----------
    net : Network
    params : dict of str to ndarray
        Initial parameters; never modified.
    X : ndarray of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_outputs)
    optimizer : Optimizer
    epochs : int
        Maximum number of passes over the data.
    batch_size : int, optional
        Mini-batch size; None trains on the full batch.
    rng : numpy.random.Generator, optional
        Shuffles the samples each epoch; None keeps their order.
    alpha : float
        L2 penalty (see :func:`loss_and_grad`).
    clip_norm : float, optional
        Clip each batch gradient to this global norm.
    validation : (X_val, Y_val), optional
        Scored after every epoch.
    early_stopping : bool
        Stop when the validation score has not improved by ``tol`` for ``n_iter_no_change``
        epochs, and restore the best weights. Needs ``validation``.
    n_iter_no_change : int or None
        Without early stopping: stop when the training loss has not fallen by ``tol`` for this many
        epochs (scikit-learn's rule). None never stops before ``epochs``.
    tol : float
    callbacks : sequence of Callback
    opt_state : optional
        Optimiser state to continue from (warm start); by default ``optimizer.init(params)``.
    progress : bool, optional
        Show a progress bar; by default only when standard error is a terminal and the run is long.
    verbose : bool
        Print the loss of every epoch (scikit-learn's format).

    Returns
    -------
    FitResult
        A non-finite loss or gradient stops training; the returned parameters are then the last
        ones whose loss was finite and ``history.stop_reason`` is ``"non-finite"``.
    """
    if early_stopping and validation is None:
        raise ValueError("early_stopping needs validation data")
    head = net.head
    n_samples = X.shape[0]
    state = optimizer.init(params) if opt_state is None else opt_state
    history = History()
    for cb in callbacks:
        cb.on_train_begin(net, params, optimizer)

    best_loss, best_score = math.inf, -math.inf
    best_params, best_epoch = params, None
    no_improvement = 0
    history.stop_reason, history.message = "max_iter", f"reached the maximum of {epochs} epochs"
    step_arrays: dict[int, _StepArrays] = {}
    # An optimiser with ``update_into`` (plain descent) writes each step's parameters into two
    # sets of arrays that the loop owns and uses in turn, so that a step allocates nothing. The
    # caller's arrays are copied first; callbacks and early stopping get copies of the loop's.
    in_place = optimizer.update_into is not None
    spare: Params = {}
    kept = params
    if in_place:
        params = {k: p.copy() for k, p in params.items()}
        spare = {k: np.empty_like(p) for k, p in params.items()}
    # Plain descent moves no entry by more than |lr| * ||g||, so while the largest initial entry
    # plus the sum of those steps stays below half the largest float, every parameter is finite
    # and the element-wise check after each step can be skipped (it reads every parameter).
    finite_below = min(float(np.finfo(p.dtype).max) for p in params.values()) / 2
    reach = (
        max(float(np.max(np.abs(p), initial=0.0)) for p in params.values())
        if in_place
        else math.inf
    )
    previous: Params | None = None  # the weights before the last update, whose loss was finite
    start = time.perf_counter()
    bar = _progress_bar(epochs, progress)
    try:
        for epoch in range(1, epochs + 1):
            total, norms, non_finite = 0.0, [], False
            for idx in iter_batches(n_samples, batch_size, rng):
                n_batch = len(range(n_samples)[idx]) if isinstance(idx, slice) else len(idx)
                reuse = _step_arrays(step_arrays, net, params, X, Y, n_batch, in_place)
                if isinstance(idx, slice):  # a view: nothing is copied
                    Xb, Yb = X[idx], Y[idx]
                else:  # gather the shuffled rows into the preallocated batch arrays
                    Xb = np.take(X, idx, axis=0, out=reuse.X)
                    Yb = np.take(Y, idx, axis=0, out=reuse.Y)
                # Overflow is detected below by checking finiteness, so NumPy's warnings about it
                # would only repeat the message the history gives.
                with np.errstate(over="ignore", invalid="ignore"):
                    value, grads = loss_and_grad(
                        net, params, Xb, Yb, alpha, workspace=reuse.workspace
                    )
                norm = global_norm(grads)
                if not (math.isfinite(value) and math.isfinite(norm)):
                    non_finite = True
                    if previous is not None:  # these weights gave the non-finite loss
                        params = previous
                    break
                if clip_norm is not None:
                    grads, norm = clip_by_global_norm(grads, clip_norm)
                lr = value_at(optimizer.learning_rate, getattr(state, "step", 0))
                with np.errstate(over="ignore", invalid="ignore"):
                    if optimizer.update_into is not None:
                        state = optimizer.update_into(grads, state, params, spare)
                        new_params = spare
                    else:
                        updates, state = optimizer.update(grads, state, params)
                        new_params = apply_updates(params, updates)
                reach += abs(lr) * norm
                if not reach < finite_below and not _finite_params(new_params):
                    non_finite = True
                    break
                if in_place:
                    spare = params
                # With plain descent this is the spare set: not written again before the next
                # step's loss has been found finite.
                previous = params
                params = new_params
                total += value * Xb.shape[0]
                norms.append(norm)
            if non_finite:
                history.stop_reason = "non-finite"
                history.message = (
                    f"the loss or its gradient became non-finite in epoch {epoch}; training "
                    f"stopped and the last finite weights were kept"
                )
                history.best_epoch = epoch - 1
                break

            history.epoch.append(epoch)
            history.loss.append(total / n_samples)
            history.learning_rate.append(lr)
            history.grad_norm.append(math.fsum(norms) / len(norms))
            val_score = math.nan
            if validation is not None:
                logits_v, _ = forward(net, params, validation[0])
                val_loss, _ = get_head(head).loss(logits_v, validation[1])
                val_score = score_from_logits(head, logits_v, validation[1])
                history.val_loss.append(val_loss)
            else:
                history.val_loss.append(math.nan)
            history.val_score.append(val_score)
            history.time.append(time.perf_counter() - start)
            if verbose:
                print(f"Iteration {epoch}, loss = {history.loss[-1]:.8f}")
            if bar is not None:
                bar[0].update(bar[1], advance=1, description=f"loss {history.loss[-1]:.4g}")

            # What callbacks and early stopping keep must never change afterwards.
            kept = params
            if in_place and (callbacks or early_stopping):
                kept = {k: p.copy() for k, p in params.items()}
            stop = False
            for cb in callbacks:
                stop = bool(cb.on_epoch_end(epoch, kept, history)) or stop
            if stop:
                history.stop_reason, history.message = (
                    "callback",
                    f"a callback stopped epoch {epoch}",
                )
                break

            if early_stopping:
                if val_score < best_score + tol:
                    no_improvement += 1
                else:
                    no_improvement = 0
                if val_score > best_score:
                    best_score, best_params, best_epoch = val_score, kept, epoch
                if n_iter_no_change is not None and no_improvement > n_iter_no_change:
                    history.stop_reason = "early_stopping"
                    history.message = (
                        f"validation score did not improve by {tol} for {n_iter_no_change} epochs"
                    )
                    break
            elif n_iter_no_change is not None:
                loss = history.loss[-1]
                no_improvement = no_improvement + 1 if loss > best_loss - tol else 0
                best_loss = min(best_loss, loss)
                if no_improvement > n_iter_no_change:
                    history.stop_reason = "converged"
                    history.message = (
                        f"training loss did not improve by {tol} for {n_iter_no_change} epochs"
                    )
                    break
    finally:
        if bar is not None:
            bar[0].stop()

    if in_place and history.epoch and history.stop_reason != "non-finite":
        params = kept  # the very arrays the callbacks saw for the last epoch
    if early_stopping and best_epoch is not None:
        params, history.best_epoch = best_params, best_epoch
    for cb in callbacks:
        cb.on_train_end(params, history)
    return FitResult(params, state, history)


def _progress_bar(epochs: int, progress: bool | None) -> Any:
    if progress is None:
        progress = epochs >= 200 and sys.stderr.isatty()
    if not progress:
        return None
    from rich.progress import Progress

    bar = Progress(transient=True)
    task = bar.add_task("training", total=epochs)
    bar.start()
    return bar, task
