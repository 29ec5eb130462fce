"""Monitors during training: what happens inside the network, layer by layer, epoch by epoch.

Two ways in:

- :class:`MonitorCallback` plugs into :func:`lossdoctor.training.fit` through the callback
  protocol. Every few epochs it runs one forward and backward pass on a fixed probe batch (at most
  256 samples) and records, per hidden layer, the share of saturated tanh/sigmoid units and of dead
  ReLU units, and, per parameter, the gradient norm. Every epoch it records the weight norms and
  the update-to-weight ratio, which cost no pass over the data: training never mutates parameters,
  so the previous epoch's parameters are still there to compare with. It also keeps references
  to the parameters at a few epochs, for the sharpness checks the diagnosis runs afterwards.
- :class:`TrainingMonitor` for people with their own training loop: feed it activations,
  gradients and parameters by name, then ask it for a diagnosis.

The probe pass runs on a schedule fixed in advance from the data size and the number of epochs
(:func:`probe_epochs`), so that it costs at most about 5% of training's passes over the data, and
so that the same run always records the same epochs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..activations import ACTIVATIONS
from ..losses import get_head
from ..network import Network, Params, backward, forward
from ..optimizers import Optimizer
from ..training import Callback, History

__all__ = [
    "DEAD_TOL",
    "PROBE_SIZE",
    "SATURATION_TOL",
    "MonitorCallback",
    "TrainingMonitor",
    "activation_stats",
    "probe_epochs",
    "select_probe",
]

#: tanh units with ``|a| > 1 - SATURATION_TOL`` (sigmoid: within SATURATION_TOL/2 of 0 or 1) are
#: saturated: their derivative is below ``2 * SATURATION_TOL`` (tanh) of its peak.
SATURATION_TOL = 0.01
#: A ReLU unit is dead when its output is at most this on every probe sample.
DEAD_TOL = 0.0
#: Largest probe batch.
PROBE_SIZE = 256
#: Share of training's sample-passes the probe may use.
PROBE_BUDGET = 0.05


def activation_stats(activation: str, A: NDArray, *, samples_axis: int = 0) -> dict[str, float]:
    """Saturated and dead shares of one layer's outputs.

    Parameters
    ----------
    activation : str
        The layer's activation (``tanh``, ``sigmoid``/``logistic``, ``relu``, ``leaky_relu``,
        ``identity``).
    A : ndarray of shape (n_samples, n_units)
        The layer's outputs (``samples_axis=1`` for the transposed layout of column-sample code).

    Returns
    -------
    dict
        ``saturated``: share of (sample, unit) outputs in the flat tails (tanh and sigmoid, else
        0); ``dead``: share of units whose output is zero (ReLU; for leaky ReLU, negative) on every
        sample; ``rms``: the outputs' root mean square.
    """
    A = np.asarray(A)
    if samples_axis == 1:
        A = A.T
    saturated = 0.0
    dead = 0.0
    if activation == "tanh":
        saturated = float(np.mean(np.abs(A) > 1 - SATURATION_TOL))
    elif activation in ("sigmoid", "logistic"):
        saturated = float(np.mean(np.abs(A - 0.5) > 0.5 - SATURATION_TOL / 2))
    elif activation in ("relu", "leaky_relu"):
        dead = float(np.mean((A <= DEAD_TOL).all(axis=0)))
    rms = float(np.sqrt(np.mean(np.square(A, dtype=np.float64))))
    return {"saturated": saturated, "dead": dead, "rms": rms}


def select_probe(n_samples: int, rng: np.random.Generator, size: int = PROBE_SIZE) -> NDArray:
    """Sorted indices of a fixed probe batch of at most ``size`` samples."""
    if n_samples <= size:
        return np.arange(n_samples)
    return np.sort(rng.choice(n_samples, size=size, replace=False))


def probe_epochs(epochs: int, n_samples: int, probe_size: int) -> list[int]:
    """The epochs at which the probe pass runs: 0 (the initial weights) and then evenly spaced.

    The number of probes keeps their sample-passes within ``PROBE_BUDGET`` (5%) of training's
    ``epochs * n_samples`` (at least 3 probes: start, middle, end; at most 25).
    """
    n = int(PROBE_BUDGET * epochs * n_samples / max(probe_size, 1))
    n = max(3, min(25, n, epochs + 1))
    return sorted({round(e) for e in np.linspace(0, epochs, n)})


def _norm(a: NDArray) -> float:
    return math.sqrt(float(np.vdot(a, a)))


@dataclass
class _Series:
    """Per-epoch series as plain lists, the layout of ``Diagnosis.monitor``."""

    epoch: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    saturation: dict[str, list[float]] = field(default_factory=dict)
    dead: dict[str, list[float]] = field(default_factory=dict)
    activation_rms: dict[str, list[float]] = field(default_factory=dict)
    grad_norm: dict[str, list[float]] = field(default_factory=dict)
    weight_norm: dict[str, list[float]] = field(default_factory=dict)
    update_epoch: list[int] = field(default_factory=list)
    update_ratio: dict[str, list[float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "epoch": list(self.epoch),
            "loss": list(self.loss),
            "saturation": {k: list(v) for k, v in self.saturation.items()},
            "dead": {k: list(v) for k, v in self.dead.items()},
            "activation_rms": {k: list(v) for k, v in self.activation_rms.items()},
            "grad_norm": {k: list(v) for k, v in self.grad_norm.items()},
            "weight_norm": {k: list(v) for k, v in self.weight_norm.items()},
            "update_epoch": list(self.update_epoch),
            "update_ratio": {k: list(v) for k, v in self.update_ratio.items()},
        }


def _append(store: dict[str, list[float]], key: str, value: float) -> None:
    store.setdefault(key, []).append(value)


def _align(store: dict[str, list[float]], seen: set[str], n: int) -> None:
    """Pad every series of ``store`` to ``n`` entries with NaN: at the end for a name that was
    not recorded this time, at the start for a name recorded for the first time."""
    for name, values in store.items():
        missing = [math.nan] * (n - len(values))
        store[name] = values + missing if name in seen else missing + values


class MonitorCallback(Callback):
    """Record layer statistics on a probe batch while :func:`~lossdoctor.training.fit` trains.

    Parameters
    ----------
    X_probe : ndarray of shape (n_probe, n_features)
    Y_probe : ndarray of shape (n_probe, n_outputs)
        Encoded targets of the probe samples.
    epochs : int
        The run's maximum number of epochs, to plan the probe schedule.
    n_samples : int
        Training set size, to keep the probes within budget.
    snapshots : int
        Number of epochs (spread over the run, the initial weights included) whose parameters are
        kept for sharpness checks afterwards; keeping them costs only a reference. Below 2,
        only the initial weights are kept.

    Attributes
    ----------
    series : dict
        After training, the layout of ``Diagnosis.monitor``: ``epoch`` (probe epochs),
        ``loss`` (probe loss), ``saturation``, ``dead``, ``activation_rms`` (layer -> list),
        ``grad_norm`` (parameter -> list), ``weight_norm``, ``update_ratio`` (parameter -> list
        over ``update_epoch``, every epoch).
    snapshots : dict of int to params
        Epoch -> parameters at the end of that epoch (0: initial).
    """

    def __init__(
        self,
        X_probe: NDArray,
        Y_probe: NDArray,
        *,
        epochs: int,
        n_samples: int,
        snapshots: int = 4,
    ) -> None:
        self.X_probe = X_probe
        self.Y_probe = Y_probe
        self.epochs = epochs
        self.schedule = set(probe_epochs(epochs, n_samples, X_probe.shape[0]))
        self.snapshot_epochs = (
            {round(e) for e in np.linspace(0, epochs, snapshots)} if snapshots >= 2 else {0}
        )
        self._series = _Series()
        self.snapshots: dict[int, Params] = {}
        self._net: Network | None = None
        self._prev: Params | None = None
        self._last_probe = -1

    @property
    def series(self) -> dict[str, Any]:
        return self._series.as_dict()

    def _probe(self, epoch: int, params: Params) -> None:
        net = self._net
        assert net is not None
        # One forward and backward pass gives both the activations and the gradients; it is
        # loss_and_grad's computation (without the L2 term) keeping the trace it discards.
        with np.errstate(all="ignore"):
            logits, trace = forward(net, params, self.X_probe)
            value, d_logits = get_head(net.head).loss(logits, self.Y_probe)
            grads = backward(net, params, trace, d_logits)
        s = self._series
        s.epoch.append(epoch)
        s.loss.append(float(value))
        for k, A in enumerate(trace[1:], 1):
            st = activation_stats(net.activation, A)
            _append(s.saturation, f"A{k}", st["saturated"])
            _append(s.dead, f"A{k}", st["dead"])
            _append(s.activation_rms, f"A{k}", st["rms"])
        for name in params:
            _append(s.grad_norm, name, _norm(grads[name]))
            _append(s.weight_norm, name, _norm(params[name]))
        self._last_probe = epoch

    def on_train_begin(self, net: Network, params: Params, optimizer: Optimizer) -> None:
        self._net = net
        self._prev = params
        self.snapshots[0] = params
        self._probe(0, params)

    def on_epoch_end(self, epoch: int, params: Params, history: History) -> bool | None:
        prev = self._prev
        if prev is not None:
            s = self._series
            s.update_epoch.append(epoch)
            for name, p in params.items():
                w = _norm(prev[name])
                du = _norm(p - prev[name])
                _append(s.update_ratio, name, du / w if w > 0 else math.inf if du > 0 else 0.0)
        self._prev = params
        if epoch in self.schedule:
            self._probe(epoch, params)
        if epoch in self.snapshot_epochs:
            self.snapshots[epoch] = params
        return None

    def on_train_end(self, params: Params, history: History) -> None:
        last = history.epoch[-1] if history.epoch else 0
        if self._last_probe != last:
            self._probe(last, params)
        if len(self.snapshot_epochs) > 1:
            self.snapshots.setdefault(last, params)


class TrainingMonitor:
    """A monitor to feed from your own training loop.

    Parameters
    ----------
    activation : str, optional
        The hidden activation (``tanh``, ``sigmoid``, ``relu``, ...; any case). By default it is
        guessed from the recorded values: within [-1, 1] with negatives is tanh, within [0, 1]
        is sigmoid unless it has exact zeros (and no exact ones), non-negative otherwise is ReLU.
    samples_axis : int
        0 when samples are rows (``A1`` of shape (n_samples, n_units)), 1 when they are columns,
        as in code that computes ``W1 @ x``.

    Examples
    --------
    >>> import numpy as np
    >>> monitor = TrainingMonitor(activation="tanh")
    >>> rng = np.random.default_rng(0)
    >>> W = rng.standard_normal((3, 4))
    >>> for epoch, loss in enumerate([0.69, 0.5, 0.4, 0.35, 0.33, 0.32], 1):
    ...     A1 = np.tanh(rng.standard_normal((8, 3)) @ W)
    ...     monitor.record(epoch=epoch, loss=loss, activations={"A1": A1},
    ...                    grads={"W1": 0.1 * W}, params={"W1": W})
    >>> diagnosis = monitor.diagnose(lr=0.01)
    """

    def __init__(self, activation: str | None = None, *, samples_axis: int = 0) -> None:
        if activation is not None:
            name = str(activation).lower()  # "ReLU" and "Tanh" as PyTorch spells them
            if name not in ACTIVATIONS:
                valid = ", ".join(sorted(ACTIVATIONS))
                raise ValueError(f"unknown activation {activation!r}; expected one of: {valid}")
            activation = name
        if samples_axis not in (0, 1):
            raise ValueError(
                f"samples_axis must be 0 (samples as rows) or 1 (as columns), got {samples_axis!r}"
            )
        self.activation = activation
        self.samples_axis = samples_axis
        self.epochs: list[int] = []
        self.losses: list[float] = []
        self._series = _Series()
        self._prev: dict[str, NDArray] | None = None

    def _guess_activation(self, A: NDArray) -> str:
        lo, hi = float(np.min(A)), float(np.max(A))
        if lo >= -1 and hi <= 1 and lo < 0:
            return "tanh"
        # A sigmoid reaches exactly 0 only by underflow, and then its other tail reaches
        # exactly 1; exact zeros without exact ones are ReLU's.
        if lo >= 0 and hi <= 1 and not (lo == 0 and hi < 1):
            return "sigmoid"
        if lo >= 0:
            return "relu"
        return "identity"

    def record(
        self,
        *,
        epoch: int,
        loss: float,
        activations: dict[str, NDArray] | None = None,
        grads: dict[str, NDArray] | None = None,
        params: dict[str, NDArray] | None = None,
    ) -> None:
        """Record one epoch (or step).

        Parameters
        ----------
        epoch : int
        loss : float
        activations : dict of str to ndarray, optional
            Hidden-layer outputs by name (``{"A1": A1, "A2": A2}``), not the network output.
        grads : dict of str to ndarray, optional
            Gradients by parameter name.
        params : dict of str to ndarray, optional
            Parameters by name. They are copied, since loops usually update them in place.
        """
        s = self._series
        value = np.asarray(loss, dtype=np.float64)
        if value.size != 1:
            raise ValueError(f"loss must be a single number, got an array of shape {value.shape}")
        for kind, arrays in (("activations", activations), ("grads", grads), ("params", params)):
            for name, array in (arrays or {}).items():
                if array is None:  # np.asarray(None, float) would be a silent NaN
                    raise ValueError(f"{kind}[{name!r}] is None; leave the name out instead")
        self.epochs.append(int(epoch))
        self.losses.append(float(value.reshape(())))  # course code's cost has shape (1, 1)
        if not (activations or grads or params):
            return
        s.epoch.append(int(epoch))
        s.loss.append(self.losses[-1])
        stores = (s.saturation, s.dead, s.activation_rms, s.grad_norm, s.weight_norm)
        before = [set(store) for store in stores]
        n_updates = len(s.update_epoch)
        seen_updates = set(s.update_ratio)
        for name, A in (activations or {}).items():
            act = self.activation or self._guess_activation(A)
            st = activation_stats(act, A, samples_axis=self.samples_axis)
            _append(s.saturation, name, st["saturated"])
            _append(s.dead, name, st["dead"])
            _append(s.activation_rms, name, st["rms"])
        for name, g in (grads or {}).items():
            _append(s.grad_norm, name, _norm(np.asarray(g, dtype=np.float64)))
        if params:
            current = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
            for name, p in current.items():
                _append(s.weight_norm, name, _norm(p))
            if self._prev is not None:
                s.update_epoch.append(int(epoch))
                for name, p in current.items():
                    if name in self._prev and self._prev[name].shape == p.shape:
                        w = _norm(self._prev[name])
                        _append(s.update_ratio, name, _norm(p - self._prev[name]) / max(w, 1e-300))
            self._prev = current
        # Each call may record other names (gradients every epoch, weights every fifth): NaN
        # marks what a call did not record, so that every series lines up with ``epoch``.
        for store, seen in zip(stores, before):
            _align(store, seen, len(s.epoch))
        if len(s.update_epoch) > n_updates:
            _align(s.update_ratio, seen_updates, len(s.update_epoch))

    @property
    def series(self) -> dict[str, Any]:
        """The recorded series, in the layout of ``Diagnosis.monitor``."""
        return self._series.as_dict()

    def diagnose(
        self,
        *,
        lr: float | None = None,
        chance_loss: float | None = None,
        X: Any = None,
        y: Any = None,
        task: str = "classification",
        output_activation: str | None = None,
        loss: str | None = None,
        optimizer: str = "gd",
        val_losses: Any = None,
    ) -> Any:
        """Diagnose the recorded run.

        Parameters
        ----------
        lr : float, optional
            The learning rate used, named in the fixes.
        chance_loss : float, optional
            The loss of predicting without the inputs (``log(2)`` for balanced binary
            cross-entropy), to tell a plateau at chance from a low one.
        X, y, task : optional
            The training data (samples as rows), for the data checks; see
            :func:`~lossdoctor.diagnostics.diagnose.diagnose_history`.
        output_activation, loss : str, optional
            Your loop's output activation and loss, checked against the task and ``y``.
        optimizer : {"gd", "sgd", "momentum", "nesterov", "adam"}
            Your loop's optimiser; Adam's fixes differ.
        val_losses : array-like, optional
            One validation loss per recorded loss, to detect overfitting.

        Returns
        -------
        Diagnosis
        """
        from .history_diagnosis import diagnose_history

        return diagnose_history(
            self.losses,
            lr=lr,
            chance_loss=chance_loss,
            monitor=self.series,
            activation=self.activation,
            X=X,
            y=y,
            task=task,
            output_activation=output_activation,
            loss=loss,
            optimizer=optimizer,
            val_losses=val_losses,
        )
