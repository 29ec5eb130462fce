"""check_gradients: the contract of the report, shapes and dtypes, hints, kinks, noise, restoring.

The hand-written networks in several styles, each with every planted fault, are exercised in
``test_gradcheck_styles.py``; this file tests the checker's own promises on small problems whose
true gradient is known in closed form.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from handwritten_nets import course_problem, functional_net

from lossdoctor.diagnostics.gradcheck import HINTS, GradientReport, TensorCheck, check_gradients


def least_squares(rng: np.random.Generator, dtype=np.float64, n_samples: int = 40):
    """Linear regression with a column-vector weight (5, 1) and a bias of shape (1,).

    Returns (loss, params, true_grads) with the exact gradient as a function.
    """
    X = rng.standard_normal((n_samples, 5)).astype(dtype)
    y = rng.standard_normal((n_samples, 1)).astype(dtype)
    params = {
        "w": rng.standard_normal((5, 1)).astype(dtype),
        "b": rng.standard_normal(1).astype(dtype),
    }

    def loss():
        r = X @ params["w"] + params["b"] - y
        return 0.5 * np.mean(r * r)

    def true_grads():
        r = X @ params["w"] + params["b"] - y
        return {"w": X.T @ r / n_samples, "b": np.sum(r, axis=0) / n_samples}

    return loss, params, true_grads


# ---- the report --------------------------------------------------------------------------------


def test_report_fields_order_table_and_json(rng: np.random.Generator) -> None:
    loss, params, grads = course_problem(rng, np.float64, "bias-sum-all")
    report = check_gradients(loss, params, grads, rng=rng)
    assert isinstance(report, GradientReport)
    assert all(isinstance(t, TensorCheck) for t in report.tensors)
    # backprop order: the reverse of the order of params
    assert [t.name for t in report.tensors] == list(reversed(list(params)))
    assert not report.ok
    assert [t.name for t in report.failing] == ["b1"]
    b1 = report["b1"]
    assert b1.shape == (6, 1) and b1.grad_shape == (1, 1)
    assert b1.problem == "shape-mismatch" and b1.hint == "wrong-reduction-axis"
    assert b1.hint in HINTS
    text = str(report)
    # the failing tensor is named first, with the hint in words, before the table
    assert text.splitlines()[1].strip().startswith("b1 [wrong-reduction-axis]")
    assert "summed over every axis" in text
    for name in params:
        assert any(line.startswith(name + " ") for line in text.splitlines())
    d = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert d["ok"] is False and d["failing"] == ["b1"]
    assert [t["name"] for t in d["tensors"]] == [t.name for t in report.tensors]
    assert json.loads(report.to_json())["n_evals"] == report.n_evals


def test_correct_gradient_passes_with_small_error(rng: np.random.Generator) -> None:
    loss, params, true_grads = least_squares(rng)
    report = check_gradients(loss, params, true_grads, rng=rng)
    assert report.ok and all(t.verdict == "pass" for t in report.tensors), str(report)
    assert max(t.rel_error for t in report.tensors) < 1e-7
    assert "OK" in str(report).splitlines()[0]


def test_exhaustive_rel_error_is_the_norm_based_relative_error(rng: np.random.Generator) -> None:
    # Perturb the true gradient by a known error E: the exhaustive check must report
    # |E| / max(|g|, |g + E|), not the largest element-wise ratio.
    loss, params, true_grads = least_squares(rng)
    g = true_grads()
    E = np.zeros_like(g["w"])
    E[2, 0] = 0.3 * np.linalg.norm(g["w"])
    report = check_gradients(loss, params, {"w": g["w"] + E, "b": g["b"]}, mode="exhaustive")
    expected = np.linalg.norm(E) / max(np.linalg.norm(g["w"]), np.linalg.norm(g["w"] + E))
    assert report["w"].rel_error == pytest.approx(expected, rel=1e-5)
    assert report["w"].max_abs_error_at == (2, 0)
    assert report["w"].max_abs_error == pytest.approx(E[2, 0], rel=1e-5)
    assert report["b"].verdict == "pass"


def test_fast_mode_estimates_the_relative_error(rng: np.random.Generator) -> None:
    # Random directions estimate the norm-based error; a factor of 3 either way is plenty to
    # separate 1e-9 (correct) from 1e-1 (wrong).
    W = rng.standard_normal((30, 40))
    params = {"W": W}

    def loss():
        return 0.5 * np.sum(params["W"] ** 2)

    E = 0.1 * rng.standard_normal(W.shape) * np.linalg.norm(W) / np.sqrt(W.size)
    report = check_gradients(loss, params, {"W": W + E}, rng=rng)
    expected = np.linalg.norm(E) / max(np.linalg.norm(W), np.linalg.norm(W + E))
    assert expected / 3 < report["W"].rel_error < 3 * expected
    assert report["W"].verdict == "fail"


def test_fast_mode_cost_is_a_few_dozen_evaluations_per_tensor(rng: np.random.Generator) -> None:
    loss, params, grads = functional_net(rng, np.float64)
    report = check_gradients(loss, params, grads, rng=rng, n_directions=6, n_coords=10)
    assert report.ok, str(report)
    for t in report.tensors:
        assert t.n_evals <= 2 * (6 + 10) + 2 * (t.n_kinks_resolved + t.n_kinks_excluded) * 2
    assert report.n_evals <= sum(t.n_evals for t in report.tensors) + 20


def test_same_rng_seed_gives_the_same_report(seed: int) -> None:
    reports = []
    for _ in range(2):
        loss, params, grads = course_problem(np.random.default_rng(seed), np.float32, "sign")
        reports.append(check_gradients(loss, params, grads, rng=seed).to_dict())
    assert reports[0] == reports[1]


# ---- shapes, dtypes and restoring ---------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_any_shape_and_dtype(rng: np.random.Generator, dtype) -> None:
    params = {
        "scalar": np.array(0.7, dtype=dtype),
        "vector": rng.standard_normal(7).astype(dtype),
        "column": rng.standard_normal((128, 1)).astype(dtype),
        "cube": rng.standard_normal((3, 4, 5)).astype(dtype),
        # a non-contiguous view into a larger array, as in a flat parameter vector
        "view": rng.standard_normal((6, 8)).astype(dtype)[:, ::2],
    }
    weights = {k: rng.standard_normal(v.shape) for k, v in params.items()}

    def loss():
        return sum(np.sum(weights[k] * np.tanh(v)) for k, v in params.items())

    def grads():
        return {k: weights[k] * (1 - np.tanh(v) ** 2) for k, v in params.items()}

    before = {k: v.copy() for k, v in params.items()}
    report = check_gradients(loss, params, grads, rng=rng)
    assert report.ok and all(t.verdict == "pass" for t in report.tensors), str(report)
    assert report.rtol == (1e-5 if dtype == np.float64 else 1e-2)
    for k in params:
        assert params[k].tobytes() == before[k].tobytes()
        assert params[k].dtype == dtype


def test_parameters_bit_identical_after_the_loss_raises_late(rng: np.random.Generator) -> None:
    loss, params, grads = functional_net(rng, np.float32, "sign")
    before = {k: v.copy() for k, v in params.items()}
    # let the check get well into perturbing a tensor, with retries pending
    calls = {"n": 0}

    def flaky():
        calls["n"] += 1
        if calls["n"] == 70:
            raise FloatingPointError("boom")
        return loss()

    with pytest.raises(FloatingPointError):
        check_gradients(flaky, params, grads, rng=rng)
    for k in params:
        assert params[k].tobytes() == before[k].tobytes()


def test_global_random_state_untouched(rng: np.random.Generator) -> None:
    state = np.random.get_state()[1].copy()  # noqa: NPY002 (the point of the test)
    loss, params, grads = course_problem(rng, np.float64)
    check_gradients(loss, params, grads)  # rng=None: fresh entropy, not the global generator
    assert np.array_equal(np.random.get_state()[1], state)  # noqa: NPY002


# ---- structural problems ------------------------------------------------------------------------


def test_transposed_shape_says_it_looks_transposed(rng: np.random.Generator) -> None:
    loss, params, true_grads = least_squares(rng)
    g = true_grads()
    report = check_gradients(loss, params, {"w": g["w"].T, "b": g["b"]}, rng=rng)
    w = report["w"]
    assert (w.verdict, w.problem, w.hint) == ("fail", "shape-mismatch", "transposed")
    assert "looks transposed" in w.message and "its transpose matches" in w.message


def test_shape_mismatch_missing_unused_and_non_finite(rng: np.random.Generator) -> None:
    loss, params, true_grads = least_squares(rng)
    g = true_grads()
    report = check_gradients(loss, params, {"w": np.zeros((3, 2)), "extra": g["b"]}, rng=rng)
    assert (report["w"].problem, report["w"].hint) == ("shape-mismatch", None)
    assert "shape (3, 2)" in report["w"].message
    assert report["b"].problem == "missing-gradient"
    assert report.unused_grads == ("extra",)
    g["w"][1, 0] = np.inf
    report = check_gradients(loss, params, g, rng=rng)
    assert report["w"].problem == "non-finite-gradient"
    assert "(1, 0)" in report["w"].message


def test_squeezed_bias_gradient_is_a_shape_mismatch_even_with_right_values(
    rng: np.random.Generator,
) -> None:
    # db of shape (5,) for b of shape (5, 1): b - lr * db would broadcast to (5, 5)
    params = {"b": rng.standard_normal((5, 1))}
    report = check_gradients(
        lambda: np.sum(params["b"] ** 3), params, {"b": 3 * params["b"].ravel() ** 2}, rng=rng
    )
    assert (report["b"].verdict, report["b"].problem) == ("fail", "shape-mismatch")
    assert "values match" in report["b"].message


# ---- hints --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_scale_sign_zero_hints(rng: np.random.Generator, dtype) -> None:
    loss, params, true_grads = least_squares(rng, dtype, n_samples=40)
    g = true_grads()
    for wrong, hint in [
        (40 * g["w"], "scale-mismatch"),  # the missing 1/m
        (-g["w"], "sign-flipped"),
        (np.zeros_like(g["w"]), "zero-gradient"),
    ]:
        report = check_gradients(loss, params, {"w": wrong, "b": g["b"]}, rng=rng)
        assert [t.name for t in report.failing] == ["w"], str(report)
        assert report["w"].hint == hint, str(report)
    report = check_gradients(loss, params, {"w": 40 * g["w"], "b": g["b"]}, rng=rng)
    assert report["w"].factor == pytest.approx(40, rel=1e-2)
    assert "division by 40" in report["w"].message


def test_reduction_axis_hint_for_every_way_of_writing_it(rng: np.random.Generator) -> None:
    # samples-by-features: Z = X @ W + b, the bias gradient sums over axis 0 (the samples)
    X = rng.standard_normal((30, 4))
    params = {"W": rng.standard_normal((4, 6)), "b": rng.standard_normal(6)}

    def loss():
        return np.mean(np.tanh(X @ params["W"] + params["b"]) ** 2) * 3

    def dZ():
        A = np.tanh(X @ params["W"] + params["b"])
        return 3 * 2 * A * (1 - A**2) / A.size

    right = {"W": X.T @ dZ(), "b": dZ().sum(axis=0)}
    assert check_gradients(loss, params, right, rng=rng).ok
    for db in (
        np.sum(dZ()),  # a scalar: summed over every axis
        np.sum(dZ(), keepdims=True),  # shape (1, 1)
        np.full(6, np.sum(dZ())),  # the right shape, constant
    ):
        report = check_gradients(loss, params, {"W": right["W"], "b": db}, rng=rng)
        assert [t.name for t in report.failing] == ["b"], str(report)
        assert report["b"].hint == "wrong-reduction-axis", str(report)
        assert "summed over every axis" in report["b"].message


def test_no_hint_rather_than_a_wrong_one(rng: np.random.Generator) -> None:
    loss, params, true_grads = least_squares(rng)
    g = true_grads()
    wrong = g["w"] + rng.standard_normal(g["w"].shape) * np.linalg.norm(g["w"])
    report = check_gradients(loss, params, {"w": wrong, "b": g["b"]}, rng=rng)
    assert report["w"].verdict == "fail" and report["w"].hint is None
    assert "no simple pattern" in report["w"].message


# ---- kinks and noise ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["fast", "exhaustive"])
def test_kink_at_the_perturbed_coordinate_is_excluded_and_said(mode: str) -> None:
    # max(a, b) with a == b: the analytic subgradient picks one side, a central difference
    # averages both sides. That is a kink, not a fault.
    params = {"v": np.array([1.0, 1.0, 0.2, -0.3, 0.5, 0.1, 0.0, 0.4, 0.3, -0.2, 0.6, 0.7])}

    def loss():
        v = params["v"]
        return max(v[0], v[1]) + 0.5 * np.sum(v[2:] ** 2)

    g = np.concatenate([[1.0, 0.0], params["v"][2:]])
    report = check_gradients(loss, params, {"v": g}, mode=mode, rng=0)
    v = report["v"]
    assert report.ok and v.verdict != "fail", str(report)
    assert v.n_kinks_excluded >= 1
    assert "kink" in str(report).lower()


def test_relu_network_with_many_kinks_passes(seed: int) -> None:
    loss, params, grads = functional_net(np.random.default_rng(seed), np.float32)
    report = check_gradients(loss, params, grads, rng=seed)
    assert report.ok, str(report)


def test_noisy_loss_is_measured_said_and_raises_no_false_alarm(rng: np.random.Generator) -> None:
    # A loss that loses digits (here rounded to 1e-11, like log(1 - p) for p near 1): finite
    # differences of a correct gradient would disagree at the float64 tolerance.
    loss, params, true_grads = least_squares(rng)

    def noisy():
        return np.round(loss(), 11)

    report = check_gradients(noisy, params, true_grads, rng=rng)
    assert report.ok, str(report)
    assert report.loss_noise > 100 * report.loss_resolution
    assert "The loss itself is noisy" in str(report)
    # and a real fault still fails; the noise may cost the hint, never earn a wrong one
    g = true_grads()
    report = check_gradients(noisy, params, {"w": -g["w"], "b": g["b"]}, rng=rng)
    assert report["w"].verdict == "fail" and report["w"].hint in ("sign-flipped", None)


# ---- input validation ---------------------------------------------------------------------------


def test_bad_input_raises_with_the_offending_value() -> None:
    params = {"w": np.ones(3)}
    grads = {"w": np.ones(3)}
    with pytest.raises(ValueError, match="'slow'"):
        check_gradients(lambda: 0.0, params, grads, mode="slow")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="int64"):
        check_gradients(lambda: 0.0, {"w": np.arange(3)}, grads)
    frozen = np.ones(3)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        check_gradients(lambda: 0.0, {"w": frozen}, grads)
    with pytest.raises(TypeError, match=r"shape \(3,\)"):
        check_gradients(lambda: params["w"] * 2, params, grads)
    with pytest.raises(ValueError, match="not finite"):
        check_gradients(lambda: np.nan, params, grads)
    # A step of NaN used to pass a wrong gradient; 0 divided by zero.
    for option, value in [("step", 0.0), ("step", np.nan), ("rtol", -1.0), ("rtol", np.inf)]:
        with pytest.raises(ValueError, match=f"{option} must be a positive finite number, got"):
            check_gradients(
                lambda: float(params["w"] @ params["w"]), params, grads, **{option: value}
            )
    assert np.array_equal(params["w"], np.ones(3))


def test_a_saturated_float32_loss_is_flagged_not_blamed_on_the_gradient() -> None:
    # A correct gradient of a float32 cross-entropy written as log(1 - p), with p rounding to 1
    # for one sample, fails the finite differences. The report must say that the loss's precision
    # may be at fault, and it must not invent a scale factor for the one-entry bias.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 5)).astype(np.float32)
    y = (rng.random(64) < 0.5).astype(np.float32)
    p = {"w": (3 * rng.normal(size=5)).astype(np.float32), "b": np.zeros(1, np.float32)}

    def prob() -> np.ndarray:
        return 1 / (1 + np.exp(-(X @ p["w"] + p["b"])))

    def loss() -> float:
        with np.errstate(divide="ignore"):
            return float(-np.mean(y * np.log(prob()) + (1 - y) * np.log(1 - prob())))

    def grads() -> dict[str, np.ndarray]:
        d = (prob() - y) / 64
        return {"w": X.T @ d, "b": np.array([d.sum()])}

    report = check_gradients(loss, p, grads, rng=0)
    text = str(report)
    if not report.ok:
        assert "low precision (eps 1.2e-07)" in text and "float64" in text
        assert report["b"].hint is None
    # In float64 the same gradient passes and the caveat is absent.
    p64 = {k: v.astype(np.float64) for k, v in p.items()}
    X64, y64 = X.astype(np.float64), y.astype(np.float64)

    def loss64() -> float:
        z = X64 @ p64["w"] + p64["b"]
        return float(np.mean(np.logaddexp(0, z) - y64 * z))

    def grads64() -> dict[str, np.ndarray]:
        d = (1 / (1 + np.exp(-(X64 @ p64["w"] + p64["b"]))) - y64) / 64
        return {"w": X64.T @ d, "b": np.array([d.sum()])}

    ok = check_gradients(loss64, p64, grads64, rng=0)
    assert ok.ok and "low precision" not in str(ok)
