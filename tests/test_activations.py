"""Each activation's derivative, written through its output, matches finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from lossdoctor.activations import ACTIVATIONS, get_activation


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_derivative_from_output_matches_finite_differences(
    name: str, rng: np.random.Generator
) -> None:
    act = get_activation(name)
    z = rng.normal(scale=2.0, size=200)
    z = z[np.abs(z) > 1e-3]  # keep away from the ReLU kink, where no derivative exists
    a = act.forward(z.copy(), np.empty_like(z))
    h = 1e-6
    num = (act.forward(z + h, np.empty_like(z)) - act.forward(z - h, np.empty_like(z))) / (2 * h)
    ana = act.grad_from_output(a, np.ones_like(z))
    assert np.linalg.norm(ana - num) / np.linalg.norm(num) < 1e-7


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_second_derivative_from_output_matches_finite_differences(
    name: str, rng: np.random.Generator
) -> None:
    # f''(z) against central differences of f'(z), both written through a = f(z).
    act = get_activation(name)
    z = rng.normal(scale=2.0, size=200)
    z = z[np.abs(z) > 1e-3]  # keep away from the ReLU kink

    def first(zz: np.ndarray) -> np.ndarray:
        return act.grad_from_output(act.forward(zz.copy(), np.empty_like(zz)), np.ones_like(zz))

    h = 1e-6
    num = (first(z + h) - first(z - h)) / (2 * h)
    ana = act.second_from_output(act.forward(z.copy(), np.empty_like(z)))
    assert ana.shape == z.shape and ana.dtype == np.float64
    if not num.any():  # piecewise linear: no curvature away from the kink
        assert not ana.any()
    else:
        assert np.linalg.norm(ana - num) / np.linalg.norm(num) < 1e-7


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_keeps_dtype_and_is_finite(name: str, dtype: type) -> None:
    act = get_activation(name)
    z = np.array([-1e30, -50.0, 0.0, 50.0, 1e30], dtype=dtype)
    with np.errstate(over="raise", invalid="raise"):
        a = act.forward(z.copy(), np.empty_like(z))
        d = act.grad_from_output(a, np.ones_like(z))
    assert a.dtype == dtype and d.dtype == dtype
    assert np.isfinite(a).all() and np.isfinite(d).all()


def test_forward_in_place_equals_out_of_place(rng: np.random.Generator) -> None:
    z = rng.normal(size=(5, 4))
    for act in ACTIVATIONS.values():
        expected = act.forward(z.copy(), np.empty_like(z))
        w = z.copy()
        np.testing.assert_array_equal(act.forward(w, w), expected)


def test_unknown_activation_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"'swish'.*tanh"):
        get_activation("swish")


def test_float64_tanh_matches_numpy_everywhere():
    # The float64 tanh is computed through exp; it must stay within a few ulp of 1 of np.tanh,
    # and be exact at the ends, at zero and for non-finite input, without a warning.
    rng = np.random.default_rng()
    z = np.concatenate(
        [
            rng.standard_normal(10_000) * 3,
            rng.uniform(-40, 40, 10_000),
            10.0 ** rng.uniform(-320, 308, 2_000) * rng.choice([-1, 1], 2_000),
            [0.0, -0.0, 5e-324, 19.0, 20.0, 1e308, -1e308, np.inf, -np.inf],
        ]
    )
    act = get_activation("tanh")
    a = act.forward(z.copy(), np.empty_like(z))
    assert np.max(np.abs(a - np.tanh(z))) <= 4e-16
    assert np.all(np.abs(a) <= 1)
    assert list(a[-4:]) == [1, -1, 1, -1]
    nan = act.forward(np.array([np.nan]), np.empty(1))
    assert np.isnan(nan[0])
    # sigmoid goes through the same tanh.
    s = get_activation("sigmoid").forward(z.copy(), np.empty_like(z))
    assert np.max(np.abs(s - 0.5 * (1 + np.tanh(z / 2)))) <= 4e-16


def test_float32_tanh_within_two_ulp_of_one():
    rng = np.random.default_rng()
    z = np.concatenate([rng.standard_normal(20_000) * 3, [0, 1e-40, 50, -50, 3e38, -3e38]])
    z32 = z.astype(np.float32)
    a = get_activation("tanh").forward(z32.copy(), np.empty_like(z32))
    assert a.dtype == np.float32
    assert np.max(np.abs(a - np.tanh(z32.astype(np.float64)))) <= 2.4e-7
    assert list(a[-4:]) == [1, -1, 1, -1]
