"""The doctor's entry points: check, train with monitors, rank the findings, prove the fix.

Three entry points, one table of rules (:mod:`lossdoctor.diagnostics.rules`):

- :func:`diagnose` trains a set-up given by the estimators' constructor parameters with
  monitors attached, after checking the data, the initial weights and the learning rate against
  the curvature bound. With ``fix=True`` it applies the fixes of the root causes, retrains from the
  same seed and attaches the new diagnosis as ``.fixed``. The caller's arrays are never modified.
- :func:`diagnose_fitted` diagnoses a fitted :class:`~lossdoctor.MLPClassifier` or
  :class:`~lossdoctor.MLPRegressor` from its history and weights, without retraining
  (``diagnose=True`` in the estimators calls it).
- :func:`diagnose_history` diagnoses a bare list of losses from anyone's training loop (and what
  a :class:`~lossdoctor.diagnostics.monitors.TrainingMonitor` recorded).

What lives where:

- :mod:`.evidence`: the measurements and the :class:`~.evidence.Evidence` record.
- :mod:`.rules`: one detector per finding and the table :data:`~.rules.RULES`.
- :mod:`.ranking`: the causal graph and priority derived from the table; ranking and summary.
- :mod:`.monitored_run`: one diagnosed run (train with monitors, gather evidence, apply rules).
- :mod:`.prepare`: the holdout split and the data fixes.
- :mod:`.fix_plan`: the fixes of the root causes, and the retraining that proves them.
- :mod:`.history_diagnosis`: :func:`diagnose_history` (no training, no monitors of its own).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..data import infer_task
from ..network import Network
from ..runspec import CLASSIC_SETUP, make_spec
from ..training import History
from .evidence import data_evidence, init_evidence, lr_evidence
from .findings import Diagnosis
from .fix_plan import plan_fixes, restate_lr_fix
from .history_diagnosis import diagnose_history
from .monitored_run import (
    _SHARPNESS_SUBSAMPLE,
    _evidence,
    _monitor_series,
    _run,
    _setup_dict,
)
from .monitors import MonitorCallback, select_probe
from .prepare import class_labels
from .rules import evaluate

__all__ = ["CLASSIC_SETUP", "diagnose", "diagnose_fitted", "diagnose_history", "fix_verdict"]


def _task_of(y: NDArray, task: str) -> str:
    if task in ("classification", "regression"):
        return task
    if task != "auto":
        raise ValueError(f"task must be 'classification', 'regression' or 'auto', got {task!r}")
    return infer_task(y)


def _as_arrays(X: ArrayLike, y: ArrayLike) -> tuple[NDArray, NDArray]:
    Xa = np.asarray(X)
    if Xa.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {Xa.shape}")
    try:
        Xa = Xa.astype(np.float64, copy=False)  # no copy of float64 data: X is only read
    except (TypeError, ValueError):
        raise TypeError(f"X must be numeric, got dtype {Xa.dtype}") from None
    ya = np.asarray(y)
    if ya.shape[0] != Xa.shape[0]:
        raise ValueError(f"X has {Xa.shape[0]} samples but y has {ya.shape[0]}")
    return Xa, ya


def diagnose(
    X: ArrayLike,
    y: ArrayLike,
    *,
    task: str = "auto",
    fix: bool = False,
    random_state: int | np.random.Generator | None = 0,
    holdout: float | None = 0.2,
    sharpness: bool = True,
    output_activation: str | None = None,
    loss: str | None = None,
    split: str = "stratified",
    feature_names: list[str] | None = None,
    **params: Any,
) -> Diagnosis:
    """Train a set-up with monitors attached and explain what goes wrong, root causes first.

    Before training it checks the data (non-finite values, constant features, feature and target
    scales, class balance), the initial weights against the scale their activation needs, and the
    learning rate against the stability bound ``2 / sharpness`` (gradient descent and SGD). During
    training it monitors each layer (saturated and dead units, gradient norms, update-to-weight
    ratios) and afterwards classifies the loss curve and measures the sharpness at a few points.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Inputs as they are; NaN and infinities are diagnosed, not rejected. Never modified.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    task : {"auto", "classification", "regression"}
        ``auto``: regression for continuous targets, classification otherwise.
    fix : bool
        Apply the fixes of the root causes, retrain from the same seed and attach the new
        diagnosis as ``.fixed`` and the changes as ``.fix_params``.
    random_state : int, Generator or None
        Seed of the weights and the shuffling, as the estimators' ``random_state``.
    holdout : float or None
        Share of the samples held out to detect overfitting (stratified for classification);
        None or 0 trains on every sample.
    sharpness : bool
        Measure the sharpness (Lanczos; the slowest check) for gradient descent and SGD.
    output_activation, loss : str, optional
        The user's own output activation (``sigmoid``, ``softmax``, ``tanh``, ``relu``,
        ``identity``) and loss (``binary_crossentropy``, ``categorical_crossentropy``,
        ``squared_error``, ``absolute_error``; Keras spellings accepted), to reproduce a network
        whose output does not fit its task. None: the estimators' own for the task.
    split : {"stratified", "last"}
        How the ``holdout`` is taken: a shuffled, stratified split, or the last samples as they
        come (Keras's ``validation_split``).
    feature_names : list of str, optional
        The features' names, used in the findings; by default a DataFrame's column names.
    **params
        Constructor parameters of :class:`~lossdoctor.MLPClassifier` /
        :class:`~lossdoctor.MLPRegressor`. ``n_iter_no_change`` defaults to None here (run the
        epochs asked for).

    Returns
    -------
    Diagnosis
        ``findings`` ranked root causes first, ``summary``, ``history``, ``monitor`` series.

    Examples
    --------
    >>> from lossdoctor.data import builtin_dataset
    >>> from lossdoctor.diagnostics.diagnose import CLASSIC_SETUP, diagnose
    >>> data = builtin_dataset("breast_cancer")
    >>> d = diagnose(data.X, data.y, **{**CLASSIC_SETUP, "max_iter": 20})
    >>> d.findings[0].code
    'inputs-unscaled'
    """
    if feature_names is None and hasattr(X, "columns"):  # a DataFrame names its columns
        feature_names = [str(c) for c in X.columns]
    Xa, ya = _as_arrays(X, y)
    if feature_names is not None and len(feature_names) != Xa.shape[1]:
        raise ValueError(f"feature_names has {len(feature_names)} names for {Xa.shape[1]} features")
    kind = _task_of(ya, task)
    if kind == "classification" and ya.dtype.kind == "f" and not np.isfinite(ya).all():
        raise ValueError("y holds NaN or infinite class labels")
    run: dict[str, Any] = {
        "task": kind,
        "random_state": random_state,
        "holdout": holdout,
        "sharpness": sharpness,
        "feature_names": feature_names,
    }
    user = {"output_activation": output_activation, "loss": loss, "split": split}
    params = {**params, **{k: v for k, v in user.items() if v is not None}}
    diagnosis, extra = _run(Xa, ya, params=params, prep={}, **run)
    needs_lr = {"lr-too-high", "lr-too-low"} & set(diagnosis.codes)
    if not (fix or needs_lr):
        return diagnosis
    plan = plan_fixes(diagnosis, extra, params)
    if needs_lr and "learning_rate_init" in plan.params:
        changes = {**plan.prep, **plan.params}
        restate_lr_fix(diagnosis, plan.params["learning_rate_init"], plan.bound, changes)
    if not (fix and (plan.params or plan.prep)):  # a healthy run has nothing to apply or retrain
        return diagnosis
    # Rounds of fixes, each judged on the validation data, until the run is healthy, a round
    # does not improve, or the cap.
    cur_prep: dict[str, Any] = {}
    current, cur_params = diagnosis, dict(params)
    for _ in range(MAX_FIX_ROUNDS):
        new_params = {**cur_params, **plan.params}
        new_prep = {**cur_prep, **plan.prep}
        fixed, extra = _run(Xa, ya, params=new_params, prep=new_prep, **run)
        verdict = fix_verdict(current, fixed)
        verdict["changes"] = {**plan.prep, **plan.params}
        diagnosis.fix_rounds.append(verdict)
        if diagnosis.fixed is None or verdict["proven"]:
            diagnosis.fixed = fixed
            diagnosis.fix_params = {**new_prep, **_changed(params, new_params)}
        if not verdict["proven"] or fixed.healthy:
            break
        current, cur_params, cur_prep = fixed, new_params, new_prep
        plan = plan_fixes(fixed, extra, cur_params)
        if not (
            set(plan.params.items()) - set(cur_params.items()) or plan.prep.keys() - cur_prep.keys()
        ):
            break  # nothing new to apply
    return diagnosis


#: Rounds of ``--fix`` at most.
MAX_FIX_ROUNDS = 3
#: A validation metric (accuracy, R^2) change smaller than this is no change.
METRIC_TOL = 0.005


def _changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in after.items() if k not in before or before[k] != v}


def _last_finite(values: list[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(finite[-1]) if finite else float("nan")


def fix_verdict(before: Diagnosis, after: Diagnosis) -> dict[str, Any]:
    """Judge a fix on held-out data: the validation metric first, then the validation loss.

    A fix is proven when the validation metric (accuracy or R^2) rose, or stayed within
    :data:`METRIC_TOL` while the validation loss fell (the same loss on both runs: a fix that
    changes the loss is judged by the metric alone); it is not proven when the metric fell,
    whatever the training loss did. Without validation data the training loss decides, and the
    verdict says so.
    """
    hb, ha = before.history, after.history
    out: dict[str, Any] = {
        "train_loss_before": _last_finite(hb.loss),
        "train_loss_after": _last_finite(ha.loss),
        "val_score_before": _last_finite(hb.val_score),
        "val_score_after": _last_finite(ha.val_score),
        "val_loss_before": _last_finite(hb.val_loss),
        "val_loss_after": _last_finite(ha.val_loss),
    }
    sb, sa = out["val_score_before"], out["val_score_after"]
    if np.isfinite(sa) and not np.isfinite(sb):
        out["proven"], out["why"] = True, "the validation metric became finite"
    elif np.isfinite(sa) and np.isfinite(sb):
        if sa > sb + METRIC_TOL:
            out["proven"], out["why"] = True, f"validation metric {sb:.4g} -> {sa:.4g}"
        elif sa < sb - METRIC_TOL:
            out["proven"] = False
            out["why"] = f"the validation metric got worse: {sb:.4g} -> {sa:.4g}; not recommended"
        elif before.setup.get("loss") != after.setup.get("loss"):
            # A fix that changes the loss changes what the loss measures: only the metric compares.
            out["proven"] = False
            out["why"] = (
                f"validation metric unchanged ({sb:.4g} -> {sa:.4g}); the validation losses "
                f"({before.setup.get('loss')} vs {after.setup.get('loss')}) do not compare"
            )
        else:
            lb, la = out["val_loss_before"], out["val_loss_after"]
            better = np.isfinite(la) and (not np.isfinite(lb) or la < lb)
            out["proven"] = bool(better)
            out["why"] = (
                f"validation metric unchanged ({sb:.4g} -> {sa:.4g}), validation loss "
                f"{lb:.4g} -> {la:.4g}"
            )
    else:
        tb, ta = out["train_loss_before"], out["train_loss_after"]
        out["proven"] = bool(np.isfinite(ta) and (not np.isfinite(tb) or ta < tb))
        out["why"] = f"no validation data: training loss {tb:.4g} -> {ta:.4g}"
    return out


def diagnose_fitted(model: Any, X: NDArray, Y: NDArray) -> Diagnosis:
    """Diagnose a fitted estimator from its history and weights, without retraining.

    Parameters
    ----------
    model : MLPClassifier or MLPRegressor
        Fitted (``history_``, ``params_``, ``network_``).
    X : ndarray of shape (n_samples, n_features)
        The training inputs as the model saw them.
    Y : ndarray of shape (n_samples, n_outputs)
        The encoded training targets.

    Returns
    -------
    Diagnosis
        From the data, the initial weights (redrawn from ``random_state`` when it is an int), the
        loss curve, and the final weights' layer statistics, gradients and sharpness.
    """
    from sklearn.base import is_classifier

    net: Network = model.network_
    task = "classification" if is_classifier(model) else "regression"
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    ev_data = data_evidence(X, class_labels(Y) if task == "classification" else Y, task=task)
    probe = select_probe(X.shape[0], np.random.default_rng(2))
    ev_init: dict[str, Any] = {}
    spec = make_spec(model.get_params())
    if isinstance(model.random_state, (int, np.integer)) and not model.warm_start:
        # The first draws of the fit's generator (scikit-learn's RandomState for the default
        # init), so these are the weights the model started from.
        params0 = spec.initial_params(net, spec.rng(), np.float64)
        ev_init = init_evidence(net, params0, X[probe], init=model.init)
    # The final weights, measured once: a one-point monitor.
    monitor = MonitorCallback(X[probe], Y[probe], epochs=1, n_samples=X.shape[0])
    monitor._net = net
    with np.errstate(all="ignore"):  # weights that blew up are a finding, not a warning
        monitor._probe(len(model.history_.epoch), model.params_)
    opt_name, momentum, nesterov = spec.optimizer_kind
    lr_track: list[dict[str, Any]] = []
    history: History = model.history_
    if opt_name != "adam" and history.learning_rate:
        point = lr_evidence(
            net,
            model.params_,
            X,
            Y,
            learning_rate=history.learning_rate[-1],
            optimizer=opt_name,
            momentum=momentum,
            nesterov=nesterov,
            alpha=float(model.alpha),
            subsample=_SHARPNESS_SUBSAMPLE,
        )
        if point:
            lr_track.append({"epoch": history.epoch[-1], **point})
    ev = _evidence(
        model,
        task,
        net,
        opt_name,
        Y,
        data=ev_data,
        init=ev_init,
        lr={},
        lr_track=lr_track,
        history=history,
        monitor=monitor,
        prep={},
    )
    findings, summary = evaluate(ev)
    out_monitor = _monitor_series(monitor, {}, lr_track, history)
    setup = _setup_dict(
        model,
        task,
        {
            "n_samples": int(X.shape[0]),
            "n_features": int(X.shape[1]),
            "n_train": int(X.shape[0]),
            "n_validation": 0,
            "layer_sizes": list(net.layer_sizes),
            "head": net.head,
        },
    )
    return Diagnosis(
        findings=findings, setup=setup, history=history, monitor=out_monitor, summary=summary
    )
