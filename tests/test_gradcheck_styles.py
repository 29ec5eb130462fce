"""check_gradients on hand-written networks in several styles, each correct and with faults."""

from __future__ import annotations

import json

import numpy as np
import pytest
from handwritten_nets import (
    COURSE_TARGETS,
    FAULTS,
    FUNCTIONAL_TARGETS,
    LAYER_TARGETS,
    course_problem,
    functional_net,
    layer_problem,
)

from lossdoctor import check_gradients

STYLES = {
    "features-by-samples object attributes": (course_problem, COURSE_TARGETS),
    "samples-by-features functional dict": (functional_net, FUNCTIONAL_TARGETS),
    "samples-by-features layer objects": (layer_problem, LAYER_TARGETS),
}


CASES = [
    (style, fault) for style in sorted(STYLES) for fault in FAULTS if fault in STYLES[style][1]
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("style", "fault"), CASES, ids=[f"{s}-{f}" for s, f in CASES])
def test_fault_is_flagged_on_the_right_tensors_with_the_right_hint(
    style: str, fault, dtype: type, seed: int
) -> None:
    build, targets = STYLES[style]
    expected_tensors, expected_hint = targets[fault]
    loss, params, grads = build(np.random.default_rng(seed), dtype, fault)
    before = {k: v.copy() for k, v in params.items()}
    report = check_gradients(loss, params, grads, rng=np.random.default_rng(seed))

    failed = {t.name for t in report.tensors if t.verdict == "fail"}
    assert failed == set(expected_tensors), str(report)
    assert report.ok == (fault is None)
    if expected_hint is not None:
        hints = {t.hint for t in report.tensors if t.verdict == "fail"}
        assert hints == {expected_hint}, str(report)
    # the live arrays are bit-identical afterwards
    for k in params:
        assert params[k].tobytes() == before[k].tobytes()
    if failed:  # failing tensors are named first, above the table, with the hint in words
        first_line = str(report).splitlines()[1].strip()
        assert any(first_line.startswith(name) for name in failed), str(report)
    json.dumps(report.to_dict())


def test_parameters_restored_when_the_loss_raises(rng: np.random.Generator) -> None:
    loss, params, grads = course_problem(rng, np.float64)
    before = {k: v.copy() for k, v in params.items()}
    calls = {"n": 0}

    def flaky():
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("user code failed mid-check")
        return loss()

    with pytest.raises(RuntimeError, match="mid-check"):
        check_gradients(flaky, params, grads, rng=rng)
    for k in params:
        assert params[k].tobytes() == before[k].tobytes()


def test_missing_and_non_finite_gradients_are_reported(rng: np.random.Generator) -> None:
    loss, params, grads = course_problem(rng, np.float64)
    g = grads()
    del g["W2"]
    g["b3"] = np.full_like(g["b3"], np.nan)
    report = check_gradients(loss, params, g, rng=rng)
    by_name = {t.name: t for t in report.tensors}
    assert not report.ok
    assert (by_name["W2"].verdict, by_name["W2"].problem) == ("fail", "missing-gradient")
    assert (by_name["b3"].verdict, by_name["b3"].problem) == ("fail", "non-finite-gradient")
    assert "no gradient given for W2" in str(report)


def test_exhaustive_mode_checks_every_coordinate(rng: np.random.Generator) -> None:
    loss, params, grads = course_problem(rng, np.float64, "bias-sum-all")
    report = check_gradients(loss, params, grads, mode="exhaustive", rng=rng)
    assert {t.name for t in report.tensors if t.verdict == "fail"} == {"b1"}
    n_coords = sum(p.size for p in params.values())
    assert report.n_evals >= 2 * n_coords


def test_relu_kinks_raise_no_false_alarm() -> None:
    # A ReLU unit with its input exactly at 0 for one sample: finite differences across the kink
    # disagree with the (sub)gradient; the checker must notice and not call it a fault.
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = np.array([1.0, 0.0, 1.0])
    params = {"w": np.array([1.0, -1.0]), "v": np.array(2.0)}

    def loss():
        h = np.maximum(X @ params["w"], 0.0)  # the third sample sits exactly on the kink
        return float(np.mean((params["v"] * h - y) ** 2))

    def grads():
        z = X @ params["w"]
        h = np.maximum(z, 0.0)
        r = 2 * (params["v"] * h - y) / len(y)
        return {"w": X.T @ (r * params["v"] * (z > 0)), "v": np.array(np.sum(r * h))}

    report = check_gradients(loss, params, grads, mode="exhaustive")
    assert report.ok, str(report)
