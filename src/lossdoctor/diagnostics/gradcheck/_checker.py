"""`check_gradients`: validate the input, then check each tensor with finite differences."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from ._differences import NOISE_ULPS, LossCounter, Prober
from ._probes import F64
from ._report import GradientReport, Mode, TensorCheck
from ._tensor import check_tensor


def check_gradients(
    loss: Callable[[], Any],
    params: Mapping[str, np.ndarray],
    grads: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
    *,
    mode: Mode = "fast",
    n_directions: int = 6,
    n_coords: int = 10,
    step: float | None = None,
    rtol: float | None = None,
    rng: np.random.Generator | int | None = None,
) -> GradientReport:
    """Compare analytic gradients with finite differences of the loss.

    Parameters
    ----------
    loss : callable
        Takes no arguments and returns the scalar loss, reading the arrays of `params` wherever
        the caller's code keeps them (``lambda: net.cost(X, y)`` or ``lambda: loss_fn(params)``).
    params : mapping of str to ndarray
        The live parameter arrays, of any shape and a floating dtype. They are perturbed in place
        and restored bit-exactly before returning, also when `loss` raises.
    grads : mapping of str to array_like, or callable returning one
        Analytic gradients at the unperturbed parameters, each meant to have its parameter's
        shape. A callable is called once, before anything is perturbed; the arrays are copied.
    mode : {"fast", "exhaustive"}, default "fast"
        "fast" probes each tensor along `n_directions` random directions and at `n_coords`
        coordinates, ``2 * (n_directions + n_coords)`` loss evaluations per tensor plus retries;
        tensors with at most ``n_directions + n_coords`` entries are probed at every coordinate.
        "exhaustive" probes every coordinate, two evaluations each.
    n_directions : int, default 6
        Random Gaussian directions per tensor in the fast mode.
    n_coords : int, default 10
        Coordinates per tensor in the fast mode: the largest analytic entry and random ones.
    step : float, optional
        Relative finite-difference step; the absolute step of a tensor is ``step`` times the root
        mean square of its entries (at least 1). Default ``eps ** (1/3)`` of the loss's precision
        (about 6e-6 in float64 and 5e-3 in float32), which balances curvature and rounding.
    rtol : float, optional
        Relative error above which a tensor fails (between `rtol` and ``10 * rtol`` it gets a
        warning). Default 1e-5 in float64 and 1e-2 in float32. Differences within the rounding
        noise of the loss are not counted.
    rng : numpy.random.Generator or int, optional
        Source of the random directions and coordinates.

    Returns
    -------
    GradientReport
        ``report.ok``, per tensor the relative error, largest absolute error, verdict and hint;
        ``str(report)`` is a table with the failing tensors explained first.

    Notes
    -----
    The precision used for the defaults is the coarsest of the parameters' dtypes and the dtype
    the loss returns. Hints (``report[name].hint``) are given only to failing tensors and only
    when an extra comparison confirms them: the transpose, the negation or a rescaling of the
    analytic gradient matches the numerical one, or the analytic gradient is constant along an
    axis where a finite difference shows the numerical one is not.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(20, 3)), rng.normal(size=20)
    >>> params = {"w": rng.normal(size=3)}
    >>> def loss():
    ...     return 0.5 * np.mean((X @ params["w"] - y) ** 2)
    >>> grads = {"w": X.T @ (X @ params["w"] - y)}  # forgot to divide by the 20 samples
    >>> report = check_gradients(loss, params, grads, rng=0)
    >>> report.ok, report["w"].hint, round(report["w"].factor)
    (False, 'scale-mismatch', 20)
    """
    _validate_options(mode, n_directions, n_coords, step, rtol)
    _validate_params(params)
    generator = np.random.default_rng(rng)
    analytic = _copy_gradients(grads)
    saved = {name: x.copy() for name, x in params.items()}
    counter = LossCounter(loss)
    try:
        f0 = _loss_at_start(counter)
        eps = _precision(counter, params)
        h_rel = eps ** (1 / 3) if step is None else float(step)
        tol = _default_rtol(eps) if rtol is None else float(rtol)
        prober = Prober(counter, f0, eps, h_rel, tol, generator, mode, n_directions, n_coords)
        noise = prober.measure_noise(params, saved)
        results = _check_each_tensor(prober, params, saved, analytic)
    finally:
        _restore(params, saved)
    return GradientReport(
        tensors=results,
        mode=mode,
        loss_noise=noise,
        loss_resolution=NOISE_ULPS * eps * abs(f0),
        precision=eps,
        rtol=tol,
        step=h_rel,
        loss_value=f0,
        n_evals=counter.n,
        unused_grads=tuple(k for k in analytic if k not in params),
    )


def _validate_options(
    mode: str, n_directions: int, n_coords: int, step: float | None, rtol: float | None
) -> None:
    if mode not in ("fast", "exhaustive"):
        raise ValueError(f"mode must be 'fast' or 'exhaustive', got {mode!r}")
    if n_directions < 1 or n_coords < 0:
        raise ValueError(
            f"need n_directions >= 1 and n_coords >= 0, got {n_directions} and {n_coords}"
        )
    for option, value in (("step", step), ("rtol", rtol)):
        # ``not value > 0`` is also true for NaN, which would pass every gradient.
        if value is not None and not (value > 0 and math.isfinite(value)):
            raise ValueError(f"{option} must be a positive finite number, got {value!r}")


def _validate_params(params: Mapping[str, np.ndarray]) -> None:
    for name, x in params.items():
        if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
            raise TypeError(
                f"params[{name!r}] must be a floating ndarray, got {type(x).__name__}"
                + (f" of dtype {x.dtype}" if isinstance(x, np.ndarray) else "")
            )
        if not x.flags.writeable:
            raise ValueError(f"params[{name!r}] is read-only; check_gradients perturbs it in place")


def _copy_gradients(
    grads: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
) -> dict[str, F64]:
    """Call `grads` if it is callable and copy the arrays to float64, before anything is
    perturbed: the loss may overwrite the arrays they came from."""
    raw = grads() if callable(grads) else grads
    return {k: np.array(v, dtype=np.float64, copy=True) for k, v in raw.items()}


def _loss_at_start(counter: LossCounter) -> float:
    f0 = counter()
    if not math.isfinite(f0):
        raise ValueError(f"the loss is not finite at the unperturbed parameters: {f0}")
    return f0


def _precision(counter: LossCounter, params: Mapping[str, np.ndarray]) -> float:
    """Machine epsilon of the coarsest of the loss's value and the parameters."""
    return max([counter.eps, *(float(np.finfo(x.dtype).eps) for x in params.values())])


def _check_each_tensor(
    prober: Prober,
    params: Mapping[str, np.ndarray],
    saved: Mapping[str, np.ndarray],
    analytic: Mapping[str, F64],
) -> tuple[TensorCheck, ...]:
    """Check every parameter in backprop order (the reverse of `params`), counting evaluations."""
    results = []
    for name in reversed(list(params)):
        before = prober.counter.n
        check = check_tensor(prober, name, params[name], saved[name], analytic.get(name))
        results.append(replace(check, n_evals=prober.counter.n - before))
    return tuple(results)


def _restore(params: Mapping[str, np.ndarray], saved: Mapping[str, np.ndarray]) -> None:
    for name, x in params.items():
        np.copyto(x, saved[name])


def _default_rtol(eps: float) -> float:
    if eps <= 1e-15:  # float64 or finer
        # Correct code scores about 1e-9; saturated tanh or sigmoid units lose digits in
        # 1 - a**2 and log(1 - p), in the analytic gradient as much as in the loss, and can
        # reach 1e-5.
        return 1e-5
    if eps <= 1e-6:  # float32
        return 1e-2
    return 10.0 * math.sqrt(eps)  # float16: a rough check only
