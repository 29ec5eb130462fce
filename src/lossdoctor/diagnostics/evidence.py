"""Evidence: what the doctor measures, and the typed record the detectors read.

The functions here measure and return numbers; they never decide what is wrong.
:mod:`lossdoctor.diagnostics.rules` turns evidence into findings with fixes, so the thresholds live
beside their detectors and these measurements can be shown as they are.

- :func:`data_evidence`: non-finite values, constant features, the scale and centre of each
  feature, class balance, the scale of a regression target.
- :func:`init_evidence`: each weight matrix's spread against the spread of the initialiser that
  drew it (for a naive one, the activation's Glorot or He), the share of positive weights, and
  the pre-activation spread layer by layer on standardised inputs (the initialisation's effect
  alone, without the data's).
- :func:`lr_evidence`: the learning rate against the stability bound at given weights, from the
  top Hessian eigenvalue (:mod:`lossdoctor.diagnostics.curvature`).
- :func:`chance_loss`: the loss of the best constant prediction.
- :class:`Evidence`: everything the detectors judge about one run, built in one place,
  :func:`gather_evidence`, from the measurements above, the training history and the monitors.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ..initializers import DEFAULT_INIT, expected_std, reference_init
from ..network import Network, Params, n_layers

if TYPE_CHECKING:
    from ..training import History

__all__ = [
    "Evidence",
    "chance_loss",
    "data_evidence",
    "default_weight_std",
    "gather_evidence",
    "init_evidence",
    "lr_evidence",
    "standardize",
]

# How many offending columns an evidence list names.
_MAX_LISTED = 10


def _listed(idx: NDArray) -> list[int]:
    return [int(i) for i in idx[:_MAX_LISTED]]


def data_evidence(
    X: NDArray,
    y: NDArray | None = None,
    *,
    task: str,
    feature_names: list[str] | None = None,
) -> dict[str, Any]:
    """Measure the data: finiteness, constant columns, feature scales, targets.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Raw inputs; NaN and infinities are counted, not rejected.
    y : ndarray of shape (n_samples,) or (n_samples, n_outputs), optional
        Class labels for classification, values for regression.
    task : {"classification", "regression"}
    feature_names : list of str, optional
        The columns' names (one per column), so that the findings name features as the user
        knows them: ``max_rms_feature_name`` and ``constant_feature_names`` are added.

    Returns
    -------
    dict
        ``n_samples``, ``n_features``; ``n_non_finite_X`` and ``non_finite_columns``;
        ``constant_features`` (column indices) and ``constant_max_abs`` (their largest
        magnitude); per-feature summaries over the finite values:
        ``max_rms`` and ``max_rms_feature`` (root mean square, so both spread and offset count),
        ``max_std``, ``min_std`` (non-constant columns), ``std_ratio``, ``max_abs_mean`` and
        ``max_abs_mean_feature``, ``mean_rms``; for classification ``class_counts`` (label ->
        count) and ``imbalance_ratio`` (largest over smallest class); for regression
        ``n_non_finite_y``, ``y_mean``, ``y_std``, ``y_rms``.
    """
    X = np.asarray(X, dtype=np.float64)
    count, mean, std, rms = _column_moments(X)
    ev: dict[str, Any] = {
        "n_samples": int(X.shape[0]),
        "n_features": int(X.shape[1]),
        "n_non_finite_X": int(X.size - count.sum()),
        "non_finite_columns": _listed(np.flatnonzero(count < X.shape[0])),
    }
    # Constant up to rounding: a spread below 1e-12 of the column's magnitude.
    const = std <= 1e-12 * np.maximum(np.abs(mean), 1.0)
    ev["constant_features"] = [int(i) for i in np.flatnonzero(const)]
    ev["n_constant_features"] = int(const.sum())
    ev["constant_max_abs"] = float(np.abs(mean[const]).max()) if const.any() else 0.0
    varying = ~const
    i_rms = int(np.argmax(rms))
    i_mean = int(np.argmax(np.abs(mean)))
    ev.update(
        max_rms=float(rms[i_rms]),
        max_rms_feature=i_rms,
        mean_rms=float(rms.mean()),
        max_abs_mean=float(abs(mean[i_mean])),
        max_abs_mean_feature=i_mean,
        max_std=float(std.max()),
        min_std=float(std[varying].min()) if varying.any() else 0.0,
    )
    ev["std_ratio"] = ev["max_std"] / ev["min_std"] if ev["min_std"] > 0 else 1.0
    if feature_names is not None and len(feature_names) == X.shape[1]:
        ev["max_rms_feature_name"] = str(feature_names[i_rms])
        ev["constant_feature_names"] = [str(feature_names[i]) for i in ev["constant_features"]]
    if y is None:
        return ev
    y = np.asarray(y)
    if task == "classification" and y.ndim == 2 and not _one_hot(y):
        # Multilabel rows (any number of labels each): argmax would invent a class balance.
        # Each label's positives are counted; the class-balance rule does not apply.
        positives = np.asarray(y, dtype=np.float64).sum(axis=0)
        ev["label_positives"] = {str(j): int(c) for j, c in enumerate(positives.tolist())}
    elif task == "classification":
        labels, counts = np.unique(y if y.ndim == 1 else y.argmax(axis=1), return_counts=True)
        ev["class_counts"] = {str(k): int(c) for k, c in zip(labels.tolist(), counts.tolist())}
        ev["imbalance_ratio"] = float(counts.max() / counts.min())
        ev["minority_share"] = float(counts.min() / counts.sum())
    else:
        yv = np.asarray(y, dtype=np.float64)
        ok = np.isfinite(yv)
        ev["n_non_finite_y"] = int((~ok).sum())
        yf = yv[ok] if ok.any() else np.zeros(1)
        ev.update(
            y_mean=float(yf.mean()),
            y_std=float(yf.std()),
            y_rms=float(np.sqrt(np.mean(yf * yf))),
        )
    return ev


def _one_hot(Y: NDArray) -> bool:
    """Rows with exactly one 1 and zeros elsewhere (a one-hot encoding of single labels)."""
    Y = np.asarray(Y)
    return bool(np.isin(Y, (0, 1)).all() and (Y.sum(axis=1) == 1).all())


#: Rows per chunk of :func:`_column_moments`: its temporaries are this many rows, not the data's.
_MOMENT_ROWS = 8192


def _column_moments(X: NDArray) -> tuple[NDArray, NDArray, NDArray, NDArray]:
    """Per column: the number of finite values, and their mean, standard deviation and RMS.

    Two passes over chunks of rows (the sums, then the squared deviations from the mean), so that
    no temporary of the data's size is made; a column without a finite value gives zeros. Equal
    to ``nanmean``, ``nanstd`` and ``sqrt(nanmean(x**2))`` of the finite values up to rounding.
    """
    n_features = X.shape[1]
    count = np.zeros(n_features)
    total = np.zeros(n_features)
    squares = np.zeros(n_features)
    chunks = [X[i : i + _MOMENT_ROWS] for i in range(0, X.shape[0], _MOMENT_ROWS)]
    for chunk in chunks:
        finite = np.isfinite(chunk)
        values = np.where(finite, chunk, 0.0)
        count += finite.sum(axis=0)
        total += values.sum(axis=0)
        squares += np.einsum("ij,ij->j", values, values)
    seen = np.maximum(count, 1)
    mean = total / seen
    deviations = np.zeros(n_features)
    for chunk in chunks:
        finite = np.isfinite(chunk)
        centred = np.where(finite, chunk - mean, 0.0)
        deviations += np.einsum("ij,ij->j", centred, centred)
    std = np.sqrt(deviations / seen)
    rms = np.sqrt(squares / seen)
    return count, mean, std, rms


def standardize(X: NDArray, *, mean: NDArray | None = None, std: NDArray | None = None) -> NDArray:
    """Centre and scale each column to unit variance; constant columns become zero.

    Non-finite values are left as they are. Used by :func:`init_evidence` (to see the
    initialisation's effect alone) and by the ``fix`` of :func:`~.diagnose.diagnose`.
    """
    finite = np.isfinite(X)
    Xf = np.where(finite, X, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if mean is None:
            mean = np.nan_to_num(np.nanmean(Xf, axis=0))
        if std is None:
            std = np.nan_to_num(np.nanstd(Xf, axis=0))
    scale = np.where(std > 1e-12 * np.maximum(np.abs(mean), 1.0), std, np.inf)
    return (X - mean) / scale


def default_weight_std(net: Network, k: int, init: str | None = None) -> float:
    """Standard deviation of layer ``k``'s weights under the reference of initialiser ``init``.

    The initialiser actually used is its own reference (``init=None``: scikit-learn's draw,
    ``sqrt(factor / 3 / (fan_in + fan_out))``); a naive one (``normal``, ``uniform``) is judged
    against the one that fits the activation, Glorot or He. See
    :func:`lossdoctor.initializers.expected_std`.
    """
    fan_in, fan_out = net.layer_sizes[k - 1], net.layer_sizes[k]
    return expected_std(init, net.activation, fan_in, fan_out)


def init_evidence(
    net: Network, params: Params, X_probe: NDArray, *, init: str | None = None
) -> dict[str, Any]:
    """Measure the initial weights against the scale of the initialiser that drew them.

    Parameters
    ----------
    net : Network
    params : dict of str to ndarray
        The initial parameters.
    X_probe : ndarray of shape (n_probe, n_features)
        A few samples; they are standardised here so that the layer spreads reflect the weights
        only (the data's own scale is :func:`data_evidence`'s business).
    init : str, optional
        The initialiser that drew ``params`` (None: the default, scikit-learn's draw). Each
        layer is measured against that initialiser's spread at ``init_scale=1``, or for a naive
        one against the activation's (:func:`lossdoctor.initializers.reference_init`).

    Returns
    -------
    dict
        ``layers``: one dict per weight matrix, in forward order, with ``name``, ``std``,
        ``mean``, ``expected_std``, ``std_ratio`` (std over expected), ``positive_share`` and,
        for hidden layers, ``pre_activation_std`` on standardised inputs; ``max_std_ratio``,
        ``min_std_ratio``, ``worst_layer``; ``init`` (the initialiser's name) and ``reference``
        (the initialiser whose spread is expected).
    """
    from ..activations import get_activation

    act = get_activation(net.activation)
    A = standardize(np.nan_to_num(np.asarray(X_probe, dtype=np.float64), posinf=0, neginf=0))
    layers = []
    for k in range(1, n_layers(net) + 1):
        W = np.asarray(params[f"W{k}"], dtype=np.float64)
        rms = float(np.sqrt(np.mean(W * W)))
        expected = default_weight_std(net, k, init)
        layer: dict[str, Any] = {
            "name": f"W{k}",
            "std": float(W.std()),
            "mean": float(W.mean()),
            "rms": rms,
            "expected_std": expected,
            # RMS, not std: a uniform [0, 1) init is too large through its mean as well.
            "std_ratio": rms / expected,
            "positive_share": float(np.mean(W > 0)),
            "size": int(W.size),
        }
        if k < n_layers(net):
            Z = A @ W + params[f"b{k}"]
            layer["pre_activation_std"] = float(Z.std())
            A = act.forward(Z, Z)
        layers.append(layer)
    ratios = [la["std_ratio"] for la in layers]
    worst = int(np.argmax(np.abs(np.log(np.maximum(ratios, 1e-300)))))
    return {
        "layers": layers,
        "max_std_ratio": float(max(ratios)),
        "min_std_ratio": float(min(ratios)),
        "worst_layer": layers[worst]["name"],
        "init": DEFAULT_INIT if init is None else init,
        "reference": reference_init(init, net.activation),
    }


def lr_evidence(
    net: Network,
    params: Params,
    X: NDArray,
    Y: NDArray,
    *,
    learning_rate: float,
    optimizer: str = "gd",
    momentum: float = 0.0,
    nesterov: bool = False,
    alpha: float = 0.0,
    subsample: int | None = 512,
    rng: np.random.Generator | None = None,
    warm_start: Any = None,
) -> dict[str, Any]:
    """The learning rate against the stability bound at ``params``.

    Gradient descent on a quadratic with top Hessian eigenvalue ``L`` is stable for a step size
    below ``2 / L`` (with momentum ``mu``: ``2 (1 + mu) / L``); the sharpness is measured by
    Lanczos iterations on Hessian-vector products through the training loss, started from the
    top eigenvector of the previous measurement when ``warm_start`` (a
    :class:`~.curvature.LanczosStart`) holds one.

    Returns
    -------
    dict
        ``learning_rate``, ``sharpness`` (top Hessian eigenvalue), ``threshold`` (largest stable
        step), ``ratio`` (learning rate over threshold), ``label`` (``stable``, ``edge`` or
        ``unstable``), ``optimizer``; empty when the sharpness is not finite.
    """
    from .curvature import lr_verdict, sharpness_or_nan

    # A relative accuracy of 1e-3 is plenty to compare with a bound, and much cheaper.
    L = sharpness_or_nan(
        net, params, X, Y, alpha=alpha, subsample=subsample, rng=rng, tol=1e-3,
        warm_start=warm_start,
    )  # fmt: skip
    if not math.isfinite(L):
        return {}
    verdict = lr_verdict(
        learning_rate, L, optimizer=optimizer, momentum=momentum, nesterov=nesterov
    )
    return {
        "learning_rate": float(learning_rate),
        "sharpness": L,
        "threshold": float(verdict.threshold),
        "ratio": float(verdict.ratio),
        "label": str(verdict.label),
        "optimizer": optimizer,
        "momentum": float(momentum),
    }


def chance_loss(head: str, Y: NDArray) -> float | None:
    """The loss of the best constant prediction, the floor of a network that ignores its inputs.

    Binary: the entropy of the class shares; softmax: the entropy of the class distribution;
    identity: half the variance of the target (summed over outputs). None when there is nothing
    to learn (the value is 0: one class, a constant target) or the targets are not finite.
    """
    Y = np.asarray(Y, dtype=np.float64)
    if not np.isfinite(Y).all():
        return None
    if head == "identity":
        value = 0.5 * float(Y.var(axis=0).sum())
    else:
        p = Y.mean(axis=0)
        value = _entropy_terms(p) + (_entropy_terms(1 - p) if head == "binary" else 0.0)
    return value if value > 0 and math.isfinite(value) else None


def _entropy_terms(p: NDArray) -> float:
    """``-sum(p log p)`` with ``0 log 0 = 0``."""
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


@dataclass(frozen=True)
class Evidence:
    """Everything the detectors judge about one run; build it with :func:`gather_evidence`.

    Fields that were not measured are empty (``{}``, ``()``) or None. Every field has a default
    so that a test can state only what a detector reads.

    Attributes
    ----------
    task : {"classification", "regression"} or None
        None for a bare history (:func:`~.diagnose.diagnose_history`).
    head : {"binary", "softmax", "identity"} or None
    activation : str or None
        The hidden activation.
    n_hidden_layers : int or None
    hidden_widths : tuple of int
        The hidden layers' widths (empty when unknown).
    optimizer : {"gd", "sgd", "momentum", "nesterov", "adam", "lbfgs"}
        As :func:`~.curvature.stability_threshold` names it; ``lbfgs`` has no learning rate
        (L-BFGS-B's line search takes the steps), so ``lr`` and ``lr_track`` stay empty.
    solver : str
        The estimators' ``solver``.
    learning_rate_init : float or None
    final_learning_rate : float or None
        The rate of the last epoch (after the schedule), from the history.
    chance_loss : float or None
        The loss of the best constant prediction (:func:`chance_loss`).
    data : dict
        :func:`data_evidence` of the data the network sees.
    init : dict
        :func:`init_evidence` of the initial weights.
    lr : dict
        :func:`lr_evidence` at the initial weights, with ``epoch`` 0.
    lr_track : tuple of dict
        :func:`lr_evidence` at later epochs, each with its ``epoch``.
    monitor : dict
        The monitors' per-epoch series (``saturation``, ``dead``, ``grad_norm``,
        ``weight_norm``, ``update_ratio``, ``epoch``).
    prep : dict
        The data preparation applied before training (``--fix``).
    losses, val_losses : tuple of float
        The training losses per finite epoch, and the finite validation losses.
    val_scores : tuple of float
        The finite validation scores (accuracy or R^2), when validation data was held out.
    n_validation : int
        Samples the validation scores are computed on (0 when unknown).
    n_epochs : int
        Epochs with a finite loss.
    stop_reason : str or None
        Why training stopped (``non-finite`` when the loss blew up).
    curve_label : str or None
        :func:`~.curves.classify_curve`'s label (``unknown`` when it could not read the curve);
        None without losses.
    curve_message : str
    curve_evidence : dict
        The classifier's numbers.
    output : dict
        The user's output activation and loss against the task
        (:func:`~.user_output.output_evidence`, with ``zero_grad_share``); empty for the
        estimators' own pair.
    fit : dict
        What the trained network does with the data: ``class_recall`` and ``class_share``
        (classification), ``capacity`` (the loss of a wider reference network), ``order``
        (labels sorted and no shuffling; classes missing from the validation split).
    """

    task: str | None = None
    head: str | None = None
    activation: str | None = None
    n_hidden_layers: int | None = None
    hidden_widths: tuple[int, ...] = ()
    optimizer: str = "gd"
    solver: str = "gd"
    learning_rate_init: float | None = None
    final_learning_rate: float | None = None
    chance_loss: float | None = None
    data: dict[str, Any] = field(default_factory=dict)
    init: dict[str, Any] = field(default_factory=dict)
    lr: dict[str, Any] = field(default_factory=dict)
    lr_track: tuple[dict[str, Any], ...] = ()
    monitor: dict[str, Any] = field(default_factory=dict)
    prep: dict[str, Any] = field(default_factory=dict)
    losses: tuple[float, ...] = ()
    val_losses: tuple[float, ...] = ()
    val_scores: tuple[float, ...] = ()
    n_validation: int = 0
    n_epochs: int = 0
    stop_reason: str | None = None
    curve_label: str | None = None
    curve_message: str = ""
    curve_evidence: dict[str, Any] = field(default_factory=dict)
    output: dict[str, Any] = field(default_factory=dict)
    fit: dict[str, Any] = field(default_factory=dict)

    @property
    def data_ok(self) -> bool:
        """True unless the data holds NaN or infinite values."""
        return not (self.data.get("n_non_finite_X") or self.data.get("n_non_finite_y"))


def gather_evidence(
    *,
    task: str | None,
    head: str | None,
    activation: str | None,
    n_hidden_layers: int | None,
    optimizer: str,
    solver: str,
    learning_rate_init: float | None,
    chance_loss: float | None,
    history: History,
    data: dict[str, Any],
    init: dict[str, Any],
    lr: dict[str, Any],
    lr_track: list[dict[str, Any]],
    monitor: dict[str, Any],
    prep: dict[str, Any],
    output: dict[str, Any] | None = None,
    fit: dict[str, Any] | None = None,
    n_validation: int = 0,
    hidden_widths: tuple[int, ...] = (),
) -> Evidence:
    """Build the :class:`Evidence` of a run from its measurements and its history.

    The one place an :class:`Evidence` is made: the loss curve is classified here (a
    non-finite stop counts as a NaN loss at the end; a curve the classifier cannot read is
    labelled ``unknown`` instead of failing).
    """
    from .curves import classify_curve

    losses = list(history.loss)
    curve_label: str | None = None
    curve_message = ""
    curve_ev: dict[str, Any] = {}
    judged = losses + ([math.nan] if history.stop_reason == "non-finite" else [])
    if judged:
        try:
            curve = classify_curve(judged, chance_loss=chance_loss)
        except ValueError as err:  # a curve the classifier cannot read is no reason to crash
            curve_label, curve_message = "unknown", str(err)
        else:
            curve_label, curve_message, curve_ev = curve.label, curve.message, curve.evidence
    return Evidence(
        task=task,
        head=head,
        activation=activation,
        n_hidden_layers=n_hidden_layers,
        optimizer=optimizer,
        solver=solver,
        learning_rate_init=learning_rate_init,
        chance_loss=chance_loss,
        data=data,
        init=init,
        lr=lr,
        lr_track=tuple(lr_track),
        monitor=monitor,
        prep=prep,
        losses=tuple(losses),
        val_losses=tuple(v for v in history.val_loss if math.isfinite(v)),
        val_scores=tuple(v for v in history.val_score if math.isfinite(v)),
        final_learning_rate=next(
            (float(v) for v in reversed(history.learning_rate) if math.isfinite(v)), None
        ),
        n_validation=n_validation,
        hidden_widths=tuple(int(w) for w in hidden_widths),
        n_epochs=len(history.loss),
        stop_reason=history.stop_reason,
        curve_label=curve_label,
        curve_message=curve_message,
        curve_evidence=curve_ev,
        output=output or {},
        fit=fit or {},
    )
