"""Sharpness measured during training, through the callback protocol of :func:`~lossdoctor.fit`."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ...network import Network, Params
from ...optimizers import Optimizer
from ...training import Callback, History
from .hvp import hessian_operator
from .sharpness import DEFAULT_TOL, Subsample, _as_rng, _extreme_eigs, _subsample

__all__ = ["SharpnessCallback"]

F64 = NDArray[np.float64]


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
    subsample : int, "auto" or None
        Fixed subset of the samples (drawn once), for large data; ``"auto"`` (default) keeps at
        most :data:`~.sharpness.AUTO_SUBSAMPLE`, None all.
    rng : numpy.random.Generator or int, optional
    k : int
        Eigenvalues per measurement; ``sharpness`` records the largest.
    warm_start : bool
        Start each Lanczos run from the previous measurement's top eigenvector (the sharpest
        direction moves slowly), instead of a random vector.

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
        subsample: Subsample = "auto",
        rng: np.random.Generator | int | None = None,
        k: int = 1,
        warm_start: bool = True,
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
        self.warm_start = warm_start

    def _measure(self, epoch: int, params: Params, lr: float) -> None:
        assert self._net is not None and self._optimizer is not None
        op = hessian_operator(self._net, params, self.X, self.Y, self.alpha, n_total=self.n_total)
        # Warm start from the last top eigenvector: the sharpest direction moves slowly.
        vals, vecs = _extreme_eigs(
            op, min(self.k, op.shape[0]), "LA", self.rng, DEFAULT_TOL, self._v0
        )
        if self.warm_start:
            self._v0 = vecs[:, 0]

        self.epochs.append(epoch)
        self.sharpness.append(float(vals[0]))
        self.learning_rate.append(lr)

    def on_train_begin(self, net: Network, params: Params, optimizer: Optimizer) -> None:
        """Measure at the initial weights."""
        from ...schedules import value_at

        self._net, self._optimizer = net, optimizer
        self._measure(0, params, value_at(optimizer.learning_rate, 0))

    def on_epoch_end(self, epoch: int, params: Params, history: History) -> bool | None:
        """Measure every ``every`` epochs."""
        if epoch % self.every == 0:
            # The step size of the epoch's last update, as the history records it.
            self._measure(epoch, params, history.learning_rate[-1])
        return None
