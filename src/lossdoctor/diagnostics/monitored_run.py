"""One diagnosed run: train a set-up with monitors attached and gather its evidence.

:func:`_run` checks the data, the initial weights and the learning rate against the curvature
bound, trains with a :class:`~.monitors.MonitorCallback`, measures the sharpness on the way,
gathers the :class:`~.evidence.Evidence` and applies the rules. The helpers turn the estimators'
constructor parameters into what the run needs.

The set-up comes from :mod:`lossdoctor.runspec`, so a diagnosed run draws the weights and the
batches that the estimator with the same parameters draws.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..network import Network, Params
from ..runspec import Run, RunSpec, fit_target_encoding, make_spec, train
from ..training import History
from .evidence import (
    Evidence,
    chance_loss,
    data_evidence,
    gather_evidence,
    init_evidence,
    lr_evidence,
)
from .findings import Diagnosis
from .monitors import MonitorCallback, select_probe

# The private names are the ones _run's body uses.
from .prepare import class_labels as _labels
from .prepare import prepare_data as _prepare
from .prepare import split_holdout as _split
from .rules import evaluate

# Parameters of the estimators that diagnose() fills in when the caller does not: a fixed number
# of epochs, so that the curve and the monitors cover the run the caller asked for.
_DIAGNOSE_DEFAULTS: dict[str, Any] = {"n_iter_no_change": None}

# Samples in the subset on which the sharpness is measured (Lanczos on Hessian-vector products).
_SHARPNESS_SUBSAMPLE = 256


def _spec(params: dict[str, Any]) -> RunSpec:
    """The set-up's run specification, with diagnose's defaults under the caller's values."""
    return make_spec({**_DIAGNOSE_DEFAULTS, **params}, caller="diagnose")


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
    ev_init = init_evidence(net, params0, X_tr[probe], init=est.init)

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
) -> Evidence:
    """Everything the rules judge, for a run of ``est`` on ``net``."""
    return gather_evidence(
        task=task,
        head=net.head,
        activation=net.activation,
        n_hidden_layers=len(net.layer_sizes) - 2,
        optimizer=opt_name,
        solver=est.solver,
        learning_rate_init=float(est.learning_rate_init),
        chance_loss=chance_loss(net.head, Y_train),
        history=history,
        data=data,
        init=init,
        lr=lr,
        lr_track=lr_track,
        monitor=monitor.series,
        prep=prep,
    )


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
