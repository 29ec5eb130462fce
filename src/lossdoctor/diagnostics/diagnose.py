"""The doctor: check the set-up, train with monitors, rank the findings, optionally prove the fix.

Three entry points, one set of rules (:mod:`lossdoctor.diagnostics.rules`):

- :func:`diagnose` trains a set-up given by the estimators' constructor parameters with
  monitors attached, after checking the data, the initial weights and the learning rate against
  the curvature bound. With ``fix=True`` it applies the fixes of the root causes, retrains from the
  same seed and attaches the new diagnosis as ``.fixed``. The caller's arrays are never modified.
- :func:`diagnose_fitted` diagnoses a fitted :class:`~lossdoctor.MLPClassifier` or
  :class:`~lossdoctor.MLPRegressor` from its history and weights, without retraining
  (``diagnose=True`` in the estimators calls it).
- :func:`diagnose_history` diagnoses a bare list of losses from anyone's training loop (and what
  a :class:`~lossdoctor.diagnostics.monitors.TrainingMonitor` recorded).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..activations import ACTIVATIONS
from ..data import infer_task
from ..network import Network, Params, init_params
from ..runspec import Run, RunSpec, fit_target_encoding, make_spec, train
from ..training import History
from .checks import chance_loss, data_evidence, init_evidence, lr_evidence, standardize
from .curves import classify_curve
from .findings import Diagnosis
from .monitors import MonitorCallback, select_probe
from .rules import evaluate, nice_lr

__all__ = ["CLASSIC_SETUP", "diagnose", "diagnose_fitted", "diagnose_history"]

#: The set-up of the classic question "why is my loss increasing in gradient descent?"
#: (datascience.stackexchange 73797): hidden layers 128 and 64, tanh, one sigmoid output, a naive
#: standard-normal initialisation, full-batch gradient descent at learning rate 1 for 100 epochs,
#: no regularisation. Used on the built-in breast-cancer data with unscaled inputs.
CLASSIC_SETUP: dict[str, Any] = {
    "hidden_layer_sizes": (128, 64),
    "activation": "tanh",
    "solver": "gd",
    "momentum": 0.0,
    "learning_rate_init": 1.0,
    "max_iter": 100,
    "init": "normal",
    "init_scale": 1.0,
    "alpha": 0.0,
    "n_iter_no_change": None,
}

# Parameters of the estimators that diagnose() fills in when the caller does not: a fixed number
# of epochs, so that the curve and the monitors cover the run the caller asked for.
_DIAGNOSE_DEFAULTS: dict[str, Any] = {"n_iter_no_change": None}

# Samples in the subset on which the sharpness is measured (Lanczos on Hessian-vector products).
_SHARPNESS_SUBSAMPLE = 256


def _task_of(y: NDArray, task: str) -> str:
    if task in ("classification", "regression"):
        return task
    if task != "auto":
        raise ValueError(f"task must be 'classification', 'regression' or 'auto', got {task!r}")
    return infer_task(y)


def _spec(params: dict[str, Any]) -> RunSpec:
    return make_spec({**_DIAGNOSE_DEFAULTS, **params}, caller="diagnose")


def _split(
    X: NDArray, Y: NDArray, labels: NDArray | None, fraction: float | None, seed: int
) -> tuple[NDArray, NDArray, NDArray | None, NDArray | None]:
    if not fraction:
        return X, Y, None, None
    from sklearn.model_selection import train_test_split

    stratify = None
    if labels is not None:
        _, counts = np.unique(labels, return_counts=True)
        stratify = labels if counts.min() >= 2 else None
    X_tr, X_val, Y_tr, Y_val = train_test_split(
        X, Y, test_size=fraction, random_state=seed, stratify=stratify
    )
    return X_tr, Y_tr, X_val, Y_val


def _setup_dict(est: Any, task: str, extra: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "hidden_layer_sizes",
        "activation",
        "solver",
        "alpha",
        "batch_size",
        "learning_rate",
        "learning_rate_init",
        "max_iter",
        "momentum",
        "nesterovs_momentum",
        "init",
        "init_scale",
        "clip_norm",
        "early_stopping",
        "random_state",
    )
    out: dict[str, Any] = {"task": task}
    for k in keys:
        v = getattr(est, k)
        out[k] = list(v) if isinstance(v, tuple) else v if not callable(v) else repr(v)
    if isinstance(out["random_state"], np.random.Generator):
        out["random_state"] = repr(out["random_state"])
    out.update(extra)
    return out


def _prepare(
    X_tr: NDArray,
    Y_tr: NDArray,
    X_val: NDArray | None,
    Y_val: NDArray | None,
    prep: dict[str, Any],
) -> tuple[NDArray, NDArray, NDArray | None, NDArray | None, dict[str, Any]]:
    """Apply the data fixes of ``--fix`` to copies, with statistics of the training part only."""
    info: dict[str, Any] = {}
    if prep.get("impute_non_finite"):
        finite = np.isfinite(X_tr)
        with np.errstate(all="ignore"):
            med = np.nanmedian(np.where(finite, X_tr, np.nan), axis=0)
        med = np.nan_to_num(med)
        X_tr = np.where(finite, X_tr, med)
        if X_val is not None:
            X_val = np.where(np.isfinite(X_val), X_val, med)
        rows = np.isfinite(Y_tr).all(axis=1)
        X_tr, Y_tr = X_tr[rows], Y_tr[rows]
        if X_val is not None and Y_val is not None:
            rows_v = np.isfinite(Y_val).all(axis=1)
            X_val, Y_val = X_val[rows_v], Y_val[rows_v]
    if prep.get("drop_features"):
        keep = np.setdiff1d(np.arange(X_tr.shape[1]), prep["drop_features"])
        X_tr = X_tr[:, keep]
        X_val = X_val[:, keep] if X_val is not None else None
    if prep.get("scale_inputs"):
        mean, std = np.nanmean(X_tr, axis=0), np.nanstd(X_tr, axis=0)
        X_tr = standardize(X_tr, mean=mean, std=std)
        X_val = standardize(X_val, mean=mean, std=std) if X_val is not None else None
    if prep.get("scale_targets"):
        mu, sd = Y_tr.mean(axis=0), Y_tr.std(axis=0)
        sd = np.where(sd > 0, sd, 1.0)
        Y_tr = (Y_tr - mu) / sd
        Y_val = (Y_val - mu) / sd if Y_val is not None else None
        info["target_mean"], info["target_std"] = mu.tolist(), sd.tolist()
    if prep.get("balance_classes"):
        # Oversample every class to the size of the largest (encoded targets: one column per
        # class, or one 0/1 column for binary problems).
        labels = Y_tr.argmax(axis=1) if Y_tr.shape[1] > 1 else (Y_tr[:, 0] > 0.5).astype(int)
        classes, counts = np.unique(labels, return_counts=True)
        rng = np.random.default_rng(0)
        idx = [
            np.concatenate(
                [
                    np.flatnonzero(labels == c),
                    rng.choice(np.flatnonzero(labels == c), counts.max() - n),
                ]
            )
            for c, n in zip(classes, counts)
        ]
        order = np.sort(np.concatenate(idx))
        X_tr, Y_tr = X_tr[order], Y_tr[order]
    return X_tr, Y_tr, X_val, Y_val, info


def _run(
    X: NDArray,
    y: NDArray,
    *,
    task: str,
    params: dict[str, Any],
    random_state: Any,
    holdout: float | None,
    sharpness: bool,
    prep: dict[str, Any],
) -> tuple[Diagnosis, dict[str, Any]]:
    """One diagnosed run; returns the diagnosis and the evidence the fixes need."""
    est = _spec({**params, "random_state": random_state})
    encoding = fit_target_encoding(task, y)
    Y = encoding.encode(y)
    dtype = est.np_dtype
    ev_data = data_evidence(X, y, task=task)

    labels = y if task == "classification" and y.ndim == 1 else None
    seed = random_state if isinstance(random_state, (int, np.integer)) else 0
    X_tr, Y_tr, X_val, Y_val = _split(X, Y, labels, holdout, int(seed) + 1)
    X_tr, Y_tr, X_val, Y_val, prep_info = _prepare(X_tr, Y_tr, X_val, Y_val, prep)
    if prep:
        # After the fixes, judge the data the network actually sees.
        ev_data = data_evidence(
            X_tr, _labels(Y_tr) if task == "classification" else Y_tr, task=task
        )
    X_tr = np.ascontiguousarray(X_tr, dtype=dtype)
    Y_tr = np.ascontiguousarray(Y_tr, dtype=dtype)
    validation = None
    if X_val is not None and Y_val is not None:
        validation = (np.ascontiguousarray(X_val, dtype=dtype), Y_val.astype(dtype))

    # The same sequence of draws as the estimator's fit: weights first, then shuffling.
    rng = est.rng()
    net = est.network(X_tr.shape[1], Y_tr.shape[1], encoding.head)
    params0 = est.initial_params(net, rng)
    n_train = X_tr.shape[0]
    probe = select_probe(n_train, np.random.default_rng(int(seed) + 2))
    ev_init = init_evidence(net, params0, X_tr[probe])

    opt_name, momentum, nesterov = est.optimizer_kind
    finite_data = bool(np.isfinite(X_tr).all() and np.isfinite(Y_tr).all())
    lr0 = float(est.learning_rate_init)
    ev_lr: dict[str, Any] = {}

    def lr_at(weights: Params, learning_rate: float, subsample: int) -> dict[str, Any]:
        """The learning rate against the curvature bound at these weights."""
        return lr_evidence(
            net,
            weights,
            X_tr,
            Y_tr,
            learning_rate=learning_rate,
            optimizer=opt_name,
            momentum=momentum,
            nesterov=nesterov,
            alpha=float(est.alpha),
            subsample=subsample,
        )

    if sharpness and finite_data and opt_name != "adam":
        ev_lr = lr_at(params0, lr0, _SHARPNESS_SUBSAMPLE)
        if ev_lr:  # empty when the sharpness could not be measured at these weights
            ev_lr["epoch"] = 0

    epochs = int(est.max_iter)
    monitor = MonitorCallback(
        X_tr[probe], Y_tr[probe], epochs=epochs, n_samples=n_train, snapshots=3 if ev_lr else 0
    )
    with np.errstate(all="ignore"):  # overflow is what the diagnosis is about, not a failure
        run = Run(net, params0, X_tr, Y_tr, rng, validation)
        result = train(est, run, callbacks=[monitor], progress=False, verbose=False)
    history = result.history

    # Sharpness at a few points of the run, from the monitor's snapshots (references, not copies).
    lr_track: list[dict[str, Any]] = []
    if ev_lr:
        for epoch, snap in sorted(monitor.snapshots.items()):
            if epoch == 0 or epoch not in set(history.epoch):
                continue
            lr_e = history.learning_rate[history.epoch.index(epoch)]
            point = lr_at(snap, lr_e, _SHARPNESS_SUBSAMPLE // 2)
            if point:
                lr_track.append({"epoch": epoch, **point})

    ev = _evidence(
        est,
        task,
        net,
        opt_name,
        Y_tr,
        data=ev_data,
        init=ev_init,
        lr=ev_lr,
        lr_track=lr_track,
        history=history,
        monitor=monitor,
        prep=prep,
    )
    findings, summary = evaluate(ev)
    monitor_out = _monitor_series(monitor, ev_lr, lr_track, history)
    setup = _setup_dict(
        est,
        task,
        {
            "n_samples": int(X.shape[0]),
            "n_features": int(X.shape[1]),
            "n_train": n_train,
            "n_validation": 0 if validation is None else int(validation[0].shape[0]),
            "layer_sizes": list(net.layer_sizes),
            "head": net.head,
            **({"preprocessing": prep} if prep else {}),
            **prep_info,
        },
    )
    diagnosis = Diagnosis(
        findings=findings, setup=setup, history=history, monitor=monitor_out, summary=summary
    )
    extra = {
        "net": net,
        "X_tr": X_tr,
        "Y_tr": Y_tr,
        "params0": params0,
        "optimizer": (opt_name, momentum, nesterov),
        "alpha": float(est.alpha),
        "data": ev_data,
    }
    return diagnosis, extra


def _evidence(
    est: Any,
    task: str,
    net: Network,
    opt_name: str,
    Y_train: NDArray,
    *,
    data: dict[str, Any],
    init: dict[str, Any],
    lr: dict[str, Any],
    lr_track: list[dict[str, Any]],
    history: History,
    monitor: MonitorCallback,
    prep: dict[str, Any],
) -> dict[str, Any]:
    """Everything the rules judge, for a run of ``est`` on ``net``."""
    chance = chance_loss(net.head, Y_train)
    return {
        "task": task,
        "head": net.head,
        "activation": net.activation,
        "n_hidden_layers": len(net.layer_sizes) - 2,
        "optimizer": opt_name,
        "solver": est.solver,
        "learning_rate_init": float(est.learning_rate_init),
        "data": data,
        "init": init,
        "lr": lr,
        "lr_track": lr_track,
        "history": _history_evidence(history, chance),
        "monitor": monitor.series,
        "prep": prep,
        "chance_loss": chance,
    }


def _monitor_series(
    monitor: MonitorCallback,
    at_start: dict[str, Any],
    lr_track: list[dict[str, Any]],
    history: History,
) -> dict[str, Any]:
    """The monitor's per-epoch series with the sharpness measured at the start and on the way."""
    points = ([{"epoch": 0, **at_start}] if at_start else []) + lr_track
    out = monitor.series
    out["sharpness_epoch"] = [p["epoch"] for p in points]
    out["sharpness"] = [p["sharpness"] for p in points]
    out["stability_threshold"] = [p["threshold"] for p in points]
    out["learning_rate"] = list(history.learning_rate)
    return out


def _labels(Y: NDArray) -> NDArray:
    """Class indices of encoded targets (one 0/1 column for binary, one-hot otherwise)."""
    return Y.argmax(axis=1) if Y.shape[1] > 1 else (Y[:, 0] > 0.5).astype(int)


def _history_evidence(history: History, chance: float | None) -> dict[str, Any]:
    """Curve label and the numbers of a history (a non-finite stop counts as a NaN loss)."""
    losses = list(history.loss)
    if history.stop_reason == "non-finite":
        losses.append(math.nan)
    out: dict[str, Any] = {
        "n_epochs": len(history.loss),
        "stop_reason": history.stop_reason,
        "loss": list(history.loss),
        "val_loss": [v for v in history.val_loss if math.isfinite(v)],
    }
    if losses:
        try:
            curve = classify_curve(losses, chance_loss=chance)
        except ValueError as err:  # a curve the classifier cannot read is no reason to crash
            out["curve"] = {"label": "unknown", "evidence": {}, "message": str(err)}
        else:
            out["curve"] = {
                "label": curve.label,
                "evidence": curve.evidence,
                "message": curve.message,
            }
    return out


def _as_arrays(X: ArrayLike, y: ArrayLike) -> tuple[NDArray, NDArray]:
    Xa = np.asarray(X)
    if Xa.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {Xa.shape}")
    try:
        Xa = Xa.astype(np.float64)
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
    Xa, ya = _as_arrays(X, y)
    kind = _task_of(ya, task)
    if kind == "classification" and ya.dtype.kind == "f" and not np.isfinite(ya).all():
        raise ValueError("y holds NaN or infinite class labels")
    diagnosis, extra = _run(
        Xa,
        ya,
        task=kind,
        params=params,
        random_state=random_state,
        holdout=holdout,
        sharpness=sharpness,
        prep={},
    )
    needs_lr = {"lr-too-high", "lr-too-low"} & set(diagnosis.codes)
    if fix or needs_lr:
        new_params, prep, bound = _fixes(diagnosis, extra, params)
        if needs_lr and "learning_rate_init" in new_params:
            _restate_lr_fix(
                diagnosis, new_params["learning_rate_init"], bound, {**prep, **new_params}
            )
    if fix and (new_params or prep):  # a healthy run has nothing to apply and nothing to retrain
        fixed, _ = _run(
            Xa,
            ya,
            task=kind,
            params={**params, **new_params},
            random_state=random_state,
            holdout=holdout,
            sharpness=sharpness,
            prep=prep,
        )
        diagnosis.fixed = fixed
        diagnosis.fix_params = {**prep, **new_params}
    return diagnosis


def _restate_lr_fix(
    diagnosis: Diagnosis, lr: float, bound: float | None, changes: dict[str, Any]
) -> None:
    """Give the learning-rate finding the value that fits the set-up after the other fixes."""
    others = {k: v for k, v in changes.items() if k != "learning_rate_init"}
    for i, f in enumerate(diagnosis.findings):
        if f.code in ("lr-too-high", "lr-too-low") and f.cause is None:
            if bound is not None:
                after = f", measured after the other fixes ({_describe(others)})" if others else ""
                text = (
                    f"learning_rate_init={lr:g} (half the stability bound {bound:.3g} at the "
                    f"initial weights{after})."
                )
            else:
                text = f"learning_rate_init={lr:g}."
            diagnosis.findings[i] = replace(f, fix=text)
            if i == 0:
                diagnosis.summary = diagnosis.summary.replace(f.fix, text)


def _describe(changes: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in changes.items())


def _fixes(
    diagnosis: Diagnosis, extra: dict[str, Any], params: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], float | None]:
    """The parameter changes and data preparation that fix the root causes of a diagnosis.

    Returns the estimator parameters to change, the data preparation (``scale_inputs``,
    ``scale_targets``, ``impute_non_finite``, ``drop_features``, ``balance_classes``) and, for
    gradient descent, the stability bound of the fixed set-up at its initial weights.
    """
    roots = {f.code: f for f in diagnosis.findings if f.cause is None and f.severity != "info"}
    new: dict[str, Any] = {}
    prep: dict[str, Any] = {}
    if "data-non-finite" in roots:
        prep["impute_non_finite"] = "median"
    if "constant-features" in roots:
        prep["drop_features"] = list(extra["data"].get("constant_features", []))
    if "inputs-unscaled" in roots:
        prep["scale_inputs"] = "standard"
    if "targets-unscaled" in roots:
        prep["scale_targets"] = "standard"
    if "class-imbalance" in roots:
        prep["balance_classes"] = "oversample"
    if "init-scale" in roots:
        new["init"], new["init_scale"] = None, 1.0
    for code in ("vanishing-gradients", "saturated-activations"):
        if code in roots:
            new["activation"], new["init"], new["init_scale"] = "relu", None, 1.0
    if "dead-units" in roots:
        new["activation"] = "leaky_relu"
    if "exploding-gradients" in roots or "non-finite-loss" in roots:
        new["clip_norm"] = 1.0
    if "overfitting" in roots:
        new["early_stopping"] = True
        new["n_iter_no_change"] = 10
    solver = params.get("solver", "adam")
    lr = float(params.get("learning_rate_init", 0.001))
    if solver == "adam":
        if "lr-too-high" in roots:
            new["learning_rate_init"] = nice_lr(lr / 10)
        elif "lr-too-low" in roots:
            new["learning_rate_init"] = 1e-3
        return new, prep, None
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
            # Half the bound leaves room for the sharpness to rise during training.
            target = nice_lr(0.5 * bound)
            if "lr-too-high" in roots or lr > 2 * target:
                new["learning_rate_init"] = min(target, lr)
            elif "lr-too-low" in roots:
                new["learning_rate_init"] = target
    return new, prep, bound


def _run_setup_only(
    diagnosis: Diagnosis,
    extra: dict[str, Any],
    params: dict[str, Any],
    new: dict[str, Any],
    prep: dict[str, Any],
) -> tuple[Network, Params, NDArray, NDArray] | None:
    """The fixed set-up's network, initial weights and training data (no training)."""
    est = _spec({**params, **new, "random_state": 0})
    X_tr, Y_tr, _, _, _ = _prepare(extra["X_tr"], extra["Y_tr"], None, None, prep)
    if not (np.isfinite(X_tr).all() and np.isfinite(Y_tr).all()):
        return None
    net = est.network(X_tr.shape[1], Y_tr.shape[1], diagnosis.setup["head"])
    params0 = init_params(net, np.random.default_rng(0), init=est.init, init_scale=est.init_scale)
    return net, params0, X_tr, Y_tr


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
    ev_data = data_evidence(X, _labels(Y) if task == "classification" else Y, task=task)
    probe = select_probe(X.shape[0], np.random.default_rng(2))
    ev_init: dict[str, Any] = {}
    if isinstance(model.random_state, (int, np.integer)) and not model.warm_start:
        params0 = init_params(
            net,
            np.random.default_rng(model.random_state),
            init=model.init,
            init_scale=model.init_scale,
        )
        ev_init = init_evidence(net, params0, X[probe])
    # The final weights, measured once: a one-point monitor.
    monitor = MonitorCallback(X[probe], Y[probe], epochs=1, n_samples=X.shape[0])
    monitor._net = net
    with np.errstate(all="ignore"):  # weights that blew up are a finding, not a warning
        monitor._probe(len(model.history_.epoch), model.params_)
    opt_name, momentum, nesterov = make_spec(model.get_params()).optimizer_kind
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
    ev: dict[str, Any] = {
        "task": None,
        "head": None,
        "activation": activation,
        "n_hidden_layers": None,
        "optimizer": optimizer,
        "solver": "adam" if optimizer == "adam" else "gd",
        "learning_rate_init": lr,
        # The training inputs, when given, let the data checks name a root cause (for example
        # unscaled inputs) that the activations alone only show as a symptom.
        "data": {} if X_arr is None else data_evidence(X_arr, y_arr, task=task),
        "init": {},
        "lr": {},
        "lr_track": [],
        "history": _history_evidence(history, chance_loss),
        "monitor": monitor or {},
        "prep": {},
        "chance_loss": chance_loss,
    }
    findings, summary = evaluate(ev)
    return Diagnosis(
        findings=findings,
        setup={"learning_rate_init": lr, "optimizer": optimizer, "activation": activation},
        history=history,
        monitor=dict(monitor or {}),
        summary=summary,
    )
