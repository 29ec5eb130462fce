"""Fix planning and retraining: the changes that fix a diagnosis's root causes, and proof.

:func:`plan_fixes` reads each root cause's row in :data:`~.rules.RULES` (its ``fix``: estimator
parameters and data preparation), resolves the values known only now (the constant columns; the
learning rate, from the curvature of the *fixed* set-up for gradient descent) and returns the
changes. :func:`restate_lr_fix` gives the learning-rate finding the value that fits the set-up
after the other fixes; :func:`retrain` runs the fixed set-up from the same seed.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from ..network import Network, Params, init_params
from .evidence import lr_evidence
from .findings import Diagnosis
from .lr_advice import advise_lr, nice_lr
from .monitored_run import _SHARPNESS_SUBSAMPLE, _run, _spec, split_options
from .prepare import PREP_STEPS
from .prepare import prepare_data as _prepare
from .ranking import summarize_roots
from .rules import (
    CONSTANT_COLUMNS,
    CONSTANT_SCHEDULE,
    GRADIENT_ACTIVATION,
    LOWER_ALPHA,
    PLANNED_LR,
    RULES,
    WIDER,
    Planned,
    gradient_activation,
    lower_alpha,
    lr_fix_text,
)


def _run_setup_only(
    diagnosis: Diagnosis,
    extra: dict[str, Any],
    params: dict[str, Any],
    new: dict[str, Any],
    prep: dict[str, Any],
) -> tuple[Network, Params, NDArray, NDArray] | None:
    """The fixed set-up's network, initial weights and training data (no training)."""
    est = _spec({**split_options({**params, **new})[0], "random_state": 0})
    X_tr, Y_tr, _, _, _ = _prepare(extra["X_tr"], extra["Y_tr"], None, None, prep)
    if not (np.isfinite(X_tr).all() and np.isfinite(Y_tr).all()):
        return None
    net = est.network(X_tr.shape[1], Y_tr.shape[1], diagnosis.setup["head"])
    params0 = init_params(net, np.random.default_rng(0), init=est.init, init_scale=est.init_scale)
    return net, params0, X_tr, Y_tr


class FixPlan(NamedTuple):
    """The changes that fix a diagnosis's root causes.

    Attributes
    ----------
    params : dict
        Estimator parameters and set-up options (the rows' ``setup``: keyword arguments of
        :func:`~.diagnose.diagnose`) to change, ``learning_rate_init`` last: it depends on the
        others.
    prep : dict
        Data preparation, in the order :func:`~.prepare.prepare_data` applies it.
    bound : float or None
        Gradient descent: the stability bound of the fixed set-up at its initial weights.
    roots : tuple of str
        The root causes whose rows were applied, in the table's order.
    """

    params: dict[str, Any]
    prep: dict[str, Any]
    bound: float | None
    roots: tuple[str, ...]


def _resolve(values: Any, extra: dict[str, Any]) -> dict[str, Any]:
    """A row's fix values with the constant columns filled in (the learning rate comes last)."""
    out = {}
    for key, value in values.items():
        if value is CONSTANT_COLUMNS:
            value = list(extra["data"].get("constant_features", []))
        elif value is WIDER:
            value = tuple(extra["fit"]["capacity"]["reference_hidden_layer_sizes"])
        elif value is LOWER_ALPHA:
            value = lower_alpha(extra["alpha"])
        elif value is CONSTANT_SCHEDULE:
            if extra.get("schedule") != "invscaling":
                continue
            value = "constant"
        elif value is GRADIENT_ACTIVATION:
            value = gradient_activation(extra["net"].layer_sizes[1:-1])
        elif value is PLANNED_LR:
            continue
        out[key] = value
    return out


def plan_fixes(diagnosis: Diagnosis, extra: dict[str, Any], params: dict[str, Any]) -> FixPlan:
    """The parameter changes and data preparation that fix the root causes of a diagnosis.

    Each root cause (a warning or error that no other finding explains) contributes its row's
    ``fix`` from :data:`~.rules.RULES`, in the table's order. The learning rate is planned last:
    for Adam a tenth of the current one (too high) or 1e-3 (too low); for gradient descent half
    the stability bound of the fixed set-up at its initial weights, since scaling the inputs or
    changing the initialisation changes the sharpness.

    Parameters
    ----------
    diagnosis : Diagnosis
        The ranked diagnosis of the run.
    extra : dict
        What the run leaves for the fixes (:func:`~.monitored_run._run`).
    params : dict
        The estimator parameters of the run.
    """
    found = {f.code for f in diagnosis.findings if f.cause is None and f.severity != "info"}
    roots = tuple(rule.code for rule in RULES if rule.code in found)
    new: dict[str, Any] = {}
    prep: dict[str, Any] = {}
    for rule in RULES:
        if rule.code in roots:
            new.update(_resolve(rule.fix.params, extra))
            new.update(_resolve(rule.fix.setup, extra))
            prep.update(_resolve(rule.fix.prep, extra))
    prep = {step: prep[step] for step in PREP_STEPS if step in prep}
    solver = params.get("solver", "adam")
    lr = float(params.get("learning_rate_init", 0.001))
    if solver == "lbfgs":  # no learning rate to plan: L-BFGS-B's line search takes the steps
        return FixPlan(new, prep, None, roots)
    if solver == "adam":
        if "lr-too-high" in roots:
            new["learning_rate_init"] = nice_lr(lr / 10)
        elif "lr-too-low" in roots:
            new["learning_rate_init"] = 1e-3
        return FixPlan(new, prep, None, roots)
    # Gradient descent: the step follows from the curvature of the *fixed* set-up, since scaling
    # the inputs or changing the initialisation changes the sharpness.
    probe = _run_setup_only(diagnosis, extra, params, new, prep)
    bound = None
    if probe is not None:
        net, params0, X_tr, Y_tr = probe
        opt_name, momentum, nesterov = extra["optimizer"]
        point = lr_evidence(
            net,
            params0,
            X_tr,
            Y_tr,
            learning_rate=lr,
            optimizer=opt_name,
            momentum=momentum,
            nesterov=nesterov,
            alpha=extra["alpha"],
            subsample=_SHARPNESS_SUBSAMPLE,
        )
        if point and math.isfinite(point["threshold"]):
            bound = point["threshold"]
            # The advised rate (half the bound: room for the sharpness to rise), rounded down.
            target = advise_lr(bound=bound).rounded
            if "lr-too-high" in roots or lr > 2 * target:
                new["learning_rate_init"] = min(target, lr)
            elif "lr-too-low" in roots:
                new["learning_rate_init"] = target
    return FixPlan(new, prep, bound, roots)


def train_options(plan: FixPlan) -> dict[str, str | bool | None]:
    """The plan as options of ``lossdoctor train``: flag -> value, None for "leave it out".

    Only the fixes that ``train`` can express appear (it has no flag for dropping columns,
    oversampling or a change of the data split, and it always uses the estimators' own output
    and loss).
    """
    out: dict[str, str | bool | None] = {}
    for rule in RULES:
        if rule.code not in plan.roots:
            continue
        for flag, value in rule.fix.flags.items():
            if isinstance(value, Planned):
                if value.name not in plan.params:
                    continue
                planned = plan.params[value.name]
                value = (
                    " ".join(str(v) for v in planned)
                    if isinstance(planned, tuple)
                    else f"{planned:g}"
                )
            out[flag] = value
    return out


def _describe(changes: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in changes.items())


def restate_lr_fix(
    diagnosis: Diagnosis, lr: float, bound: float | None, changes: dict[str, Any]
) -> None:
    """Give the learning-rate finding the value that fits the set-up after the other fixes.

    The finding's fix (and the summary, when it is the top root cause) is rendered anew from the
    planned value, and its ``lossdoctor train`` flags include the other root causes' flags that
    the value was measured with; its symptoms keep the fix they were ranked with.
    """
    others = {k: v for k, v in changes.items() if k != "learning_rate_init"}
    for i, f in enumerate(diagnosis.findings):
        if f.code in ("lr-too-high", "lr-too-low") and f.cause is None:
            why = ""
            if bound is not None:
                after = f", measured after the other fixes ({_describe(others)})" if others else ""
                why = f"half the stability bound {bound:.3g} at the initial weights{after}"
            # The rate was measured with the other roots' fixes applied: its command has them.
            flags: dict[str, str | bool | None] = {}
            if others:
                for g in diagnosis.findings:
                    if g.cause is None and g.severity != "info" and g.code != f.code:
                        flags.update(g.flags)
            flags.update({**f.flags, "--lr": f"{lr:g}"})
            diagnosis.findings[i] = replace(f, fix=lr_fix_text(lr, why), flags=flags)
            diagnosis.summary = summarize_roots(diagnosis.findings) or diagnosis.summary


def retrain(
    X: NDArray,
    y: NDArray,
    plan: FixPlan,
    *,
    task: str,
    params: dict[str, Any],
    random_state: Any,
    holdout: float | None,
    sharpness: bool,
) -> Diagnosis:
    """Diagnose the set-up with the plan applied, from the same seed (the proof of the fix)."""
    fixed, _ = _run(
        X,
        y,
        task=task,
        params={**params, **plan.params},
        random_state=random_state,
        holdout=holdout,
        sharpness=sharpness,
        prep=plan.prep,
    )
    return fixed
