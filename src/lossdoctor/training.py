"""The training loop and the one seam every diagnostic goes through, :func:`loss_and_grad`.

Gradient checks, Hessian-vector products and the learning-rate range test all call
``loss_and_grad``, so they measure exactly what training optimises. Diagnostics plug into
:func:`fit` only through the :class:`Callback` protocol; this module never imports them.
"""

from __future__ import annotations

import contextvars
import itertools
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

import numpy as np
from numpy.typing import NDArray

from .activations import get_activation
from .losses import get_head
from .network import (
    Network,
    Packed,
    Params,
    Workspace,
    backward,
    forward,
    make_workspace,
    n_layers,
    pack_params,
)
from .optimizers import Optimizer, apply_updates, clip_by_global_norm, global_norm
from .schedules import value_at
from .threads import blas_threads_for, parallel_step

__all__ = [
    "Callback",
    "EpochRate",
    "FitResult",
    "History",
    "StopState",
    "fit",
    "fit_lbfgs",
    "iter_batches",
    "l2_penalty",
    "loss_and_grad",
    "objective",
    "score_from_logits",
]


def l2_penalty(net: Network, params: Params, alpha: float, n_samples: float) -> float:
    """The L2 term of the objective, ``alpha / (2 n) * sum_k ||Wk||**2`` (scikit-learn's).

    With sample weights ``n_samples`` is their sum, as in scikit-learn.
    """
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
    sample_weight: NDArray | None = None,
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
    sample_weight : ndarray of shape (n_samples,), optional
        The loss becomes the weighted mean ``sum w_i l_i / sum w`` and the penalty
        ``alpha / (2 sum w) * sum ||Wk||**2`` (scikit-learn's).

    Returns
    -------
    loss : float
        Mean loss over the samples plus ``alpha / (2 n) * sum ||Wk||**2``.
    grads : dict of str to ndarray
        Same keys, shapes and dtype as ``params``, in backprop order.
    """
    logits, trace = forward(net, params, X, workspace=workspace)
    if sample_weight is None:
        value, d_logits = get_head(net.head).loss(logits, Y)
        n: float = X.shape[0]
    else:
        value, d_logits = get_head(net.head).loss(logits, Y, sample_weight)
        n = float(np.sum(sample_weight))
    grads = backward(net, params, trace, d_logits, workspace=workspace)
    if alpha:
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
    return _r2(resid, total)


def _r2(resid: NDArray, total: NDArray) -> float:
    """R^2 averaged over outputs, from each output's squared residuals and total squares."""
    scores = [
        1.0 - r / t if t > 0 else (1.0 if r == 0 else 0.0)
        for r, t in zip(resid.tolist(), total.tolist())
    ]
    return float(np.mean(scores))


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
    COLUMNS : tuple of str
        The names of the per-epoch lists, in order (class attribute).
    """

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "epoch",
        "loss",
        "val_loss",
        "val_score",
        "learning_rate",
        "grad_norm",
        "time",
    )

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
        return {c: list(getattr(self, c)) for c in self.COLUMNS}

    def to_frame(self) -> Any:
        """The per-epoch columns as a pandas DataFrame indexed by epoch (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(self.as_dict()).set_index("epoch")

    def __len__(self) -> int:
        return len(self.epoch)

    @classmethod
    def concat(cls, a: History, b: History) -> History:
        """The history of run ``a`` continued by run ``b`` (a warm start), as one run.

        ``b``'s epochs are renumbered to follow ``a``'s and its times to start at ``a``'s last;
        the stop reason, message and best epoch are ``b``'s.
        """
        out = cls()
        for name in cls.COLUMNS:
            setattr(out, name, getattr(a, name) + getattr(b, name))
        offset = a.epoch[-1] if a.epoch else 0
        t0 = a.time[-1] if a.time else 0.0
        out.epoch = a.epoch + [e + offset for e in b.epoch]
        out.time = a.time + [t + t0 for t in b.time]
        out.stop_reason, out.message, out.best_epoch = b.stop_reason, b.message, b.best_epoch
        return out


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


class StopState(NamedTuple):
    """What the stopping rules remember between epochs, and between warm-started runs.

    ``best_loss`` is the lowest training loss, ``best_score`` the best validation score and
    ``no_improvement`` the epochs since either last improved by ``tol`` (scikit-learn's
    ``best_loss_``, ``best_validation_score_`` and ``_no_improvement_count``).
    """

    best_loss: float = math.inf
    best_score: float = -math.inf
    no_improvement: int = 0


class EpochRate(NamedTuple):
    """A step size that changes between epochs, as scikit-learn's SGD changes it.

    ``kind`` is ``"invscaling"`` (after each epoch ``init / (t + 1) ** power_t``, ``t`` the
    samples seen, counting from ``t0``) or ``"adaptive"`` (divided by 5 each time the stopping
    rule fires, until it is below 1e-6). ``rebuild(lr)`` is the optimiser at step size ``lr``.
    """

    kind: str
    rebuild: Callable[[float], Optimizer]
    init: float
    power_t: float = 0.5
    t0: int = 0


class FitResult(NamedTuple):
    """The trained parameters, the optimiser's final state and the history.

    ``optimizer`` is the optimiser at the end (its step size after any change between epochs)
    and ``stop_state`` what the stopping rules remember, for a warm start to continue from.
    """

    params: Params
    opt_state: Any
    history: History
    optimizer: Optimizer | None = None
    stop_state: StopState = StopState()


def iter_batches(
    n_samples: int,
    batch_size: int | None,
    rng: np.random.Generator | np.random.RandomState | None,
    order: NDArray | None = None,
) -> Iterator[slice | NDArray]:
    """Index batches for one epoch: one slice for full batch, else shuffled or in order.

    With ``rng`` the samples are permuted once per epoch; the batches are index arrays into the
    data, so the data set itself is never copied as a whole. With ``order`` (an index array that
    the caller keeps from epoch to epoch) the permutation is applied to the previous epoch's
    order, in place, as scikit-learn's ``shuffle(sample_idx)`` does: the same ``RandomState``
    then gives scikit-learn's batches.
    """
    if batch_size is None or batch_size >= n_samples:
        yield slice(None)
        return
    if rng is None:
        for start in range(0, n_samples, batch_size):
            yield slice(start, start + batch_size)
        return
    if order is None:
        order = rng.permutation(n_samples)
    else:
        order[:] = order[rng.permutation(n_samples)]
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
            np.empty((n, *X.shape[1:]), X.dtype) if isinstance(X, np.ndarray) else X,
            np.empty((n, *Y.shape[1:]), Y.dtype),
        )
    return cache[n]


#: Largest ``X`` (entries) of which full-batch plain descent keeps a copy with a row of ones.
FUSED_BIAS_MAX_ENTRIES = 2**21


class _Columns(NamedTuple):
    """The arrays of the samples-as-columns step on a range of the samples (all, or a chunk).

    Hidden layer ``k``'s output is ``hidden[k - 1]`` of shape (units + 1, n_rows), its last row
    ones, so that with a packed (fan_in + 1, fan_out) block ``block.T @ hidden`` is
    ``(A @ W + b).T`` and ``hidden @ delta.T`` (``delta`` of shape (fan_out, n_rows)) is the
    weight gradient above the bias gradient: one product each, and every element-wise pass runs
    over contiguous rows.
    """

    rows: slice  # the samples, a range of X's rows
    X1T: NDArray | None  # [X[rows].T; 1], (n_features + 1, n_rows); None: layer 1 adds its bias
    hidden: list[NDArray]  # each hidden layer's output, (units + 1, n_rows), last row ones
    deltas: list[NDArray]  # gradient wrt each hidden layer's pre-activation, (units, n_rows)
    work: list[NDArray]  # scratch for each hidden layer's activation derivative, like deltas
    logits: NDArray  # (n_rows, n_outputs)
    ones: NDArray  # (n_rows,), for layer 1's bias gradient when X1T is None
    grad_blocks: list[NDArray]  # where the gradient of each packed block goes
    grad_w: list[NDArray]  # gradient of Wk, in forward order (views of grad_blocks)
    grad_b: list[NDArray]  # gradient of bk
    flat_grad: NDArray  # all of the gradient arrays as one flat array


class _FullBatch(NamedTuple):
    """Full-batch plain descent, prepared once per run (:func:`_full_batch_loss_and_grad`).

    The parameters live in two :class:`~lossdoctor.network.Packed` sets that the loop writes
    into in turn, so that an update is one operation on a flat array; the gradients are packed
    the same way. The step stores activations with samples as columns (:class:`_Columns`),
    either for all the samples at once or for two fixed chunks of them, each chunk with its own
    arrays; the first chunk's gradient goes into ``grads``, the second's into its own arrays and
    is then added (always in this order, so the result does not depend on which thread computed
    which chunk).
    """

    sets: tuple[Packed, Packed]  # the loop's two parameter sets; their dicts are run.params
    flats: tuple[Params, Params]  # each set's flat array, as the optimiser's one-entry dict
    weights: tuple[list[NDArray], list[NDArray]]  # each set's Wk, in forward order
    biases: tuple[list[NDArray], list[NDArray]]  # each set's bk
    grads: Params  # the gradient arrays, in backprop order (as backward returns them)
    flat_grads: Params  # all of them as one flat array, {"flat": ...}
    grad_w: list[NDArray]  # gradient of Wk, in forward order
    columns: tuple[_Columns, ...]  # one for all the samples, or one per chunk

    @property
    def X1T(self) -> NDArray | None:
        """The first columns' copy of ``X`` with a row of ones (None: not copied)."""
        return self.columns[0].X1T


def _chunk_rows(n: int, n_chunks: int) -> list[slice]:
    """``n_chunks`` consecutive ranges of ``n`` rows, of sizes that differ by at most one."""
    edges = [(n * c) // n_chunks for c in range(n_chunks + 1)]
    return [slice(a, b) for a, b in itertools.pairwise(edges)]


def _full_batch(
    net: Network, params: Params, X: Any, batch_size: int | None, n_chunks: int = 1
) -> _FullBatch | None:
    """The prepared arrays for full-batch plain descent on a dense ``X``, else None.

    With ``n_chunks`` of 2 or more the samples are split into that many fixed chunks (their
    boundaries depend only on the number of samples).
    """
    L = n_layers(net)
    if not (
        isinstance(X, np.ndarray)
        and X.ndim == 2
        and (batch_size is None or batch_size >= X.shape[0])
        and set(params) == {f"{p}{k}" for p in "Wb" for k in range(1, L + 1)}
    ):
        return None
    dtype = np.result_type(X.dtype, *(p.dtype for p in params.values()))
    if any(p.dtype != dtype for p in params.values()):
        return None
    n = X.shape[0]
    n_chunks = max(1, min(n_chunks, n))
    keys = list(params)  # the caller's order
    sets = (pack_params(net, dtype, params, keys), pack_params(net, dtype, None, keys))
    grads = pack_params(net, dtype)
    # A copy [X.T; 1] puts layer 1's bias inside its products too (saving a pass over layer 1's
    # output and a product for the bias gradient); it is kept small.
    fused = X.dtype == dtype and n * (X.shape[1] + 1) <= FUSED_BIAS_MAX_ENTRIES
    layers = range(1, L + 1)
    columns = []
    for c, rows in enumerate(_chunk_rows(n, n_chunks)):
        m = rows.stop - rows.start
        X1T = None
        if fused:
            X1T = np.empty((X.shape[1] + 1, m), dtype)
            X1T[:-1] = X[rows].T
            X1T[-1] = 1
        g = grads if c == 0 else pack_params(net, dtype)  # chunks after the first: added
        hidden, deltas, work = _column_buffers(net.layer_sizes[1:-1], m, dtype)
        logits = np.empty((m, net.layer_sizes[-1]), dtype)
        grad_w = [g.params[f"W{k}"] for k in layers]
        grad_b = [g.params[f"b{k}"] for k in layers]
        ones = np.ones(m, dtype)
        grad = (g.blocks, grad_w, grad_b, g.flat)
        col = _Columns(rows, X1T, hidden, deltas, work, logits, ones, *grad)
        columns.append(col)
    return _FullBatch(
        sets,
        ({"flat": sets[0].flat}, {"flat": sets[1].flat}),
        ([sets[0].params[f"W{k}"] for k in layers], [sets[1].params[f"W{k}"] for k in layers]),
        ([sets[0].params[f"b{k}"] for k in layers], [sets[1].params[f"b{k}"] for k in layers]),
        {f"{p}{k}": grads.params[f"{p}{k}"] for k in reversed(layers) for p in "Wb"},
        {"flat": grads.flat},
        [grads.params[f"W{k}"] for k in layers],
        tuple(columns),
    )


def _column_buffers(
    hidden_sizes: Sequence[int], n: int, dtype: Any
) -> tuple[list[NDArray], list[NDArray], list[NDArray]]:
    """Each hidden layer's output (with a row of ones), delta and derivative scratch.

    A layer's delta and output share one block, delta first, so that the output's ones row ends
    it. A hidden layer's scratch is used only while its delta is multiplied by the activation's
    derivative. By then the delta of the layer below is not yet written, and the delta and the
    output of the layer above are no longer needed; so the scratch is the first of those that is
    large enough (fewer distinct arrays keep more of a step in the CPU's caches).
    """
    hidden, deltas, blocks = [], [], []
    for m in hidden_sizes:
        block = np.empty((2 * m + 1) * n, dtype)
        deltas.append(block[: m * n].reshape(m, n))
        out = block[m * n :].reshape(m + 1, n)
        out[-1] = 1
        hidden.append(out)
        blocks.append(block)
    work = []
    for j, m in enumerate(hidden_sizes):
        if j > 0 and hidden_sizes[j - 1] >= m:  # the delta below, written after this scratch
            work.append(deltas[j - 1].reshape(-1)[: m * n].reshape(m, n))
        elif j + 1 < len(hidden_sizes) and 2 * hidden_sizes[j + 1] >= m:  # delta, output above
            work.append(blocks[j + 1][: m * n].reshape(m, n))  # never the ones row, last
        else:
            work.append(np.empty((m, n), dtype))
    return hidden, deltas, work


def _full_batch_loss_and_grad(
    net: Network,
    fb: _FullBatch,
    i: int,
    X: NDArray,
    Y: NDArray,
    alpha: float,
    sample_weight: NDArray | None,
    pool: Executor | None = None,
) -> float:
    """:func:`loss_and_grad` of parameter set ``i`` on the full batch, into ``fb.grads``.

    The same arithmetic as ``loss_and_grad``, laid out with samples as columns (see
    :class:`_Columns`): each layer's bias is added inside its product and the bias gradient
    comes out of the weight gradient's product, so the results agree to rounding (the sums run
    in another order), not bit for bit. With chunks, each chunk's loss and gradient are found
    on their own (divided by the whole batch's size or weight) and summed in chunk order; with
    a ``pool`` (one worker) the worker is asked for the second chunk while this thread computes
    the first, and this thread computes the second itself if the worker has not started it.
    The results do not depend on who computed which chunk.
    """
    columns = fb.columns
    if len(columns) == 1:
        value, n = _columns_loss_and_grad(net, fb, i, columns[0], X, Y, sample_weight, None)
    else:
        n = X.shape[0] if sample_weight is None else float(np.sum(sample_weight))
        values = [0.0] * len(columns)
        future = None
        if pool is not None:
            # NumPy's error state is a context variable: the worker runs in a copy of this one.
            run_in_context = contextvars.copy_context().run
            future = pool.submit(
                run_in_context, _columns_loss_and_grad,
                net, fb, i, columns[1], X, Y, sample_weight, n,
            )  # fmt: skip
        try:
            for c, col in enumerate(columns):
                if c == 1 and future is not None and not future.cancel():
                    continue  # the worker has it
                values[c] = _columns_loss_and_grad(net, fb, i, col, X, Y, sample_weight, n)[0]
        except BaseException:
            if future is not None and not future.cancel():
                wait([future])  # its arrays are not left being written
            raise
        if future is not None and not future.cancelled():
            values[1] = future.result()[0]  # waits; raises the worker's exception
        value = values[0]
        flat = fb.flat_grads["flat"]
        for c in range(1, len(columns)):
            value += values[c]
            flat += columns[c].flat_grad
    if alpha:
        value += l2_penalty(net, fb.sets[i].params, alpha, n)
        Ws = fb.weights[i]
        for k in range(len(Ws)):
            fb.grad_w[k] += (alpha / n) * Ws[k]
    return value


def _columns_loss_and_grad(
    net: Network,
    fb: _FullBatch,
    i: int,
    col: _Columns,
    X: NDArray,
    Y: NDArray,
    sample_weight: NDArray | None,
    total: float | None,
) -> tuple[float, float]:
    """The loss (without the L2 term) and its gradient on ``col``'s samples, into ``col``.

    ``total`` divides the loss: the whole batch's size or weight when ``col`` is a chunk; None
    for the samples' own. Returns the value and the divisor.
    """
    act = get_activation(net.activation)
    blocks, Ws, bs = fb.sets[i].blocks, fb.weights[i], fb.biases[i]
    H, X1T = col.hidden, col.X1T
    rows = col.rows
    if total is not None:  # a chunk
        X, Y = X[rows], Y[rows]
        if sample_weight is not None:
            sample_weight = sample_weight[rows]
    first = X if X1T is None else X1T  # layer 1's input
    L = len(blocks)
    logits = col.logits
    for k in range(L):
        out = logits if k == L - 1 else H[k][:-1]
        if k == 0 and X1T is None:  # layer 1's bias separately
            if k == L - 1:
                np.matmul(X, Ws[0], out=out)
                out += bs[0]
            else:
                np.matmul(Ws[0].T, X.T, out=out)
                out += bs[0][:, None]
        else:
            inp = first if k == 0 else H[k - 1]
            if k == L - 1:  # the logits with samples as rows, as the head wants them
                np.matmul(inp.T, blocks[k], out=out)
            else:
                np.matmul(blocks[k].T, inp, out=out)
        if k < L - 1:
            act.forward(out, out)
    head = get_head(net.head)
    if total is not None:
        value, d = head.loss(logits, Y, sample_weight, total=total)
        n = total
    elif sample_weight is None:
        value, d = head.loss(logits, Y)
        n = X.shape[0]
    else:
        value, d = head.loss(logits, Y, sample_weight)
        n = float(np.sum(sample_weight))
    delta = d.T  # (n_outputs, n_samples)
    for k in range(L - 1, -1, -1):
        if k == 0 and X1T is None:
            np.matmul(X.T, delta.T, out=col.grad_w[0])
            np.matmul(delta, col.ones, out=col.grad_b[0])
        else:
            np.matmul(first if k == 0 else H[k - 1], delta.T, out=col.grad_blocks[k])
        if k > 0:
            W = Ws[k]
            if W.shape[1] == 1:  # one output: an outer product (see network.backward)
                delta = np.einsum("ik,kj->ij", W, delta, out=col.deltas[k - 1])
            else:
                delta = np.matmul(W, delta, out=col.deltas[k - 1])
            act.grad_from_output(H[k - 1][:-1], delta, col.work[k - 1])
    return value, n


def _finite_params(params: Params) -> bool:
    return all(np.isfinite(p).all() for p in params.values())


# -- the steps of fit ------------------------------------------------------------------------------
class _Task(NamedTuple):
    """What stays the same for a whole run: the data and how each step is taken."""

    net: Network
    X: NDArray
    Y: NDArray
    optimizer: Optimizer
    alpha: float
    clip_norm: float | None
    batch_size: int | None
    rng: np.random.Generator | np.random.RandomState | None
    in_place: bool  # the optimiser writes into arrays the loop owns (``update_into``)
    finite_below: float  # half the largest float of the parameters' dtypes
    step_arrays: dict[int, _StepArrays]  # by batch size, filled on first use
    order: NDArray | None  # a RandomState's sample order, composed epoch after epoch
    sample_weight: NDArray | None
    full_batch: _FullBatch | None = None  # plain descent on the full batch
    pool: Executor | None = None  # one worker for the full batch's second chunk


class _Run(NamedTuple):
    """What changes from step to step."""

    params: Params
    state: Any
    spare: Params  # in place: the arrays the next update writes into
    previous: Params | None  # the weights before the last update, whose loss was finite
    reach: float  # a bound on the largest parameter entry (in place), else inf


class _EpochStats(NamedTuple):
    """Sums over one epoch's batches."""

    total: float  # sum of loss * batch size
    n_samples: int
    norms: list[float]  # global gradient norm of each batch
    lr: float  # step size of the last update


class _Stop(NamedTuple):
    """Why training stopped, as the history reports it."""

    reason: str
    message: str
    best_epoch: int | None = None


class _Patience(NamedTuple):
    """The state of the stopping rules: the best so far, and epochs without improvement since."""

    best_params: Params
    best_loss: float = math.inf
    best_score: float = -math.inf
    best_epoch: int | None = None
    no_improvement: int = 0


def _start(
    net: Network,
    params: Params,
    X: NDArray,
    Y: NDArray,
    optimizer: Optimizer,
    state: Any,
    *,
    alpha: float,
    clip_norm: float | None,
    batch_size: int | None,
    rng: np.random.Generator | np.random.RandomState | None,
    sample_weight: NDArray | None = None,
    n_chunks: int = 1,
) -> tuple[_Task, _Run]:
    """The fixed task and the first state of a run (full-batch plain descent in ``n_chunks``)."""
    # An optimiser with ``update_into`` (plain descent) writes each step's parameters into two
    # sets of arrays that the loop owns and uses in turn, so that a step allocates nothing. The
    # caller's arrays are copied first; callbacks and early stopping get copies of the loop's.
    in_place = optimizer.update_into is not None
    spare: Params = {}
    full_batch = _full_batch(net, params, X, batch_size, n_chunks) if in_place else None
    if full_batch is not None:
        params, spare = full_batch.sets[0].params, full_batch.sets[1].params
    elif in_place:
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
    # A legacy RandomState shuffles as scikit-learn does: each epoch permutes the last order.
    order = np.arange(X.shape[0]) if isinstance(rng, np.random.RandomState) else None
    task = _Task(
        net, X, Y, optimizer, alpha, clip_norm, batch_size, rng, in_place, finite_below, {},
        order, sample_weight, full_batch,
    )  # fmt: skip
    return task, _Run(params, state, spare, None, reach)


def _batch(task: _Task, params: Params, idx: slice | NDArray) -> tuple[NDArray, NDArray, Workspace]:
    """The rows ``idx`` of the data and the workspace for a batch of their size."""
    X, Y = task.X, task.Y
    n_batch = len(range(X.shape[0])[idx]) if isinstance(idx, slice) else len(idx)
    reuse = _step_arrays(task.step_arrays, task.net, params, X, Y, n_batch, task.in_place)
    if isinstance(idx, slice) or not isinstance(X, np.ndarray):  # a view, or sparse rows
        return X[idx], Y[idx], reuse.workspace
    # Gather the shuffled rows into the preallocated batch arrays.
    Xb = np.take(X, idx, axis=0, out=reuse.X)
    Yb = np.take(Y, idx, axis=0, out=reuse.Y)
    return Xb, Yb, reuse.workspace


def _train_epoch(task: _Task, run: _Run) -> tuple[_Run, _EpochStats | None]:
    """One pass over the data, one optimiser step per batch.

    Returns None instead of the statistics when a loss, a gradient or an update became
    non-finite; the run then holds the last weights whose loss was finite.
    """
    net, optimizer = task.net, task.optimizer
    params, state, spare, previous, reach = run
    total, norms, lr = 0.0, [], math.nan
    sw, fb = task.sample_weight, task.full_batch
    for idx in iter_batches(task.X.shape[0], task.batch_size, task.rng, task.order):
        # Overflow is detected below by checking finiteness, so NumPy's warnings about it would
        # only repeat the message the history gives.
        if fb is None:
            Xb, Yb, workspace = _batch(task, params, idx)
            n_rows = Xb.shape[0]
            with np.errstate(over="ignore", invalid="ignore"):
                value, grads = loss_and_grad(
                    net, params, Xb, Yb, task.alpha, workspace=workspace,
                    sample_weight=None if sw is None else sw[idx],
                )  # fmt: skip
            step_from, step_into, step_grads = params, spare, grads
            norm = global_norm(grads)
        else:  # the optimiser updates each packed parameter set as one flat array
            n_rows = task.X.shape[0]
            i = 0 if params is fb.sets[0].params else 1
            with np.errstate(over="ignore", invalid="ignore"):
                value = _full_batch_loss_and_grad(
                    net, fb, i, task.X, task.Y, task.alpha, sw, task.pool
                )
            grads, step_from, step_into = fb.grads, fb.flats[i], fb.flats[1 - i]
            step_grads = fb.flat_grads
            flat = step_grads["flat"]
            norm = math.sqrt(float(np.vdot(flat, flat)))  # every gradient at once
        if not (math.isfinite(value) and math.isfinite(norm)):
            # These weights gave the non-finite loss: go back to the ones before.
            last_finite = params if previous is None else previous
            return _Run(last_finite, state, spare, previous, reach), None
        if task.clip_norm is not None:
            clipped, norm = clip_by_global_norm(grads, task.clip_norm)
            if clipped is not grads:  # new arrays: update the parameters one by one
                step_from, step_into, step_grads = params, spare, clipped
            grads = clipped
        lr = value_at(optimizer.learning_rate, getattr(state, "step", 0))
        with np.errstate(over="ignore", invalid="ignore"):
            if optimizer.update_into is not None:
                state = optimizer.update_into(step_grads, state, step_from, step_into)
                new_params = spare
            else:
                updates, state = optimizer.update(grads, state, params)
                new_params = apply_updates(params, updates)
        reach += abs(lr) * norm
        if not reach < task.finite_below and not _finite_params(new_params):
            return _Run(params, state, spare, previous, reach), None
        if task.in_place:
            spare = params
        # With plain descent this is the spare set: not written again before the next step's
        # loss has been found finite.
        previous = params
        params = new_params
        total += value * n_rows
        norms.append(norm)
    stats = _EpochStats(total, task.X.shape[0], norms, lr)
    return _Run(params, state, spare, previous, reach), stats


def _non_finite(epoch: int) -> _Stop:
    return _Stop(
        "non-finite",
        f"the loss or its gradient became non-finite in epoch {epoch}; training stopped and "
        f"the last finite weights were kept",
        best_epoch=epoch - 1,
    )


#: Validation sets of up to this many rows are scored in one forward pass; larger ones in chunks
#: of this many rows, so that no temporary of the network's width has more rows than this.
VALIDATION_CHUNK = 16_384


def _validate(
    net: Network, params: Params, validation: tuple[NDArray, NDArray] | None
) -> tuple[float, float]:
    """Validation loss and score (NaN and NaN without validation data).

    Above :data:`VALIDATION_CHUNK` rows the set is scored chunk by chunk: the loss is the
    row-weighted mean of the chunks' losses and the score is summed from the chunks' counts (or,
    for R^2, squared residuals), equal to one pass's up to rounding (accuracy exactly).
    """
    if validation is None:
        return math.nan, math.nan
    X_val, Y_val = validation
    n = X_val.shape[0]
    head = get_head(net.head)
    if n <= VALIDATION_CHUNK:
        logits, _ = forward(net, params, X_val)
        value, _ = head.loss(logits, Y_val)
        return value, score_from_logits(net.head, logits, Y_val)
    loss = 0.0
    right = 0
    resid = np.zeros(Y_val.shape[1])
    for start in range(0, n, VALIDATION_CHUNK):
        Xc, Yc = X_val[start : start + VALIDATION_CHUNK], Y_val[start : start + VALIDATION_CHUNK]
        logits, _ = forward(net, params, Xc)
        value, _ = head.loss(logits, Yc)
        loss += value * (Xc.shape[0] / n)  # weight before adding: no overflow of the sum
        if net.head == "binary":
            right += int(np.count_nonzero(np.all((logits > 0) == (Yc > 0.5), axis=1)))
        elif net.head == "softmax":
            right += int(np.count_nonzero(logits.argmax(axis=1) == Yc.argmax(axis=1)))
        else:
            resid += ((Yc - logits) ** 2).sum(axis=0)
    if net.head in ("binary", "softmax"):
        return loss, right / n
    return loss, _r2(resid, ((Y_val - Y_val.mean(axis=0)) ** 2).sum(axis=0))


def _record_epoch(
    history: History, epoch: int, stats: _EpochStats, validation: tuple[float, float], start: float
) -> None:
    """Append one epoch to each of :attr:`History.COLUMNS`."""
    row = {
        "epoch": epoch,
        "loss": stats.total / stats.n_samples,
        "val_loss": validation[0],
        "val_score": validation[1],
        "learning_rate": stats.lr,
        "grad_norm": math.fsum(stats.norms) / len(stats.norms),
        "time": time.perf_counter() - start,
    }
    for name in History.COLUMNS:
        getattr(history, name).append(row[name])


def _kept(params: Params, copy: bool) -> Params:
    # What callbacks and early stopping keep must never change afterwards.
    return {k: p.copy() for k, p in params.items()} if copy else params


def _end_epoch(
    callbacks: Sequence[Callback], epoch: int, params: Params, history: History
) -> _Stop | None:
    """Call every callback's ``on_epoch_end``; stop if any of them asks to."""
    stop = False
    for cb in callbacks:
        stop = bool(cb.on_epoch_end(epoch, params, history)) or stop
    return _Stop("callback", f"a callback stopped epoch {epoch}") if stop else None


def _early_stopping(
    patience: _Patience,
    epoch: int,
    params: Params,
    history: History,
    tol: float,
    limit: float | None,
) -> tuple[_Patience, _Stop | None]:
    """Track the best validation score and its weights; stop after ``limit`` epochs without
    an improvement by ``tol``."""
    score = history.val_score[-1]
    patience = patience._replace(
        no_improvement=patience.no_improvement + 1 if score < patience.best_score + tol else 0
    )
    if score > patience.best_score:
        patience = patience._replace(best_score=score, best_params=params, best_epoch=epoch)
    if limit is not None and patience.no_improvement > limit:
        return patience, _Stop(
            "early_stopping", f"validation score did not improve by {tol} for {limit} epochs"
        )
    return patience, None


def _convergence(
    patience: _Patience, history: History, tol: float, limit: float
) -> tuple[_Patience, _Stop | None]:
    """scikit-learn's rule: stop when the training loss has not fallen by ``tol`` for ``limit``
    epochs."""
    loss = history.loss[-1]
    patience = patience._replace(
        best_loss=min(patience.best_loss, loss),
        no_improvement=patience.no_improvement + 1 if loss > patience.best_loss - tol else 0,
    )
    if patience.no_improvement > limit:
        return patience, _Stop(
            "converged", f"training loss did not improve by {tol} for {limit} epochs"
        )
    return patience, None


def _stopping_rules(
    patience: _Patience,
    epoch: int,
    params: Params,
    history: History,
    *,
    early_stopping: bool,
    n_iter_no_change: float | None,
    tol: float,
) -> tuple[_Patience, _Stop | None]:
    """Early stopping on the validation score, else convergence of the training loss."""
    if early_stopping:
        return _early_stopping(patience, epoch, params, history, tol, n_iter_no_change)
    if n_iter_no_change is not None:
        return _convergence(patience, history, tol, n_iter_no_change)
    return patience, None


def _stopped(history: History, stop: _Stop) -> None:
    history.stop_reason, history.message = stop.reason, stop.message
    if stop.best_epoch is not None:
        history.best_epoch = stop.best_epoch


def _returned_params(
    task: _Task,
    run: _Run,
    kept: Params,
    patience: _Patience,
    history: History,
    early_stopping: bool,
) -> Params:
    """The weights ``fit`` returns: the best ones with early stopping, else the last finite."""
    params = run.params
    if task.in_place and history.epoch and history.stop_reason != "non-finite":
        params = kept  # the very arrays the callbacks saw for the last epoch
    if early_stopping and patience.best_epoch is not None:
        params, history.best_epoch = patience.best_params, patience.best_epoch
    return params


class _PrintLoss(Callback):
    """``verbose``: print the loss of every epoch in scikit-learn's format."""

    def on_epoch_end(self, epoch: int, params: Params, history: History) -> bool | None:
        print(f"Iteration {epoch}, loss = {history.loss[-1]:.8f}")
        return None


class _ProgressBar(Callback):
    """A rich progress bar over the epochs showing the latest loss; it vanishes at the end."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs
        self._bar: Any = None
        self._task: Any = None

    def on_train_begin(self, net: Network, params: Params, optimizer: Optimizer) -> None:
        from rich.progress import Progress

        self._bar = Progress(transient=True)
        self._task = self._bar.add_task("training", total=self.epochs)
        self._bar.start()

    def on_epoch_end(self, epoch: int, params: Params, history: History) -> bool | None:
        self._bar.update(self._task, advance=1, description=f"loss {history.loss[-1]:.4g}")
        return None

    def on_train_end(self, params: Params, history: History) -> None:
        self.close()

    def close(self) -> None:
        """Remove the bar (also when training raised); closing twice does nothing."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


@contextmanager
def _display(epochs: int, progress: bool | None, verbose: bool) -> Iterator[list[Callback]]:
    """The callbacks that show a run (printing, a progress bar), closed however ``fit`` ends."""
    if progress is None:
        progress = epochs >= 200 and sys.stderr.isatty()
    bar = _ProgressBar(epochs) if progress else None
    shown: list[Callback] = [_PrintLoss()] if verbose else []
    if bar is not None:
        shown.append(bar)
    try:
        yield shown
    finally:
        if bar is not None:
            bar.close()


def fit(
    net: Network,
    params: Params,
    X: NDArray,
    Y: NDArray,
    *,
    optimizer: Optimizer,
    epochs: int,
    batch_size: int | None = None,
    rng: np.random.Generator | np.random.RandomState | None = None,
    alpha: float = 0.0,
    clip_norm: float | None = None,
    validation: tuple[NDArray, NDArray] | None = None,
    early_stopping: bool = False,
    n_iter_no_change: float | None = 10,
    tol: float = 1e-4,
    callbacks: Sequence[Callback] = (),
    opt_state: Any = None,
    progress: bool | None = None,
    verbose: bool = False,
    sample_weight: NDArray | None = None,
    epoch_rate: EpochRate | None = None,
    stop_state: StopState | None = None,
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
    sample_weight : ndarray of shape (n_samples,), optional
        Weights of the training samples (see :func:`loss_and_grad`).
    epoch_rate : EpochRate, optional
        A step size changed between epochs (scikit-learn's ``invscaling`` and ``adaptive``).
    stop_state : StopState, optional
        What the stopping rules remembered at the end of an earlier run (a warm start).

    Returns
    -------
    FitResult
        A non-finite loss or gradient stops training; the returned parameters are then the last
        ones whose loss was finite and ``history.stop_reason`` is ``"non-finite"``.
    """
    if early_stopping and validation is None:
        raise ValueError("early_stopping needs validation data")
    state = optimizer.init(params) if opt_state is None else opt_state
    history = History(stop_reason="max_iter", message=f"reached the maximum of {epochs} epochs")
    step_rows = min(batch_size or X.shape[0], X.shape[0])
    # Before the fit's own limit of BLAS threads: whether the user left two threads to use.
    n_chunks = 2 if parallel_step(net.layer_sizes, step_rows) else 1
    with (
        ExitStack() as workers,
        blas_threads_for(net.layer_sizes, step_rows),
        _display(epochs, progress, verbose) as shown,
    ):
        everyone = [*shown, *callbacks]  # showing first: it prints before the callbacks run
        for cb in everyone:
            cb.on_train_begin(net, params, optimizer)
        task, run = _start(
            net, params, X, Y, optimizer, state,
            alpha=alpha, clip_norm=clip_norm, batch_size=batch_size, rng=rng,
            sample_weight=sample_weight, n_chunks=n_chunks,
        )  # fmt: skip
        if task.full_batch is not None and len(task.full_batch.columns) > 1:
            # One worker for this fit, shut down (after its last chunk) when the fit ends.
            pool = workers.enter_context(ThreadPoolExecutor(1, "lossdoctor-step"))
            task = task._replace(pool=pool)
        # Only what is kept needs copying out of the arrays the loop reuses; showing keeps nothing.
        copy_kept = task.in_place and (bool(callbacks) or early_stopping)
        patience, kept, start = _Patience(params), run.params, time.perf_counter()
        if stop_state is not None:
            patience = patience._replace(**stop_state._asdict())
        seen = epoch_rate.t0 if epoch_rate is not None else 0
        for epoch in range(1, epochs + 1):
            run, stats = _train_epoch(task, run)
            if stats is None:
                _stopped(history, _non_finite(epoch))
                break
            _record_epoch(history, epoch, stats, _validate(net, run.params, validation), start)
            kept = _kept(run.params, copy_kept)
            stop = _end_epoch(everyone, epoch, kept, history)
            if stop is None:
                patience, stop = _stopping_rules(
                    patience, epoch, kept, history,
                    early_stopping=early_stopping, n_iter_no_change=n_iter_no_change, tol=tol,
                )  # fmt: skip
            if epoch_rate is not None:
                seen += X.shape[0]
                task, patience, stop = _change_rate(task, epoch_rate, seen, patience, stop)
            if stop is not None:
                _stopped(history, stop)
                break
        params = _returned_params(task, run, kept, patience, history, early_stopping)
        for cb in everyone:
            cb.on_train_end(params, history)
    stops = StopState(patience.best_loss, patience.best_score, patience.no_improvement)
    return FitResult(params, run.state, history, task.optimizer, stops)


def _change_rate(
    task: _Task, rate: EpochRate, seen: int, patience: _Patience, stop: _Stop | None
) -> tuple[_Task, _Patience, _Stop | None]:
    """scikit-learn's changes of the step size at the end of an epoch.

    ``invscaling``: the next epoch's step is ``init / (seen + 1) ** power_t``. ``adaptive``: when
    the stopping rule fires, divide the step by 5 and go on, unless it is already below 1e-6.
    """
    if rate.kind == "invscaling":
        lr = rate.init / (seen + 1) ** rate.power_t
        return task._replace(optimizer=rate.rebuild(lr)), patience, stop
    lr = float(task.optimizer.learning_rate)  # type: ignore[arg-type]
    if rate.kind == "adaptive" and stop is not None and stop.reason != "callback" and lr > 1e-6:
        task = task._replace(optimizer=rate.rebuild(lr / 5.0))
        return task, patience._replace(no_improvement=0), None
    return task, patience, stop


def fit_lbfgs(
    net: Network,
    params: Params,
    X: NDArray,
    Y: NDArray,
    *,
    max_iter: int,
    max_fun: int = 15000,
    tol: float = 1e-4,
    alpha: float = 0.0,
    sample_weight: NDArray | None = None,
    callbacks: Sequence[Callback] = (),
    verbose: bool = False,
) -> FitResult:
    """Minimise the objective with SciPy's L-BFGS-B over the flattened parameters.

    The objective and its gradient are :func:`loss_and_grad`'s, packed as scikit-learn packs
    them (``W1, ..., WL`` then ``b1, ..., bL``), so that the same start gives scikit-learn's
    iterates.

    Parameters
    ----------
    net : Network
    params : dict of str to ndarray
        Initial parameters; never modified.
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_outputs)
    max_iter : int
        L-BFGS iterations (each is one epoch of the history).
    max_fun : int
        Evaluations of the objective.
    tol : float
        SciPy's ``gtol``: stop when the largest gradient entry is below it.
    alpha : float
    sample_weight : ndarray of shape (n_samples,), optional
    callbacks : sequence of Callback
        ``on_epoch_end`` after each iteration (returning True stops).
    verbose : bool
        Print the loss of every iteration.

    Returns
    -------
    FitResult
        The history has one row per iteration; ``stop_reason`` is ``converged``, or ``max_iter``
        when SciPy stopped for another reason (iterations, evaluations, line search), with SciPy's
        message. ``opt_state`` is None.
    """
    import scipy.optimize

    L = n_layers(net)
    order = [f"W{k}" for k in range(1, L + 1)] + [f"b{k}" for k in range(1, L + 1)]
    shapes = [(name, params[name].shape, params[name].dtype) for name in order]

    def unpack(theta: NDArray) -> Params:
        out, start = {}, 0
        for name, shape, dtype in shapes:
            size = math.prod(shape)
            out[name] = theta[start : start + size].reshape(shape).astype(dtype, copy=False)
            start += size
        return {k: out[k] for k in params}  # the caller's key order

    def value_and_grad(theta: NDArray) -> tuple[float, NDArray]:
        value, grads = loss_and_grad(net, unpack(theta), X, Y, alpha, sample_weight=sample_weight)
        return value, np.concatenate([grads[name].ravel() for name in order]).astype(np.float64)

    history = History(stop_reason="converged", message="")
    everyone: list[Callback] = [*([_PrintLoss()] if verbose else []), *callbacks]
    for cb in everyone:
        cb.on_train_begin(net, params, Optimizer(lambda p: None, None, math.nan, "lbfgs"))  # type: ignore[arg-type]
    start = time.perf_counter()

    stopped = []

    def each_iteration(intermediate_result: Any) -> None:
        epoch = len(history.loss) + 1
        current = unpack(np.array(intermediate_result.x))
        row = {
            "epoch": epoch,
            "loss": float(intermediate_result.fun),
            "val_loss": math.nan,
            "val_score": math.nan,
            "learning_rate": math.nan,
            "grad_norm": math.nan,
            "time": time.perf_counter() - start,
        }
        for name in History.COLUMNS:
            getattr(history, name).append(row[name])
        if _end_epoch(everyone, epoch, current, history) is not None:
            stopped.append(epoch)
            raise StopIteration

    theta0 = np.concatenate([params[name].ravel() for name in order]).astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        res = scipy.optimize.minimize(
            value_and_grad,
            theta0,
            method="L-BFGS-B",
            jac=True,
            options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol},
            callback=each_iteration,
        )
    history.message = str(res.message)
    if stopped:
        history.stop_reason = "callback"
    elif res.status != 0:
        history.stop_reason = "max_iter"
    final = unpack(np.asarray(res.x))
    if not _finite_params(final):
        history.stop_reason = "non-finite"
    for cb in everyone:
        cb.on_train_end(final, history)
    return FitResult(final, None, history, None, StopState(best_loss=float(res.fun)))
