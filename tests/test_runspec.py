"""The run specification: one validation of estimator parameters, one place for each piece."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import numpy as np
import pytest

import lossdoctor
from lossdoctor import MLPClassifier, MLPRegressor
from lossdoctor.runspec import (
    CONSTRAINTS,
    DEFAULTS,
    TargetEncoding,
    fit_target_encoding,
    make_spec,
    start_run,
    train,
)

# A value that breaks each rule (the defaults keep every rule).
BAD_VALUES = {
    "activation": "swish",
    "solver": "lbfgs-ish",
    "learning_rate": "adaptive-ish",
    "init": "zeros-ish",
    "dtype": "float16",
    "learning_rate_init": 0.0,
    "alpha": -1.0,
    "init_scale": float("inf"),
    "tol": float("nan"),
    "epsilon": 0,
    "clip_norm": -2.0,
    "max_iter": 0,
    "momentum": 1.0,
    "beta_1": -0.1,
    "beta_2": 1.5,
    "validation_fraction": 1.0,
    "n_iter_no_change": 0,
    "batch_size": -5,
    "loss": "huber",
    "max_fun": 0,
}


def test_every_constraint_has_a_bad_value_here() -> None:
    assert {rule.name for rule in CONSTRAINTS} == set(BAD_VALUES)


@pytest.mark.parametrize("name", sorted(BAD_VALUES))
def test_a_bad_value_is_refused_by_name_and_value(name: str) -> None:
    value = BAD_VALUES[name]
    params = {name: value, "early_stopping": True}
    with pytest.raises(ValueError, match=name) as err:
        make_spec(params)
    assert repr(value) in str(err.value)
    # The estimators refuse it in the same words, at fit.
    X, y = np.zeros((20, 2)), np.arange(20) % 2
    with pytest.raises(ValueError, match=name):
        cls = MLPRegressor if name == "loss" else MLPClassifier  # loss is the regressor's
        cls(**{"max_iter": 1, **params}).fit(X, y)


def test_the_defaults_are_the_estimators_defaults() -> None:
    # The classifier has every parameter but the regressor's loss.
    assert MLPRegressor().get_params() == DEFAULTS
    assert MLPClassifier().get_params() == {k: v for k, v in DEFAULTS.items() if k != "loss"}
    assert make_spec({}).get_params() == {**DEFAULTS, "hidden_layer_sizes": (100,)}


def test_an_unknown_parameter_is_named() -> None:
    with pytest.raises(TypeError, match="'hidden_layers'"):
        make_spec({"hidden_layers": (3,)}, caller="diagnose")


@pytest.mark.parametrize(
    ("params", "kind"),
    [
        ({"solver": "adam", "beta_1": 0.8}, ("adam", 0.8, False)),
        ({"solver": "gd", "momentum": 0.0}, ("gd", 0.0, False)),
        ({"solver": "sgd", "momentum": 0.5, "nesterovs_momentum": False}, ("momentum", 0.5, False)),
        ({"solver": "sgd", "momentum": 0.5}, ("nesterov", 0.5, True)),
    ],
)
def test_the_optimizer_kind_is_derived_once(params: dict, kind: tuple) -> None:
    assert tuple(make_spec(params).optimizer_kind) == kind


def test_hidden_sizes_accept_an_int_and_refuse_a_non_positive_size() -> None:
    assert make_spec({"hidden_layer_sizes": 7}).hidden_layer_sizes == (7,)
    with pytest.raises(ValueError, match="positive integers, got -3"):
        make_spec({"hidden_layer_sizes": (4, -3)})


def test_target_encoding_of_each_kind() -> None:
    enc = fit_target_encoding("classification", np.array(["a", "b", "a"]))
    assert (enc.head, enc.multilabel) == ("binary", False)
    np.testing.assert_array_equal(enc.encode(np.array(["b", "a"])), [[1.0], [0.0]])
    enc = fit_target_encoding("classification", np.array([2, 0, 1, 2]))
    assert enc.head == "softmax"
    np.testing.assert_array_equal(enc.encode(np.array([1])), [[0.0, 1.0, 0.0]])
    with pytest.raises(ValueError, match="not seen in the first fit: \\[7\\]"):
        enc.encode(np.array([7]))
    enc = fit_target_encoding("classification", np.array([[0, 1], [1, 1]]))
    assert (enc.head, enc.multilabel) == ("binary", True)
    enc = fit_target_encoding("regression", np.arange(4.0))
    assert enc == TargetEncoding("identity", None, False, 1)
    assert enc.encode(np.arange(3.0)).shape == (3, 1)
    with pytest.raises(ValueError, match="only one class"):
        fit_target_encoding("classification", np.zeros(5))


def test_a_run_started_and_trained_here_is_the_estimators_run() -> None:
    rng = np.random.default_rng()
    X, y = rng.normal(size=(60, 3)), rng.integers(0, 3, 60)
    params = {
        "hidden_layer_sizes": (5,),
        "max_iter": 4,
        "random_state": int(rng.integers(1000)),
        "early_stopping": True,
        "n_iter_no_change": None,
        "batch_size": 16,
    }
    spec = make_spec(params)
    enc = fit_target_encoding("classification", y)
    # scikit-learn stratifies the split of a binary classifier only: not these three classes.
    run = start_run(spec, X, enc.encode(y), enc.head)
    assert run.validation is not None and run.validation[0].shape[0] == 6
    result = train(spec, run)
    clf = MLPClassifier(**params).fit(X, y)
    assert clf.history_.loss == result.history.loss
    for key, value in result.params.items():
        np.testing.assert_array_equal(value, clf.params_[key])


def _private_estimator_methods() -> set[str]:
    names: set[str] = set()
    for cls in (MLPClassifier, MLPRegressor):
        for name, _ in inspect.getmembers(cls, inspect.isfunction):
            if name.startswith("_") and not name.startswith("__"):
                names.add(name)
    return names


def test_no_module_outside_the_estimators_calls_their_private_methods() -> None:
    private = _private_estimator_methods()
    root = Path(lossdoctor.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        if path.name == "estimators.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in private
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
            ):
                offenders.append(f"{path.relative_to(root)}:{node.lineno} .{node.attr}")
    assert offenders == []
