"""Rules: evidence in, ranked findings with fixes out.

The checks (:mod:`.checks`), the monitors (:mod:`.monitors`), the curvature and the loss curve
produce numbers; the rules here decide what they mean, so that every threshold is in this one
module. :func:`evaluate` applies every rule, then ranks the findings along a causal graph so that
each root cause comes first, followed by the symptoms it explains.

The causal graph
----------------
An edge ``a -> b`` says "a can cause b"; when both are found, ``b`` is reported as a symptom of
``a`` (``Finding.cause``), and the root's fix is the one to apply::

    data-non-finite   -> non-finite-loss, plateau
    inputs-unscaled   -> saturated-activations, dead-units, vanishing-gradients,
                         exploding-gradients, non-finite-loss, plateau
    targets-unscaled  -> exploding-gradients, non-finite-loss, saturated-activations, dead-units,
                         plateau
    init-scale        -> saturated-activations, dead-units, vanishing-gradients,
                         exploding-gradients, non-finite-loss, plateau, lr-too-low (tiny weights
                         have a tiny curvature, so any learning rate looks small against it)
    lr-too-high       -> non-finite-loss, exploding-gradients, dead-units, saturated-activations,
                         plateau
    lr-too-low        -> plateau
    class-imbalance   -> plateau
    saturated-activations -> vanishing-gradients, plateau
    dead-units        -> vanishing-gradients, plateau
    vanishing-gradients -> plateau
    exploding-gradients -> non-finite-loss

Roots are ordered by :data:`PRIORITY`, upstream first (bad data before bad scaling before a bad
initialisation before a bad learning rate): when several independent faults are present, the
one whose fix changes the most downstream comes first. ``constant-features`` and ``overfitting``
cause nothing here; they are reported on their own.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .findings import Finding

__all__ = ["CAUSES", "PRIORITY", "evaluate", "nice_lr", "rank"]

CAUSES: dict[str, tuple[str, ...]] = {
    "data-non-finite": ("non-finite-loss", "plateau"),
    "inputs-unscaled": (
        "saturated-activations",
        "dead-units",
        "vanishing-gradients",
        "exploding-gradients",
        "non-finite-loss",
        "plateau",
    ),
    "targets-unscaled": (
        "exploding-gradients",
        "non-finite-loss",
        "saturated-activations",
        "dead-units",
        "plateau",
    ),
    "init-scale": (
        "saturated-activations",
        "dead-units",
        "vanishing-gradients",
        "exploding-gradients",
        "non-finite-loss",
        "plateau",
        "lr-too-low",
    ),
    "lr-too-high": (
        "non-finite-loss",
        "exploding-gradients",
        "dead-units",
        "saturated-activations",
        "plateau",
    ),
    "lr-too-low": ("plateau",),
    "class-imbalance": ("plateau",),
    "saturated-activations": ("vanishing-gradients", "plateau"),
    "dead-units": ("vanishing-gradients", "plateau"),
    "vanishing-gradients": ("plateau",),
    "exploding-gradients": ("non-finite-loss",),
}

#: Order of findings, upstream first: the rank of roots among themselves and of symptoms
#: under their root.
PRIORITY: tuple[str, ...] = (
    "data-non-finite",
    "inputs-unscaled",
    "targets-unscaled",
    "init-scale",
    "lr-too-high",
    "lr-too-low",
    "class-imbalance",
    "constant-features",
    "saturated-activations",
    "dead-units",
    "exploding-gradients",
    "vanishing-gradients",
    "non-finite-loss",
    "plateau",
    "overfitting",
)

# -- thresholds ------------------------------------------------------------------------------------
#: A feature whose root mean square exceeds this is far from unit scale (or far from zero).
INPUT_RMS_MAX = 10.0
#: Largest over smallest feature standard deviation beyond which scales are "wildly different".
INPUT_STD_RATIO_MAX = 100.0
#: A regression target whose root mean square exceeds this is on a large scale.
TARGET_RMS_MAX = 10.0
#: Largest over smallest class count beyond which classes are imbalanced.
IMBALANCE_MAX = 10.0
#: A layer whose weight RMS is further than this factor from its activation's default is
#: badly initialised.
INIT_RATIO_MAX = 3.0
#: A layer with at least this share of weights of one sign is "all of one sign".
ONE_SIGN_SHARE = 0.95
#: Saturated share of a tanh/sigmoid layer at the start (or, as a median over training) that is a
#: problem.
SATURATION_MAX = 0.5
#: Share of dead ReLU units that is a problem.
DEAD_MAX = 0.4
#: First-layer over last-layer relative gradient below this: vanishing; above its inverse:
#: exploding towards the input.
DEPTH_GRAD_RATIO = 1e-3
#: Growth of the global gradient norm during training beyond which gradients explode.
GRAD_GROWTH_MAX = 1e3
#: A learning rate below this fraction of the stability bound, with a slow curve, is too low.
LR_LOW_RATIO = 0.05
#: Adam: a median update-to-weight ratio below this, with a slow curve, is too low a step.
ADAM_UPDATE_RATIO_MIN = 1e-4
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
#: A training loss that jumps to this many times its first value was thrown off by too large a
#: step, even if it recovers (Adam has no curvature bound to check against beforehand).
SPIKE_RATIO = 3.0


def nice_lr(value: float) -> float:
    """Round a learning rate down to one significant digit of 1, 2 or 5 (0.37 -> 0.2)."""
    if not (math.isfinite(value) and value > 0):
        return value
    exponent = math.floor(math.log10(value))
    mantissa = value / 10**exponent
    step = 5 if mantissa >= 5 else 2 if mantissa >= 2 else 1
    return float(f"{step * 10**exponent:.1g}")


def _f(x: float) -> float:
    """A float fit for JSON (rounded to 4 significant digits; inf and NaN become None)."""
    if x is None or not math.isfinite(x):
        return None  # type: ignore[return-value]
    return float(f"{x:.4g}")


# -- rules on the data ---------------------------------------------------------------------------
def _data_rules(ev: dict[str, Any]) -> list[Finding]:
    d = ev.get("data") or {}
    out: list[Finding] = []
    if not d:
        return out
    n_bad_x, n_bad_y = d.get("n_non_finite_X", 0), d.get("n_non_finite_y", 0)
    if n_bad_x or n_bad_y:
        cols = d.get("non_finite_columns", [])
        where = f"{n_bad_x} in X (columns {cols})" if n_bad_x else ""
        if n_bad_y:
            where += (" and " if where else "") + f"{n_bad_y} in y"
        out.append(
            Finding(
                "data-non-finite",
                "error",
                f"The data holds NaN or infinite values: {where}. One such value makes the loss "
                f"NaN from the first step.",
                {"n_non_finite_X": n_bad_x, "n_non_finite_y": n_bad_y, "columns": cols},
                "Impute or drop them before fitting: sklearn.impute.SimpleImputer"
                "(strategy='median') on X, and drop the rows whose target is missing.",
            )
        )
    n_const = d.get("n_constant_features", 0)
    if n_const:
        cols = d["constant_features"]
        out.append(
            Finding(
                "constant-features",
                "warning",
                f"{n_const} of {d['n_features']} features are constant (columns {cols[:10]}): "
                f"they carry no information, and scaling them divides by a zero spread.",
                {"n_constant": n_const, "columns": cols[:50]},
                f"Drop columns {cols[:10]}: sklearn.feature_selection.VarianceThreshold(0.0) "
                f"before scaling.",
            )
        )
    max_rms, ratio = d.get("max_rms", 0.0), d.get("std_ratio", 1.0)
    if max_rms > INPUT_RMS_MAX or ratio > INPUT_STD_RATIO_MAX:
        j = d["max_rms_feature"]
        severity = "error" if max_rms > 10 * INPUT_RMS_MAX or ratio > 1e3 else "warning"
        out.append(
            Finding(
                "inputs-unscaled",
                severity,
                f"The inputs are not scaled: feature {j} has a root mean square of "
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
        )
    if ev.get("task") == "classification" and d.get("imbalance_ratio", 1.0) >= IMBALANCE_MAX:
        counts = d["class_counts"]
        minority = min(counts, key=counts.get)
        out.append(
            Finding(
                "class-imbalance",
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
        )
    if ev.get("task") == "regression" and d.get("y_rms", 0.0) > TARGET_RMS_MAX:
        out.append(
            Finding(
                "targets-unscaled",
                "error" if d["y_rms"] > 10 * TARGET_RMS_MAX else "warning",
                f"The regression target is on a large scale: mean {d['y_mean']:.4g}, standard "
                f"deviation {d['y_std']:.4g}. The squared error and its gradients start "
                f"{d['y_rms'] ** 2:.3g} times larger than for a unit-scale target, which forces "
                f"tiny steps or blows up.",
                {"y_mean": _f(d["y_mean"]), "y_std": _f(d["y_std"]), "y_rms": _f(d["y_rms"])},
                "Standardise the target: sklearn.compose.TransformedTargetRegressor("
                "regressor=..., transformer=sklearn.preprocessing.StandardScaler()).",
            )
        )
    return out


def _init_rule(ev: dict[str, Any]) -> list[Finding]:
    ini = ev.get("init") or {}
    if not ini:
        return []
    bad = []
    for layer in ini["layers"]:
        r = layer["std_ratio"]
        one_sign = layer["positive_share"] >= ONE_SIGN_SHARE or layer["positive_share"] <= (
            1 - ONE_SIGN_SHARE
        )
        if r > INIT_RATIO_MAX or r < 1 / INIT_RATIO_MAX or one_sign:
            bad.append((layer, one_sign))
    if not bad:
        return []
    act = ev.get("activation")
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
    default = "He" if act in ("relu", "leaky_relu") else "Glorot"
    return [
        Finding(
            "init-scale",
            "error" if worst > 10 else "warning",
            f"The initial weights are far from the scale {act} needs ({default}'s): "
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
            f"init=None (the default for {act}: {default}) and init_scale=1.",
        )
    ]


# -- rules on the learning rate -------------------------------------------------------------------
def _curve(ev: dict[str, Any]) -> dict[str, Any]:
    return (ev.get("history") or {}).get("curve") or {}


def _lr_text(lr: Any) -> str:
    """`` 0.1`` to name the learning rate in a sentence, or nothing when it is not known."""
    return "" if lr is None else f" {float(lr):g}"


def _lr_fix_value(ev: dict[str, Any], high: bool) -> tuple[float | None, str]:
    lr = ev.get("learning_rate_init")
    bound = (ev.get("lr") or {}).get("threshold")
    if ev.get("optimizer") == "adam":
        if high:
            return (nice_lr(lr / 10) if lr else 1e-4), "a tenth of the current one"
        return 1e-3, "Adam's usual default"
    if bound and math.isfinite(bound):
        return nice_lr(0.5 * bound), f"half the stability bound {bound:.3g} at the initial weights"
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


def _lr_rules(ev: dict[str, Any], data_ok: bool) -> list[Finding]:
    out: list[Finding] = []
    lr = ev.get("learning_rate_init")
    lev = ev.get("lr") or {}
    track = ev.get("lr_track") or []
    curve = _curve(ev)
    label = curve.get("label")
    unstable_init = lev.get("label") == "unstable"
    worst_track = max(track, key=lambda p: p["ratio"], default=None)
    unstable_later = worst_track is not None and worst_track["ratio"] > 1 + 0.15
    bad_curve = label in ("diverging", "oscillating")
    non_finite = label == "non-finite"
    losses = (ev.get("history") or {}).get("loss") or []
    spike = max(losses) / losses[0] if len(losses) >= 2 and losses[0] > 0 else 1.0
    spiked = math.isfinite(spike) and spike >= SPIKE_RATIO
    if data_ok and (
        unstable_init or bad_curve or spiked or (non_finite and (unstable_later or not lev))
    ):
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
        if worst_track is not None:
            evidence["during_training"] = [
                {"epoch": p["epoch"], "sharpness": _f(p["sharpness"]), "ratio": _f(p["ratio"])}
                for p in track
            ]
            if unstable_later:
                parts.append(
                    f"at epoch {worst_track['epoch']} it is x{worst_track['ratio']:.3g} the bound"
                )
        if bad_curve or non_finite:
            parts.append(f"the loss curve is {label}: {curve.get('message', '')}")
        if spiked:
            i = int(np.argmax(losses))
            evidence.update(first_loss=_f(losses[0]), max_loss=_f(losses[i]), max_epoch=i + 1)
            parts.append(
                f"the loss jumped from {losses[0]:.4g} to {losses[i]:.4g} (x{spike:.3g}) at epoch "
                f"{i + 1}"
            )
        value, why = _lr_fix_value(ev, high=True)
        severity = (
            "error" if (bad_curve or non_finite or unstable_init or spike > 10) else "warning"
        )
        out.append(
            Finding(
                "lr-too-high",
                severity,
                f"The learning rate{_lr_text(lr)} is too high: " + "; ".join(parts) + ".",
                evidence,
                f"learning_rate_init={value:g} ({why})."
                if value
                else "Lower the learning rate tenfold.",
            )
        )
        return out
    slow = label in ("slow", "plateau")
    too_small = False
    evidence = {"learning_rate": lr, "curve": label}
    why_small = ""
    if slow and lev and lev.get("ratio", 1.0) < LR_LOW_RATIO:
        too_small = True
        evidence.update(threshold=_f(lev["threshold"]), ratio=_f(lev["ratio"]))
        why_small = (
            f"it is only x{lev['ratio']:.2g} the stability bound {lev['threshold']:.3g} at the "
            f"initial weights"
        )
    elif slow and ev.get("optimizer") == "adam":
        ratios = _median_update_ratio(ev)
        if ratios is not None and ratios < ADAM_UPDATE_RATIO_MIN:
            too_small = True
            evidence["median_update_ratio"] = _f(ratios)
            why_small = f"each epoch moves the weights by only {ratios:.2g} of their norm"
    if too_small:
        value, why = _lr_fix_value(ev, high=False)
        out.append(
            Finding(
                "lr-too-low",
                "warning",
                f"The learning rate{_lr_text(lr)} is too low: {why_small}, and the loss curve is "
                f"{label}: {curve.get('message', '')}.",
                evidence,
                f"learning_rate_init={value:g} ({why})."
                if value
                else "Raise the learning rate tenfold.",
            )
        )
    return out


def _median_update_ratio(ev: dict[str, Any]) -> float | None:
    ur = (ev.get("monitor") or {}).get("update_ratio") or {}
    values = [v for name, vs in ur.items() if name.startswith("W") for v in vs]
    values = [v for v in values if math.isfinite(v)]
    return float(np.median(values)) if values else None


# -- rules on the monitors -----------------------------------------------------------------------
def _monitor_rules(ev: dict[str, Any]) -> list[Finding]:
    mon = ev.get("monitor") or {}
    out: list[Finding] = []
    act = ev.get("activation")
    # NaN marks an epoch where a user's loop recorded no value for that series.
    sat = {k: _recorded(v) for k, v in (mon.get("saturation") or {}).items()}
    bad_sat = []
    for layer, shares in sat.items():
        if not shares:
            continue
        start, med = shares[0], float(np.median(shares))
        if start >= SATURATION_MAX or med >= SATURATION_MAX:
            bad_sat.append((layer, start, med, shares[-1]))
    if bad_sat:
        worst = max(max(b[1], b[2]) for b in bad_sat)
        text = "; ".join(
            f"{name}: {s:.0%} at the start, {m:.0%} median, {e:.0%} at the end"
            for name, s, m, e in bad_sat
        )
        out.append(
            Finding(
                "saturated-activations",
                "error" if worst >= 0.9 else "warning",
                f"Saturated {act or 'tanh/sigmoid'} units (in the flat tails, where the derivative "
                f"is below 2% of its peak): {text}. Saturated units pass almost no gradient.",
                {
                    "layers": {
                        name: {"start": _f(s), "median": _f(m), "end": _f(e)}
                        for name, s, m, e in bad_sat
                    }
                },
                "activation='relu' with init=None (He), or keep tanh and bring each layer's "
                "input to unit scale.",
            )
        )
    dead = {k: _recorded(v) for k, v in (mon.get("dead") or {}).items()}
    bad_dead = [
        (layer, shares[0], shares[-1])
        for layer, shares in dead.items()
        if shares and max(shares[-1], float(np.median(shares))) >= DEAD_MAX
    ]
    if bad_dead:
        worst = max(b[2] for b in bad_dead)
        text = "; ".join(f"{n}: {s:.0%} at the start, {e:.0%} at the end" for n, s, e in bad_dead)
        out.append(
            Finding(
                "dead-units",
                "error" if worst >= 0.9 else "warning",
                f"Dead ReLU units (zero output on every probe sample, so zero gradient): {text}.",
                {"layers": {n: {"start": _f(s), "end": _f(e)} for n, s, e in bad_dead}},
                "activation='leaky_relu' (its small slope keeps every unit trainable), "
                "with init=None.",
            )
        )
    gn = mon.get("grad_norm") or {}
    wn = mon.get("weight_norm") or {}
    weights = sorted(
        (k for k in gn if k.startswith("W") and k[1:].isdigit()), key=lambda k: int(k[1:])
    )
    if len(weights) >= 3:  # a depth ratio needs at least one hidden layer between
        first, last = weights[0], weights[-1]
        rel = []
        for i in range(min(len(gn[first]), len(gn[last]))):
            g1, gL = gn[first][i], gn[last][i]
            w1 = _at(wn.get(first), i) or 1.0
            wL = _at(wn.get(last), i) or 1.0
            # Only where all four are recorded and finite (a weight norm can overflow to inf).
            if all(math.isfinite(v) and v > 0 for v in (g1, gL, w1, wL)) and gL / wL > 0:
                rel.append((g1 / w1) / (gL / wL))
        if rel:
            start = rel[0]
            med = float(np.median(rel))
            # At the start (before training can compensate) or typically during training.
            if min(start, med) < DEPTH_GRAD_RATIO and min(start, med) > 0:
                out.append(
                    Finding(
                        "vanishing-gradients",
                        "warning",
                        f"Vanishing gradients: relative to its weights, the first layer's "
                        f"gradient is x{start:.2g} the output layer's at the start and x{med:.2g} "
                        f"(median) during training; the early layers barely learn.",
                        {"first_over_last_start": _f(start), "first_over_last_median": _f(med)},
                        "activation='relu' with init=None (He); for a deep network, fewer layers "
                        "(hidden_layer_sizes).",
                    )
                )
            elif min(start, med) > 1 / DEPTH_GRAD_RATIO:
                out.append(
                    _exploding(
                        f"relative to its weights, the first layer's gradient is "
                        f"x{start:.3g} the output layer's at the start",
                        {"first_over_last_start": _f(start)},
                    )
                )
                return out
    total, at = [], []  # the global gradient norm, and the index of its epoch
    for i in range(min((len(v) for v in gn.values()), default=0)):
        values = [gn[k][i] for k in gn if not math.isnan(gn[k][i])]
        if values:  # an epoch with no gradient recorded is skipped; inf is kept
            total.append(math.sqrt(sum(v**2 for v in values)))
            at.append(i)
    if len(total) >= 2 and total[0] > 0:
        largest = max((t for t in total if math.isfinite(t)), default=math.nan)
        overflow = next((i for i, t in enumerate(total) if not math.isfinite(t)), None)
        growth = largest / total[0] if overflow is None else math.inf
        if growth > GRAD_GROWTH_MAX or overflow is not None:
            epochs = mon.get("epoch") or []
            if overflow is None:
                why = f"the gradient norm grew from {total[0]:.3g} to {largest:.3g} (x{growth:.3g})"
            else:
                i = at[overflow]
                when = f"epoch {epochs[i]}" if i < len(epochs) else "training"
                why = (
                    f"the gradient norm went from {total[0]:.3g} (largest finite {largest:.3g}) "
                    f"to non-finite by {when}"
                )
            out.append(
                _exploding(
                    f"{why} during training" if overflow is None else why,
                    {
                        "grad_norm_start": _f(total[0]),
                        "grad_norm_max": _f(largest),
                        "growth": _f(growth),
                    },
                )
            )
    return out


def _recorded(values: list[float]) -> list[float]:
    return [v for v in values if not math.isnan(v)]


def _at(values: list[float] | None, i: int) -> float:
    """Entry ``i`` of a series, or 1.0 when the series is absent or shorter."""
    return values[i] if values is not None and i < len(values) else 1.0


def _exploding(why: str, evidence: dict[str, Any]) -> Finding:
    return Finding(
        "exploding-gradients",
        "error",
        f"Exploding gradients: {why}.",
        evidence,
        "clip_norm=1.0 (clip the gradient's global norm), and fix what makes it grow.",
    )


# -- rules on the curve ---------------------------------------------------------------------------
def _curve_rules(ev: dict[str, Any]) -> list[Finding]:
    h = ev.get("history") or {}
    curve = h.get("curve") or {}
    label = curve.get("label")
    out: list[Finding] = []
    if label == "non-finite" or h.get("stop_reason") == "non-finite":
        n_ok = h.get("n_epochs", 0)
        out.append(
            Finding(
                "non-finite-loss",
                "error",
                f"The loss became NaN or infinite after {n_ok} finite epochs; training stopped.",
                {"finite_epochs": n_ok, **{k: _f(v) for k, v in curve.get("evidence", {}).items()}},
                "clip_norm=1.0 and a lower learning_rate_init, after fixing the data and scales.",
            )
        )
    elif label == "plateau":
        cev = curve.get("evidence", {})
        out.append(
            Finding(
                "plateau",
                "warning",
                f"The loss is on a plateau: {curve.get('message', '')}.",
                {k: _f(v) for k, v in cev.items()},
                "Raise learning_rate_init tenfold if nothing else is found; a plateau is usually "
                "a symptom (see the causes above).",
            )
        )
    val = h.get("val_loss") or []
    train = h.get("loss") or []
    steady = label not in ("diverging", "oscillating", "non-finite")
    if steady and len(val) >= 2 * OVERFIT_MIN_EPOCHS and len(train) == len(val):
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
        scale = ev.get("chance_loss") or float(v[0])
        memorised = end >= OVERFIT_GAP * end_train and end - end_train >= OVERFIT_MIN_GAP * scale
        if rose or memorised:
            how = (
                f"the validation loss was lowest ({v[best]:.4g}) at epoch {best + 1} and rose "
                f"to {end:.4g} (x{end / v[best]:.3g}) by epoch {len(v)}, while the training loss "
                f"kept falling to {end_train:.4g}"
                if rose
                else f"the training loss fell to {end_train:.4g} but the validation loss is "
                f"{end:.4g} (x{end / max(end_train, 1e-300):.3g}): the network memorised the "
                f"training samples"
            )
            out.append(
                Finding(
                    "overfitting",
                    "warning",
                    f"Overfitting: {how}.",
                    {
                        "best_val_epoch": best + 1,
                        "best_val_loss": _f(float(v[best])),
                        "end_val_loss": _f(end),
                        "end_train_loss": _f(end_train),
                    },
                    f"early_stopping=True (the validation loss was lowest at epoch {best + 1}), "
                    f"or a larger L2 penalty, e.g. alpha=1.0, or fewer or smaller hidden layers.",
                )
            )
    return out


# -- ranking ---------------------------------------------------------------------------------------
def _ancestors(code: str, present: set[str]) -> set[str]:
    """Codes in ``present`` from which ``code`` can be reached in the causal graph."""
    parents = {c for c in present if code in CAUSES.get(c, ())}
    out = set(parents)
    for p in parents:
        out |= _ancestors(p, present - {code})
    return out


def _prio(code: str) -> int:
    return PRIORITY.index(code) if code in PRIORITY else len(PRIORITY)


def rank(findings: list[Finding]) -> list[Finding]:
    """Rank findings root causes first, each followed by the symptoms it explains.

    Infos never explain anything. A symptom's ``cause`` is set to its highest-priority root, and
    its fix points to that root's fix (the one to apply first).
    """
    serious = {f.code for f in findings if f.severity != "info"}
    by_code = {f.code: f for f in findings}
    root_of: dict[str, str | None] = {}
    for f in findings:
        anc = _ancestors(f.code, serious) if f.severity != "info" else set()
        roots = [a for a in anc if not (_ancestors(a, serious) - {f.code})]
        root_of[f.code] = min(roots, key=_prio) if roots else None
    roots_sorted = sorted(
        (f for f in findings if root_of[f.code] is None),
        key=lambda f: (f.severity == "info", _prio(f.code)),
    )
    out: list[Finding] = []
    for r in roots_sorted:
        out.append(r)
        symptoms = sorted(
            (f for f in findings if root_of[f.code] == r.code), key=lambda f: _prio(f.code)
        )
        for s in symptoms:
            root = by_code[r.code]
            out.append(
                Finding(
                    s.code,
                    s.severity,
                    s.message + f" This follows from {r.code}.",
                    s.evidence,
                    f"Fix {r.code} first: {root.fix}",
                    cause=r.code,
                )
            )
    return out


def _healthy_summary(ev: dict[str, Any]) -> str:
    h = ev.get("history") or {}
    curve = h.get("curve") or {}
    curve.get("evidence", {})
    parts = []
    losses = h.get("loss") or []
    if len(losses) >= 2:
        parts.append(
            f"the loss fell from {losses[0]:.4g} to {losses[-1]:.4g} in {len(losses)} epochs "
            f"({curve.get('label', '')})"
        )
    mon = ev.get("monitor") or {}
    if mon.get("saturation"):
        worst = max((max(v) for v in mon["saturation"].values() if v), default=0.0)
        if ev.get("activation") in ("tanh", "sigmoid", "logistic"):
            parts.append(f"at most {worst:.0%} of units saturated")
    if mon.get("dead") and ev.get("activation") in ("relu", "leaky_relu"):
        worst = max((v[-1] for v in mon["dead"].values() if v), default=0.0)
        parts.append(f"{worst:.0%} dead units at the end")
    lev = ev.get("lr") or {}
    if lev:
        parts.append(
            f"learning rate x{lev['ratio']:.2g} the stability bound {lev['threshold']:.3g}"
        )
    return "Healthy: " + ("; ".join(parts) if parts else "no problem found") + "."


def _summary(findings: list[Finding], ev: dict[str, Any]) -> str:
    serious = [f for f in findings if f.severity != "info"]
    if not serious:
        return _healthy_summary(ev)
    roots = [f for f in serious if f.cause is None]
    top = roots[0]
    explained = [f.code for f in serious if f.cause == top.code]
    text = f"Root cause: {top.code}. {top.message} Fix: {top.fix}"
    if explained:
        text += f" It explains: {', '.join(explained)}."
    others = [f.code for f in roots[1:]]
    if others:
        text += f" Also independent: {', '.join(others)}."
    return text


def evaluate(ev: dict[str, Any]) -> tuple[list[Finding], str]:
    """Apply every rule to the evidence, rank the findings and write the summary.

    Parameters
    ----------
    ev : dict
        Evidence gathered by :mod:`.diagnose`: ``data``, ``init``, ``lr`` and ``lr_track``,
        ``history`` (with ``curve``), ``monitor``, and the set-up keys ``task``,
        ``activation``, ``optimizer``, ``learning_rate_init``.

    Returns
    -------
    findings : list of Finding
        Ranked (see :func:`rank`).
    summary : str
    """
    d = ev.get("data") or {}
    data_ok = not (d.get("n_non_finite_X") or d.get("n_non_finite_y"))
    findings = _data_rules(ev) + _init_rule(ev) + _lr_rules(ev, data_ok) + _monitor_rules(ev)
    findings += _curve_rules(ev)
    ranked = rank(findings)
    return ranked, _summary(ranked, ev)
