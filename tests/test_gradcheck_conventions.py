"""check_gradients with no glue: names, containers, recognised styles, the line, honest verdicts.

The networks are written as their authors write them (``question_net.py``: the question that
started lossdoctor; ``course_styles.py``: CS231n, Nielsen, deeplearning.ai). Tests of correct code
take a fresh seed each run (the ``seed`` fixture); a planted fault must fail, or in float32 at
least be "unresolved", never pass.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from course_styles import (
    CS231N_TARGETS,
    DLAI_TARGETS,
    NIELSEN_TARGETS,
    cs231n_problem,
    dlai_problem,
    nielsen_problem,
)
from handwritten_nets import course_problem
from question_net import FNN

from lossdoctor.diagnostics.gradcheck import HINTS, check_gradients, check_gradients_of


def question_problem(rng: np.random.Generator, dtype, fixed: bool = False):
    """The asker's network initialised by its own fit (no epoch), on small data (30 x 64)."""
    x = (0.1 * rng.standard_normal((30, 64))).astype(dtype)
    y = (rng.random((1, 64)) < 0.5).astype(dtype)
    net = FNN(rng, fixed=fixed)
    net.fit(x, y, epochs=0, dtype=dtype)
    # The asker's initialisation saturates the sigmoid to exactly 1 in float32 (log(0) in the
    # asker's own loss); smaller output weights keep it finite.
    net.W2 *= dtype(0.1)
    net.W3 *= dtype(0.1)
    return net, x, y


# ---- the question -------------------------------------------------------------------------------


def test_the_question_is_checked_in_one_call_naming_the_line_and_the_fix(seed: int) -> None:
    net, x, y = question_problem(np.random.default_rng(seed), np.float64)
    report = check_gradients_of(net, x, y, rng=seed)
    assert [t.name for t in report.failing] == ["b1"], str(report)
    b1 = report["b1"]
    assert b1.hint == "wrong-reduction-axis"
    assert b1.source is not None and b1.source.file.endswith("question_net.py")
    assert b1.source.text == "self.db1 = np.sum(self.dZ1, keepdims=True) / m"
    assert b1.fix == "self.db1 = np.sum(self.dZ1, axis=1, keepdims=True) / m"
    text = str(report)
    assert f"line {b1.source.line}" in text and b1.fix in text
    d = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    b1_dict = next(t for t in d["tensors"] if t["name"] == "b1")
    assert b1_dict["source"]["line"] == b1.source.line and "axis=1" in b1_dict["fix"]
    assert "binary cross-entropy" in text  # the assumed loss is said


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_question_corrected_passes_and_the_fault_never_passes(seed: int, dtype) -> None:
    net, x, y = question_problem(np.random.default_rng(seed), dtype, fixed=True)
    report = check_gradients_of(net, x, y, rng=seed)
    assert report.ok, str(report)
    net, x, y = question_problem(np.random.default_rng(seed), dtype)
    report = check_gradients_of(net, x, y, rng=seed)
    assert report["b1"].verdict in ("fail", "unresolved") and not report.ok, str(report)


# ---- every recognised style ----------------------------------------------------------------------

STYLES = {
    "cs231n": (cs231n_problem, CS231N_TARGETS),
    "nielsen": (nielsen_problem, NIELSEN_TARGETS),
    "deeplearning.ai": (dlai_problem, DLAI_TARGETS),
}
CASES = [(style, fault) for style in STYLES for fault in STYLES[style][1]]


def run_style(style: str, fault, dtype, seed: int):
    build = STYLES[style][0]
    made = build(np.random.default_rng(seed), dtype, fault)
    if style == "deeplearning.ai":
        module, parameters, X, Y = made
        return check_gradients_of(module, X, Y, params=parameters, rng=seed)
    net, X, y = made
    return check_gradients_of(net, X, y, rng=seed)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("style", "fault"), CASES, ids=[f"{s}-{f}" for s, f in CASES])
def test_each_style_in_one_call(style: str, fault, dtype, seed: int) -> None:
    report = run_style(style, fault, dtype, seed)
    expected = set(STYLES[style][1][fault])
    if fault is None:
        assert report.ok, str(report)
        return
    flagged = {t.name for t in report.tensors if t.verdict in ("fail", "unresolved")}
    assert not report.ok and expected <= flagged, str(report)
    if dtype == np.float64:
        assert {t.name for t in report.failing} == expected, str(report)


def test_missing_regularisation_gets_its_coefficient_and_the_corrected_line(seed: int) -> None:
    net, X, y = cs231n_problem(np.random.default_rng(seed), np.float64, "regularisation")
    report = check_gradients_of(net, X, y, rng=seed)
    for name in ("W1", "W2"):
        t = report[name]
        assert t.hint == "missing-regularization", str(report)
        assert t.coefficient == pytest.approx(2 * net.reg, rel=1e-3)
        assert t.fix is not None and t.fix.endswith(f"+ 0.2 * {name}")


def test_softmax_bias_summed_over_every_axis_is_a_reduction_not_a_missing_gradient(
    seed: int,
) -> None:
    net, X, y = cs231n_problem(np.random.default_rng(seed), np.float64, "bias-sum-all")
    report = check_gradients_of(net, X, y, rng=seed)
    b2 = report["b2"]
    if np.any(net.loss(X, y)[1]["b2"] != 0):
        assert b2.hint == "reduction-sums-to-zero", str(report)
    else:
        # The planted sum rounded to exactly 0 (about 1 seed in 20): indistinguishable from a
        # missing gradient, so both causes are named.
        assert b2.hint == "zero-gradient" and "summed over every axis" in b2.message, str(report)
    assert "reduction-sums-to-zero" in HINTS


def test_an_unrecognised_network_says_what_was_found_and_what_to_pass() -> None:
    class Opaque:
        def __init__(self):
            self.kernel = np.ones(3)

        def run(self, x):
            return x

    with pytest.raises(TypeError, match=r"found arrays \['kernel'\].*check_gradients\(loss"):
        check_gradients_of(Opaque(), np.ones((3, 2)), np.ones(2))


# ---- names and containers ------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["d{}", "d_{}", "grad_{}", "{}_grad"])
def test_gradients_are_matched_by_the_usual_spellings(spelling: str, rng) -> None:
    loss, params, grads = course_problem(rng, np.float64, "sign")
    renamed = {spelling.format(k): v for k, v in grads().items()}
    report = check_gradients(loss, params, renamed, rng=rng)
    assert [t.name for t in report.failing] == ["W3"] and report.unused_grads == ()
    assert report["W3"].grad_name == spelling.format("W3")


def test_lists_tuples_and_nested_dicts_are_named_by_path(rng) -> None:
    net, x, y = nielsen_problem(rng, np.float64, "sign")
    nabla_b, nabla_w = net.backprop(x, y)
    report = check_gradients(
        lambda: 0.5 * np.sum((net.feedforward(x) - y) ** 2),
        {"weights": net.weights, "biases": tuple(net.biases)},
        {"weights": nabla_w, "biases": nabla_b},
        rng=rng,
    )
    assert [t.name for t in report.failing] == ["weights[0]"], str(report)
    nested = check_gradients(
        lambda: 0.5 * np.sum((net.feedforward(x) - y) ** 2),
        {"layer": {"W": net.weights, "b": net.biases}},
        {"layer": {"dW": nabla_w, "db": nabla_b}},
        rng=rng,
    )
    assert [t.name for t in nested.failing] == ["layer.W[0]"], str(nested)


# ---- honest verdicts -----------------------------------------------------------------------------


def test_float32_weights_with_a_float64_loss_are_checked_at_float64(rng) -> None:
    # The case: the loss is computed in float64 (float64 data), so the precision is
    # float64's, and a sign-flipped gradient fails instead of passing at relative error 2.
    X = rng.standard_normal((50, 4))
    params = {"w": (1e-3 * rng.standard_normal(4)).astype(np.float32)}

    def loss():
        return 100.0 + 0.5 * np.mean((X @ params["w"]) ** 2)

    g = X.T @ (X @ params["w"]) / 50
    report = check_gradients(loss, params, {"w": -g}, rng=rng)
    assert report.precision == np.finfo(np.float64).eps
    assert report["w"].verdict == "fail" and report["w"].hint == "sign-flipped", str(report)


@pytest.mark.parametrize("factor", [-1.0, 3.0, 0.0])
def test_a_check_the_rounding_swamps_is_unresolved_never_a_pass(factor: float, rng) -> None:
    # A float32 loss of about 100 whose gradient moves it by less than its rounding over the
    # step: a sign-flipped, tripled or zero gradient cannot be told from the right one.
    X = rng.standard_normal((50, 4)).astype(np.float32)
    params = {"w": (1e-3 * rng.standard_normal(4)).astype(np.float32)}

    def loss():
        return np.float32(100.0) + np.float32(0.5) * np.mean((X @ params["w"]) ** 2)

    g = (X.T @ (X @ params["w"]) / 50).astype(np.float64)
    report = check_gradients(loss, params, {"w": factor * g}, rng=rng)
    assert report["w"].verdict in ("fail", "unresolved"), str(report)
    assert not report.ok
    if report["w"].verdict == "unresolved":
        assert "UNRESOLVED" in str(report).splitlines()[0] and "float64" in str(report)


def test_sparse_one_hot_inputs_get_no_hint_from_coordinates_zero_in_both(seed: int) -> None:
    # One-hot inputs: most rows of W get exactly zero gradient, numerically and analytically.
    # A missing regularisation term must not be read as a sign or a scale.
    rng = np.random.default_rng(seed)
    n, vocab, k = 40, 60, 3
    X = np.zeros((n, vocab))
    X[np.arange(n), rng.integers(0, 10, n)] = 1.0  # only the first 10 features occur
    y = rng.integers(0, k, n)
    params = {"W": rng.standard_normal((vocab, k))}
    lam = 0.05

    def probs():
        z = X @ params["W"]
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def loss():
        return -np.mean(np.log(probs()[np.arange(n), y])) + lam / 2 * np.sum(params["W"] ** 2)

    d = probs()
    d[np.arange(n), y] -= 1
    report = check_gradients(loss, params, {"W": X.T @ d / n}, rng=rng)  # lam * W left out
    assert report["W"].verdict == "fail"
    assert report["W"].hint in ("missing-regularization", None), str(report)


def test_the_example_shows_the_line_and_the_fix() -> None:
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "classic_question.py"
    spec = importlib.util.spec_from_file_location("classic_question_line", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["classic_question_line"] = module
    spec.loader.exec_module(module)
    text = str(module.check_asker_gradients(seed=4))
    assert "self.db1 = np.sum(self.dZ1, keepdims=True) / m" in text
    assert "corrected: self.db1 = np.sum(self.dZ1, axis=1, keepdims=True) / m" in text
