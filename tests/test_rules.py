"""The rules table: every rule fires on evidence that shows its fault and stays quiet otherwise,
and every row's causes and fix name things that exist."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lossdoctor.diagnostics.evidence import Evidence
from lossdoctor.diagnostics.fix_plan import FixPlan, train_options
from lossdoctor.diagnostics.prepare import PREP_STEPS
from lossdoctor.diagnostics.ranking import rank_order
from lossdoctor.diagnostics.rules import CAUSES, PRIORITY, RULES, Planned, detect

_SCALED = {
    "max_rms": 1.0,
    "max_rms_feature": 0,
    "max_abs_mean": 0.1,
    "min_std": 0.5,
    "max_std": 2.0,
    "std_ratio": 4.0,
}
_STABLE = {"label": "stable", "sharpness": 4.0, "threshold": 0.5, "ratio": 0.4}
_FALLING = tuple(0.7 * 0.95**i for i in range(40))


def _layer(ratio: float, positive: float = 0.5) -> dict[str, float | str]:
    return {
        "name": "W1",
        "std": 0.1 * ratio,
        "mean": 0.0,
        "rms": 0.1 * ratio,
        "expected_std": 0.1,
        "std_ratio": ratio,
        "positive_share": positive,
    }


def _grads(first: float, growth: float = 1.0) -> dict[str, dict[str, list[float]]]:
    """Gradient norms of a three-layer network: first layer ``first``, the others 1."""
    return {"grad_norm": {"W1": [first, first], "W2": [1.0, growth], "W3": [1.0, 1.0]}}


# For each code: evidence that shows the fault (just past the threshold where there is one),
# and evidence just short of it.
_MISMATCH = {
    "output": "softmax",
    "loss": "binary_crossentropy",
    "expected_output": "sigmoid",
    "expected_loss": "binary_crossentropy",
    "target_min": 0.0,
    "target_max": 1.0,
    "out_of_range": 0.0,
    "problems": ["a softmax over one output unit is exactly 1 for every sample"],
    "zero_grad_share": 1.0,
}
_CAPACITY = {
    "hidden_layer_sizes": [1],
    "loss": 0.6,
    "reference_hidden_layer_sizes": [32],
    "reference_loss": 0.05,
    "chance_loss": 0.69,
}

CASES: dict[str, tuple[Evidence, Evidence]] = {
    "output-loss-mismatch": (Evidence(output=_MISMATCH), Evidence()),
    "zero-gradients": (
        Evidence(output=_MISMATCH),
        Evidence(output={**_MISMATCH, "zero_grad_share": 0.1}),
    ),
    "labels-scaled": (
        Evidence(output={**_MISMATCH, "output": "sigmoid", "target_max": 255.0}),
        Evidence(output={**_MISMATCH, "output": "sigmoid"}),
    ),
    "underfitting": (
        Evidence(fit={"capacity": _CAPACITY}),
        Evidence(fit={"capacity": {**_CAPACITY, "loss": 0.06}}),
    ),
    "predictions-collapsed": (
        Evidence(fit={"class_recall": {"0": 1.0, "1": 0.0}, "class_share": {"0": 0.81, "1": 0.19}}),
        Evidence(fit={"class_recall": {"0": 0.9, "1": 0.8}, "class_share": {"0": 0.81, "1": 0.19}}),
    ),
    "data-order": (
        Evidence(fit={"order": {"val_missing_classes": ["0", "1"], "val_classes": ["2"]}}),
        Evidence(fit={}),
    ),
    "data-non-finite": (
        Evidence(data={**_SCALED, "n_non_finite_X": 2, "non_finite_columns": [0, 3]}),
        Evidence(data={**_SCALED, "n_non_finite_X": 0, "n_non_finite_y": 0}),
    ),
    "inputs-unscaled": (
        Evidence(data={**_SCALED, "max_rms": 10.5, "max_std": 10.0}),
        Evidence(data={**_SCALED, "max_rms": 9.5, "std_ratio": 99.0}),
    ),
    "targets-unscaled": (
        Evidence(task="regression", data={"y_rms": 10.5, "y_mean": 10.0, "y_std": 3.0}),
        Evidence(task="regression", data={"y_rms": 9.5, "y_mean": 9.0, "y_std": 3.0}),
    ),
    "class-imbalance": (
        Evidence(
            task="classification",
            data={
                "class_counts": {"0": 100, "1": 10},
                "imbalance_ratio": 10.0,
                "minority_share": 10 / 110,
            },
        ),
        Evidence(
            task="classification",
            data={
                "class_counts": {"0": 90, "1": 10},
                "imbalance_ratio": 9.0,
                "minority_share": 0.1,
            },
        ),
    ),
    "constant-features": (
        Evidence(
            data={
                "n_features": 5,
                "n_constant_features": 1,
                "constant_features": [2],
                "constant_max_abs": 2019.0,  # a constant "year" column exported with the data
            }
        ),
        Evidence(data={"n_features": 5, "n_constant_features": 0, "constant_features": []}),
    ),
    "regularization-too-strong": (
        Evidence(
            fit={
                "penalty": {
                    "alpha": 10.0,
                    "penalty": 0.4,
                    "loss": 0.75,
                    "data_loss": 0.35,
                    "chance_loss": 0.69,
                }
            }
        ),
        Evidence(
            fit={
                "penalty": {
                    "alpha": 1.0,
                    "penalty": 0.3,
                    "loss": 0.75,
                    "data_loss": 0.45,
                    "chance_loss": 0.69,
                }
            }
        ),
    ),
    "edge-of-stability": (
        Evidence(
            learning_rate_init=1.0,
            chance_loss=0.69,
            lr={"label": "unstable", "sharpness": 4.4, "threshold": 0.45, "ratio": 2.2},
            losses=tuple(0.69 * 0.9**i for i in range(40)),
            curve_label="converging",
            n_epochs=40,
        ),
        Evidence(
            learning_rate_init=0.1,
            chance_loss=0.69,
            lr={"label": "stable", "sharpness": 4.4, "threshold": 0.45, "ratio": 0.22},
            losses=tuple(0.69 * 0.9**i for i in range(40)),
            curve_label="converging",
            n_epochs=40,
        ),
    ),
    "init-scale": (
        Evidence(activation="tanh", init={"layers": [_layer(3.5)]}),
        Evidence(activation="tanh", init={"layers": [_layer(2.5, positive=0.9)]}),
    ),
    "lr-too-high": (
        Evidence(
            learning_rate_init=1.0,
            lr={"label": "unstable", "sharpness": 40.0, "threshold": 0.05, "ratio": 20.0},
            losses=_FALLING,
        ),
        Evidence(learning_rate_init=0.2, lr=_STABLE, losses=_FALLING, curve_label="slow"),
    ),
    "lr-too-low": (
        Evidence(
            learning_rate_init=0.04,
            lr={**_STABLE, "ratio": 0.08},
            losses=_FALLING,
            curve_label="slow",
        ),
        Evidence(
            learning_rate_init=0.06,
            lr={**_STABLE, "ratio": 0.12},
            losses=_FALLING,
            curve_label="slow",
        ),
    ),
    "saturated-activations": (
        Evidence(activation="tanh", monitor={"saturation": {"h1": [0.5, 0.5, 0.1]}}),
        Evidence(activation="tanh", monitor={"saturation": {"h1": [0.45, 0.45, 0.9]}}),
    ),
    "dead-units": (
        Evidence(activation="relu", monitor={"dead": {"h1": [0.1, 0.4]}}),
        Evidence(activation="relu", monitor={"dead": {"h1": [0.1, 0.35]}}),
    ),
    "exploding-gradients": (
        # The global norm grows from sqrt(3) to about 2000 (x1155) and to 1500 (x866).
        Evidence(monitor=_grads(1.0, growth=2000.0)),
        Evidence(monitor=_grads(1.0, growth=1500.0)),
    ),
    "vanishing-gradients": (
        Evidence(monitor=_grads(5e-4)),
        Evidence(monitor=_grads(2e-3)),
    ),
    "non-finite-loss": (
        Evidence(losses=_FALLING[:5], n_epochs=5, stop_reason="non-finite"),
        Evidence(losses=_FALLING, n_epochs=40, stop_reason="max_iter", curve_label="slow"),
    ),
    "plateau": (
        Evidence(losses=(0.69,) * 40, n_epochs=40, curve_label="plateau", curve_message="flat"),
        Evidence(losses=_FALLING, n_epochs=40, curve_label="slow", curve_message="slow"),
    ),
    "overfitting": (
        Evidence(
            losses=_FALLING,
            # Lowest at epoch 10, then twice as high by the end, while the training loss falls.
            val_losses=tuple(0.5 - 0.02 * i if i < 10 else 0.3 + 0.02 * (i - 9) for i in range(40)),
        ),
        Evidence(losses=_FALLING, val_losses=tuple(1.1 * v for v in _FALLING)),
    ),
}


def test_every_rule_has_a_case() -> None:
    assert set(CASES) == {rule.code for rule in RULES}
    assert len(RULES) == len({rule.code for rule in RULES})


@pytest.mark.parametrize("rule", RULES, ids=[rule.code for rule in RULES])
def test_rule_fires_on_its_fault_and_not_without_it(rule) -> None:
    fires, quiet = CASES[rule.code]
    found = rule.detect(fires)
    assert found is not None, rule.code
    # edge-of-stability names a healthy behaviour: it is never more than an info.
    assert (
        found.severity == "info"
        if rule.code == "edge-of-stability"
        else found.severity
        in (
            "warning",
            "error",
        )
    )
    assert found.message and found.fix
    # Its row names the finding: detect() reports the code a user filters on.
    assert rule.code in [f.code for f in detect(fires)]
    assert rule.detect(quiet) is None, rule.code
    assert rule.code not in [f.code for f in detect(quiet)]


def test_non_finite_data_is_blamed_instead_of_the_learning_rate() -> None:
    fires, _ = CASES["lr-too-high"]
    nan_data = Evidence(
        learning_rate_init=fires.learning_rate_init,
        lr=fires.lr,
        losses=fires.losses,
        data={"n_non_finite_X": 1, "non_finite_columns": [0]},
    )
    assert [f.code for f in detect(nan_data)] == ["data-non-finite"]


def test_a_loss_spike_is_a_learning_rate_too_high_even_for_adam() -> None:
    ev = Evidence(optimizer="adam", learning_rate_init=0.1, losses=(1.0, 3.5, 0.5, 0.4))
    (finding,) = detect(ev)
    assert finding.code == "lr-too-high"
    assert finding.fix == "learning_rate_init=0.01 (a tenth of the current one)."


def test_causes_name_rows_and_rank_below_them() -> None:
    codes = [rule.code for rule in RULES]
    assert PRIORITY == tuple(codes)  # the table is written upstream first
    for cause, effects in CAUSES.items():
        for effect in effects:
            assert effect in codes
            assert PRIORITY.index(cause) < PRIORITY.index(effect)


def test_rank_order_moves_a_cause_above_its_effect_and_refuses_a_cycle() -> None:
    assert rank_order([("plateau", ()), ("lr", ("plateau",)), ("other", ())]) == (
        "lr",
        "plateau",
        "other",
    )
    with pytest.raises(ValueError, match="cycle"):
        rank_order([("a", ("b",)), ("b", ("a",))])


def test_fixes_are_estimator_parameters_setup_options_data_steps_and_train_options() -> None:
    import inspect

    from lossdoctor import MLPClassifier, diagnose
    from lossdoctor.cli import build_parser

    known = MLPClassifier().get_params()
    # Set-up options: keyword arguments of diagnose() that are not estimator parameters (the
    # user's output activation and loss, how validation samples are held out).
    signature = inspect.signature(diagnose).parameters
    setup_options = {
        name for name, p in signature.items() if p.kind is p.KEYWORD_ONLY and name not in known
    }
    assert {"output_activation", "loss", "split"} <= setup_options
    train = build_parser()._subparsers._group_actions[0].choices["train"]  # type: ignore[union-attr]
    options = {s for action in train._actions for s in action.option_strings}
    # A planned value as train would receive it: a learning rate, hidden-layer widths.
    planned = {
        "learning_rate_init": ["0.1"],
        "hidden_layer_sizes": ["32", "16"],
        "activation": ["tanh"],
        "alpha": ["0.001"],
    }
    for rule in RULES:
        assert set(rule.fix.params) <= set(known), rule.code
        assert set(rule.fix.setup) <= setup_options, rule.code
        assert not set(rule.fix.setup) & set(known), rule.code
        assert set(rule.fix.prep) <= set(PREP_STEPS), rule.code
        assert set(rule.fix.flags) <= options, rule.code
        argv = ["train"]
        for flag, value in rule.fix.flags.items():
            if isinstance(value, Planned):
                argv += [flag, *planned[value.name]]
            elif value is True:  # a switch
                argv.append(flag)
            elif value is not None:
                argv += [flag, value]
        build_parser().parse_args(argv)  # train accepts the values


def test_train_options_render_the_plan() -> None:
    plan = FixPlan(
        params={"init": None, "init_scale": 1.0, "clip_norm": 1.0, "learning_rate_init": 0.05},
        prep={"scale_inputs": "standard"},
        bound=0.1,
        roots=("inputs-unscaled", "init-scale", "lr-too-high", "exploding-gradients"),
    )
    assert train_options(plan) == {
        "--scale": "standard",
        "--init": None,
        "--init-scale": "1",
        "--lr": "0.05",
        "--clip-norm": "1",
    }


def test_overfitting_case_is_what_it_says() -> None:
    fires, _ = CASES["overfitting"]
    v = np.asarray(fires.val_losses)
    assert int(np.argmin(v)) == 9 and v[-1] > 1.5 * v.min()
    assert math.isclose(fires.losses[0], 0.7)
