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

from ..network import Network, Params, forward
from ..runspec import Run, RunSpec, fit_target_encoding, make_spec, train
from ..training import VALIDATION_CHUNK, History, l2_penalty
from .curvature import LanczosStart
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
from .user_output import canonical, output_evidence, train_user_output

# Parameters of the estimators that diagnose() fills in when the caller does not: a fixed number
# of epochs, so that the curve and the monitors cover the run the caller asked for.
_DIAGNOSE_DEFAULTS: dict[str, Any] = {"n_iter_no_change": None}

# Samples in the subset on which the sharpness is measured (Lanczos on Hessian-vector products).
_SHARPNESS_SUBSAMPLE = 256

#: Validation sets of more rows than this are scored every epoch on a fixed subsample.
VALIDATION_SUBSAMPLE_ABOVE = 20_000
#: The size of that subsample (one chunk of :data:`lossdoctor.training.VALIDATION_CHUNK`).
VALIDATION_SUBSAMPLE = 16_384


def validation_rows(n_val: int, seed: int) -> slice | NDArray:
    """The validation rows scored every epoch: all of them, or a fixed subsample of large sets.

    Up to :data:`VALIDATION_SUBSAMPLE_ABOVE` rows, every row (``slice(None)``: the run is the
    same as without this rule, bit for bit). Above it, :data:`VALIDATION_SUBSAMPLE` sorted rows
    drawn once, without replacement, from a generator seeded by the run's seed (its own stream,
    so that the weights and batches stay the estimator's draws), the same rows every epoch and in
    every round of ``--fix``, so that rounds are compared on the same samples.

    Accuracy, measured on 200,000 x 50 (a 40,000-row holdout; ``benchmarks/bench_validation.py``:
    20 draws at the initial weights and after epochs 1, 2 and 5 of SGD and of Adam): the
    subsampled loss is within 1.9% of the full one while the loss is above 0.1 (mean 0.5%),
    within 8.7% at Adam's low loss of 0.054 (mean 2.7%; the per-sample loss is then heavy
    tailed); 95% of all draws within 3.7%. The accuracy is within 0.008 (0.003 after the first
    epoch), and the change of the loss from one measured epoch to the next had the full set's
    sign in 120 of 120 cases: the errors of a fixed subsample move together from epoch to epoch.
    """
    if n_val <= VALIDATION_SUBSAMPLE_ABOVE:
        return slice(None)
    rng = np.random.default_rng(seed + 3)
    return np.sort(rng.choice(n_val, size=VALIDATION_SUBSAMPLE, replace=False))


#: Options of a diagnosed run that are not estimator parameters: the user's output activation and
#: loss, and how the validation samples are held out (``stratified`` or ``last``).
USER_OPTIONS = ("output_activation", "loss", "split")


def split_options(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The estimator parameters, and the user options (:data:`USER_OPTIONS`) apart."""
    est = {k: v for k, v in params.items() if k not in USER_OPTIONS}
    return est, {k: params[k] for k in USER_OPTIONS if k in params}


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
    user_output: tuple[str | None, str | None] = (None, None),
    split: str = "stratified",
    feature_names: list[str] | None = None,
) -> tuple[Diagnosis, dict[str, Any]]:
    """One diagnosed run; returns the diagnosis and the evidence the fixes need.

    ``user_output`` is the user's (output activation, loss), None for the estimators' own;
    ``split="last"`` holds out the last samples as they come (Keras's ``validation_split``).
    """
    params, options = split_options(params)
    if options.get("output_activation") is not None or options.get("loss") is not None:
        user_output = (options.get("output_activation"), options.get("loss"))
    split = options.get("split") or split
    if split not in ("stratified", "last"):
        raise ValueError(f"split must be 'stratified' or 'last', got {split!r}")
    est = _spec({**params, "random_state": random_state})
    encoding = fit_target_encoding(task, y)
    Y = encoding.encode(y)
    dtype = est.np_dtype
    ev_data = data_evidence(X, y, task=task, feature_names=feature_names)

    labels = y if task == "classification" and y.ndim == 1 else None
    seed = random_state if isinstance(random_state, (int, np.integer)) else 0
    X_val: NDArray | None
    Y_val: NDArray | None
    if split == "last" and holdout:
        n_val = max(1, round(holdout * X.shape[0]))
        X_tr, Y_tr, X_val, Y_val = X[:-n_val], Y[:-n_val], X[-n_val:], Y[-n_val:]
    else:
        # Split indices, so that a run without shuffling trains on its rows in the user's order.
        rows = np.arange(X.shape[0])
        i_tr, _, i_val, _ = _split(rows[:, None], Y, labels, holdout, int(seed) + 1)
        i_tr = i_tr[:, 0] if est.shuffle else np.sort(i_tr[:, 0])
        X_tr, Y_tr = X[i_tr], Y[i_tr]
        X_val, Y_val = (None, None) if i_val is None else (X[i_val[:, 0]], Y[i_val[:, 0]])
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
        scored = validation_rows(X_val.shape[0], int(seed))
        validation = (np.ascontiguousarray(X_val[scored], dtype=dtype), Y_val[scored].astype(dtype))
        X_val = None  # the subsample is all training needs; Y_val (small) stays for the evidence

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
    # Each measurement starts Lanczos from the previous one's top eigenvector.
    start = LanczosStart()

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
            warm_start=start,
        )

    # Adam has no curvature bound to check against, and lbfgs has no learning rate at all.
    if sharpness and finite_data and opt_name not in ("adam", "lbfgs"):
        ev_lr = lr_at(params0, lr0, _SHARPNESS_SUBSAMPLE)
        if ev_lr:  # empty when the sharpness could not be measured at these weights
            ev_lr["epoch"] = 0

    epochs = int(est.max_iter)
    monitor = MonitorCallback(
        X_tr[probe], Y_tr[probe], epochs=epochs, n_samples=n_train, snapshots=3 if ev_lr else 0
    )
    out_name, loss_name = canonical(*user_output, encoding.head)
    n_classes = int(np.unique(y).size) if task == "classification" else None
    ev_output = output_evidence(
        out_name, loss_name, task=task, head=net.head, Y=Y_tr, n_classes=n_classes
    )
    final_params: Params | None = None
    with np.errstate(all="ignore"):  # overflow is what the diagnosis is about, not a failure
        if ev_output:  # the user's own output and loss: reproduce their run
            history, info = train_user_output(
                est,
                net,
                params0,
                X_tr,
                Y_tr,
                rng,
                validation,
                output=out_name,
                loss=loss_name,
                task=task,
            )
            ev_output.update(info)
            ev_lr = {}
        else:
            run = Run(net, params0, X_tr, Y_tr, rng, validation)
            result = train(est, run, callbacks=[monitor], progress=False, verbose=False)
            history = result.history
            final_params = result.params
    ev_fit = fit_evidence(
        est,
        net,
        final_params,
        X_tr,
        Y_tr,
        Y_val,
        history=history,
        task=task,
        head=net.head,
        seed=int(seed),
    )

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
        output=ev_output,
        fit=ev_fit,
        n_validation=0 if validation is None else int(validation[0].shape[0]),
    )
    findings, summary = evaluate(ev)
    n_val = 0 if Y_val is None else int(Y_val.shape[0])
    n_scored = n_val if validation is None else int(validation[0].shape[0])
    monitor_out = _monitor_series(monitor, ev_lr, lr_track, history)
    setup = _setup_dict(
        est,
        task,
        {
            "n_samples": int(X.shape[0]),
            "n_features": int(X.shape[1]),
            "n_train": n_train,
            "n_validation": n_val,
            **({"n_validation_scored": n_scored} if n_scored < n_val else {}),
            "layer_sizes": list(net.layer_sizes),
            "head": net.head,
            "output_activation": out_name,
            "loss": loss_name,
            "split": split,
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
        "schedule": est.learning_rate if isinstance(est.learning_rate, str) else "callable",
        "data": ev_data,
        "fit": ev_fit,
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
    output: dict[str, Any] | None = None,
    fit: dict[str, Any] | None = None,
    n_validation: int = 0,
) -> Evidence:
    """Everything the rules judge, for a run of ``est`` on ``net``."""
    return gather_evidence(
        task=task,
        head=net.head,
        activation=net.activation,
        n_hidden_layers=len(net.layer_sizes) - 2,
        hidden_widths=tuple(net.layer_sizes[1:-1]),
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
        output=output,
        fit=fit,
        n_validation=n_validation,
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


def _predicted_classes(net: Network, params: Params, X: NDArray) -> NDArray:
    """Class indices the network predicts, in chunks of ``VALIDATION_CHUNK`` rows (one pass, as
    before, up to that size), so that no activation of the whole training set is held."""
    chunk = VALIDATION_CHUNK
    out = np.empty(X.shape[0], dtype=np.intp)
    with np.errstate(all="ignore"):
        for start in range(0, X.shape[0], chunk):
            logits, _ = forward(net, params, X[start : start + chunk])
            stop = start + logits.shape[0]
            out[start:stop] = logits.argmax(axis=1) if logits.shape[1] > 1 else logits[:, 0] > 0
    return out


#: A hidden layer this narrow (or narrower) is checked for capacity against a wider reference.
_NARROW = 3
#: The width of the reference network of the capacity check.
_REFERENCE_WIDTH = 32


def fit_evidence(
    est: RunSpec,
    net: Network,
    params: Params | None,
    X_tr: NDArray,
    Y_tr: NDArray,
    Y_val: NDArray | None,
    *,
    history: History,
    task: str,
    head: str,
    seed: int,
) -> dict[str, Any]:
    """What the trained network does with the data (see :attr:`.Evidence.fit`)."""
    out: dict[str, Any] = {}
    if task == "classification":
        labels = _labels(Y_tr)
        classes, counts = np.unique(labels, return_counts=True)
        out["class_share"] = {str(c): float(n / labels.size) for c, n in zip(classes, counts)}
        if params is not None and np.isfinite(X_tr).all():
            pred = _predicted_classes(net, params, X_tr)
            if Y_tr.shape[1] == 1 or np.allclose(Y_tr.sum(axis=1), 1.0):
                out["class_recall"] = {
                    str(c): float(np.mean(pred[labels == c] == c)) for c in classes
                }
        sorted_labels = bool(np.all(np.diff(labels) >= 0) or np.all(np.diff(labels) <= 0))
        batch = est.batch_size_for(X_tr.shape[0])
        order: dict[str, Any] = {}
        if sorted_labels and classes.size > 1 and not est.shuffle and batch is not None:
            order["sorted_no_shuffle"] = True
            order["batch_size"] = int(batch)
        if Y_val is not None:
            missing = sorted(set(classes.tolist()) - set(_labels(Y_val).tolist()))
            if missing:
                order["val_missing_classes"] = [str(c) for c in missing]
                order["val_classes"] = sorted(str(c) for c in set(_labels(Y_val).tolist()))
        if order:
            out["order"] = order
    hidden = list(net.layer_sizes[1:-1])
    losses = [v for v in history.loss if np.isfinite(v)]
    chance = chance_loss(head, Y_tr)
    if params is not None and est.alpha > 0 and losses and chance:
        # The L2 term's part of the final objective (the history's loss includes it).
        penalty = l2_penalty(net, params, float(est.alpha), float(X_tr.shape[0]))
        if np.isfinite(penalty):
            out["penalty"] = {
                "alpha": float(est.alpha),
                "penalty": float(penalty),
                "loss": float(losses[-1]),
                "data_loss": float(losses[-1] - penalty),
                "chance_loss": float(chance),
            }
    if (
        params is not None
        and hidden
        and min(hidden) <= _NARROW
        and losses
        and chance
        and losses[-1] >= 0.2 * chance
    ):
        wide = tuple(max(h, _REFERENCE_WIDTH) for h in hidden)
        ref = _spec({**est.get_params(), "hidden_layer_sizes": wide, "random_state": seed})
        rng = ref.rng()
        ref_net = ref.network(X_tr.shape[1], Y_tr.shape[1], head)
        with np.errstate(all="ignore"):
            result = train(
                ref,
                Run(ref_net, ref.initial_params(ref_net, rng), X_tr, Y_tr, rng, None),
                progress=False,
                verbose=False,
            )
        ref_losses = [v for v in result.history.loss if np.isfinite(v)]
        if ref_losses:
            out["capacity"] = {
                "hidden_layer_sizes": hidden,
                "loss": float(losses[-1]),
                "reference_hidden_layer_sizes": list(wide),
                "reference_loss": float(ref_losses[-1]),
                "chance_loss": float(chance),
            }
    return out
