"""`check_gradients`: validate the input, then check each tensor with finite differences."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ._differences import NOISE_ULPS, LossCounter, Prober
from ._hints import whole_factor
from ._names import flatten, match_gradients
from ._probes import F64
from ._report import NOISY_LOSS, GradientReport, Mode, TensorCheck
from ._source import Assignment, choose, corrected, find_assignments, param_expression
from ._tensor import check_tensor


def check_gradients(
    loss: Callable[[], Any],
    params: Mapping[str, Any] | Sequence[Any],
    grads: Mapping[str, Any] | Sequence[Any] | Callable[[], Any],
    *,
    mode: Mode = "fast",
    n_directions: int = 6,
    n_coords: int = 10,
    step: float | None = None,
    rtol: float | None = None,
    rng: np.random.Generator | int | None = None,
    code: Any = None,
) -> GradientReport:
    """Compare analytic gradients with finite differences of the loss.

    Parameters
    ----------
    loss : callable
        Takes no arguments and returns the scalar loss, reading the arrays of `params` wherever
        the caller's code keeps them (``lambda: net.cost(X, y)`` or ``lambda: loss_fn(params)``).
    params : mapping of str to ndarray, or list, tuple or nested dict of ndarray
        The live parameter arrays, of any shape and a floating dtype. They are perturbed in place
        and restored bit-exactly before returning, also when `loss` raises. Nested containers
        are named by path: ``weights[0]``, ``layer1.W``.
    grads : mapping, list, tuple or nested dict of array_like, or callable returning one
        Analytic gradients at the unperturbed parameters, each meant to have its parameter's
        shape, named like `params` or with the usual spellings of a gradient's name (``dW1``,
        ``d_W1``, ``grad_W1``, ``W1_grad`` for ``W1``). A callable is called once, before
        anything is perturbed; the arrays are copied.
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
    code : function, method, object or module, optional
        Where the gradients are computed, to name the line that assigns each failing gradient.
        Default: `grads` when it is callable (the functions and objects it refers to are read).

    Returns
    -------
    GradientReport
        ``report.ok``, per tensor the relative error, largest absolute error, verdict and hint;
        ``str(report)`` is a table with the failing tensors explained first.

    Notes
    -----
    The precision used for the defaults is that of the dtype the loss is computed in: the dtype
    it returns, or float32 when it returns a Python float that is exactly a float32 number
    (``float(np.mean(...))`` of float32 arrays); the parameters' dtype only when the value cannot
    tell (a round number such as 0.5). A tensor that passes only because the loss's rounding at
    that precision could hide a wrong gradient is "unresolved", not passed.
    Hints (``report[name].hint``) are given only to failing tensors and only
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
    params = flatten(params)
    _validate_params(params)
    generator = np.random.default_rng(rng)
    analytic, grad_names, unused = _copy_gradients(grads, list(params))
    saved = {name: x.copy() for name, x in params.items()}
    counter = LossCounter(loss)
    try:
        f0 = _loss_at_start(counter)
        eps = _precision(counter, f0, params)
        settings = (generator, mode, n_directions, n_coords)
        prober = _prober(counter, f0, eps, step, rtol, *settings)
        noise = prober.measure_noise(params, saved)
        coarser = _precision_from_noise(eps, noise, f0, params)
        if coarser is not None:  # float32 arithmetic inside a loss returned as float64
            eps = coarser
            prober = _prober(counter, f0, eps, step, rtol, *settings)
            noise = prober.measure_noise(params, saved)
        h_rel, tol = prober.h_rel, prober.rtol
        results = _check_each_tensor(prober, params, saved, analytic)
    finally:
        _restore(params, saved)
    results = tuple(replace(t, grad_name=grad_names.get(t.name)) for t in results)
    results = _name_the_lines(results, code if code is not None else grads, grad_names)
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
        unused_grads=unused,
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
    grads: Mapping[str, Any] | Sequence[Any] | Callable[[], Any], param_names: list[str]
) -> tuple[dict[str, F64], dict[str, str], tuple[str, ...]]:
    """Call `grads` if it is callable and copy the arrays to float64, before anything is
    perturbed: the loss may overwrite the arrays they came from.

    Returns the gradients by parameter name, the gradient's own name where it differs, and the
    names of the gradients that belong to no parameter.
    """
    raw = flatten(grads() if callable(grads) else grads)
    matched, unused = match_gradients(param_names, raw)
    analytic = {p: np.array(raw[k], dtype=np.float64, copy=True) for p, k in matched.items()}
    return analytic, {p: k for p, k in matched.items() if k != p}, unused


def _loss_at_start(counter: LossCounter) -> float:
    f0 = counter()
    if not math.isfinite(f0):
        raise ValueError(f"the loss is not finite at the unperturbed parameters: {f0}")
    return f0


def _precision(counter: LossCounter, f0: float, params: Mapping[str, np.ndarray]) -> float:
    """Machine epsilon of the dtype the loss is computed in.

    That is the dtype it returns, unless its value is exactly a number of a coarser dtype: a
    float32 computation returned as a Python float is exactly a float32 number, which a float64
    computation is with a chance of 2**-29. A value that is exactly a float16 number too (0.5,
    3.0) cannot tell; then the coarsest of the parameters' dtypes and the returned one counts.
    """
    returned = counter.eps or float(np.finfo(np.float64).eps)
    coarsest_param = max(float(np.finfo(x.dtype).eps) for x in params.values())
    if float(np.float16(f0)) == f0:
        return max(returned, coarsest_param)
    eps32 = float(np.finfo(np.float32).eps)
    if returned < eps32 and float(np.float32(f0)) == f0:
        return eps32
    return returned


def _precision_from_noise(
    eps: float, noise: float, f0: float, params: Mapping[str, np.ndarray]
) -> float | None:
    """The parameters' coarser precision when the loss's measured noise is that of their dtype
    rather than of the dtype it returns (float32 arithmetic returned as float64), else None."""
    coarsest = max(float(np.finfo(x.dtype).eps) for x in params.values())
    scale = NOISE_ULPS * abs(f0)
    if coarsest > eps and NOISY_LOSS * eps * scale < noise <= NOISY_LOSS * coarsest * scale:
        return coarsest
    return None


def _prober(
    counter: LossCounter,
    f0: float,
    eps: float,
    step: float | None,
    rtol: float | None,
    rng: np.random.Generator,
    mode: Mode,
    n_directions: int,
    n_coords: int,
) -> Prober:
    """Finite differences with the step and tolerance of precision `eps` unless given."""
    h_rel = eps ** (1 / 3) if step is None else float(step)
    tol = _default_rtol(eps) if rtol is None else float(rtol)
    return Prober(counter, f0, eps, h_rel, tol, rng, mode, n_directions, n_coords)


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


_REDUCTIONS = ("wrong-reduction-axis", "reduction-sums-to-zero")


def _name_the_lines(
    results: tuple[TensorCheck, ...], code: Any, grad_names: Mapping[str, str]
) -> tuple[TensorCheck, ...]:
    """Give each failing tensor the statement that assigns its gradient and, for a hint with a
    mechanical fix, that statement corrected."""
    if code is None or isinstance(code, (Mapping, list, tuple)):
        return results
    out = []
    for t in results:
        out.append(t)
        if t.verdict != "fail" or t.problem == "missing-gradient":
            continue
        candidates = find_assignments(code, t.name, grad_names.get(t.name, t.name))
        if not candidates:
            continue
        # The statement a mechanical fix applies to (the sum without an axis), else the one
        # that defines the gradient.
        fixable = [f for f in candidates if _fix(f, t) is not None]
        found = fixable[-1] if t.hint in _REDUCTIONS and fixable else choose(candidates)
        fix = _fix(found, t)
        out[-1] = replace(t, source=found.where, fix=fix)
    return tuple(out)


def _fix(found: Assignment, t: TensorCheck) -> str | None:
    """The statement `found` corrected for the hint of `t`, or None."""
    return corrected(
        found,
        t.hint,
        t.shape,
        whole=None if t.factor is None else whole_factor(t.factor, 0.02),
        coefficient=t.coefficient,
        param_expr=param_expression(found, t.name),
    )


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
