"""Rules: one detector per finding, and the table that says what each finding causes and how
its fix is applied.

The measurements (:mod:`.evidence`, :mod:`.monitors`, :mod:`.curvature`, :mod:`.curves`) produce
numbers, gathered in one :class:`~.evidence.Evidence` record; the detectors here decide what they
mean. Each detector reads the record and returns a :class:`Found` (severity, message, evidence,
fix text) or None, with its thresholds defined right above it.

:data:`RULES` is the table, one :class:`Rule` row per finding, written out literally: its code,
its detector, the codes it can cause (the causal graph's edges) and its :class:`Fix` as estimator
parameters, data preparation and ``lossdoctor train`` flags. Everything else is derived from it:

- :data:`CAUSES`, the causal graph: ``a -> b`` says "a can cause b"; when both are found, ``b`` is
  reported as a symptom of ``a`` (``Finding.cause``), and the root's fix is the one to apply.
- :data:`PRIORITY`, the rank of the codes: the rows' order, upstream first (bad data before bad
  scaling before a bad initialisation before a bad learning rate), made consistent with the graph
  so that a cause always ranks above what it causes (:func:`~.ranking.rank_order`).
- the ranking (:func:`rank`) and the summary (:func:`~.ranking.summarize`), from the graph, the
  priority and the findings' severities.
- the fixes that ``diagnose(..., fix=True)`` applies (:mod:`.fix_plan`), from the rows' ``fix``.

To add a finding: write its detector (and thresholds) here and add one row to :data:`RULES`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

from ..initializers import default_init
from .evidence import Evidence
from .findings import Finding
from .lr_advice import advise_lr, nice_lr
from .ranking import causal_graph, rank_by_graph, rank_order, summarize

__all__ = [
    "ALPHA_CAP",
    "CAUSES",
    "CONSTANT_COLUMNS",
    "CONSTANT_SCHEDULE",
    "GRADIENT_ACTIVATION",
    "LOWER_ALPHA",
    "NO_LEARNING_RATE",
    "PLANNED_LR",
    "PRIORITY",
    "RULES",
    "WIDER",
    "Fix",
    "Found",
    "Planned",
    "Rule",
    "evaluate",
    "flags_of",
    "gradient_activation",
    "lower_alpha",
    "lr_fix_text",
    "nice_lr",
    "rank",
]


class Found(NamedTuple):
    """What a detector found; its row in :data:`RULES` adds the code."""

    severity: str
    message: str
    evidence: dict[str, Any]
    fix: str


class Planned(NamedTuple):
    """A fix value known only when the fix is planned (:mod:`.fix_plan` resolves it by name)."""

    name: str


#: The learning rate that fits the fixed set-up: half its stability bound for gradient descent,
#: a tenth of the current one (too high) or 1e-3 (too low) for Adam.
PLANNED_LR = Planned("learning_rate_init")
#: The data's constant columns (:func:`~.evidence.data_evidence`'s ``constant_features``).
CONSTANT_COLUMNS = Planned("constant_features")
#: The hidden layers of the wider reference network of the capacity check.
WIDER = Planned("hidden_layer_sizes")
#: A tenth of the run's L2 penalty ``alpha``, at most :data:`ALPHA_CAP` (:func:`lower_alpha`).
LOWER_ALPHA = Planned("alpha")
#: The largest ``alpha`` the regularisation fix proposes: scikit-learn's "Classifier comparison"
#: example trains its MLP at 1, and a tenth of an absurd penalty (1e4 on the iris: 1e3) still
#: holds every weight at zero.
ALPHA_CAP = 1.0
#: ``learning_rate="constant"`` where the run's schedule decays the rate by the number of samples
#: seen (scikit-learn's ``invscaling``); left out otherwise.
CONSTANT_SCHEDULE = Planned("learning_rate")
#: The activation that keeps gradients alive in the network at hand (:func:`gradient_activation`).
GRADIENT_ACTIVATION = Planned("activation")
#: Hidden layers narrower than this die as ReLU layers: a deep network of a few ReLU units
#: per layer collapses to a constant for a sizeable share of initialisations (Lu et al.,
#: "Dying ReLU and initialization", 2019; the deep-sigmoid real case at width 5: 1 seed in 3).
NARROW_RELU_WIDTH = 16


def lower_alpha(alpha: float) -> float:
    """The L2 penalty the regularisation fix proposes: a tenth of ``alpha``, at most 1."""
    return min(float(alpha) / 10, ALPHA_CAP)


def gradient_activation(hidden_widths: tuple[int, ...] | list[int]) -> str:
    """``relu`` for the fix of saturated or vanishing gradients, ``tanh`` for narrow layers.

    Narrow layers get tanh with Glorot's normalised initialisation, the remedy of Glorot and
    Bengio (2010) for deep sigmoid networks.
    """
    widths = list(hidden_widths)
    return "tanh" if widths and min(widths) < NARROW_RELU_WIDTH else "relu"


def _gradient_fix(ev: Evidence, tail: str) -> str:
    if gradient_activation(ev.hidden_widths) == "tanh":
        return (
            f"activation='tanh' with init=None (Glorot's normalised draw): layers of "
            f"{min(ev.hidden_widths)} units die as ReLU layers{tail}"
        )
    return f"activation='relu' with init=None (He){tail}"


class Fix(NamedTuple):
    """How a root cause's fix is applied.

    Attributes
    ----------
    params : mapping
        Estimator constructor parameters to set.
    prep : mapping
        Data preparation to apply before training (:func:`~.prepare.prepare_data`).
    setup : mapping
        Options of the diagnosed set-up that are not estimator parameters: keyword arguments of
        :func:`~.diagnose.diagnose` (``output_activation``, ``loss``, ``split``; None for "the
        estimators' own output and loss").
    flags : mapping
        The same fix as options of ``lossdoctor train``: flag -> value, True for a switch given
        without a value, None for "leave the option out" (its default).
    """

    params: Mapping[str, Any] = {}
    prep: Mapping[str, Any] = {}
    setup: Mapping[str, Any] = {}
    flags: Mapping[str, str | bool | Planned | None] = {}


class Rule(NamedTuple):
    """One row of :data:`RULES`: a finding's code, its detector, what it causes, its fix."""

    code: str
    detect: Callable[[Evidence], Found | None]
    causes: tuple[str, ...] = ()
    fix: Fix = Fix()


def lr_fix_text(value: float, why: str = "") -> str:
    """The fix of a learning-rate finding: ``learning_rate_init=0.05 (why).``"""
    return f"learning_rate_init={value:g}" + (f" ({why})" if why else "") + "."


def _f(x: float) -> float:
    """A float fit for JSON (rounded to 4 significant digits; inf and NaN become None)."""
    if x is None or not math.isfinite(x):
        return None  # type: ignore[return-value]
    return float(f"{x:.4g}")


# -- detectors on the data ------------------------------------------------------------------------
def detect_data_non_finite(ev: Evidence) -> Found | None:
    """NaN or infinite values in ``X`` or in a regression target."""
    d = ev.data
    n_bad_x, n_bad_y = d.get("n_non_finite_X", 0), d.get("n_non_finite_y", 0)
    if not (n_bad_x or n_bad_y):
        return None
    cols = d.get("non_finite_columns", [])
    where = f"{n_bad_x} in X (columns {cols})" if n_bad_x else ""
    if n_bad_y:
        where += (" and " if where else "") + f"{n_bad_y} in y"
    return Found(
        "error",
        f"The data holds NaN or infinite values: {where}. One such value makes the loss "
        f"NaN from the first step.",
        {"n_non_finite_X": n_bad_x, "n_non_finite_y": n_bad_y, "columns": cols},
        "Impute or drop them before fitting: sklearn.impute.SimpleImputer"
        "(strategy='median') on X, and drop the rows whose target is missing.",
    )


def detect_constant_features(ev: Evidence) -> Found | None:
    """Columns with no spread."""
    d = ev.data
    n_const = d.get("n_constant_features", 0)
    if not n_const:
        return None
    cols = d["constant_features"]
    names = d.get("constant_feature_names")
    named = f", named {names[:10]}" if names else ""
    # A constant column of moderate size (the blank border pixels of the digits) is harmless:
    # its weights get a gradient like a bias's. A large one feeds the first layer a large
    # fixed input, like an unscaled feature.
    large = d.get("constant_max_abs", 0.0) > INPUT_RMS_MAX
    return Found(
        "warning" if large else "info",
        f"{n_const} of {d['n_features']} features are constant (columns {cols[:10]}{named}): "
        f"they carry no information"
        + (
            f", and at magnitude up to {d['constant_max_abs']:.4g} they push the first layer "
            f"like an unscaled feature."
            if large
            else "; harmless to training, but they cost work and a scaler may divide by their "
            "zero spread."
        ),
        {
            "n_constant": n_const,
            "columns": cols[:50],
            "max_abs": _f(d.get("constant_max_abs", 0.0)),
        },
        f"Drop columns {cols[:10]}: sklearn.feature_selection.VarianceThreshold(0.0) "
        f"before scaling.",
    )


#: A feature whose root mean square exceeds this is far from unit scale (or far from zero).
INPUT_RMS_MAX = 10.0
#: Largest over smallest feature standard deviation beyond which scales are "wildly different".
INPUT_STD_RATIO_MAX = 100.0
#: ... which matters only when the largest feature's root mean square exceeds this.
INPUT_RATIO_MIN_RMS = 3.0


def _named(name: str | None) -> str:
    """`` ('worst area')`` after a column index, when the data names its columns."""
    return f" ({name!r})" if name else ""


def detect_inputs_unscaled(ev: Evidence) -> Found | None:
    """A feature far from unit scale, or feature spreads wildly different."""
    d = ev.data
    max_rms, ratio = d.get("max_rms", 0.0), d.get("std_ratio", 1.0)
    # Near-constant columns next to unit-scale ones (pixels in [0, 1] with a constant border)
    # give a large spread ratio, but the first layer sees inputs of unit scale: no finding.
    spread = ratio > INPUT_STD_RATIO_MAX and max_rms > INPUT_RATIO_MIN_RMS
    if not (max_rms > INPUT_RMS_MAX or spread):
        return None
    j = d["max_rms_feature"]
    severity = "error" if max_rms > 10 * INPUT_RMS_MAX or ratio > 1e3 else "warning"
    return Found(
        severity,
        f"The inputs are not scaled: feature {j}{_named(d.get('max_rms_feature_name'))} has "
        f"a root mean square of "
        f"{max_rms:.4g} (largest mean {d['max_abs_mean']:.4g}), and the feature spreads "
        f"range from {d['min_std']:.3g} to {d['max_std']:.4g} (x{ratio:.3g}). A weight "
        f"initialised for unit-scale inputs then drives the first layer far past its "
        f"linear range.",
        {
            "max_rms": _f(max_rms),
            "max_rms_feature": j,
            "max_abs_mean": _f(d["max_abs_mean"]),
            "min_std": _f(d["min_std"]),
            "max_std": _f(d["max_std"]),
            "std_ratio": _f(ratio),
        },
        "Standardise the inputs: sklearn.preprocessing.StandardScaler() (mean 0, "
        "standard deviation 1 per feature), fitted on the training data.",
    )


#: Largest over smallest class count beyond which classes are imbalanced.
IMBALANCE_MAX = 10.0


def detect_class_imbalance(ev: Evidence) -> Found | None:
    """Classes whose counts differ by a large factor (classification only)."""
    d = ev.data
    if not (ev.task == "classification" and d.get("imbalance_ratio", 1.0) >= IMBALANCE_MAX):
        return None
    counts = d["class_counts"]
    minority = min(counts, key=counts.get)
    return Found(
        "warning",
        f"The classes are imbalanced: counts {counts}, the largest "
        f"{d['imbalance_ratio']:.3g} times the smallest (class {minority} is "
        f"{d['minority_share']:.1%} of the samples). Predicting the majority class "
        f"alone already scores {1 - d['minority_share']:.1%}; the loss can settle there.",
        {
            "class_counts": counts,
            "imbalance_ratio": _f(d["imbalance_ratio"]),
            "minority_share": _f(d["minority_share"]),
        },
        f"Oversample the minority classes to the majority's count (e.g. "
        f"sklearn.utils.resample(..., n_samples={max(counts.values())})) and judge the "
        f"model by balanced accuracy, not accuracy.",
    )


#: A regression target whose root mean square exceeds this is on a large scale...
TARGET_RMS_MAX = 10.0
#: ... unless the run settled: its final loss below this share of the loss of guessing.
SETTLED_SHARE = 0.2


def _settled(ev: Evidence) -> bool:
    """The run ended well below the loss of guessing on a falling, finite curve."""
    losses, chance = ev.losses, ev.chance_loss
    return bool(
        losses
        and chance
        and math.isfinite(losses[-1])
        and max(losses) < SPIKE_RATIO * losses[0]  # no jump on the way (lr-too-high's evidence)
        and losses[-1] < SETTLED_SHARE * chance
        and ev.curve_label == "converging"
    )


def detect_targets_unscaled(ev: Evidence) -> Found | None:
    """A regression target far from unit scale."""
    d = ev.data
    if not (ev.task == "regression" and d.get("y_rms", 0.0) > TARGET_RMS_MAX):
        return None
    # A moderately large target that the network reached (house prices of mean 21) is fine.
    if d["y_rms"] <= 10 * TARGET_RMS_MAX and _settled(ev):
        return None
    return Found(
        "error" if d["y_rms"] > 10 * TARGET_RMS_MAX else "warning",
        f"The regression target is on a large scale: mean {d['y_mean']:.4g}, standard "
        f"deviation {d['y_std']:.4g}. The squared error and its gradients start "
        f"{d['y_rms'] ** 2:.3g} times larger than for a unit-scale target, which forces "
        f"tiny steps or blows up.",
        {"y_mean": _f(d["y_mean"]), "y_std": _f(d["y_std"]), "y_rms": _f(d["y_rms"])},
        "Standardise the target: sklearn.compose.TransformedTargetRegressor("
        "regressor=..., transformer=sklearn.preprocessing.StandardScaler()).",
    )


# -- detector on the initial weights --------------------------------------------------------------
#: A layer whose weight RMS is further than this factor from its initialiser's own spread (for a
#: naive initialiser, the spread its activation needs) is badly initialised.
INIT_RATIO_MAX = 3.0
#: A layer with at least this share of weights of one sign is "all of one sign".
ONE_SIGN_SHARE = 0.95
#: Layers with fewer weights are exempt from the sign statistic (two weights of one sign are
#: a coin toss, not a fault).
ONE_SIGN_MIN_WEIGHTS = 16


#: A layer's RMS ratio is judged outside what its own draw gives with this probability.
INIT_SAMPLING_P = 1e-4


def _rms_band(size: int) -> tuple[float, float]:
    """The range of RMS ratios that is not a fault for a layer of ``size`` weights.

    At least ``INIT_RATIO_MAX`` either way, widened for small layers to the ratios a correct
    normal draw of ``size`` weights reaches with probability ``INIT_SAMPLING_P`` (the sample
    mean square of ``size`` draws is chi-squared with ``size`` degrees of freedom over
    ``size``): the 5 weights of an output layer drawn by He's rule have an RMS below a third of
    the expected one about once in a hundred draws, and that is luck, not a fault.
    """
    from scipy.stats import chi2

    n = max(size, 1)
    low = math.sqrt(float(chi2.ppf(INIT_SAMPLING_P, n)) / n)
    high = math.sqrt(float(chi2.ppf(1 - INIT_SAMPLING_P, n)) / n)
    return min(low, 1 / INIT_RATIO_MAX), max(high, INIT_RATIO_MAX)


def detect_init_scale(ev: Evidence) -> Found | None:
    """Initial weights far from their initialiser's spread, or all of one sign.

    The spread expected of each layer comes from the initialiser actually used
    (:func:`~lossdoctor.initializers.expected_std`): scikit-learn's draw, Glorot, He or LeCun at
    ``init_scale=1``; a naive ``normal`` or ``uniform`` draw is held to the activation's Glorot or
    He spread.
    """
    if not ev.init:
        return None
    bad = []
    for layer in ev.init["layers"]:
        r = layer["std_ratio"]
        one_sign = layer.get("size", ONE_SIGN_MIN_WEIGHTS) >= ONE_SIGN_MIN_WEIGHTS and (
            layer["positive_share"] >= ONE_SIGN_SHARE
            or layer["positive_share"] <= (1 - ONE_SIGN_SHARE)
        )
        low, high = _rms_band(int(layer.get("size", ONE_SIGN_MIN_WEIGHTS)))
        if r > high or r < low or one_sign:
            bad.append((layer, one_sign))
    if not bad:
        return None
    act = ev.activation
    parts = []
    worst = 1.0
    for layer, one_sign in bad:
        r = layer["std_ratio"]
        worst = max(worst, r, 1 / r)
        text = f"{layer['name']}: RMS {layer['rms']:.3g} vs {layer['expected_std']:.3g}"
        text += f" (x{r:.3g})"
        if one_sign:
            text += f", {layer['positive_share']:.0%} positive"
        parts.append(text)
    init, reference = ev.init.get("init"), ev.init.get("reference")
    if reference is None or init != reference:
        # A naive initialiser, judged against the one that fits the activation.
        family = "He" if str(reference or default_init(str(act))).startswith("he") else "Glorot"
        scale = f"the scale {act} needs ({family}'s)"
    else:
        scale = f"the scale of {init} at init_scale=1"
    return Found(
        "error" if worst > 10 else "warning",
        f"The initial weights are far from {scale}: "
        + "; ".join(parts)
        + ". Too large saturates or explodes the layers, too small starves them of signal, "
        "and weights of one sign make every unit compute nearly the same thing.",
        {
            "layers": [
                {
                    "name": la["name"],
                    "rms": _f(la["rms"]),
                    "expected_std": _f(la["expected_std"]),
                    "ratio": _f(la["std_ratio"]),
                    "positive_share": _f(la["positive_share"]),
                }
                for la, _ in bad
            ]
        },
        # The default draw is scikit-learn's: Glorot's uniform range for every activation.
        f"init=None (the default for {act}: Glorot) and init_scale=1.",
    )


# -- detectors on the learning rate ---------------------------------------------------------------
#: Said instead of a learning-rate finding or fix when the solver is lbfgs.
NO_LEARNING_RATE = (
    "solver='lbfgs' has no learning rate (L-BFGS-B's line search chooses every step), so no "
    "learning rate is to blame or to change"
)


def _no_learning_rate(ev: Evidence) -> bool:
    """True when the run has no learning rate to judge (lbfgs)."""
    return ev.solver == "lbfgs" or ev.optimizer == "lbfgs"


def _lr_text(lr: Any) -> str:
    """`` 0.1`` to name the learning rate in a sentence, or nothing when it is not known."""
    return "" if lr is None else f" {float(lr):g}"


def _lr_fix_value(ev: Evidence, high: bool) -> tuple[float | None, str]:
    """The learning rate to suggest before any fix is planned, and why."""
    lr = ev.learning_rate_init
    bound = ev.lr.get("threshold")
    if ev.optimizer == "adam":
        if high:
            return (nice_lr(lr / 10) if lr else 1e-4), "a tenth of the current one"
        return 1e-3, "Adam's usual default"
    advice = advise_lr(bound=bound)
    if advice.source == "curvature":
        return advice.rounded, f"half the stability bound {bound:.3g} at the initial weights"
    if lr:
        return (
            (nice_lr(lr / 10), "a tenth of the current one")
            if high
            else (
                nice_lr(lr * 10),
                "ten times the current one",
            )
        )
    return None, ""


#: Sharpness measured during training that puts the learning rate above this multiple of its
#: stability bound makes the steps unstable later in the run.
LR_TRACK_MARGIN = 1.15
#: A training loss that jumps to this many times its first value was thrown off by too large a
#: step, even if it recovers (Adam has no curvature bound to check against beforehand).
SPIKE_RATIO = 3.0
#: ... and a jump beyond this many times is an error rather than a warning.
SPIKE_ERROR = 10.0
#: A first epoch whose mean loss is this many times the loss at the initial weights overshot.
FIRST_EPOCH_RISE = 1.5


class _TooHigh(NamedTuple):
    """What :func:`detect_lr_too_high` sees, computed once for it and :func:`detect_lr_too_low`."""

    fires: bool
    unstable_init: bool
    unstable_later: bool
    worst_track: dict[str, Any] | None
    bad_curve: bool
    non_finite: bool
    spike: float
    spiked: bool
    edge: bool
    base: float  # the loss the spike is measured from (:func:`_initial_loss`)
    overshot: bool  # the spike is the first epoch's rise over the loss at the initial weights


def _initial_loss(ev: Evidence) -> float:
    """The loss before the first step (the monitor's epoch 0, if lower), else the first epoch's.

    The first epoch's loss is a mean over its mini-batches: with Adam at too large a step the
    jump happens inside epoch 1, and only the loss at the initial weights shows it.
    """
    first = ev.losses[0] if len(ev.losses) >= 2 else 0.0
    probe = _probe_initial_loss(ev)
    if probe is not None:
        # The monitor's is measured on a probe subset: the lower of the two estimates.
        return min(probe, first) if first > 0 else probe
    return first


def _probe_initial_loss(ev: Evidence) -> float | None:
    """The monitor's loss at the initial weights (its epoch 0), or None."""
    epochs, losses = ev.monitor.get("epoch") or [], ev.monitor.get("loss") or []
    if epochs and losses and epochs[0] == 0 and math.isfinite(losses[0]) and losses[0] > 0:
        return float(losses[0])
    return None


def _too_high(ev: Evidence) -> _TooHigh:
    lev = ev.lr
    label = ev.curve_label
    unstable_init = lev.get("label") == "unstable"
    worst_track = max(ev.lr_track, key=lambda p: p["ratio"], default=None)
    unstable_later = worst_track is not None and worst_track["ratio"] > LR_TRACK_MARGIN
    bad_curve = label in ("diverging", "oscillating")
    non_finite = label == "non-finite"
    losses = ev.losses
    base = _initial_loss(ev)
    spike = max(losses) / base if losses and base > 0 else 1.0
    spiked = math.isfinite(spike) and spike >= SPIKE_RATIO
    # The first epoch's mean loss well above the loss at the initial weights: the first steps
    # overshot (a healthy first epoch ends below where it started).
    probe = _probe_initial_loss(ev)
    overshot = False
    if probe is not None and losses and math.isfinite(losses[0]):
        first_rise = losses[0] / probe
        if first_rise >= FIRST_EPOCH_RISE and not spiked:
            spike, spiked, overshot = first_rise, True, True
    # Above the bound at the initial weights, yet the loss fell smoothly and settled: the
    # sharpness fell to meet the step (the edge of stability), normal for gradient descent.
    edge = unstable_init and not (bad_curve or spiked or non_finite) and _settled(ev)
    # Non-finite data makes any learning rate blow up: that finding is data-non-finite's.
    fires = ev.data_ok and (
        (unstable_init and not edge)
        or bad_curve
        or spiked
        or (non_finite and (unstable_later or not lev))
    )
    return _TooHigh(
        fires,
        unstable_init,
        unstable_later,
        worst_track,
        bad_curve,
        non_finite,
        spike,
        spiked,
        edge and ev.data_ok,
        base,
        overshot,
    )


def detect_edge_of_stability(ev: Evidence) -> Found | None:
    """An info: the rate is above the bound at the initial weights, and that is fine."""
    if _no_learning_rate(ev):
        return None
    s = _too_high(ev)
    if not s.edge:
        return None
    lev, lr = ev.lr, ev.learning_rate_init
    later = ""
    if s.worst_track is not None:
        later = (
            f"; at epoch {s.worst_track['epoch']} the rate is x{s.worst_track['ratio']:.2g} "
            f"the bound there"
        )
    return Found(
        "info",
        f"Edge of stability: the learning rate{_lr_text(lr)} is x{lev['ratio']:.3g} the "
        f"stability bound {lev['threshold']:.4g} at the initial weights, yet the loss fell "
        f"smoothly to {ev.losses[-1]:.4g}: the sharpness fell to meet the step{later}. Normal "
        f"for gradient descent, not a fault.",
        {
            "learning_rate": lr,
            "sharpness": _f(lev["sharpness"]),
            "threshold": _f(lev["threshold"]),
            "ratio": _f(lev["ratio"]),
        },
        f"Nothing to fix; a rate below {lev['threshold']:.4g} avoids the unstable first steps "
        f"if they matter.",
    )


def detect_lr_too_high(ev: Evidence) -> Found | None:
    """A step above the stability bound, a diverging or oscillating curve, or a loss spike.

    Never with lbfgs: it has no learning rate (the curve's own findings say so).
    """
    if _no_learning_rate(ev):
        return None
    s = _too_high(ev)
    if not s.fires:
        return None
    lr = ev.learning_rate_init
    lev = ev.lr
    label = ev.curve_label
    evidence: dict[str, Any] = {"learning_rate": lr, "curve": label}
    parts = []
    if lev:
        evidence.update(
            sharpness=_f(lev["sharpness"]),
            threshold=_f(lev["threshold"]),
            ratio=_f(lev["ratio"]),
        )
        parts.append(
            f"at the initial weights the sharpness (top Hessian eigenvalue) is "
            f"{lev['sharpness']:.4g}, so steps are stable below {lev['threshold']:.4g}; "
            f"the learning rate {lr:g} is x{lev['ratio']:.3g} that bound"
        )
    if s.worst_track is not None:
        evidence["during_training"] = [
            {"epoch": p["epoch"], "sharpness": _f(p["sharpness"]), "ratio": _f(p["ratio"])}
            for p in ev.lr_track
        ]
        if s.unstable_later:
            parts.append(
                f"at epoch {s.worst_track['epoch']} it is x{s.worst_track['ratio']:.3g} the bound"
            )
    if s.bad_curve or s.non_finite:
        parts.append(f"the loss curve is {label}: {ev.curve_message}")
    losses = ev.losses
    if s.overshot:  # base is then the loss at the initial weights (below the first epoch's)
        evidence.update(initial_loss=_f(s.base), first_epoch_loss=_f(losses[0]))
        parts.append(
            f"the first epoch's mean loss {losses[0]:.4g} is x{s.spike:.3g} the loss "
            f"at the initial weights ({s.base:.4g}): the first steps overshot"
        )
    elif s.spiked:
        i = int(np.argmax(losses))
        evidence.update(first_loss=_f(s.base), max_loss=_f(losses[i]), max_epoch=i + 1)
        start = " at the initial weights" if s.base != losses[0] else ""
        parts.append(
            f"the loss jumped from {s.base:.4g}{start} to {losses[i]:.4g} (x{s.spike:.3g}) at "
            f"epoch {i + 1}"
        )
    value, why = _lr_fix_value(ev, high=True)
    error = s.bad_curve or s.non_finite or s.unstable_init or s.spike > SPIKE_ERROR
    return Found(
        "error" if error else "warning",
        f"The learning rate{_lr_text(lr)} is too high: " + "; ".join(parts) + ".",
        evidence,
        lr_fix_text(value, why) if value else "Lower the learning rate tenfold.",
    )


#: A learning rate below this fraction of the stability bound, with a slow curve, is too low
#: (a tenth: a tenfold raise then stays at or below the bound).
LR_LOW_RATIO = 0.1
#: Adam: a median update-to-weight ratio below this, with a slow curve, is too low a step.
ADAM_UPDATE_RATIO_MIN = 1e-4


def _median_update_ratio(ev: Evidence) -> float | None:
    ur = ev.monitor.get("update_ratio") or {}
    values = [v for name, vs in ur.items() if name.startswith("W") for v in vs]
    values = [v for v in values if math.isfinite(v)]
    return float(np.median(values)) if values else None


#: A converging run whose final loss is still this share of the loss of guessing has hardly
#: learned: with a step far below the bound, that is a learning rate too low.
LR_LOW_UNFITTED = 0.8


def _decayed_ratio(ev: Evidence) -> float:
    """The last epoch's rate over the stability bound when a schedule at least halved it, else
    inf."""
    final, start, lev = ev.final_learning_rate, ev.learning_rate_init, ev.lr
    if not (final and start and lev and final < 0.5 * start and lev.get("threshold")):
        return math.inf
    return final / lev["threshold"]


def _end_over_chance(ev: Evidence) -> float:
    """The last loss over the loss of guessing (0 when either is unknown)."""
    if not ev.losses or not ev.chance_loss or not math.isfinite(ev.losses[-1]):
        return 0.0
    return ev.losses[-1] / ev.chance_loss


def detect_lr_too_low(ev: Evidence) -> Found | None:
    """A slow curve with a step far below the stability bound (or tiny Adam updates).

    Never with lbfgs: it has no learning rate (the curve's own findings say so).
    """
    if _no_learning_rate(ev) or _too_high(ev).fires:
        return None
    lr = ev.learning_rate_init
    lev = ev.lr
    label = ev.curve_label
    slow = label in ("slow", "plateau")
    curve_text = f"the loss curve is {label}: {ev.curve_message}"
    end_share = _end_over_chance(ev)
    if not slow and label == "converging" and end_share >= LR_LOW_UNFITTED:
        # Falling, but after the whole run still hardly better than guessing.
        slow = True
        curve_text = (
            f"the loss is still x{end_share:.2g} the loss of guessing ({ev.chance_loss:.4g}) "
            f"after {ev.n_epochs} epochs"
        )
    too_small = False
    evidence: dict[str, Any] = {"learning_rate": lr, "curve": label}
    why_small = ""
    if slow and lev and lev.get("ratio", 1.0) < LR_LOW_RATIO:
        too_small = True
        evidence.update(threshold=_f(lev["threshold"]), ratio=_f(lev["ratio"]))
        why_small = (
            f"it is only x{lev['ratio']:.2g} the stability bound {lev['threshold']:.3g} at the "
            f"initial weights"
        )
    elif slow and lev and _decayed_ratio(ev) < LR_LOW_RATIO:
        # The rate started fine, but the schedule cut it far below the bound.
        too_small = True
        final = ev.final_learning_rate or 0.0
        evidence.update(
            threshold=_f(lev["threshold"]),
            final_learning_rate=_f(final),
            final_ratio=_f(final / lev["threshold"]),
        )
        why_small = (
            f"the schedule cut it to {final:.3g} by the last epoch, "
            f"x{final / lev['threshold']:.2g} the stability bound {lev['threshold']:.3g} at the "
            f"initial weights"
        )
    elif slow and ev.optimizer == "adam":
        ratios = _median_update_ratio(ev)
        if ratios is not None and ratios < ADAM_UPDATE_RATIO_MIN:
            too_small = True
            evidence["median_update_ratio"] = _f(ratios)
            why_small = f"each epoch moves the weights by only {ratios:.2g} of their norm"
    if not too_small:
        return None
    value, why = _lr_fix_value(ev, high=False)
    return Found(
        "warning",
        f"The learning rate{_lr_text(lr)} is too low: {why_small}, and {curve_text}.",
        evidence,
        lr_fix_text(value, why) if value else "Raise the learning rate tenfold.",
    )


# -- detectors on the monitors --------------------------------------------------------------------
def _recorded(values: list[float]) -> list[float]:
    """The recorded values of a series (NaN marks an epoch where a user's loop recorded none)."""
    return [v for v in values if not math.isnan(v)]


def _at(values: list[float] | None, i: int) -> float:
    """Entry ``i`` of a series, or 1.0 when the series is absent or shorter."""
    return values[i] if values is not None and i < len(values) else 1.0


#: Saturated share of a tanh/sigmoid layer at the start (or, as a median over training) that is a
#: problem.
SATURATION_MAX = 0.5


def detect_saturated_activations(ev: Evidence) -> Found | None:
    """Layers whose tanh/sigmoid units sit in the flat tails."""
    sat = {k: _recorded(v) for k, v in (ev.monitor.get("saturation") or {}).items()}
    bad_sat = []
    for layer, shares in sat.items():
        if not shares:
            continue
        start, med = shares[0], float(np.median(shares))
        if start >= SATURATION_MAX or med >= SATURATION_MAX:
            bad_sat.append((layer, start, med, shares[-1]))
    # Units that saturate only as a network that trains fine grows confident (a separable
    # problem drives sigmoid units to their tails) are healthy; saturation from the start is not.
    if all(b[1] < SATURATION_MAX for b in bad_sat) and _settled(ev) and not _too_high(ev).fires:
        return None
    if not bad_sat:
        return None
    worst = max(max(b[1], b[2]) for b in bad_sat)
    text = "; ".join(
        f"{name}: {s:.0%} at the start, {m:.0%} median, {e:.0%} at the end"
        for name, s, m, e in bad_sat
    )
    return Found(
        "error" if worst >= 0.9 else "warning",
        f"Saturated {ev.activation or 'tanh/sigmoid'} units (in the flat tails, where the "
        f"derivative is below 2% of its peak): {text}. Saturated units pass almost no gradient.",
        {
            "layers": {
                name: {"start": _f(s), "median": _f(m), "end": _f(e)} for name, s, m, e in bad_sat
            }
        },
        _gradient_fix(ev, ", or keep tanh and bring each layer's input to unit scale."),
    )


#: Share of dead ReLU units that is a problem.
DEAD_MAX = 0.4


def detect_dead_units(ev: Evidence) -> Found | None:
    """Layers whose ReLU units output zero on every probe sample."""
    dead = {k: _recorded(v) for k, v in (ev.monitor.get("dead") or {}).items()}
    bad_dead = [
        (layer, shares[0], shares[-1])
        for layer, shares in dead.items()
        if shares and max(shares[-1], float(np.median(shares))) >= DEAD_MAX
    ]
    # A narrow ReLU network that trains fine (settled, no sign of too large a step) is healthy.
    if not bad_dead or (_settled(ev) and not _too_high(ev).fires):
        return None
    worst = max(b[2] for b in bad_dead)
    text = "; ".join(f"{n}: {s:.0%} at the start, {e:.0%} at the end" for n, s, e in bad_dead)
    return Found(
        "error" if worst >= 0.9 else "warning",
        f"Dead ReLU units (zero output on every probe sample, so zero gradient): {text}.",
        {"layers": {n: {"start": _f(s), "end": _f(e)} for n, s, e in bad_dead}},
        "activation='leaky_relu' (its small slope keeps every unit trainable), with init=None.",
    )


#: First-layer over last-layer relative gradient below this: vanishing; above its inverse:
#: exploding towards the input.
DEPTH_GRAD_RATIO = 1e-3


def _depth_ratio(ev: Evidence) -> tuple[float, float] | None:
    """The first layer's relative gradient over the output layer's: at the start, and median.

    None without at least one hidden layer between them, or with nothing recorded.
    """
    gn = ev.monitor.get("grad_norm") or {}
    wn = ev.monitor.get("weight_norm") or {}
    weights = sorted(
        (k for k in gn if k.startswith("W") and k[1:].isdigit()), key=lambda k: int(k[1:])
    )
    if len(weights) < 3:  # a depth ratio needs at least one hidden layer between
        return None
    first, last = weights[0], weights[-1]
    rel = []
    for i in range(min(len(gn[first]), len(gn[last]))):
        g1, gL = gn[first][i], gn[last][i]
        w1 = _at(wn.get(first), i) or 1.0
        wL = _at(wn.get(last), i) or 1.0
        # Only where all four are recorded and finite (a weight norm can overflow to inf).
        if all(math.isfinite(v) and v > 0 for v in (g1, gL, w1, wL)) and gL / wL > 0:
            rel.append((g1 / w1) / (gL / wL))
    if not rel:
        return None
    return rel[0], float(np.median(rel))


def detect_vanishing_gradients(ev: Evidence) -> Found | None:
    """The first layer's relative gradient a tiny fraction of the output layer's."""
    ratio = _depth_ratio(ev)
    # At the start (before training can compensate) or typically during training.
    if ratio is None or not 0 < min(ratio) < DEPTH_GRAD_RATIO:
        return None
    start, med = ratio
    return Found(
        "warning",
        f"Vanishing gradients: relative to its weights, the first layer's "
        f"gradient is x{start:.2g} the output layer's at the start and x{med:.2g} "
        f"(median) during training; the early layers barely learn.",
        {"first_over_last_start": _f(start), "first_over_last_median": _f(med)},
        _gradient_fix(ev, "; for a deep network, fewer layers (hidden_layer_sizes)."),
    )


#: Growth of the global gradient norm during training beyond which gradients explode.
GRAD_GROWTH_MAX = 1e3


def _exploding(why: str, evidence: dict[str, Any]) -> Found:
    return Found(
        "error",
        f"Exploding gradients: {why}.",
        evidence,
        "clip_norm=1.0 (clip the gradient's global norm), and fix what makes it grow.",
    )


def detect_exploding_gradients(ev: Evidence) -> Found | None:
    """The first layer's relative gradient far above the output layer's, or a growing norm."""
    ratio = _depth_ratio(ev)
    if ratio is not None and min(ratio) > 1 / DEPTH_GRAD_RATIO:
        start = ratio[0]
        return _exploding(
            f"relative to its weights, the first layer's gradient is "
            f"x{start:.3g} the output layer's at the start",
            {"first_over_last_start": _f(start)},
        )
    gn = ev.monitor.get("grad_norm") or {}
    total, at = [], []  # the global gradient norm, and the index of its epoch
    for i in range(min((len(v) for v in gn.values()), default=0)):
        values = [gn[k][i] for k in gn if not math.isnan(gn[k][i])]
        if values:  # an epoch with no gradient recorded is skipped; inf is kept
            total.append(math.sqrt(sum(v**2 for v in values)))
            at.append(i)
    if not (len(total) >= 2 and total[0] > 0):
        return None
    largest = max((t for t in total if math.isfinite(t)), default=math.nan)
    overflow = next((i for i, t in enumerate(total) if not math.isfinite(t)), None)
    growth = largest / total[0] if overflow is None else math.inf
    if not (growth > GRAD_GROWTH_MAX or overflow is not None):
        return None
    epochs = ev.monitor.get("epoch") or []
    if overflow is None:
        why = f"the gradient norm grew from {total[0]:.3g} to {largest:.3g} (x{growth:.3g})"
    else:
        i = at[overflow]
        when = f"epoch {epochs[i]}" if i < len(epochs) else "training"
        why = (
            f"the gradient norm went from {total[0]:.3g} (largest finite {largest:.3g}) "
            f"to non-finite by {when}"
        )
    return _exploding(
        f"{why} during training" if overflow is None else why,
        {"grad_norm_start": _f(total[0]), "grad_norm_max": _f(largest), "growth": _f(growth)},
    )


# -- detectors on the loss curve ------------------------------------------------------------------
def detect_non_finite_loss(ev: Evidence) -> Found | None:
    """The loss became NaN or infinite."""
    if not (ev.curve_label == "non-finite" or ev.stop_reason == "non-finite"):
        return None
    n_ok = ev.n_epochs
    message = f"The loss became NaN or infinite after {n_ok} finite epochs; training stopped."
    fix = "clip_norm=1.0 and a lower learning_rate_init, after fixing the data and scales."
    if _no_learning_rate(ev):
        message = message[:-1] + f"; {NO_LEARNING_RATE}."
        fix = "Fix the data and scales, or raise alpha to keep the weights small."
    return Found(
        "error",
        message,
        {"finite_epochs": n_ok, **{k: _f(v) for k, v in ev.curve_evidence.items()}},
        fix,
    )


def detect_plateau(ev: Evidence) -> Found | None:
    """A curve that barely moves (a blown-up loss is :func:`detect_non_finite_loss`'s)."""
    if ev.curve_label != "plateau" or ev.stop_reason == "non-finite":
        return None
    message = f"The loss is on a plateau: {ev.curve_message}."
    fix = (
        "Raise learning_rate_init tenfold if nothing else is found; a plateau is usually "
        "a symptom (see the causes above)."
    )
    if _no_learning_rate(ev):
        message = message[:-1] + f"; {NO_LEARNING_RATE}."
        fix = (
            "A plateau is usually a symptom (see the causes above); with lbfgs, check max_iter "
            "and max_fun and lower tol if it stopped early."
        )
    return Found("warning", message, {k: _f(v) for k, v in ev.curve_evidence.items()}, fix)


#: Overfitting: the final validation loss at least this much above its best, at least this many
#: epochs after the best, while the training loss kept falling.
OVERFIT_RISE = 1.5
OVERFIT_MIN_EPOCHS = 10
#: ... and the rise is at least this share of the first validation loss (not a wobble near zero).
OVERFIT_MIN_RISE = 0.1
#: Or memorised: the final validation loss at least this many times the training loss, with a
#: gap of at least this share of the chance-level loss.
OVERFIT_GAP = 10.0
OVERFIT_MIN_GAP = 0.25
#: ... unless the validation score (accuracy or R^2) at the end is within this of its best.
OVERFIT_SCORE_DROP = 0.01


def detect_overfitting(ev: Evidence) -> Found | None:
    """A validation loss that rose while the training loss fell, or far above it."""
    val, train = ev.val_losses, ev.losses
    steady = ev.curve_label not in ("diverging", "oscillating", "non-finite")
    if not (steady and len(val) >= 2 * OVERFIT_MIN_EPOCHS and len(train) == len(val)):
        return None
    v, t = np.asarray(val), np.asarray(train)
    best = int(np.argmin(v))
    tail = max(3, len(v) // 20)
    end, end_train = float(np.median(v[-tail:])), float(np.median(t[-tail:]))
    later = t[best:]
    rose = (
        len(v) - 1 - best >= OVERFIT_MIN_EPOCHS
        and end >= OVERFIT_RISE * v[best]
        and end - v[best] >= OVERFIT_MIN_RISE * v[0]
        and later.size > 1
        and later[-1] < later[0]
    )
    # Memorised: the training loss is a small fraction of the validation loss, and the gap
    # is a sizeable part of the loss of guessing.
    scale = ev.chance_loss or float(v[0])
    memorised = end >= OVERFIT_GAP * end_train and end - end_train >= OVERFIT_MIN_GAP * scale
    if not (rose or memorised):
        return None
    # A validation loss that rises while the validation score holds, and stays below the loss
    # of guessing, is growing confidence on the few samples the model gets wrong, not a model
    # that got worse: worth knowing, not a fault.
    scores = np.asarray(ev.val_scores)
    drop = OVERFIT_SCORE_DROP
    if ev.task == "classification" and ev.n_validation and scores.size:
        # Three standard errors of the final accuracy on this many validation samples: the
        # best of tens of noisy epochs sits about two above the typical one by selection alone,
        # so a drop of a few samples on a small validation set is noise.
        p = float(np.median(scores[-tail:]))
        drop = max(drop, 3.0 * math.sqrt(max(p * (1.0 - p), 0.0) / ev.n_validation))
    held = (
        scores.size == v.size
        and float(np.median(scores[-tail:])) >= float(np.max(scores)) - drop
        and ev.chance_loss is not None
        and end < ev.chance_loss
    )
    how = (
        f"the validation loss was lowest ({v[best]:.4g}) at epoch {best + 1} and rose "
        f"to {end:.4g} (x{end / v[best]:.3g}) by epoch {len(v)}, while the training loss "
        f"kept falling to {end_train:.4g}"
        if rose
        else f"the training loss fell to {end_train:.4g} but the validation loss is "
        f"{end:.4g} (x{end / max(end_train, 1e-300):.3g}): the network memorised the "
        f"training samples"
    )
    if held:
        how += (
            f"; the validation score held at {float(np.median(scores[-tail:])):.4g} (best "
            f"{float(np.max(scores)):.4g}), so the model is more confident, not worse"
        )
    return Found(
        "info" if held else "warning",
        f"Overfitting: {how}.",
        {
            "best_val_epoch": best + 1,
            "best_val_loss": _f(float(v[best])),
            "end_val_loss": _f(end),
            "end_train_loss": _f(end_train),
            **(
                {
                    "best_val_score": _f(float(np.max(scores))),
                    "end_val_score": _f(float(np.median(scores[-tail:]))),
                }
                if scores.size
                else {}
            ),
        },
        f"early_stopping=True (the validation loss was lowest at epoch {best + 1}), "
        f"or a larger L2 penalty, e.g. alpha=1.0, or fewer or smaller hidden layers.",
    )


# -- detectors on the user's output and loss, and on what the trained network does -----------------
def _pair(ev: Evidence) -> str:
    o = ev.output
    return f"output {o['output']} with {o['loss'].replace('_', ' ')}"


def detect_output_loss_mismatch(ev: Evidence) -> Found | None:
    """An output activation that does not fit the loss or the task."""
    o = ev.output
    if not o.get("problems"):
        return None
    return Found(
        "error",
        f"The network's {_pair(ev)} does not fit the task: " + "; ".join(o["problems"]) + ".",
        {
            "output_activation": o["output"],
            "loss": o["loss"],
            "expected_output_activation": o["expected_output"],
            "expected_loss": o["expected_loss"],
            "target_min": _f(o["target_min"]),
            "target_max": _f(o["target_max"]),
            "out_of_range": _f(o["out_of_range"]),
        },
        f"A {o['expected_output']} output with {o['expected_loss'].replace('_', ' ')} "
        f"(output_activation=None, loss=None: the estimators' own for the task).",
    )


#: Share of exactly-zero gradient entries from which the gradients are "zero".
ZERO_GRAD_SHARE = 0.999


def detect_zero_gradients(ev: Evidence) -> Found | None:
    """Gradients that are exactly zero: at the initial weights, or every recorded epoch."""
    share = ev.output.get("zero_grad_share")
    where: list[str] = []
    if share is not None and share >= ZERO_GRAD_SHARE:
        where = ["every parameter at the initial weights"]
    gn = ev.monitor.get("grad_norm") or {}
    zero = [k for k, v in gn.items() if _recorded(v) and all(x == 0 for x in _recorded(v))]
    if zero:
        where.append(f"{', '.join(zero)} on every recorded epoch")
    if not where:
        return None
    return Found(
        "error",
        f"The gradients are exactly zero ({'; '.join(where)}): no step can change the weights, "
        f"so the loss cannot move.",
        {"zero_grad_share": _f(share) if share is not None else None, "zero": zero},
        "Find what cuts the gradient: a softmax over one output unit, a ReLU output below "
        "zero, or dead units; use the estimators' output for the task.",
    )


def detect_labels_scaled(ev: Evidence) -> Found | None:
    """Two-valued labels outside [0, 1] fed to binary cross-entropy (masks saved as 0/255)."""
    o = ev.output
    if not o or o.get("loss") != "binary_crossentropy":
        return None
    lo, hi = o.get("target_min", 0.0), o.get("target_max", 1.0)
    if not (math.isfinite(lo) and math.isfinite(hi)) or (lo >= 0 and hi <= 1):
        return None
    return Found(
        "error",
        f"The labels run from {lo:g} to {hi:g}, but binary cross-entropy needs targets in "
        f"[0, 1]: the loss goes negative and the outputs are pushed to the sigmoid's tails.",
        {"target_min": _f(lo), "target_max": _f(hi)},
        f"Divide the labels by {hi:g} (or encode the classes as 0 and 1).",
    )


#: Regularisation too strong: the L2 penalty at least this share of the final objective...
PENALTY_SHARE_MAX = 0.5
#: ... or it shrank a weight matrix to this share of its initial norm (with alpha at least
#: PENALTY_SHRINK_ALPHA)...
PENALTY_SHRINK = 0.1
PENALTY_SHRINK_ALPHA = 0.01
#: ... while the data's own loss is still at least this share of the loss of guessing.
PENALTY_UNFITTED = 0.5


def detect_regularization_too_strong(ev: Evidence) -> Found | None:
    """An L2 penalty that dominates the objective of a network that does not fit the data."""
    p = ev.fit.get("penalty")
    if not p or not p["loss"] > 0 or p["data_loss"] < PENALTY_UNFITTED * p["chance_loss"]:
        return None
    share = p["penalty"] / p["loss"]
    # Below PENALTY_SHRINK_ALPHA the penalty cannot hold weights down against the data; weights
    # that shrink anyway belong to units the data no longer reaches (dead units, under Adam's
    # normalised steps), which is another finding.
    shrink = _weight_shrink(ev) if p["alpha"] >= PENALTY_SHRINK_ALPHA else 1.0
    if share < PENALTY_SHARE_MAX and shrink > PENALTY_SHRINK:
        return None
    how = (
        f"it is {share:.0%} of the final loss ({p['penalty']:.4g} of {p['loss']:.4g})"
        if share >= PENALTY_SHARE_MAX
        else f"it shrank the weights to x{shrink:.2g} their initial norm"
    )
    return Found(
        "warning",
        f"The L2 penalty is too strong: with alpha={p['alpha']:g} {how}, and the data's own "
        f"loss {p['data_loss']:.4g} is x{p['data_loss'] / p['chance_loss']:.2g} the loss of "
        f"guessing ({p['chance_loss']:.4g}): the weights are held too small to fit the data.",
        {**{k: _f(v) for k, v in p.items()}, "weight_shrink": _f(shrink)},
        f"alpha={lower_alpha(p['alpha']):g} (a tenth of {p['alpha']:g}, at most {ALPHA_CAP:g}).",
    )


def _weight_shrink(ev: Evidence) -> float:
    """The smallest ratio of a weight matrix's last recorded norm to its first (1 if unknown)."""
    ratios = []
    for name, norms in (ev.monitor.get("weight_norm") or {}).items():
        seen = [v for v in norms if math.isfinite(v)]
        if name.startswith("W") and len(seen) >= 2 and seen[0] > 0:
            ratios.append(seen[-1] / seen[0])
    return min(ratios, default=1.0)


#: Underfitting: the loss at least this many times a wider network's on the same data...
CAPACITY_RATIO = 1.5
#: ... and at least this share of the loss of guessing.
CAPACITY_MIN_SHARE = 0.2


def detect_underfitting(ev: Evidence) -> Found | None:
    """A training loss far above what a wider network reaches on the same data and epochs."""
    c = ev.fit.get("capacity")
    if not c:
        return None
    ratio = c["loss"] / max(c["reference_loss"], 1e-12)
    if not (ratio >= CAPACITY_RATIO and c["loss"] >= CAPACITY_MIN_SHARE * c["chance_loss"]):
        return None
    wide = tuple(c["reference_hidden_layer_sizes"])
    return Found(
        "error" if c["loss"] >= 0.5 * c["chance_loss"] else "warning",
        f"Too little capacity: hidden layers {tuple(c['hidden_layer_sizes'])} end at a "
        f"training loss of {c['loss']:.4g} ({c['loss'] / c['chance_loss']:.0%} of the loss of "
        f"guessing, {c['chance_loss']:.4g}), while hidden layers {wide} reach "
        f"{c['reference_loss']:.4g} (x{ratio:.3g} lower) on the same data and epochs.",
        {k: (_f(v) if isinstance(v, float) else v) for k, v in c.items()},
        f"hidden_layer_sizes={wide}.",
    )


#: A class with at least this share of the samples ...
COLLAPSE_MIN_SHARE = 0.05
#: ... and a training recall below this is ignored by the predictions.
COLLAPSE_RECALL = 0.1


def detect_predictions_collapsed(ev: Evidence) -> Found | None:
    """Predictions concentrated on fewer classes than the labels (per-class recall)."""
    recall, share = ev.fit.get("class_recall"), ev.fit.get("class_share")
    if not recall or not share:
        return None
    ignored = [
        c for c, r in recall.items() if r < COLLAPSE_RECALL and share[c] >= COLLAPSE_MIN_SHARE
    ]
    if not ignored:
        return None
    lost = sum(share[c] for c in ignored)
    return Found(
        "warning",
        f"The predictions collapsed onto fewer classes than the labels: class(es) "
        f"{', '.join(ignored)} ({lost:.0%} of the training samples) are recalled "
        f"{', '.join(f'{recall[c]:.0%}' for c in ignored)}; per-class recall "
        + ", ".join(f"{c}: {r:.0%}" for c, r in recall.items())
        + ".",
        {"class_recall": {c: _f(r) for c, r in recall.items()}, "ignored": ignored},
        "Oversample the ignored classes (balance_classes) and judge by balanced accuracy; "
        + (
            "check the output first (lbfgs has no learning rate)."
            if _no_learning_rate(ev)
            else "check the learning rate and the output first."
        ),
    )


def detect_data_order(ev: Evidence) -> Found | None:
    """Labels sorted in the data without shuffling, or a validation split missing classes."""
    order = ev.fit.get("order")
    if not order:
        return None
    parts = []
    if order.get("val_missing_classes"):
        parts.append(
            f"the validation split holds only class(es) {', '.join(order['val_classes'])} and "
            f"misses {', '.join(order['val_missing_classes'])}: it was taken from the end of "
            f"data sorted by label"
        )
    if order.get("sorted_no_shuffle"):
        parts.append(
            f"the training rows are sorted by label and not shuffled, so each batch of "
            f"{order['batch_size']} holds one class"
        )
    return Found(
        "error",
        "The data order is wrong: " + "; ".join(parts) + ".",
        dict(order),
        "Shuffle before splitting (a stratified split) and between epochs: shuffle=True, "
        "split='stratified'.",
    )


# -- the table ------------------------------------------------------------------------------------
_RELU_HE = {"activation": GRADIENT_ACTIVATION, "init": None, "init_scale": 1.0}
_RELU_HE_FLAGS: dict[str, str | Planned | None] = {
    "--activation": GRADIENT_ACTIVATION,
    "--init": None,
    "--init-scale": "1",
}
_CLIP = Fix(params={"clip_norm": 1.0}, flags={"--clip-norm": "1"})

#: One row per finding, upstream first: the rows' order is the rank of independent root causes
#: (when several are present, the one whose fix changes the most downstream comes first).
RULES: tuple[Rule, ...] = (
    Rule(
        "data-non-finite",
        detect_data_non_finite,
        causes=("non-finite-loss", "plateau"),
        # train's --impute median fills missing values; its loader refuses infinities outright.
        fix=Fix(prep={"impute_non_finite": "median"}, flags={"--impute": "median"}),
    ),
    Rule(
        "data-order",
        detect_data_order,
        causes=("overfitting", "predictions-collapsed", "lr-too-high", "plateau"),
        fix=Fix(params={"shuffle": True}, setup={"split": "stratified"}),
    ),
    Rule(
        "labels-scaled",
        detect_labels_scaled,
        causes=("output-loss-mismatch", "non-finite-loss", "plateau", "saturated-activations"),
        fix=Fix(setup={"output_activation": None, "loss": None}),
    ),
    Rule(
        "output-loss-mismatch",
        detect_output_loss_mismatch,
        causes=(
            "zero-gradients",
            "predictions-collapsed",
            "underfitting",
            "lr-too-low",
            "lr-too-high",
            "plateau",
            "dead-units",
        ),
        fix=Fix(setup={"output_activation": None, "loss": None}),
    ),
    Rule(
        "inputs-unscaled",
        detect_inputs_unscaled,
        causes=(
            "zero-gradients",
            "saturated-activations",
            "dead-units",
            "vanishing-gradients",
            "exploding-gradients",
            "non-finite-loss",
            "plateau",
        ),
        fix=Fix(prep={"scale_inputs": "standard"}, flags={"--scale": "standard"}),
    ),
    Rule(
        "targets-unscaled",
        detect_targets_unscaled,
        causes=(
            "exploding-gradients",
            "non-finite-loss",
            "saturated-activations",
            "dead-units",
            "plateau",
        ),
        fix=Fix(prep={"scale_targets": "standard"}, flags={"--scale-target": True}),
    ),
    Rule(
        "init-scale",
        detect_init_scale,
        # lr-too-low: tiny weights have a tiny curvature, so any learning rate looks small;
        # regularization-too-strong: huge weights make the L2 term dominate the loss.
        causes=(
            "saturated-activations",
            "dead-units",
            "vanishing-gradients",
            "exploding-gradients",
            "non-finite-loss",
            "plateau",
            "lr-too-low",
            "zero-gradients",
            "regularization-too-strong",
        ),
        fix=Fix(
            params={"init": None, "init_scale": 1.0},
            flags={"--init": None, "--init-scale": "1"},
        ),
    ),
    # Below the scaling and initialisation rows: inputs or weights far too large saturate every
    # unit exactly, and the gradients are then exactly zero.
    Rule(
        "zero-gradients",
        detect_zero_gradients,
        causes=("plateau", "lr-too-low", "predictions-collapsed", "underfitting"),
    ),
    Rule(
        "lr-too-high",
        detect_lr_too_high,
        causes=(
            "non-finite-loss",
            "exploding-gradients",
            "dead-units",
            "saturated-activations",
            "plateau",
        ),
        fix=Fix(params={"learning_rate_init": PLANNED_LR}, flags={"--lr": PLANNED_LR}),
    ),
    # Never more than an info: a rate above the bound at the start of a run that settles.
    Rule("edge-of-stability", detect_edge_of_stability),
    Rule(
        "regularization-too-strong",
        detect_regularization_too_strong,
        causes=("underfitting", "dead-units", "plateau", "predictions-collapsed", "lr-too-low"),
        fix=Fix(params={"alpha": LOWER_ALPHA}, flags={"--alpha": LOWER_ALPHA}),
    ),
    Rule(
        "underfitting",
        detect_underfitting,
        causes=("plateau", "predictions-collapsed"),
        fix=Fix(
            params={"hidden_layer_sizes": WIDER},
            flags={"--hidden": WIDER},
        ),
    ),
    Rule(
        "class-imbalance",
        detect_class_imbalance,
        causes=("plateau", "predictions-collapsed"),
        fix=Fix(prep={"balance_classes": "oversample"}),
    ),
    Rule(
        "constant-features",
        detect_constant_features,
        fix=Fix(prep={"drop_features": CONSTANT_COLUMNS}),
    ),
    Rule(
        "saturated-activations",
        detect_saturated_activations,
        causes=("vanishing-gradients", "plateau", "predictions-collapsed", "lr-too-low"),
        fix=Fix(params=_RELU_HE, flags=_RELU_HE_FLAGS),
    ),
    Rule(
        "dead-units",
        detect_dead_units,
        causes=("vanishing-gradients", "plateau", "predictions-collapsed"),
        fix=Fix(params={"activation": "leaky_relu"}, flags={"--activation": "leaky_relu"}),
    ),
    Rule(
        "exploding-gradients",
        detect_exploding_gradients,
        causes=("non-finite-loss",),
        fix=_CLIP,
    ),
    Rule(
        "vanishing-gradients",
        detect_vanishing_gradients,
        causes=("plateau", "predictions-collapsed", "lr-too-low"),
        fix=Fix(params=_RELU_HE, flags=_RELU_HE_FLAGS),
    ),
    Rule(
        "lr-too-low",
        detect_lr_too_low,
        causes=("plateau", "predictions-collapsed"),
        fix=Fix(
            params={"learning_rate_init": PLANNED_LR, "learning_rate": CONSTANT_SCHEDULE},
            flags={"--lr": PLANNED_LR},
        ),
    ),
    # A symptom of the output, gradient, learning-rate and capacity rows above; a root only
    # when none of them is found.
    Rule(
        "predictions-collapsed",
        detect_predictions_collapsed,
        fix=Fix(prep={"balance_classes": "oversample"}),
    ),
    Rule("non-finite-loss", detect_non_finite_loss, fix=_CLIP),
    Rule("plateau", detect_plateau),  # a symptom: its fix is its cause's
    Rule(
        "overfitting",
        detect_overfitting,
        fix=Fix(
            params={"early_stopping": True, "n_iter_no_change": 10},
            flags={"--early-stopping": True},
        ),
    ),
)

#: The causal graph, from the rows: code -> the codes it can cause.
CAUSES: dict[str, tuple[str, ...]] = causal_graph((r.code, r.causes) for r in RULES)
#: Order of findings, upstream first: the rank of roots among themselves and of symptoms under
#: their root (the rows' order, with every cause above what it causes).
PRIORITY: tuple[str, ...] = rank_order((r.code, r.causes) for r in RULES)


def rank(findings: list[Finding]) -> list[Finding]:
    """Rank findings root causes first, each followed by the symptoms it explains.

    See :func:`~.ranking.rank_by_graph`, applied to :data:`CAUSES` and :data:`PRIORITY`.
    """
    return rank_by_graph(findings, CAUSES, PRIORITY)


def flags_of(rule: Rule, ev: Evidence) -> dict[str, str | bool | None]:
    """A row's ``lossdoctor train`` flags with the planned values filled in from the evidence.

    The learning rate is the one the finding's fix names (:func:`_lr_fix_value`), the wider
    network the capacity check's reference; a flag whose value is not known is left out.
    """
    out: dict[str, str | bool | None] = {}
    for flag, value in rule.fix.flags.items():
        if value is PLANNED_LR:
            lr, _ = _lr_fix_value(ev, high=rule.code == "lr-too-high")
            if lr is None:
                continue
            value = f"{lr:g}"
        elif value is WIDER:
            capacity = ev.fit.get("capacity") or {}
            if "reference_hidden_layer_sizes" not in capacity:
                continue
            value = " ".join(str(w) for w in capacity["reference_hidden_layer_sizes"])
        elif value is GRADIENT_ACTIVATION:
            value = gradient_activation(ev.hidden_widths)
        elif value is LOWER_ALPHA:
            penalty = ev.fit.get("penalty")
            if not penalty:
                continue
            value = f"{lower_alpha(penalty['alpha']):g}"
        elif isinstance(value, Planned):
            continue
        out[flag] = value
    return out


def detect(ev: Evidence) -> list[Finding]:
    """Apply every rule's detector to the evidence, in the table's order (unranked)."""
    found = ((rule, rule.detect(ev)) for rule in RULES)
    return [Finding(rule.code, *f, flags=flags_of(rule, ev)) for rule, f in found if f is not None]


def evaluate(ev: Evidence) -> tuple[list[Finding], str]:
    """Apply every rule to the evidence, rank the findings and write the summary.

    Parameters
    ----------
    ev : Evidence
        Built by :func:`~.evidence.gather_evidence`.

    Returns
    -------
    findings : list of Finding
        Ranked (see :func:`rank`).
    summary : str
    """
    ranked = rank(detect(ev))
    summary = summarize(ranked, ev)
    if _no_learning_rate(ev):
        found = any(f.severity != "info" for f in ranked)
        unstable = ev.curve_label in ("diverging", "oscillating", "non-finite")
        if unstable and not found:
            # lr-too-high would have taken this curve; without a learning rate, say what is seen.
            summary = f"Unexplained: the loss curve is {ev.curve_label}: {ev.curve_message}."
        if found or unstable:
            summary += f" Note: {NO_LEARNING_RATE}."
    return ranked, summary
