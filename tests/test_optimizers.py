"""Every optimiser on a parabola and on Rosenbrock, in every dtype (as optax's alias_test)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lossdoctor import schedules
from lossdoctor.optimizers import adam, apply_updates, clip_by_global_norm, global_norm, sgd

OPTIMIZERS = {
    "gd": lambda: sgd(0.1),
    "momentum": lambda: sgd(0.02, momentum=0.9),
    "nesterov": lambda: sgd(0.02, momentum=0.9, nesterov=True),
    "adam": lambda: adam(0.05),
    "gd_cosine": lambda: sgd(schedules.cosine_decay(0.1, 500, 0.01)),
    "adam_warmup": lambda: adam(schedules.linear_warmup(0.05, 20)),
}


def _parabola(p):
    w = p["w"]
    return float(np.sum((w - 1) ** 2)), {"w": 2 * (w - 1)}


def _rosenbrock(p):
    x, y = p["w"][0], p["w"][1]
    value = (1 - x) ** 2 + 100 * (y - x**2) ** 2
    grad = np.array([-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)], dtype=p["w"].dtype)
    return float(value), {"w": grad}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("problem", ["parabola", "rosenbrock"])
def test_optimizer_finds_the_minimum(name: str, dtype: type, problem: str) -> None:
    opt = OPTIMIZERS[name]()
    f, steps, tol = (_parabola, 500, 1e-3) if problem == "parabola" else (_rosenbrock, 8000, 5e-2)
    if problem == "rosenbrock":
        # Rosenbrock's curvature near (1, 1) is ~1000, so gradient descent needs a small step.
        opt = {"gd": sgd(1e-3), "momentum": sgd(2e-4, 0.9), "nesterov": sgd(2e-4, 0.9, True)}.get(
            name, opt
        )
        if name == "gd_cosine":
            opt = sgd(schedules.cosine_decay(1.5e-3, steps, 1e-3))
    params = {"w": np.array([-1.0, 1.5], dtype=dtype)}
    state = opt.init(params)
    for _ in range(steps):
        _, grads = f(params)
        updates, state = opt.update(grads, state, params)
        params = apply_updates(params, updates)
    assert params["w"].dtype == dtype
    np.testing.assert_allclose(params["w"], [1.0, 1.0], atol=tol)


def test_gd_step_by_hand() -> None:
    # w = [1, -2], grad = [2, -4], lr = 0.1  ->  w' = [0.8, -1.6]
    opt = sgd(0.1)
    params = {"w": np.array([1.0, -2.0])}
    updates, state = opt.update({"w": np.array([2.0, -4.0])}, opt.init(params), params)
    np.testing.assert_allclose(apply_updates(params, updates)["w"], [0.8, -1.6])
    assert state.step == 1


def test_momentum_steps_by_hand() -> None:
    # v1 = -lr g = -0.1; v2 = 0.9 v1 - lr g = -0.19 (heavy ball); Nesterov adds 0.9 v - lr g.
    g = {"w": np.array([1.0])}
    p = {"w": np.array([0.0])}
    heavy, nest = sgd(0.1, momentum=0.9), sgd(0.1, momentum=0.9, nesterov=True)
    sh, sn = heavy.init(p), nest.init(p)
    u1, sh = heavy.update(g, sh, p)
    u2, sh = heavy.update(g, sh, p)
    np.testing.assert_allclose([u1["w"][0], u2["w"][0]], [-0.1, -0.19])
    n1, sn = nest.update(g, sn, p)
    np.testing.assert_allclose(n1["w"][0], 0.9 * -0.1 - 0.1)


def test_adam_first_step_is_lr_times_sign() -> None:
    opt = adam(0.01)
    p = {"w": np.zeros(3)}
    updates, state = opt.update({"w": np.array([3.0, -0.1, 50.0])}, opt.init(p), p)
    np.testing.assert_allclose(updates["w"], [-0.01, 0.01, -0.01], rtol=1e-4)
    assert state.step == 1


def test_update_never_mutates_inputs() -> None:
    p = {"w": np.array([1.0, 2.0])}
    g = {"w": np.array([0.5, -0.5])}
    for make in OPTIMIZERS.values():
        opt = make()
        state = opt.init(p)
        snapshot = [p["w"].copy(), g["w"].copy()]
        for _ in range(3):
            updates, state = opt.update(g, state, p)
            apply_updates(p, updates)
        np.testing.assert_array_equal(p["w"], snapshot[0])
        np.testing.assert_array_equal(g["w"], snapshot[1])


def test_clip_by_global_norm() -> None:
    g = {"a": np.array([3.0]), "b": np.array([4.0])}
    clipped, norm = clip_by_global_norm(g, 1.0)
    assert norm == 5.0
    assert global_norm(clipped) == pytest.approx(1.0)
    same, _ = clip_by_global_norm(g, 10.0)
    assert same is g


def test_schedules() -> None:
    assert schedules.value_at(0.3, 100) == 0.3
    assert schedules.step_decay(1.0, 10, 0.5)(25) == 0.25
    assert schedules.exponential_decay(2.0, 0.5)(3) == 0.25
    assert schedules.inverse_scaling(1.0, 0.5)(3) == 0.5
    cos = schedules.cosine_decay(1.0, 100, 0.1)
    assert cos(0) == 1.0 and cos(100) == pytest.approx(0.1) and cos(50) == pytest.approx(0.55)
    warm = schedules.linear_warmup(1.0, 4, schedules.constant(0.5))
    assert [warm(t) for t in range(6)] == [0.25, 0.5, 0.75, 1.0, 0.5, 0.5]
    assert math.isclose(schedules.constant(0.7)(10**6), 0.7)
