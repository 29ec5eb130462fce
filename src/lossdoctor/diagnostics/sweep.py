"""Learning-rate sweep: the same initial weights trained at several learning rates, in parallel.

Each run is independent, so the runs go through :class:`joblib.Parallel`. lossdoctor never picks
a backend: the default runs in local processes, and a user with a cluster wraps the call in
``joblib.parallel_config(backend="dask")`` (or ``"ray"``) without changing lossdoctor. Every run
gets the same inputs whatever the number of workers, so ``n_jobs`` never changes the numbers.

Example
-------
>>> from sklearn.datasets import load_breast_cancer
>>> from sklearn.preprocessing import StandardScaler
>>> X, y = load_breast_cancer(return_X_y=True)
>>> result = lr_sweep(StandardScaler().fit_transform(X), y, [0.01, 1.0],
...                   hidden_layer_sizes=(8,), activation="tanh", max_iter=50, random_state=0)
>>> [row.lr for row in result.rows]
[0.01, 1.0]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..network import Network, Params, forward
from ..runspec import RunSpec
from ..training import fit, score_from_logits
from .curvature import StabilityVerdict, lr_verdict, sharpness_or_nan, stability_threshold
from .evidence import chance_loss
from .lr_range import make_setup

__all__ = ["SweepResult", "SweepRow", "chance_loss", "lr_sweep"]


@dataclass(frozen=True)
class SweepRow:
    """The outcome of one learning rate.

    Attributes
    ----------
    lr : float
    final_loss : float
        Training objective of the last finite epoch (``nan`` if none).
    score : float
        Training accuracy (classification) or R^2 (regression) of the final weights.
    label : str
        Curve label from :func:`~lossdoctor.diagnostics.curves.classify_curve`.
    label_message : str
    sharpness : float
        Largest Hessian eigenvalue at the final weights.
    limit : float
        The largest stable sharpness for this learning rate: ``2 / lr`` for gradient descent,
        ``2 (1 + b) / lr`` with heavy-ball momentum ``b`` (``nan`` for Adam).
    verdict : StabilityVerdict or None
        ``lr`` against the final sharpness (None for Adam).
    losses : list of float
        The loss curve, one value per epoch.
    stop_reason : str
    """

    lr: float
    final_loss: float
    score: float
    label: str
    label_message: str
    sharpness: float
    limit: float
    verdict: StabilityVerdict | None
    losses: list[float] = field(default_factory=list)
    stop_reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The table row: ``lr, final_loss, score, label, sharpness, limit, verdict, ratio``."""
        return {
            "lr": self.lr,
            "final_loss": self.final_loss,
            "score": self.score,
            "label": self.label,
            "sharpness": self.sharpness,
            "limit": self.limit,
            "verdict": self.verdict.label if self.verdict is not None else "n/a",
            "ratio": self.verdict.ratio if self.verdict is not None else math.nan,
        }


@dataclass(frozen=True)
class SweepResult:
    """All runs of a sweep, in the order of the learning rates given.

    Attributes
    ----------
    rows : list of SweepRow
    limit_rule : str
        What ``limit`` means for the optimiser, e.g. ``2/lr (gradient descent)``.
    setup : dict
        Estimator parameters and data shape of the sweep.
    """

    rows: list[SweepRow]
    limit_rule: str
    setup: dict[str, Any] = field(default_factory=dict)

    def table(self) -> list[dict[str, Any]]:
        """One dict per learning rate (see :meth:`SweepRow.as_dict`)."""
        return [row.as_dict() for row in self.rows]

    def to_frame(self) -> Any:
        """The table as a pandas DataFrame indexed by learning rate."""
        import pandas as pd

        return pd.DataFrame(self.table()).set_index("lr")

    def format(self) -> str:
        """The table as aligned plain text, with what the limit column means."""
        header = ("lr", "final loss", "score", "curve", "sharpness", "limit", "verdict")
        body = []
        for row in self.rows:
            v = row.verdict
            verdict = "n/a" if v is None else f"{v.label} ({v.ratio:.3g}x)"
            body.append(
                (
                    f"{row.lr:g}",
                    f"{row.final_loss:.4g}",
                    f"{row.score:.4g}",
                    row.label,
                    f"{row.sharpness:.4g}",
                    f"{row.limit:.4g}",
                    verdict,
                )
            )
        widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
        lines = ["  ".join(c.rjust(w) if i < 3 or 3 < i < 6 else c.ljust(w)
                           for i, (c, w) in enumerate(zip(r, widths))).rstrip()
                 for r in [header, *body]]  # fmt: skip
        lines.insert(1, "  ".join("-" * w for w in widths))
        lines.append(
            f"sharpness: largest Hessian eigenvalue at the end; limit: the largest stable "
            f"sharpness, {self.limit_rule}; verdict: lr against the final sharpness"
        )
        return "\n".join(lines)


def _run_one(
    lr: float,
    net: Network,
    params: Params,
    X: NDArray,
    Y: NDArray,
    est: RunSpec,
    epochs: int,
    batch_size: int | None,
    shuffle_seed: int | None,
    subsample: int | None,
) -> SweepRow:
    """Train one learning rate and measure the outcome (module level so that joblib pickles it)."""
    from .curves import classify_curve

    alpha = float(est.alpha)
    rng = None if shuffle_seed is None else np.random.default_rng(shuffle_seed)
    with np.errstate(all="ignore"):  # a divergent run overflows by design; fit stops it
        result = fit(
            net,
            params,
            X,
            Y,
            optimizer=est.optimizer(lr),
            epochs=epochs,
            batch_size=batch_size,
            rng=rng,
            alpha=alpha,
            clip_norm=est.clip_norm,
            n_iter_no_change=est.n_iter_no_change,
            tol=float(est.tol),
        )
    history = result.history
    losses = list(history.loss)
    curve = losses + ([math.nan] if history.stop_reason == "non-finite" else [])
    label = classify_curve(curve, chance_loss=chance_loss(net.head, Y)) if curve else None
    final_loss = losses[-1] if losses else math.nan
    with np.errstate(all="ignore"):  # weights that diverged give inf logits: a nan score
        logits, _ = forward(net, result.params, X)
        finite = bool(np.isfinite(logits).all())
        score = score_from_logits(net.head, logits, Y) if finite else math.nan

    opt_name, momentum, nesterov = est.optimizer_kind
    verdict = None
    limit = math.nan
    L = math.nan
    L = sharpness_or_nan(net, result.params, X, Y, alpha=alpha, subsample=subsample)
    if opt_name != "adam" and math.isfinite(L):
        limit = stability_threshold(1.0, opt_name, momentum, nesterov) / lr
        verdict = lr_verdict(lr, L, optimizer=opt_name, momentum=momentum, nesterov=nesterov)
    return SweepRow(
        lr=float(lr),
        final_loss=float(final_loss),
        score=float(score),
        label=label.label if label is not None else "non-finite",
        label_message=label.message if label is not None else "no finite epoch",
        sharpness=L,
        limit=limit,
        verdict=verdict,
        losses=losses,
        stop_reason=history.stop_reason,
    )


def _limit_rule(est: RunSpec) -> str:
    opt_name, momentum, _ = est.optimizer_kind
    return {
        "gd": "2/lr (gradient descent)",
        "momentum": f"2(1+b)/lr (heavy ball, b={momentum:g})",
        "nesterov": f"(2+2b)/((1+2b) lr) (Nesterov, b={momentum:g})",
        "adam": "none given for Adam",
    }[opt_name]


def lr_sweep(
    X: ArrayLike,
    y: ArrayLike,
    lrs: Sequence[float],
    *,
    n_jobs: int | None = 1,
    subsample: int | None = 2000,
    **estimator_params: Any,
) -> SweepResult:
    """Train the same initial weights at each learning rate and compare the outcomes.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    lrs : sequence of float
        Learning rates, each positive.
    n_jobs : int or None
        Number of joblib workers (``-1``: all cores). The backend is joblib's current one, so
        ``with joblib.parallel_config(backend="dask"): lr_sweep(...)`` runs on a Dask cluster.
    subsample : int, optional
        Samples used for the final sharpness (a fixed subset when there are more).
    **estimator_params
        Parameters of :class:`~lossdoctor.MLPClassifier` / ``MLPRegressor`` plus ``task``.
        Defaults here: ``solver="gd"``, ``momentum=0`` (plain full-batch descent) and
        ``n_iter_no_change=None`` (every run lasts ``max_iter`` epochs unless it diverges).

    Returns
    -------
    SweepResult
    """
    lr_list = [float(lr) for lr in lrs]
    if not lr_list or not all(math.isfinite(lr) and lr > 0 for lr in lr_list):
        raise ValueError(f"learning rates must be positive numbers, got {list(lrs)!r}")
    estimator_params.setdefault("solver", "gd")
    estimator_params.setdefault("momentum", 0.0)
    estimator_params.setdefault("n_iter_no_change", None)
    s = make_setup(X, y, **estimator_params)
    est = s.spec
    batch_size = est.batch_size_for(s.X.shape[0])
    # One shuffling seed shared by all runs: every learning rate sees the same batches.
    # (A RandomState, scikit-learn's draw with the default init, has no ``integers``.)
    shuffle_seed: int | None = None
    if est.shuffle and batch_size:
        r = s.rng
        shuffle_seed = int(
            r.randint(2**31 - 1) if isinstance(r, np.random.RandomState) else r.integers(2**63 - 1)
        )

    from joblib import Parallel, delayed

    rows = Parallel(n_jobs=n_jobs)(
        delayed(_run_one)(
            lr,
            s.net,
            s.params,
            s.X,
            s.Y,
            est,
            int(est.max_iter),
            batch_size,
            shuffle_seed,
            subsample,
        )
        for lr in lr_list
    )
    setup = {
        **est.get_params(),
        "n_samples": int(s.X.shape[0]),
        "n_features": int(s.X.shape[1]),
    }
    return SweepResult(list(rows), _limit_rule(est), setup)
