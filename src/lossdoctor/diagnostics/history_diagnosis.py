"""Diagnose a loss history from anyone's training loop: no training, no weights needed.

:func:`diagnose_history` judges a list of losses (and, when given, what a
:class:`~lossdoctor.diagnostics.monitors.TrainingMonitor` recorded and the training data) with
the same table of rules as :func:`~lossdoctor.diagnostics.diagnose.diagnose`. It lives apart from
the monitors' module so that the monitor's ``diagnose()`` can call it without an import cycle.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..activations import ACTIVATIONS
from ..runspec import fit_target_encoding
from ..training import History
from .evidence import chance_loss as _chance_loss
from .evidence import data_evidence, gather_evidence
from .findings import Diagnosis
from .rules import evaluate
from .user_output import canonical, output_evidence

__all__ = ["diagnose_history"]


def _check_history_args(
    losses: ArrayLike,
    lr: float | None,
    val_losses: ArrayLike | None,
    chance_loss: float | None,
    activation: str | None,
    optimizer: str,
    X: ArrayLike | None,
    y: ArrayLike | None,
    task: str,
) -> tuple[NDArray, NDArray | None, NDArray | None, NDArray | None]:
    """Validate :func:`diagnose_history`'s arguments once, naming any bad value."""
    L = np.asarray(losses, dtype=np.float64)
    if L.ndim != 1:
        raise ValueError(f"losses must be one loss per epoch (1-d), got shape {L.shape}")
    if L.size == 0:
        raise ValueError("losses is empty: there is no history to diagnose")
    negative = np.isfinite(L) & (L < 0)
    if negative.any():
        i = int(np.argmax(negative))
        raise ValueError(f"losses must be non-negative, got {L[i]:.6g} at epoch {i + 1}")
    vl = None
    if val_losses is not None:
        vl = np.asarray(val_losses, dtype=np.float64)
        if vl.shape != L.shape:
            raise ValueError(
                f"val_losses must have one value per epoch like losses ({L.size}), got shape "
                f"{vl.shape}"
            )
    if lr is not None and not (isinstance(lr, numbers.Real) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    if chance_loss is not None and not (
        isinstance(chance_loss, numbers.Real) and math.isfinite(chance_loss) and chance_loss > 0
    ):
        raise ValueError(f"chance_loss must be a positive finite number, got {chance_loss!r}")
    if optimizer not in _HISTORY_OPTIMIZERS:
        raise ValueError(
            f"optimizer must be one of {', '.join(_HISTORY_OPTIMIZERS)}, got {optimizer!r}"
        )
    if activation is not None and activation not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {activation!r}; expected one of: {', '.join(sorted(ACTIVATIONS))}"
        )
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
    X_arr = y_arr = None
    if X is not None:
        X_arr = np.asarray(X, dtype=np.float64)
        if X_arr.ndim != 2 or X_arr.shape[0] == 0 or X_arr.shape[1] == 0:
            raise ValueError(f"X must be (n_samples, n_features) with both > 0, got {X_arr.shape}")
        if y is not None:
            y_arr = np.asarray(y)
            if len(y_arr) != X_arr.shape[0]:
                raise ValueError(
                    f"X and y have different numbers of samples: {X_arr.shape[0]} and {len(y_arr)}"
                )
    elif y is not None:
        raise ValueError("y needs X: the data checks read both")
    return L, vl, X_arr, y_arr


_HISTORY_OPTIMIZERS = ("gd", "sgd", "momentum", "nesterov", "adam")


def diagnose_history(
    losses: ArrayLike,
    *,
    lr: float | None = None,
    val_losses: ArrayLike | None = None,
    chance_loss: float | None = None,
    monitor: dict[str, Any] | None = None,
    activation: str | None = None,
    optimizer: str = "gd",
    X: ArrayLike | None = None,
    y: ArrayLike | None = None,
    task: str = "classification",
    output_activation: str | None = None,
    loss: str | None = None,
) -> Diagnosis:
    """Diagnose a loss history from any training loop.

    Parameters
    ----------
    losses : array-like of shape (n_epochs,)
        Training losses, oldest first (NaN or inf where the loss blew up).
    lr : float, optional
        The learning rate, named in the fixes.
    val_losses : array-like of shape (n_epochs,), optional
        Validation losses, to detect overfitting.
    chance_loss : float, optional
        The loss of predicting without the inputs (``log(2)`` for balanced binary
        cross-entropy), to tell a plateau at chance from a low one.
    monitor : dict, optional
        Series recorded by a :class:`~lossdoctor.diagnostics.monitors.TrainingMonitor`.
    activation : str, optional
        The hidden activation, for the fixes.
    optimizer : str
        ``gd``, ``momentum``, ``nesterov`` or ``adam``; Adam's fixes differ.
    X : array-like of shape (n_samples, n_features), optional
        The training inputs (samples as rows), so that the data checks can name a root cause
        such as unscaled inputs.
    y : array-like of shape (n_samples,), optional
        The targets, for the class-balance or target-scale checks.
    task : {"classification", "regression"}
    output_activation, loss : str, optional
        The loop's output activation (``sigmoid``, ``softmax``, ``tanh``, ``relu``, ``identity``)
        and loss (``binary_crossentropy``, ``categorical_crossentropy``, ``squared_error``,
        ``absolute_error``; Keras spellings too), checked against the task and the targets
        ``y`` (the ``output-loss-mismatch`` and ``labels-scaled`` findings). Without them the
        loop is taken to use the estimators' pair for the task.

    With ``y``, the loss of guessing (``chance_loss``) is computed from the targets when not
    given, so that a curve stuck at or above it is recognised.

    Returns
    -------
    Diagnosis

    Examples
    --------
    >>> d = diagnose_history([1.85, 15.1, 5.6, 8.3, 9.8, 0.79, 7.6, 10.3, 1.4, 11.5], lr=1.0)
    >>> d.findings[0].code
    'lr-too-high'
    """
    L, vl, X_arr, y_arr = _check_history_args(
        losses, lr, val_losses, chance_loss, activation, optimizer, X, y, task
    )
    history = History()
    finite = np.isfinite(L)
    n_ok = int(np.argmin(finite)) if not finite.all() else L.size
    history.loss = [float(v) for v in L[:n_ok]]
    history.epoch = list(range(1, n_ok + 1))
    history.val_loss = [float(v) for v in vl[:n_ok]] if vl is not None else [math.nan] * n_ok
    history.learning_rate = [float(lr) if lr is not None else math.nan] * n_ok
    history.stop_reason = "non-finite" if n_ok < L.size else "max_iter"
    head: str | None = None
    ev_output: dict[str, Any] = {}
    if y_arr is not None:
        head, chance, ev_output = _targets_evidence(y_arr, task, output_activation, loss)
        chance_loss = chance_loss if chance_loss is not None else chance
    elif output_activation is not None or loss is not None:
        raise ValueError("output_activation and loss need X and y: they are checked on the targets")
    ev = gather_evidence(
        task=task if y_arr is not None else None,
        head=head,
        activation=activation,
        n_hidden_layers=None,
        optimizer=optimizer,
        solver="adam" if optimizer == "adam" else "gd",
        learning_rate_init=lr,
        chance_loss=chance_loss,
        history=history,
        # The training inputs, when given, let the data checks name a root cause (for example
        # unscaled inputs) that the activations alone only show as a symptom.
        data={} if X_arr is None else data_evidence(X_arr, y_arr, task=task),
        init={},
        lr={},
        lr_track=[],
        monitor=monitor or {},
        prep={},
        output=ev_output,
    )
    findings, summary = evaluate(ev)
    setup: dict[str, Any] = {"learning_rate_init": lr, "optimizer": optimizer}
    setup["activation"] = activation
    if ev_output:
        setup.update(output_activation=ev_output["output"], loss=ev_output["loss"])
    return Diagnosis(
        findings=findings,
        setup=setup,
        history=history,
        monitor=dict(monitor or {}),
        summary=summary,
    )


def _targets_evidence(
    y: NDArray, task: str, output_activation: str | None, loss: str | None
) -> tuple[str | None, float | None, dict[str, Any]]:
    """The head the task needs, the loss of guessing, and the check of the loop's output/loss.

    The loss of guessing is the estimators' (their head's loss); with a loop's own loss of
    another kind it is not comparable, and None is returned for it.
    """
    try:
        encoding = fit_target_encoding(task, y)
    except ValueError:  # one class, or targets the encoding refuses: no target checks
        return None, None, {}
    head = encoding.head
    Y = encoding.encode(y)
    out_name, loss_name = canonical(output_activation, loss, head)
    n_classes = int(np.unique(y).size) if task == "classification" else None
    ev_output = output_evidence(out_name, loss_name, task=task, head=head, Y=Y, n_classes=n_classes)
    same_loss = ev_output.get("loss", loss_name) == ev_output.get("expected_loss", loss_name)
    chance = _chance_loss(head, Y) if same_loss else None
    return head, chance, ev_output
