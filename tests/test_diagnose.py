"""The doctor: checks, monitors, rules and ranking, and the three entry points."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from scipy.stats import chi2

from lossdoctor.data import builtin_dataset
from lossdoctor.diagnostics.diagnose import (
    CLASSIC_SETUP,
    diagnose,
    diagnose_fitted,
    diagnose_history,
)
from lossdoctor.diagnostics.evidence import chance_loss, data_evidence, init_evidence
from lossdoctor.diagnostics.findings import Finding
from lossdoctor.diagnostics.monitors import (
    MonitorCallback,
    TrainingMonitor,
    activation_stats,
    probe_epochs,
)
from lossdoctor.diagnostics.rules import CAUSES, PRIORITY, nice_lr, rank
from lossdoctor.network import Network, init_params
from lossdoctor.optimizers import sgd
from lossdoctor.report.terminal import format_plain, print_report, sparkline
from lossdoctor.training import fit


# -- checks ---------------------------------------------------------------------------------------
def test_data_evidence_counts_non_finite_constant_and_scale(rng: np.random.Generator) -> None:
    X = rng.standard_normal((200, 5))
    X[:, 1] = 7.0  # constant
    X[:, 2] = 1000 + 50 * X[:, 2]  # far from zero and large
    X[3, 0], X[4, 4] = np.nan, np.inf
    ev = data_evidence(X, rng.integers(0, 2, 200), task="classification")
    assert ev["n_non_finite_X"] == 2
    assert ev["non_finite_columns"] == [0, 4]
    assert ev["constant_features"] == [1]
    assert ev["max_rms_feature"] == 2
    assert 900 < ev["max_rms"] < 1100
    assert ev["max_abs_mean_feature"] == 2


def test_data_evidence_classes_and_targets(rng: np.random.Generator) -> None:
    X = rng.standard_normal((110, 3))
    y = np.array([0] * 100 + [1] * 10)
    ev = data_evidence(X, y, task="classification")
    assert ev["class_counts"] == {"0": 100, "1": 10}
    assert ev["imbalance_ratio"] == pytest.approx(10.0)
    ev = data_evidence(X, 300 + 20 * rng.standard_normal(110), task="regression")
    assert ev["y_rms"] > 250 and 10 < ev["y_std"] < 30


def test_init_evidence_measures_weights_against_their_activation(rng: np.random.Generator) -> None:
    net = Network((30, 64, 32, 1), "tanh", "binary")
    X = rng.standard_normal((100, 30))
    good = init_evidence(net, init_params(net, rng), X)
    # Each layer's spread is near its initialiser's, within what a draw of that many weights
    # gives (the 32 output weights reach 0.69 once in a thousand seeds; chi-squared at 1e-7).
    sizes = [a * b for a, b in zip(net.layer_sizes, net.layer_sizes[1:])]
    for la, size in zip(good["layers"], sizes, strict=True):
        low, high = (math.sqrt(chi2.ppf(q, size) / size) for q in (1e-7, 1 - 1e-7))
        assert low < la["std_ratio"] < high, (size, la["std_ratio"])
    naive = init_evidence(net, init_params(net, rng, init="normal"), X)
    # N(0, 1) against Glorot's sqrt(2 / (30 + 64)) = 0.146 for W1.
    assert naive["layers"][0]["std_ratio"] == pytest.approx(1 / math.sqrt(2 / 94), rel=0.1)
    positive = init_evidence(net, init_params(net, rng, init="uniform"), X)
    assert positive["layers"][0]["positive_share"] > 0.99


def test_init_evidence_uses_the_initialiser_actually_used(rng: np.random.Generator) -> None:
    # scikit-learn's draw for a narrow-input ReLU layer is Glorot's spread, 0.18 for 2 -> 128,
    # a sixth of He's 1.0: measured against He it looked 6x too small (a false alarm).
    net = Network((2, 128, 128, 16), "relu", "softmax")
    X = rng.standard_normal((100, 2))
    default = init_evidence(net, init_params(net, rng), X)
    assert default["reference"] == "sklearn_uniform"
    assert all(0.7 < la["std_ratio"] < 1.4 for la in default["layers"])
    he = init_evidence(net, init_params(net, rng, init="he_normal"), X, init="he_normal")
    assert all(0.7 < la["std_ratio"] < 1.4 for la in he["layers"])
    # A principled initialiser scaled up is still measured against its own scale-1 spread.
    big = init_evidence(
        net, init_params(net, rng, init="he_normal", init_scale=10), X, init="he_normal"
    )
    assert all(7 < la["std_ratio"] < 14 for la in big["layers"])


def test_chance_loss_is_the_entropy_of_the_prior() -> None:
    Y = np.array([[1.0], [0.0], [1.0], [0.0]])
    assert chance_loss("binary", Y) == pytest.approx(math.log(2))
    assert chance_loss("identity", np.array([[1.0], [3.0]])) == pytest.approx(0.5)


# -- monitors -------------------------------------------------------------------------------------
def test_activation_stats_counts_saturated_and_dead_units() -> None:
    A = np.array([[0.995, 0.1, -0.999, 0.0], [0.2, -0.3, -0.9999, 0.5]])
    assert activation_stats("tanh", A)["saturated"] == pytest.approx(3 / 8)
    R = np.array([[0.0, 1.0, 0.0], [0.0, 2.0, 3.0]])
    assert activation_stats("relu", R)["dead"] == pytest.approx(1 / 3)
    # Samples as columns (units x samples): unit 0 is dead.
    assert activation_stats("relu", R.T, samples_axis=1)["dead"] == pytest.approx(1 / 3)
    S = np.array([[0.999, 0.5], [0.001, 0.3]])
    assert activation_stats("sigmoid", S)["saturated"] == pytest.approx(0.5)


@pytest.mark.parametrize("epochs, n", [(100, 569), (3, 150), (1000, 100), (50, 10000)])
def test_probe_schedule_stays_within_budget(epochs: int, n: int) -> None:
    probe = min(n, 256)
    sched = probe_epochs(epochs, n, probe)
    assert sched[0] == 0 and sched[-1] == epochs
    assert len(sched) <= max(3, 0.05 * epochs * n / probe) + 1


def test_monitor_records_update_ratio_of_each_step(rng: np.random.Generator) -> None:
    X = rng.standard_normal((64, 4))
    Y = X @ rng.standard_normal((4, 1))
    net = Network((4, 8, 1), "tanh", "identity")
    params0 = init_params(net, rng)
    monitor = MonitorCallback(X, Y, epochs=5, n_samples=64, snapshots=3)
    result = fit(
        net, params0, X, Y, optimizer=sgd(0.05), epochs=5, n_iter_no_change=None,
        callbacks=[monitor],
    )  # fmt: skip
    s = monitor.series
    assert s["update_epoch"] == [1, 2, 3, 4, 5]
    assert s["epoch"][0] == 0 and s["epoch"][-1] == 5
    assert set(s["saturation"]) == {"A1"} and set(s["grad_norm"]) == set(params0)
    # Full batch: the last ratio is ||params5 - params4|| / ||params4||, and the snapshot at
    # epoch 5 is the returned parameters themselves.
    assert monitor.snapshots[5] is result.params
    W = result.params["W1"]
    assert s["weight_norm"]["W1"][-1] == pytest.approx(np.linalg.norm(W))
    first = np.linalg.norm(monitor.snapshots[0]["W2"])
    assert s["weight_norm"]["W2"][0] == pytest.approx(first)


def _classic_loop(X: np.ndarray, y: np.ndarray, lr: float, epochs: int, rng, monitor) -> None:
    """The network of the classic question, samples as columns, fed to a TrainingMonitor."""
    x, Y = X.T, y[None, :]
    W1, b1 = rng.random((128, x.shape[0])), np.zeros((128, 1))
    W2, b2 = rng.standard_normal((64, 128)), np.zeros((64, 1))
    W3, b3 = rng.standard_normal((1, 64)), np.zeros((1, 1))
    m = x.shape[1]
    for epoch in range(1, epochs + 1):
        A1 = np.tanh(W1 @ x + b1)
        A2 = np.tanh(W2 @ A1 + b2)
        A3 = 0.5 * (1 + np.tanh(0.5 * (W3 @ A2 + b3)))
        dZ3 = A3 - Y
        dW3, db3 = dZ3 @ A2.T / m, dZ3.sum(axis=1, keepdims=True) / m
        dZ2 = (W3.T @ dZ3) * (1 - A2**2)
        dW2, db2 = dZ2 @ A1.T / m, dZ2.sum(axis=1, keepdims=True) / m
        dZ1 = (W2.T @ dZ2) * (1 - A1**2)
        dW1, db1 = dZ1 @ x.T / m, dZ1.sum(axis=1, keepdims=True) / m
        p = np.clip(A3, 1e-12, 1 - 1e-12)
        loss = float(-np.mean(Y * np.log(p) + (1 - Y) * np.log(1 - p)))
        monitor.record(
            epoch=epoch,
            loss=loss,
            activations={"A1": A1, "A2": A2},
            grads={"W1": dW1, "W2": dW2, "W3": dW3},
            params={"W1": W1, "W2": W2, "W3": W3},
        )
        W1 -= lr * dW1
        b1 -= lr * db1
        W2 -= lr * dW2
        b2 -= lr * db2
        W3 -= lr * dW3
        b3 -= lr * db3


def test_training_monitor_diagnoses_the_classic_hand_written_loop(seed: int) -> None:
    data = builtin_dataset("breast_cancer")
    monitor = TrainingMonitor(samples_axis=1)
    with np.errstate(over="ignore"):
        _classic_loop(data.X, data.y, 1.0, 40, np.random.default_rng(seed), monitor)
    series = monitor.series
    assert series["saturation"]["A1"][0] > 0.9  # guessed tanh from values in [-1, 1]
    d = monitor.diagnose(lr=1.0, chance_loss=chance_loss("binary", data.y[:, None] * 1.0))
    assert "saturated-activations" in d.codes
    assert d.findings[0].severity == "error"
    assert "lr-too-high" in d.codes or "plateau" in d.codes


# -- rules ----------------------------------------------------------------------------------------
def test_nice_lr_rounds_down_to_1_2_5() -> None:
    assert [nice_lr(v) for v in (0.37, 0.245 / 2, 9.9, 1e-3, 0.0021)] == [
        0.2,
        0.1,
        5.0,
        1e-3,
        0.002,
    ]


def test_rank_puts_the_root_cause_before_its_symptoms() -> None:
    def f(code: str, severity: str = "warning") -> Finding:
        return Finding(code, severity, f"{code} found", {}, f"fix {code}")

    ranked = rank([f("plateau"), f("lr-too-high", "error"), f("saturated-activations"),
                   f("inputs-unscaled"), f("overfitting", "info")])  # fmt: skip
    assert [x.code for x in ranked] == [
        "inputs-unscaled",
        "saturated-activations",
        "plateau",
        "lr-too-high",
        "overfitting",
    ]
    by = {x.code: x for x in ranked}
    assert by["saturated-activations"].cause == "inputs-unscaled"
    assert by["plateau"].cause == "inputs-unscaled"  # through saturation, to the root
    assert "fix inputs-unscaled" in by["plateau"].fix
    assert by["lr-too-high"].cause is None


def test_causal_graph_is_acyclic_and_ranked_upstream_first() -> None:
    for cause, symptoms in CAUSES.items():
        for s in symptoms:
            assert PRIORITY.index(cause) < PRIORITY.index(s), (cause, s)


# -- diagnose_history ------------------------------------------------------------------------------
def test_diagnose_history_of_the_classic_oscillation() -> None:
    losses = [1.85, 15.1, 5.6, 8.3, 9.8, 0.79, 7.6, 10.3, 1.4, 11.5, 3.0, 9.0, 2.0, 12.0]
    d = diagnose_history(losses, lr=1.0)
    assert d.findings[0].code == "lr-too-high"
    assert "learning_rate_init=0.1" in d.findings[0].fix
    assert not d.healthy


@pytest.mark.parametrize(
    "losses", [[1, 2, 4, 8, 16, 32, 64, 128], [1.0, math.nan], [1.0, 0.5, 50.0, 0.4, 0.3]]
)
def test_diagnose_history_without_a_learning_rate(losses: list[float]) -> None:
    # lr is optional: the finding then names no rate (it raised a TypeError formatting None).
    d = diagnose_history(losses)
    assert d.codes[0] == "lr-too-high"
    assert d.findings[0].message.startswith("The learning rate is too high: ")
    assert d.findings[0].fix == "Lower the learning rate tenfold."


def test_diagnose_history_healthy_nan_plateau_and_overfitting() -> None:
    t = np.arange(100)
    d = diagnose_history(0.05 + 0.65 * np.exp(-t / 10), lr=0.1)
    assert d.healthy and d.findings == [] and d.summary.startswith("Healthy")
    assert "0.7" in d.summary  # the numbers that say so
    d = diagnose_history([0.7, 0.6, math.nan], lr=0.1)
    assert "non-finite-loss" in d.codes
    d = diagnose_history(np.full(50, math.log(2)), lr=0.1, chance_loss=math.log(2))
    assert d.codes == ["plateau"]
    train = 0.05 + 0.65 * np.exp(-t / 10)
    val = 0.3 + 0.002 * (t - 30) ** 2 / 10
    d = diagnose_history(train, val_losses=val, lr=0.1)
    assert d.codes == ["overfitting"]
    assert d.findings[0].evidence["best_val_epoch"] == 31


# -- diagnose -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def classic():
    data = builtin_dataset("breast_cancer")
    X = data.X.copy()
    d = diagnose(X, data.y, fix=True, **CLASSIC_SETUP)
    assert np.array_equal(X, data.X)  # the caller's array is untouched
    return d


def test_classic_names_unscaled_inputs_saturation_and_the_bound(classic) -> None:
    d = classic
    assert d.codes[0] == "inputs-unscaled"
    by = {f.code: f for f in d.findings}
    sat = by["saturated-activations"]
    assert sat.cause == "inputs-unscaled"
    assert sat.evidence["layers"]["A1"]["start"] > 0.9  # the first layer saturates at once
    lr = by["lr-too-high"]
    assert lr.evidence["ratio"] > 1 and lr.evidence["threshold"] < 1
    assert "learning_rate_init=" in lr.fix
    assert "init-scale" in d.codes
    assert d.summary.startswith("Root cause: inputs-unscaled")
    assert "saturated-activations" in d.summary


def test_classic_fix_makes_the_loss_fall_smoothly(classic) -> None:
    d = classic
    assert d.fix_params["scale_inputs"] == "standard"
    assert d.fix_params["init"] is None
    assert 0 < d.fix_params["learning_rate_init"] < 1
    fixed = d.fixed
    assert fixed is not None and fixed.healthy
    losses = np.array(fixed.history.loss)
    assert len(losses) == 100
    assert np.all(np.diff(losses) <= 1e-12)  # monotone: no oscillation left
    assert losses[-1] < 0.2 < losses[0]


def test_diagnosis_serialises_to_json(classic) -> None:
    out = json.loads(json.dumps(classic.to_dict()))
    assert {"code", "severity", "message", "evidence", "fix"} <= set(out["findings"][0])
    assert all(f["severity"] in ("info", "warning", "error") for f in out["findings"])
    assert out["fixed"]["healthy"] is True
    assert len(out["monitor"]["sharpness"]) == len(out["monitor"]["sharpness_epoch"]) >= 2


def test_terminal_report(classic) -> None:
    text = format_plain(classic)
    assert "1. [error] inputs-unscaled" in text
    assert "(caused by inputs-unscaled)" in text
    assert "findings that remain: none (healthy)" in text
    buf = io.StringIO()
    print_report(classic, buf)  # not a terminal: plain text
    assert buf.getvalue() == text
    assert sparkline([1.0, 10.0, math.nan]) == "▁█x"


def test_healthy_setup_gets_only_a_healthy_summary(seed: int) -> None:
    data = builtin_dataset("iris")
    X = (data.X - data.X.mean(axis=0)) / data.X.std(axis=0)
    d = diagnose(X, data.y, hidden_layer_sizes=(16,), activation="relu", solver="adam",
                 learning_rate_init=0.01, max_iter=60, random_state=seed, fix=True)  # fmt: skip
    assert d.healthy, d.codes
    assert d.summary.startswith("Healthy: the loss fell from")
    # --fix on a healthy run changes nothing and retrains nothing ("fix applied: " was empty).
    assert d.fix_params == {} and d.fixed is None
    assert "fix applied" not in format_plain(d)


def test_diagnose_regression_and_auto_task() -> None:
    data = builtin_dataset("diabetes")
    d = diagnose(data.X, data.y, hidden_layer_sizes=(8,), max_iter=20, learning_rate_init=0.01)
    assert d.setup["task"] == "regression"
    assert d.codes[0] == "targets-unscaled"


def test_fix_imputes_non_finite_data(rng: np.random.Generator) -> None:
    X = rng.standard_normal((150, 4))
    y = (X[:, 0] > 0).astype(int)
    X[rng.random(X.shape) < 0.05] = np.nan
    d = diagnose(X, y, hidden_layer_sizes=(8,), max_iter=20, fix=True)
    assert d.codes[0] == "data-non-finite"
    assert d.fix_params["impute_non_finite"] == "median"
    assert "data-non-finite" not in d.fixed.codes
    assert np.isfinite(d.fixed.history.loss).all() and len(d.fixed.history.loss) == 20


def test_diagnose_rejects_bad_arguments(rng: np.random.Generator) -> None:
    X, y = rng.standard_normal((20, 2)), np.arange(20) % 2
    with pytest.raises(ValueError, match="task"):
        diagnose(X, y, task="clustering")
    with pytest.raises(TypeError, match="unknown set-up parameter"):
        diagnose(X, y, hidden_units=3)
    with pytest.raises(ValueError, match="2-D"):
        diagnose(X[:, 0], y)
    with pytest.raises(ValueError, match="learning_rate_init"):
        diagnose(X, y, learning_rate_init=-1.0)


def test_estimator_diagnose_true_uses_the_fitted_model(seed: int) -> None:
    from lossdoctor import MLPClassifier, MLPRegressor

    data = builtin_dataset("breast_cancer")
    params = {**CLASSIC_SETUP, "max_iter": 15, "random_state": seed, "diagnose": True}
    clf = MLPClassifier(**params).fit(data.X, data.y)
    d = clf.diagnosis_
    assert d.codes[0] == "inputs-unscaled"
    assert "saturated-activations" in d.codes
    assert d.history is clf.history_
    X = (data.X - data.X.mean(axis=0)) / data.X.std(axis=0)
    reg = MLPRegressor((16,), solver="adam", learning_rate_init=0.01, max_iter=60,
                       n_iter_no_change=None, random_state=seed, diagnose=True)  # fmt: skip
    reg.fit(X, (data.y - data.y.mean()) / data.y.std())
    assert reg.diagnosis_.healthy, reg.diagnosis_.codes
    direct = diagnose_fitted(reg, X, ((data.y - data.y.mean()) / data.y.std())[:, None])
    assert direct.codes == reg.diagnosis_.codes


def test_diagnose_when_the_initial_sharpness_cannot_be_measured() -> None:
    # Uniform weights ten times too large saturate every unit: the Hessian at the initial weights
    # is then not measured, and the diagnosis goes on without that evidence.
    data = builtin_dataset("breast_cancer")
    setup = {**CLASSIC_SETUP, "init": "uniform", "init_scale": 10.0, "max_iter": 30}
    d = diagnose(data.X, data.y, **setup)
    assert d.codes[0] == "inputs-unscaled"
    assert "init-scale" in d.codes
    assert d.monitor["sharpness"] == []


def test_estimator_diagnose_true_on_weights_that_blew_up(rng: np.random.Generator) -> None:
    # lr 1e6 on inputs of size 100 overflows the weights; the diagnosis says so without a
    # RuntimeWarning (an error under this suite's filterwarnings).
    from lossdoctor import MLPClassifier

    X = rng.normal(size=(80, 4)) * 100
    y = (X[:, 0] > 0).astype(int)
    clf = MLPClassifier((8,), solver="gd", momentum=0.0, learning_rate_init=1e6, max_iter=20,
                        n_iter_no_change=None, random_state=0, diagnose=True)  # fmt: skip
    clf.fit(X, y)
    assert clf.diagnosis_.codes[0] == "inputs-unscaled"
    assert not clf.diagnosis_.healthy


def test_exploding_gradients_that_overflow_are_called_non_finite() -> None:
    # The rule fired on the non-finite probe but reported the finite ones alone: "from 343 to 343
    # (x1)".
    from lossdoctor.diagnostics.evidence import Evidence
    from lossdoctor.diagnostics.rules import detect

    monitor = {
        "epoch": [0, 10, 20],
        "grad_norm": {"W1": [300.0, 400.0, math.inf], "b1": [10.0, 20.0, math.nan]},
    }
    findings = [f for f in detect(Evidence(monitor=monitor)) if f.code == "exploding-gradients"]
    assert len(findings) == 1
    assert "to non-finite by epoch 20" in findings[0].message
    ev = findings[0].evidence
    assert ev["grad_norm_start"] == pytest.approx(math.hypot(300.0, 10.0), rel=1e-3)
    assert ev["grad_norm_max"] == pytest.approx(math.hypot(400.0, 20.0), rel=1e-3)


def test_training_monitor_with_weights_recorded_every_fifth_epoch(rng: np.random.Generator) -> None:
    # Gradients every epoch, weights every fifth: the series line up by epoch (IndexError before).
    Ws = {f"W{i}": rng.standard_normal((8, 8)) for i in (1, 2, 3)}
    m = TrainingMonitor(activation="tanh")
    for e in range(1, 21):
        grads = {k: v * 0.01 for k, v in Ws.items()}
        m.record(epoch=e, loss=0.7 * math.exp(-e / 10) + 0.05, grads=grads,
                 params=Ws if e % 5 == 0 else None)  # fmt: skip
    series = m.series
    assert all(len(v) == 20 for v in series["grad_norm"].values())
    assert all(len(v) == 20 for v in series["weight_norm"].values())
    assert math.isnan(series["weight_norm"]["W1"][0]) and not math.isnan(
        series["weight_norm"]["W1"][4]
    )
    assert m.diagnose(lr=0.01).healthy


def test_training_monitor_tells_relu_from_sigmoid_and_checks_its_arguments(
    rng: np.random.Generator,
) -> None:
    # ReLU outputs that happen to stay below 1 are not a saturated sigmoid.
    m = TrainingMonitor()
    W = rng.standard_normal((30, 16)) * 0.05
    for e in range(1, 31):
        A1 = np.maximum(rng.standard_normal((64, 30)) @ W, 0)
        m.record(epoch=e, loss=0.7 * math.exp(-e / 10) + 0.05, activations={"A1": A1})
    assert "saturated-activations" not in m.diagnose(lr=0.01).codes
    assert TrainingMonitor(activation="ReLU").activation == "relu"
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        TrainingMonitor(activation="swish")
    with pytest.raises(ValueError, match=r"samples_axis must be 0 .* got 5"):
        TrainingMonitor(samples_axis=5)
    # The cost of course code, shape (1, 1), is one number.
    m.record(epoch=31, loss=np.array([[0.5]]))
    assert m.losses[-1] == 0.5
    with pytest.raises(ValueError, match=r"loss must be a single number.*\(2,\)"):
        m.record(epoch=32, loss=np.array([0.5, 0.4]))
    with pytest.raises(ValueError, match=r"grads\['W1'\] is None"):
        m.record(epoch=32, loss=0.5, grads={"W1": None})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lr": 0.0}, "lr must be a positive finite number, got 0.0"),
        ({"lr": -1.0}, "lr must be a positive finite number, got -1.0"),
        ({"lr": math.inf}, "lr must be a positive finite number, got inf"),
        ({"lr": "0.1"}, "lr must be a positive finite number, got '0.1'"),
        ({"chance_loss": 0.0}, "chance_loss must be a positive finite number, got 0.0"),
        ({"chance_loss": math.nan}, "chance_loss must be a positive finite number, got nan"),
        ({"optimizer": "sgdx"}, "optimizer must be one of .* got 'sgdx'"),
        ({"activation": "swish"}, "unknown activation 'swish'"),
        ({"val_losses": [0.7, 0.6]}, r"val_losses must have one value per epoch like losses \(4\)"),
        ({"X": np.ones(5)}, r"X must be \(n_samples, n_features\).*\(5,\)"),
        ({"X": np.ones((5, 2)), "y": [0, 1]}, "different numbers of samples: 5 and 2"),
    ],
)
def test_diagnose_history_names_bad_arguments(kwargs: dict, match: str) -> None:
    # Each of these was accepted and gave a wrong or misleading diagnosis ("Healthy", "the
    # learning rate 0 is too high", "learning_rate_init=-0.1"), or raised from deep inside.
    with pytest.raises(ValueError, match=match):
        diagnose_history([0.7, 0.7, 0.7, 0.7], **kwargs)


def test_diagnose_history_refuses_negative_and_2d_losses() -> None:
    with pytest.raises(ValueError, match="non-negative, got -2 at epoch 2"):
        diagnose_history([1.0, -2.0, 3.0])
    with pytest.raises(ValueError, match=r"1-d\), got shape \(2, 2\)"):
        diagnose_history([[0.7, 0.6], [0.5, 0.4]])
