"""A user's own output activation and loss: check them against the task, and reproduce the run.

The estimators pick the output and the loss from the task (a sigmoid with binary cross-entropy,
a softmax with categorical cross-entropy, a linear output with the squared error). A person's
network often does not, and that is the fault in about two posts in three of the DeepLocalize /
DeepDiagnosis Stack Overflow benchmark. To diagnose such a network, :func:`output_evidence`
measures what the output and the loss can do on the targets (the output's range against the
targets', exact-zero gradients of a softmax over one unit, a loss that needs targets in [0, 1]),
and :func:`train_user_output` reproduces the run: the same network, weights, optimiser and
batches, with the user's output and loss on top of the logits.

- :data:`OUTPUTS`, :data:`LOSSES`: the names understood (Keras spellings are accepted too).
- :func:`canonical`: the expected pair for a head, and the user's pair in canonical names.
- :func:`output_evidence`: the numbers the ``output-loss-mismatch``, ``zero-gradients`` and
  ``labels-scaled`` detectors read.
- :func:`train_user_output`: a run with the user's output and loss; returns its history.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..network import Network, Params, backward, forward
from ..training import History, iter_batches

__all__ = ["LOSSES", "OUTPUTS", "canonical", "output_evidence", "train_user_output"]

#: Output activations by canonical name, with their range.
OUTPUTS: dict[str, tuple[float, float]] = {
    "sigmoid": (0.0, 1.0),
    "softmax": (0.0, 1.0),
    "tanh": (-1.0, 1.0),
    "relu": (0.0, math.inf),
    "identity": (-math.inf, math.inf),
}
_OUTPUT_ALIASES = {"logistic": "sigmoid", "linear": "identity", "none": "identity"}
#: Losses by canonical name.
LOSSES = ("binary_crossentropy", "categorical_crossentropy", "squared_error", "absolute_error")
_LOSS_ALIASES = {
    "bce": "binary_crossentropy",
    "log_loss": "binary_crossentropy",
    "ce": "categorical_crossentropy",
    "cross_entropy": "categorical_crossentropy",
    "sparse_categorical_crossentropy": "categorical_crossentropy",
    "mse": "squared_error",
    "mean_squared_error": "squared_error",
    "mae": "absolute_error",
    "mean_absolute_error": "absolute_error",
}
#: The estimators' output and loss for each head.
HEAD_OUTPUT = {
    "binary": ("sigmoid", "binary_crossentropy"),
    "softmax": ("softmax", "categorical_crossentropy"),
    "identity": ("identity", "squared_error"),
}


def canonical(output_activation: str | None, loss: str | None, head: str) -> tuple[str, str]:
    """The user's output and loss in canonical names (the head's own where not given).

    Raises ``ValueError`` naming the valid names for an unknown one.
    """
    out, lo = HEAD_OUTPUT[head]
    if output_activation is not None:
        name = str(output_activation).lower()
        out = _OUTPUT_ALIASES.get(name, name)
        if out not in OUTPUTS:
            raise ValueError(
                f"unknown output_activation {output_activation!r}; expected one of: "
                f"{', '.join(OUTPUTS)}"
            )
    if loss is not None:
        name = str(loss).lower()
        lo = _LOSS_ALIASES.get(name, name)
        if lo not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; expected one of: {', '.join(LOSSES)}")
    return out, lo


def output_evidence(
    output: str, loss: str, *, task: str, head: str, Y: NDArray, n_classes: int | None
) -> dict[str, Any]:
    """What the user's output and loss can do on the encoded targets ``Y``.

    Returns
    -------
    dict
        ``output``, ``loss``, ``expected_output``, ``expected_loss`` (the estimators' pair for the
        task), ``n_outputs``, ``n_classes``, ``target_min``, ``target_max``, ``output_min``,
        ``output_max``, ``out_of_range`` (share of targets the output can never reach),
        ``constant_output`` (a softmax over one unit: its output is 1 whatever the weights),
        ``problems`` (one short sentence per mismatch). Empty when the pair is the expected one.
    """
    expected = HEAD_OUTPUT[head]
    if (output, loss) == expected:
        return {}
    Y = np.asarray(Y, dtype=np.float64)
    lo, hi = OUTPUTS[output]
    finite = Y[np.isfinite(Y)]
    out_of_range = float(np.mean((finite < lo) | (finite > hi))) if finite.size else 0.0
    n_outputs = int(Y.shape[1])
    problems = []
    constant = output == "softmax" and n_outputs == 1
    if constant:
        problems.append("a softmax over one output unit is exactly 1 for every sample")
    if task == "classification" and output in ("identity", "relu", "tanh"):
        problems.append(f"a {output} output gives no probability for classification")
    if loss == "categorical_crossentropy" and output != "softmax":
        problems.append(f"categorical cross-entropy needs a softmax output, not {output}")
    if loss == "binary_crossentropy" and output not in ("sigmoid", "softmax"):
        problems.append(f"binary cross-entropy needs a sigmoid output, not {output}")
    if loss == "binary_crossentropy" and n_classes is not None and n_classes > 2:
        problems.append(
            f"binary cross-entropy treats {n_classes} exclusive classes as independent yes/no "
            f"labels"
        )
    if task == "classification" and loss in ("squared_error", "absolute_error"):
        problems.append(f"{loss.replace('_', ' ')} on a classifier's probabilities")
    if task == "regression" and loss in ("binary_crossentropy", "categorical_crossentropy"):
        problems.append(f"{loss.replace('_', ' ')} on a regression target")
    if task == "regression" and out_of_range > 0:
        problems.append(
            f"a {output} output lies in [{lo:g}, {hi:g}] but {out_of_range:.0%} of the targets "
            f"are outside it"
        )
    return {
        "output": output,
        "loss": loss,
        "expected_output": expected[0],
        "expected_loss": expected[1],
        "n_outputs": n_outputs,
        "n_classes": n_classes,
        "target_min": float(finite.min()) if finite.size else math.nan,
        "target_max": float(finite.max()) if finite.size else math.nan,
        "output_min": lo,
        "output_max": hi,
        "out_of_range": out_of_range,
        "constant_output": constant,
        "problems": problems,
    }


def _apply_output(output: str, Z: NDArray) -> NDArray:
    if output == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * Z))
    if output == "softmax":
        E = np.exp(Z - Z.max(axis=1, keepdims=True))
        return E / E.sum(axis=1, keepdims=True)
    if output == "tanh":
        return np.tanh(Z)
    if output == "relu":
        return np.maximum(Z, 0.0)
    return Z


def _output_backward(output: str, Z: NDArray, P: NDArray, G: NDArray) -> NDArray:
    if output == "sigmoid":
        return G * P * (1.0 - P)
    if output == "softmax":
        return P * (G - np.sum(G * P, axis=1, keepdims=True))
    if output == "tanh":
        return G * (1.0 - P * P)
    if output == "relu":
        return G * (Z > 0)
    return G


def user_loss(output: str, loss: str, Z: NDArray, Y: NDArray) -> tuple[float, NDArray, NDArray]:
    """The user's loss of logits ``Z``, its gradient with respect to ``Z``, and the outputs.

    Probabilities are clipped to [1e-7, 1 - 1e-7] inside the cross-entropies, as Keras does.
    """
    n = Z.shape[0]
    P = _apply_output(output, Z)
    eps = 1e-7
    if loss == "binary_crossentropy":
        Q = np.clip(P, eps, 1 - eps)
        value = -np.mean(np.sum(Y * np.log(Q) + (1 - Y) * np.log(1 - Q), axis=1))
        G = (-(Y / Q) + (1 - Y) / (1 - Q)) * ((P > eps) & (P < 1 - eps)) / n
    elif loss == "categorical_crossentropy":
        Q = np.clip(P, eps, 1.0)
        value = -np.mean(np.sum(Y * np.log(Q), axis=1))
        G = -(Y / Q) * (P > eps) / n
    elif loss == "absolute_error":
        value = np.mean(np.sum(np.abs(P - Y), axis=1))
        G = np.sign(P - Y) / n
    else:
        value = 0.5 * np.mean(np.sum((P - Y) ** 2, axis=1))
        G = (P - Y) / n
    return float(value), _output_backward(output, Z, P, G), P


def _score(output: str, task: str, P: NDArray, Y: NDArray) -> float:
    """Accuracy (classification) or R^2 (regression) of the user's outputs."""
    if task == "regression":
        resid = float(np.sum((Y - P) ** 2))
        total = float(np.sum((Y - Y.mean(axis=0)) ** 2))
        return 1.0 - resid / total if total > 0 else 0.0
    if Y.shape[1] > 1:
        return float(np.mean(P.argmax(axis=1) == Y.argmax(axis=1)))
    threshold = 0.5 if output in ("sigmoid", "softmax", "relu", "identity") else 0.0
    return float(np.mean((P[:, 0] > threshold) == (Y[:, 0] > 0.5)))


def train_user_output(
    est: Any,
    net: Network,
    params0: Params,
    X: NDArray,
    Y: NDArray,
    rng: np.random.Generator | np.random.RandomState,
    validation: tuple[NDArray, NDArray] | None,
    *,
    output: str,
    loss: str,
    task: str,
) -> tuple[History, dict[str, Any]]:
    """Train ``net`` with the user's output and loss on top of its logits.

    The weights, optimiser, batch size and shuffling come from the run specification ``est``, as
    in :func:`lossdoctor.runspec.train`; only the output and the loss differ.

    Returns
    -------
    history : History
    info : dict
        ``zero_grad_share`` (share of exactly-zero gradient entries at the initial weights),
        ``grad_norm_start``.
    """
    opt = est.optimizer()
    state = opt.init(params0)
    params = {k: v.copy() for k, v in params0.items()}
    history = History()
    logits0, trace0 = forward(net, params, X)
    _, d0, _ = user_loss(output, loss, logits0, Y)
    g0 = backward(net, params, trace0, d0)
    n_entries = sum(g.size for g in g0.values())
    zero_share = sum(int(np.count_nonzero(g == 0)) for g in g0.values()) / max(n_entries, 1)
    info = {
        "zero_grad_share": float(zero_share),
        "grad_norm_start": float(math.sqrt(sum(float(np.vdot(g, g)) for g in g0.values()))),
    }
    batch = est.batch_size_for(X.shape[0])
    lr = opt.learning_rate if isinstance(opt.learning_rate, float) else math.nan
    start = time.perf_counter()
    for epoch in range(1, int(est.max_iter) + 1):
        total, count = 0.0, 0
        for idx in iter_batches(X.shape[0], batch, rng if est.shuffle else None):
            Z, trace = forward(net, params, X[idx])
            value, dZ, _ = user_loss(output, loss, Z, Y[idx])
            grads = backward(net, params, trace, dZ)
            updates, state = opt.update(grads, state, params)
            params = {k: params[k] + updates[k] for k in params}
            total += value * len(Y[idx])
            count += len(Y[idx])
        value = total / max(count, 1)
        history.epoch.append(epoch)
        history.loss.append(value)
        history.learning_rate.append(lr)
        history.grad_norm.append(math.nan)
        history.time.append(time.perf_counter() - start)
        if validation is not None:
            Zv, _ = forward(net, params, validation[0])
            v_loss, _, Pv = user_loss(output, loss, Zv, validation[1])
            history.val_loss.append(v_loss)
            history.val_score.append(_score(output, task, Pv, validation[1]))
        else:
            history.val_loss.append(math.nan)
            history.val_score.append(math.nan)
        if not math.isfinite(value):
            history.stop_reason = "non-finite"
            break
    else:
        history.stop_reason = "max_iter"
    return history, info
