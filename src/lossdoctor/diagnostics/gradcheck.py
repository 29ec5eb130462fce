"""Gradient checking for hand-written backpropagation.

`check_gradients` compares the analytic gradients of any code, not only lossdoctor's own network,
with central finite differences of the loss. The loss is a callable with no arguments that reads the
parameter arrays wherever the user's code keeps them (``self.W1`` or a dict); the arrays are
perturbed in place and restored bit-exactly afterwards.

How the numbers are obtained
----------------------------
For a parameter tensor ``x`` and a direction ``d`` of the same shape, the central difference

    D = (L(x + h d) - L(x - h d)) / (2 h)

estimates the directional derivative ``<g, d>`` with an error of order ``h**2`` (curvature) plus
``eps * |L| / h`` (rounding of the loss). The analytic counterpart is ``<g, Δ>`` with ``Δ`` the
displacement that was actually stored, ``(x₊ - x₋) / (2 h)``, so rounding the perturbed values to
the parameter's dtype (float32) costs nothing. The default step is ``eps**(1/3)`` times the size of
the tensor's entries, which balances both errors; ``eps`` is that of the loss's precision.

The fast mode probes each tensor along a few Gaussian directions, whose derivatives estimate the
norm-based relative error ``|g - g*| / max(|g|, |g*|)`` (g* the true gradient), and at a few
coordinates (the largest analytic entry and random ones), which locate element-wise errors. The
exhaustive mode probes every coordinate.

A kink (ReLU or max switching within the step) makes a central difference wrong by about the
asymmetry ``(L(x+hd) - 2 L(x) + L(x-hd)) / (2h)``, which is tiny for smooth functions and shrinks
with the step. A probe that disagrees with the analytic gradient is repeated at two smaller steps.
It counts as a real disagreement only when it is the same at every step and shows no persisting
asymmetry; otherwise it is excluded and counted as a kink. A single disagreeing direction among
five or more that agree is taken for kinks as well: a wrong gradient shows along almost every
random direction.

Rounding: each probe is allowed the rounding of the loss, the larger of a few ulps of its dtype
and four times the noise measured once at the start (the scatter of the loss about a smooth fit
along a random line), because a loss computed with cancellation, such as ``log(1 - p)`` for p near
1, can be far noisier than its dtype. The report says so when it is.

Hints are tested only on failing tensors, on the probes not spoilt by kinks, by asking whether a
simple transform of the analytic gradient (its transpose, its negative, a rescaling by a whole
number or its reciprocal) passes where the gradient itself fails, or whether the gradient is
constant along an axis where an extra finite difference shows the true one is not.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import NDArray

__all__ = ["HINTS", "GradientReport", "TensorCheck", "check_gradients"]

Verdict = Literal["pass", "warn", "fail"]
Mode = Literal["fast", "exhaustive"]
Array = NDArray[np.floating[Any]]
F64 = NDArray[np.float64]

#: Stable hint codes and what each means, in plain words.
HINTS: dict[str, str] = {
    "wrong-reduction-axis": "the analytic gradient is constant along an axis where the numerical "
    "one is not: it was summed (or averaged) over the wrong axes, typically a bias gradient "
    "summed over every axis instead of over the samples only",
    "scale-mismatch": "the analytic gradient is a constant multiple of the numerical one, "
    "for example a missing division by the number of samples",
    "sign-flipped": "the analytic gradient has the wrong sign",
    "transposed": "the analytic gradient is the transpose of the numerical one",
    "zero-gradient": "the analytic gradient is zero although the loss depends on the parameter",
}

# A tensor whose excess relative error lies between rtol and _WARN_FACTOR * rtol gets "warn".
_WARN_FACTOR = 10.0
# Rounding error of one loss evaluation, in units of eps * |loss|. Sums over many samples and the
# exp/log in a loss lose a few ulps; 16 leaves room for that without hiding real faults.
_NOISE_ULPS = 4.0
# The measured noise of the loss (standard deviation) times this is a floor under a probe's
# rounding allowance; measured from this many evaluations within this share of the step.
_NOISE_SIGMAS = 4.0
_NOISE_POINTS = 16
_NOISE_SPAN = 0.1
# The report calls the loss noisy above this many times its dtype's rounding allowance.
_NOISY_LOSS = 100.0
# A machine epsilon above this (float32, float16) gets the low-precision caveat on failures.
_LOW_PRECISION = 1e-10
# Each retry of a disagreeing probe divides the step by this factor (float64 / float32).
_RETRY_FACTOR_F64 = 10.0
_RETRY_FACTOR_LOW = 4.0
_N_RETRIES = 2
# A disagreement counts as kink-like when the one-sided asymmetry explains this share of it; for a
# single kink inside the step the asymmetry equals the disagreement exactly.
_KINK_SHARE = 0.25
# A hint's candidate (the transposed, negated or rescaled gradient) must fit this much better
# than the analytic gradient itself.
_HINT_SHARE = 0.05
_HINT_RTOL_FACTOR = 3.0
# ... after dropping this share of its worst probes (kinks), out of at least this many probes.
_HINT_OUTLIERS = 0.2
_HINT_MIN_PROBES = 3
# A tensor probed at every coordinate may drop its worst probe when it has at least this many.
_HINT_COMPLETE_DROP = 8
# When fewer smooth probes than this remain, this many coordinates are added for the hints.
_HINT_PROBES = 12
# A fitted scale factor must lie this close to a whole number or its reciprocal, unless the
# rescaled gradient fits within this share of rtol.
_WHOLE_FACTOR_RTOL = 0.005
_TIGHT_FIT = 0.1
# With at least this many directions, a single disagreeing one is taken for a kink.
_LONE_OUTLIER_MIN = 5
# Directions tried to show that the numerical gradient is not constant along an axis.
_REDUCTION_TRIES = 3
# A probe is retried at a smaller step when its error exceeds this share of the tolerance, so that
# the errors of accepted probes cannot add up to the tolerance over a tensor.
_PROBE_SHARE = 0.5


@dataclass(frozen=True)
class TensorCheck:
    """The result of checking the gradient of one parameter tensor.

    Attributes
    ----------
    name : str
        The parameter's key in ``params``.
    shape : tuple of int
        Shape of the parameter.
    grad_shape : tuple of int or None
        Shape of the analytic gradient, None when it is missing.
    dtype : str
        Dtype of the parameter.
    verdict : {"pass", "warn", "fail"}
        "warn" means slightly above tolerance, or that the tensor could not be checked (every probe
        sat on a kink); "fail" means the analytic gradient is wrong or has the wrong shape.
    problem : str or None
        What is wrong, independent of the hint: "missing-gradient", "shape-mismatch",
        "non-finite-gradient", "values-differ", or None.
    hint : str or None
        A stable code from `HINTS`, only when the evidence supports one.
    message : str
        The finding in plain words.
    rel_error : float
        Norm-based relative error ``|g - g*| / max(|g|, |g*|)`` estimated from the probes (exact
        over all coordinates in the exhaustive mode); NaN when not measured.
    max_abs_error : float
        Largest absolute difference between the analytic and numerical gradient over the probed
        coordinates; NaN when no coordinate was probed.
    max_abs_error_at : tuple of int or None
        Index of that coordinate.
    factor : float or None
        For "scale-mismatch": the analytic gradient divided by the numerical one.
    n_evals : int
        Loss evaluations spent on this tensor.
    n_directions : int
        Random directions probed (after excluding kinks).
    n_coords : int
        Coordinates probed (after excluding kinks).
    n_kinks_resolved : int
        Probes that sat on a kink and agreed after a retry with a smaller step.
    n_kinks_excluded : int
        Probes that sat on a kink at every step tried and were left out.
    """

    name: str
    shape: tuple[int, ...]
    grad_shape: tuple[int, ...] | None
    dtype: str
    verdict: Verdict
    problem: str | None
    hint: str | None
    message: str
    rel_error: float = math.nan
    max_abs_error: float = math.nan
    max_abs_error_at: tuple[int, ...] | None = None
    factor: float | None = None
    n_evals: int = 0
    n_directions: int = 0
    n_coords: int = 0
    n_kinks_resolved: int = 0
    n_kinks_excluded: int = 0

    @property
    def ok(self) -> bool:
        """True unless the verdict is "fail"."""
        return self.verdict != "fail"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (NaN and infinities become None)."""
        return {
            "name": self.name,
            "shape": list(self.shape),
            "grad_shape": None if self.grad_shape is None else list(self.grad_shape),
            "dtype": self.dtype,
            "verdict": self.verdict,
            "problem": self.problem,
            "hint": self.hint,
            "message": self.message,
            "rel_error": _json_float(self.rel_error),
            "max_abs_error": _json_float(self.max_abs_error),
            "max_abs_error_at": (
                None if self.max_abs_error_at is None else list(self.max_abs_error_at)
            ),
            "factor": None if self.factor is None else _json_float(self.factor),
            "n_evals": self.n_evals,
            "n_directions": self.n_directions,
            "n_coords": self.n_coords,
            "n_kinks_resolved": self.n_kinks_resolved,
            "n_kinks_excluded": self.n_kinks_excluded,
        }


@dataclass(frozen=True)
class GradientReport:
    """The result of `check_gradients`.

    Attributes
    ----------
    tensors : tuple of TensorCheck
        One entry per parameter, in backprop order: the reverse of the order of ``params`` (for
        ``W1, b1, W2, b2`` that is ``b2, W2, b1, W1``), since the gradients of the last layers are
        computed first and an error there propagates to the layers before.
    mode : {"fast", "exhaustive"}
    rtol : float
        Relative tolerance used (float64 default 1e-5, float32 default 1e-2).
    step : float
        Relative finite-difference step used.
    loss_value : float
        Loss at the unperturbed parameters.
    n_evals : int
        Loss evaluations in total.
    unused_grads : tuple of str
        Keys of ``grads`` that are not parameters.
    loss_noise : float
        Measured rounding noise of the loss (a standard deviation, in the loss's units).
    loss_resolution : float
        The rounding allowance the loss's dtype implies, for comparison: a loss much noisier
        than this is computed with cancellation (for example ``log(1 - p)`` for p near 1).
    precision : float
        Machine epsilon of the coarsest of the loss and the parameters (2.2e-16 for float64).
    """

    tensors: tuple[TensorCheck, ...]
    mode: Mode
    rtol: float
    step: float
    loss_value: float
    n_evals: int
    unused_grads: tuple[str, ...] = field(default=())
    loss_noise: float = 0.0
    loss_resolution: float = 0.0
    precision: float = float(np.finfo(np.float64).eps)

    @property
    def ok(self) -> bool:
        """True when no tensor fails (warnings allowed)."""
        return all(t.ok for t in self.tensors)

    @property
    def failing(self) -> tuple[TensorCheck, ...]:
        """The failing tensors, in backprop order."""
        return tuple(t for t in self.tensors if t.verdict == "fail")

    def __getitem__(self, name: str) -> TensorCheck:
        for t in self.tensors:
            if t.name == name:
                return t
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {
            "ok": self.ok,
            "mode": self.mode,
            "rtol": self.rtol,
            "step": self.step,
            "loss_value": _json_float(self.loss_value),
            "n_evals": self.n_evals,
            "unused_grads": list(self.unused_grads),
            "loss_noise": _json_float(self.loss_noise),
            "loss_resolution": _json_float(self.loss_resolution),
            "precision": self.precision,
            "failing": [t.name for t in self.failing],
            "tensors": [t.to_dict() for t in self.tensors],
        }

    def to_json(self, **kwargs: Any) -> str:
        """Return `to_dict` as a JSON string; keyword arguments go to `json.dumps`."""
        return json.dumps(self.to_dict(), **kwargs)

    def __str__(self) -> str:
        failing = self.failing
        n = len(self.tensors)
        status = "OK" if self.ok else f"FAIL: {len(failing)} of {n} tensors"
        lines = [
            f"Gradient check {status} ({self.mode} mode, {self.n_evals} loss evaluations, "
            f"rtol {self.rtol:.0e})"
        ]
        for t in failing:
            hint = f" [{t.hint}]" if t.hint else ""
            lines.append(f"  {t.name}{hint}: {t.message}")
        for t in self.tensors:
            if t.verdict == "warn":
                lines.append(f"  {t.name} (warning): {t.message}")
        if len(failing) > 1:
            lines.append(
                "  Fix the first failing tensor first: an error in a later layer's backprop "
                "also spoils the gradients of the layers before it."
            )
        if self.unused_grads:
            lines.append(f"  Gradients with no parameter: {', '.join(self.unused_grads)}")
        if self.loss_noise > _NOISY_LOSS * self.loss_resolution:
            lines.append(
                f"  The loss itself is noisy: its rounding error, about {self.loss_noise:.1e}, is "
                f"{self.loss_noise / max(self.loss_resolution, 1e-300):.0f} times what its "
                "dtype allows, which blunts this check. Compute it without cancellation, for "
                "example cross-entropy from logits instead of log(1 - p)."
            )
        if failing and self.precision > _LOW_PRECISION:
            lines.append(
                f"  The loss is computed in low precision (eps {self.precision:.1e}). Where it "
                "saturates, as log(1 - p) does for p near 1, its finite differences can be off "
                "by more than its measured noise, so a correct gradient can fail. Before "
                "trusting a failure, repeat the check with parameters and data in float64."
            )
        header = ("tensor", "shape", "rel error", "max abs error", "at", "verdict", "hint")
        rows = [header]
        for t in self.tensors:
            rows.append(
                (
                    t.name,
                    str(t.shape),
                    _fmt(t.rel_error),
                    _fmt(t.max_abs_error),
                    "" if t.max_abs_error_at is None else str(t.max_abs_error_at),
                    t.verdict,
                    t.hint or "",
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        lines.append("")
        for r in rows:
            lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        n_resolved = sum(t.n_kinks_resolved for t in self.tensors)
        n_excluded = sum(t.n_kinks_excluded for t in self.tensors)
        if n_resolved or n_excluded:
            lines.append(
                f"Kinks (ReLU/max switching within the step): {n_resolved} probes agreed with a "
                f"smaller step, {n_excluded} probes were left out."
            )
        return "\n".join(lines)


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
    for name, x in params.items():
        if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
            raise TypeError(
                f"params[{name!r}] must be a floating ndarray, got {type(x).__name__}"
                + (f" of dtype {x.dtype}" if isinstance(x, np.ndarray) else "")
            )
        if not x.flags.writeable:
            raise ValueError(f"params[{name!r}] is read-only; check_gradients perturbs it in place")
    generator = np.random.default_rng(rng)
    # Copy the analytic gradients first: the loss may overwrite the arrays they came from.
    raw = grads() if callable(grads) else grads
    analytic = {k: np.array(v, dtype=np.float64, copy=True) for k, v in raw.items()}
    saved = {name: x.copy() for name, x in params.items()}
    counter = _Counter(loss)
    try:
        f0 = counter()
        if not math.isfinite(f0):
            raise ValueError(f"the loss is not finite at the unperturbed parameters: {f0}")
        eps = max([counter.eps, *(float(np.finfo(x.dtype).eps) for x in params.values())])
        h_rel = eps ** (1 / 3) if step is None else float(step)
        tol = _default_rtol(eps) if rtol is None else float(rtol)
        checker = _Checker(counter, f0, eps, h_rel, tol, generator, mode, n_directions, n_coords)
        noise = checker.measure_noise(params, saved)
        results = []
        for name in reversed(list(params)):
            before = counter.n
            check = checker.check(name, params[name], saved[name], analytic.get(name))
            results.append(_replace_evals(check, counter.n - before))
    finally:
        for name, x in params.items():
            np.copyto(x, saved[name])
    unused = tuple(k for k in analytic if k not in params)
    return GradientReport(
        tensors=tuple(results),
        mode=mode,
        loss_noise=noise,
        loss_resolution=_NOISE_ULPS * eps * abs(f0),
        precision=eps,
        rtol=tol,
        step=h_rel,
        loss_value=f0,
        n_evals=counter.n,
        unused_grads=unused,
    )


# --------------------------------------------------------------------------------------------
# Internals


def _default_rtol(eps: float) -> float:
    if eps <= 1e-15:  # float64 or finer
        # Correct code scores about 1e-9; saturated tanh or sigmoid units lose digits in
        # 1 - a**2 and log(1 - p), in the analytic gradient as much as in the loss, and can
        # reach 1e-5.
        return 1e-5
    if eps <= 1e-6:  # float32
        return 1e-2
    return 10.0 * math.sqrt(eps)  # float16: a rough check only


def _json_float(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def _fmt(v: float) -> str:
    return "-" if not math.isfinite(v) else f"{v:.2e}"


def _replace_evals(check: TensorCheck, n: int) -> TensorCheck:
    return replace(check, n_evals=n)


class _Counter:
    """Call the loss, count the calls and remember the precision of its value."""

    def __init__(self, loss: Callable[[], Any]) -> None:
        self.loss = loss
        self.n = 0
        self.eps = 0.0

    def __call__(self) -> float:
        self.n += 1
        value = np.asarray(self.loss())
        if value.size != 1:
            raise TypeError(f"the loss must return a scalar, got an array of shape {value.shape}")
        if np.issubdtype(value.dtype, np.floating):
            self.eps = max(self.eps, float(np.finfo(value.dtype).eps))
        return float(value.reshape(()))


@dataclass
class _Probes:
    """Finite differences for one tensor.

    ``dir_delta`` has shape (k, *shape): the realised displacement per unit step of each direction;
    ``dir_num`` and ``dir_noise`` have shape (k,). ``coord_idx`` are flat indices and
    ``coord_num`` the numerical partial derivatives there. ``*_rough`` mark disagreeing probes
    whose finite difference changed with the step.
    """

    size: int
    dir_delta: F64
    dir_num: F64
    dir_noise: F64
    coord_idx: NDArray[np.intp]
    coord_num: F64
    coord_noise: F64
    dir_rough: NDArray[np.bool_]
    coord_rough: NDArray[np.bool_]
    n_kinks_resolved: int = 0
    n_kinks_excluded: int = 0

    def subset(self, dirs: NDArray[np.bool_], coords: NDArray[np.bool_]) -> _Probes:
        """The probes selected by the two boolean masks."""
        return _Probes(
            size=self.size,
            dir_delta=self.dir_delta[dirs],
            dir_num=self.dir_num[dirs],
            dir_noise=self.dir_noise[dirs],
            coord_idx=self.coord_idx[coords],
            coord_num=self.coord_num[coords],
            coord_noise=self.coord_noise[coords],
            dir_rough=self.dir_rough[dirs],
            coord_rough=self.coord_rough[coords],
        )

    def merge(self, other: _Probes) -> _Probes:
        """These probes and those of `other` (same tensor)."""
        return _Probes(
            size=self.size,
            dir_delta=np.concatenate([self.dir_delta, other.dir_delta]),
            dir_num=np.concatenate([self.dir_num, other.dir_num]),
            dir_noise=np.concatenate([self.dir_noise, other.dir_noise]),
            coord_idx=np.concatenate([self.coord_idx, other.coord_idx]),
            coord_num=np.concatenate([self.coord_num, other.coord_num]),
            coord_noise=np.concatenate([self.coord_noise, other.coord_noise]),
            dir_rough=np.concatenate([self.dir_rough, other.dir_rough]),
            coord_rough=np.concatenate([self.coord_rough, other.coord_rough]),
        )

    def smooth(self) -> _Probes:
        """The probes whose finite difference did not change with the step.

        A wrong gradient's probe that crossed a kink still shows the disagreement, but its value
        is off by the kink; hints are tested on the other probes only.
        """
        return self.subset(~self.dir_rough, ~self.coord_rough)

    def without_outliers(self, G: F64, share: float) -> _Probes:
        """Drop the `share` of probes, per kind, that disagree most with the candidate `G`.

        A kink that sat exactly at the unperturbed point spoils a probe at every step and can
        go unnoticed when the probe happened to agree with a wrong gradient; the evidence for a
        hint should survive losing such a probe.
        """
        n_dir, n_coord = len(self.dir_num), len(self.coord_idx)
        gnorm = max(self.gstar_norm(), float(np.linalg.norm(G)), 1e-300)
        # Errors in units of what a probe of each kind typically measures.
        dir_err = np.abs(self.dir_delta.reshape(n_dir, self.size) @ G.ravel() - self.dir_num)
        coord_err = np.abs(G.ravel()[self.coord_idx] - self.coord_num)
        errors = np.concatenate([dir_err / gnorm, coord_err * math.sqrt(self.size) / gnorm])
        n = n_dir + n_coord
        if n_coord == self.size:
            # Every coordinate of a small tensor is probed: allow for one kink among many.
            n_drop = 1 if n >= _HINT_COMPLETE_DROP else 0
        else:
            n_drop = min(math.ceil(share * n), n - 1)
        keep = np.ones(n, dtype=bool)
        if n_drop > 0:
            keep[np.argsort(errors)[n - n_drop :]] = False
        return self.subset(keep[:n_dir], keep[n_dir:])

    def gstar_norm(self) -> float:
        """Estimate of the norm of the true gradient."""
        if len(self.coord_idx) == self.size:
            return float(np.linalg.norm(self.coord_num))
        if len(self.dir_num):
            # E[<g, d>**2] = |g|**2 for d with independent standard normal entries.
            return float(np.linalg.norm(self.dir_num) / math.sqrt(len(self.dir_num)))
        if len(self.coord_idx):
            return float(
                np.linalg.norm(self.coord_num) * math.sqrt(self.size / len(self.coord_idx))
            )
        return 0.0


@dataclass
class _Comparison:
    rel_error: float  # norm-based, raw
    excess: float  # relative error beyond the rounding noise: what the verdict uses
    max_abs_error: float
    max_abs_error_at: int | None


def _compare(G: F64, P: _Probes) -> _Comparison:
    """Compare a candidate analytic gradient `G` (the parameter's shape) with the probes."""
    g_flat = G.ravel()
    gnorm = max(float(np.linalg.norm(g_flat)), P.gstar_norm())
    rel, excess = 0.0, 0.0
    parts: list[tuple[F64, F64, F64, float]] = []
    if len(P.dir_num):
        a = P.dir_delta.reshape(len(P.dir_num), -1) @ g_flat
        parts.append((a, P.dir_num, P.dir_noise, 0.0))
    if len(P.coord_idx):
        a = g_flat[P.coord_idx]
        # Sampled coordinates may all be tiny entries: measure them against what a random sample
        # of the whole gradient would weigh.
        floor = math.sqrt(len(P.coord_idx) / P.size) * gnorm
        parts.append((a, P.coord_num, P.coord_noise, floor))
    for a, num, noise, floor in parts:
        err = float(np.linalg.norm(a - num))
        scale = max(float(np.linalg.norm(a)), float(np.linalg.norm(num)), floor)
        allowance = float(np.linalg.norm(noise))
        if scale > 0:
            rel = max(rel, err / scale)
            excess = max(excess, max(err - allowance, 0.0) / scale)
        elif err > allowance:
            rel, excess = math.inf, math.inf
    max_abs, at = math.nan, None
    if len(P.coord_idx):
        diffs = np.abs(g_flat[P.coord_idx] - P.coord_num)
        j = int(np.argmax(diffs))
        max_abs, at = float(diffs[j]), int(P.coord_idx[j])
    return _Comparison(rel, excess, max_abs, at)


class _Checker:
    def __init__(
        self,
        counter: _Counter,
        f0: float,
        eps: float,
        h_rel: float,
        rtol: float,
        rng: np.random.Generator,
        mode: Mode,
        n_directions: int,
        n_coords: int,
    ) -> None:
        self.counter = counter
        self.f0 = f0
        self.eps = eps
        self.h_rel = h_rel
        self.rtol = rtol
        self.rng = rng
        self.mode = mode
        self.n_directions = n_directions
        self.n_coords = n_coords
        self.retry_factor = _RETRY_FACTOR_F64 if eps < 1e-10 else _RETRY_FACTOR_LOW
        self._entry_scale = 1.0
        self.loss_noise = 0.0

    def measure_noise(self, params: Mapping[str, np.ndarray], saved: Mapping[str, Any]) -> float:
        """Measure the rounding noise of the loss, in the loss's units.

        A loss computed with cancellation, such as ``log(1 - p)`` for p near 1, can be noisier
        than its dtype by orders of magnitude; finite differences then disagree with a correct
        gradient. The loss is evaluated at random points along one random direction over all
        parameters, within a tenth of the finite differences' step (where kinks are rare, yet
        rounding decorrelates between points), and the scatter about a parabola fitted on each
        side, less the two largest deviations, is the noise. The estimate sets a floor under each
        probe's rounding allowance.
        """
        # Random, not equally spaced, points: a quantised loss sampled on a regular grid can
        # round alike at every point and hide its noise.
        half = _NOISE_POINTS // 2
        ts = (
            np.concatenate([-self.rng.uniform(0.05, 1.0, half), self.rng.uniform(0.05, 1.0, half)])
            * _NOISE_SPAN
        )
        dirs = {name: self.rng.standard_normal(x.shape) for name, x in params.items()}
        steps = {name: self._abs_step(saved[name]) for name in params}
        values = []
        try:
            for t in ts:
                for name, x in params.items():
                    x[...] = saved[name].astype(np.float64) + t * steps[name] * dirs[name]
                values.append(self.counter())
        finally:
            for name, x in params.items():
                np.copyto(x, saved[name])
        v = np.array(values)
        if not np.all(np.isfinite(v)):
            return 0.0
        # A parabola on each side takes up the smooth part, also when a kink sits exactly at
        # the unperturbed point (a ReLU input or a tie in a max at exactly 0); the residuals,
        # less the two largest (another kink's), are the rounding. Rounding can be far from
        # Gaussian, so no median-based estimate.
        residuals = []
        for side in (slice(0, half), slice(half, 2 * half)):
            fit = np.polynomial.Polynomial.fit(ts[side], v[side], 2)
            residuals.append(v[side] - fit(ts[side]))
        dev = np.sort(np.abs(np.concatenate(residuals)))[: 2 * half - 2]
        self.loss_noise = float(np.sqrt(np.sum(dev**2) / (len(dev) - 6)))
        return self.loss_noise

    # ---- one tensor ------------------------------------------------------------------------

    def check(self, name: str, x: np.ndarray, x0: np.ndarray, g: F64 | None) -> TensorCheck:
        out = TensorCheck(
            name=name,
            shape=tuple(x.shape),
            grad_shape=None if g is None else tuple(g.shape),
            dtype=str(x.dtype),
            verdict="fail",
            problem=None,
            hint=None,
            message="",
        )
        if g is None:
            return replace(out, problem="missing-gradient", message=f"no gradient given for {name}")
        if not np.all(np.isfinite(g)):
            bad = np.argwhere(~np.isfinite(g))
            first = tuple(int(i) for i in bad[0])
            return replace(
                out,
                problem="non-finite-gradient",
                message=f"the analytic gradient has {len(bad)} non-finite entries of {g.size}, "
                f"the first at {first}",
            )
        # Bring a gradient of another shape into the parameter's shape where that means something.
        shape_note = ""
        if g.shape == x.shape:
            G = g
        elif g.ndim == 2 and g.shape == x.shape[::-1]:
            G = g.T
            shape_note = (
                f"the analytic gradient has shape {g.shape}, the transpose of {name}'s "
                f"{x.shape}: it looks transposed"
            )
        elif g.size == 1 or _broadcasts_to(g.shape, x.shape):
            G = np.broadcast_to(g.reshape(()) if g.size == 1 else g, x.shape)
            shape_note = (
                f"the analytic gradient has shape {g.shape} but {name} has shape {x.shape} "
                "(an update would broadcast it)"
            )
        elif g.size == x.size:
            G = g.reshape(x.shape)
            shape_note = (
                f"the analytic gradient has shape {g.shape} but {name} has shape {x.shape} "
                "(same number of entries)"
            )
        else:
            return replace(
                out,
                problem="shape-mismatch",
                message=f"the analytic gradient has shape {g.shape} but {name} has shape {x.shape}",
            )
        P = self.probe(x, x0, G)
        cmp = _compare(G, P)
        at = cmp.max_abs_error_at
        out = replace(
            out,
            rel_error=cmp.rel_error,
            max_abs_error=cmp.max_abs_error,
            max_abs_error_at=(
                None if at is None else tuple(int(i) for i in np.unravel_index(at, x.shape))
            ),
            n_directions=len(P.dir_num),
            n_coords=len(P.coord_idx),
            n_kinks_resolved=P.n_kinks_resolved,
            n_kinks_excluded=P.n_kinks_excluded,
        )
        kinks = ""
        if P.n_kinks_excluded:
            kinks = (
                f"; {P.n_kinks_excluded} probes sat on a kink (ReLU/max) at every step "
                "and were left out"
            )
        if len(P.dir_num) + len(P.coord_idx) == 0:
            return replace(
                out,
                verdict="warn",
                message="could not be checked: every probe sat on a kink (ReLU/max)",
            )
        verdict = self._verdict(cmp.excess)
        if shape_note:
            # A gradient of the wrong shape fails whatever its values.
            out = replace(out, problem="shape-mismatch")
            if g.shape == x.shape[::-1] and g.shape != x.shape:
                tail = (
                    "; its transpose matches the numerical gradient"
                    if verdict == "pass"
                    else f"; even transposed it differs (relative error {cmp.rel_error:.2g})"
                )
                return replace(out, hint="transposed", message=shape_note + tail + kinks)
            if verdict == "pass":
                return replace(
                    out, message=shape_note + "; its values match the numerical gradient" + kinks
                )
            hint, factor, why = self.explain(x, x0, G, P)
            return replace(out, hint=hint, factor=factor, message=f"{shape_note}; {why}{kinks}")
        if verdict == "pass":
            return replace(out, verdict="pass", message="ok" + kinks)
        if verdict == "warn":
            return replace(
                out,
                verdict="warn",
                problem="values-differ",
                message=f"relative error {cmp.rel_error:.2g} is slightly above the tolerance "
                f"{self.rtol:.0e} (rounding or curvature?){kinks}",
            )
        hint, factor, why = self.explain(x, x0, G, P)
        return replace(out, problem="values-differ", hint=hint, factor=factor, message=why + kinks)

    def _verdict(self, excess: float) -> Verdict:
        if excess <= self.rtol:
            return "pass"
        if excess <= _WARN_FACTOR * self.rtol:
            return "warn"
        return "fail"

    # ---- hints -----------------------------------------------------------------------------

    def explain(
        self, x: np.ndarray, x0: np.ndarray, G: F64, P: _Probes
    ) -> tuple[str | None, float | None, str]:
        """Find the hint that the evidence supports for a failing gradient `G`.

        Returns the hint code (or None), the scale factor for "scale-mismatch", and a sentence.
        """
        rel = _compare(G, P).rel_error
        S = P.smooth()
        if len(S.dir_num) + len(S.coord_idx) < _HINT_PROBES and len(P.coord_idx) < P.size:
            # Kinks spoilt too many probes to judge a hint on: add coordinates, which move
            # fewer pre-activations than a direction does.
            extra = self.probe(x, x0, G, extra_coords=_HINT_PROBES, gstar=P.gstar_norm())
            S = S.merge(extra.smooth())
        # Hints are judged on coordinates when there are enough: a random direction moves every
        # pre-activation and so crosses more kinks.
        H = S
        if len(S.coord_idx) >= 2 * _HINT_MIN_PROBES:
            H = S.subset(np.zeros(len(S.dir_num), dtype=bool), np.ones(len(S.coord_idx), bool))
        # Raw errors, not the excess over the rounding allowance: with a noisy loss every
        # candidate would fit within the allowance.
        base = _compare(G, H).rel_error

        def misfit(candidate: F64) -> float | None:
            """The candidate's relative error on the probes not spoilt by kinks, or None when it
            does not explain G: it must pass, and fit far better than G itself."""
            kept = H.without_outliers(candidate, _HINT_OUTLIERS)
            if len(kept.dir_num) + len(kept.coord_idx) < min(_HINT_MIN_PROBES, G.size):
                return None
            error = _compare(candidate, kept).rel_error
            return (
                error if error <= min(_HINT_RTOL_FACTOR * self.rtol, _HINT_SHARE * base) else None
            )

        gnorm = float(np.linalg.norm(G))
        if gnorm <= 1e-6 * P.gstar_norm():
            return (
                "zero-gradient",
                None,
                "the analytic gradient is zero but the loss changes with this parameter: the "
                "gradient is never computed or does not flow back to it",
            )
        if G.ndim == 2 and G.shape[0] == G.shape[1] and misfit(G.T) is not None:
            return (
                "transposed",
                None,
                "the analytic gradient looks transposed: its transpose matches the numerical one "
                "(for Z = X @ W the gradient is X.T @ dZ; for Z = W @ X it is dZ @ X.T)",
            )
        factor = _fit_scale(G, H)
        if factor is not None and factor != 0:
            # Refit without the probes that the first fit explains worst (kinks).
            factor = _fit_scale(G, H.without_outliers(G / factor, _HINT_OUTLIERS))
        scaled = None if not factor else misfit(G / factor)
        if misfit(-G) is not None or (
            factor is not None and scaled is not None and abs(factor + 1) <= max(0.01, 2 * scaled)
        ):
            return (
                "sign-flipped",
                None,
                "the analytic gradient has the wrong sign: its negative matches the numerical one",
            )
        if (
            factor is not None
            and scaled is not None
            and abs(factor - 1.0) > _WARN_FACTOR * self.rtol
            # A fitted factor can absorb a wrong activation derivative in a short bias vector at
            # float32 precision: unless the fit is tight, believe only the factors bugs make.
            and self._plausible_factor(factor, _compare(G / factor, H).rel_error, G.size)
        ):
            return "scale-mismatch", factor, _scale_sentence(factor)
        axes = [a for a in range(G.ndim) if G.shape[a] > 1 and _constant_along(G, a)]
        if axes:
            found = self.reduction_evidence(x, x0, G, P, tuple(axes))
            if found is not None:
                return "wrong-reduction-axis", None, found
        return (
            None,
            None,
            f"the analytic and numerical gradients differ (relative error {rel:.2g}) in no simple "
            "pattern (sign, scale, transpose, reduction axis); common causes are a wrong "
            "activation derivative or a loss term, such as regularisation, left out of the "
            "gradient",
        )

    def _plausible_factor(self, factor: float, error: float, size: int) -> bool:
        """Whether a fitted scale factor is what a bug makes: a whole number or its reciprocal
        (as precisely as the fit allows), or any factor when the fit is tight. A one-entry
        tensor always fits a factor tightly, so for it only the whole numbers count."""
        return (error <= _TIGHT_FIT * self.rtol and size > 1) or _whole_factor(
            factor, max(_WHOLE_FACTOR_RTOL, 2 * error)
        ) is not None

    def reduction_evidence(
        self, x: np.ndarray, x0: np.ndarray, G: F64, P: _Probes, axes: tuple[int, ...]
    ) -> str | None:
        """Check that the true gradient is *not* constant along `axes`, where `G` is.

        Along a direction whose entries sum to zero over `axes`, ``<G, d> = 0``; a clearly
        non-zero finite difference there shows the numerical gradient varies along `axes`. A
        second direction, constant along `axes`, tells whether `G` holds the sum or the mean of
        the true gradient over those axes.
        """
        candidates = []
        if len(P.coord_idx) == P.size:
            # Every coordinate is known: the numerical gradient minus its mean is the most
            # telling direction.
            flat = np.zeros(P.size)
            flat[P.coord_idx] = P.coord_num
            n = flat.reshape(G.shape)
            candidates.append(n - n.mean(axis=axes, keepdims=True))
        while len(candidates) < _REDUCTION_TRIES:
            r = self.rng.standard_normal(x.shape)
            candidates.append(r - r.mean(axis=axes, keepdims=True))
        for d in candidates:
            rms = float(np.sqrt(np.mean(d * d)))
            if rms == 0:
                continue
            d_zero = d / rms
            num, noise, delta = self._direction_once(x, x0, d_zero, self._abs_step(x0))
            if num is None:
                continue
            scale = P.gstar_norm()  # |<g, d>| is about |g| for d of unit mean square
            if abs(num - float(np.sum(G * delta))) > self.rtol * scale + noise:
                break
        else:
            return None
        r = self.rng.standard_normal(x.shape)
        n_along = int(np.prod([G.shape[a] for a in axes]))
        axes_words = _axes_words(axes, G.shape)
        sentence = (
            f"the analytic gradient is constant along {axes_words} where the numerical one is not"
        )
        d_sum = np.broadcast_to(np.take(r, [0], axis=axes[0]), r.shape)
        for a in axes[1:]:
            d_sum = np.broadcast_to(np.take(d_sum, [0], axis=a), r.shape)
        num_s, noise_s, delta_s = self._direction_once(x, x0, np.array(d_sum), self._abs_step(x0))
        if num_s is not None and abs(num_s) > noise_s:
            ratio = float(np.sum(G * delta_s)) / num_s
            if abs(ratio - n_along) <= 0.05 * n_along:
                sentence += (
                    f"; its value is the true gradient summed over {axes_words}: it looks summed "
                    "over every axis instead of over the samples only (np.sum(dZ, axis=1, "
                    "keepdims=True) for features-by-samples, np.sum(dZ, axis=0) for "
                    "samples-by-features)"
                )
                return sentence
            if abs(ratio - 1.0) <= 0.05:
                sentence += f"; its value is the true gradient averaged over {axes_words}"
                return sentence
        return sentence + ": it looks reduced over the wrong axes"

    # ---- probing ---------------------------------------------------------------------------

    def _abs_step(self, x0: np.ndarray) -> float:
        """Absolute step for a tensor: relative step times the size of its entries (at least 1)."""
        rms = float(np.sqrt(np.mean(np.square(x0, dtype=np.float64)))) if x0.size else 0.0
        self._entry_scale = max(1.0, rms)
        return self.h_rel * self._entry_scale

    def probe(
        self,
        x: np.ndarray,
        x0: np.ndarray,
        G: F64,
        extra_coords: int = 0,
        gstar: float | None = None,
    ) -> _Probes:
        """Run the finite differences for one tensor, retrying disagreements at smaller steps.

        With `extra_coords`, probe only that many random coordinates, taking `gstar` as the norm
        of the true gradient.
        """
        size = x.size
        h = self._abs_step(x0)
        if extra_coords:
            coords = self.rng.choice(size, size=min(extra_coords, size), replace=False)
            dirs: list[F64] = []
        elif self.mode == "exhaustive" or size <= self.n_directions + self.n_coords:
            coords = np.arange(size)
            dirs = []
        else:
            k = min(self.n_coords, size)
            largest = int(np.argmax(np.abs(G.ravel())))
            others = self.rng.choice(size - 1, size=max(k - 1, 0), replace=False)
            others = others + (others >= largest)  # skip `largest`
            coords = np.concatenate([[largest], others]).astype(np.intp)
            dirs = [self.rng.standard_normal(x.shape) for _ in range(self.n_directions)]
        g_flat = G.ravel()
        # First pass at the default step, which also estimates the size of the true gradient.
        d_res = [self._direction(x, x0, d, h) for d in dirs]
        c_res = [self._coord(x, x0, int(i), h) for i in coords]
        if gstar is not None:
            pass
        elif dirs:
            gstar = float(np.linalg.norm([r.num for r in d_res]) / math.sqrt(len(dirs)))
        else:
            gstar = float(np.linalg.norm([r.num / r.delta for r in c_res if r.delta]))
        gnorm = max(float(np.linalg.norm(g_flat)), gstar)
        counts = {"resolved": 0, "excluded": 0}

        def settle(
            res: _Diff,
            analytic: Callable[[Any], float],
            rerun: Callable[[float], _Diff],
            scale: float,
            num_scale: float,
        ) -> tuple[_Diff, str]:
            final, status = self._settle(res, analytic, rerun, scale, num_scale, h)
            if status in counts:
                counts[status] += 1
            return final, status

        # |<g, d>| is about |g| for a standard normal d.
        d_out = [
            settle(res, partial(_dot, G), partial(self._direction, x, x0, d), gnorm, gstar)
            for d, res in zip(dirs, d_res)
        ]
        differ = [status.startswith("differs") for _, status in d_out]
        if len(d_out) >= _LONE_OUTLIER_MIN and sum(differ) == 1:
            # A wrong gradient shows along nearly every random direction; one direction alone
            # that disagrees while the others agree crossed kinks that cancel in the asymmetry.
            d_out = [
                (res, "excluded") if bad else (res, st) for (res, st), bad in zip(d_out, differ)
            ]
            counts["excluded"] += 1
        kept_dirs: list[_Diff] = []
        dir_rough: list[bool] = []
        for res, status in d_out:
            if status != "excluded":
                kept_dirs.append(res)
                dir_rough.append(status == "differs-rough")
        kept_coords: list[tuple[int, _Diff]] = []
        coord_rough: list[bool] = []
        for i, res in zip(coords, c_res):
            out = settle(
                res,
                partial(_times, float(g_flat[i])),
                partial(self._coord, x, x0, int(i)),
                gnorm / math.sqrt(size),
                gstar / math.sqrt(size),
            )
            if out[1] != "excluded":
                kept_coords.append((int(i), out[0]))
                coord_rough.append(out[1] == "differs-rough")
        return _Probes(
            dir_rough=np.array(dir_rough, dtype=bool),
            coord_rough=np.array(coord_rough, dtype=bool),
            size=size,
            dir_delta=(
                np.array([r.delta for r in kept_dirs], dtype=np.float64)
                if kept_dirs
                else np.zeros((0, *x.shape))
            ),
            dir_num=np.array([r.num for r in kept_dirs], dtype=np.float64),
            dir_noise=np.array([r.noise for r in kept_dirs], dtype=np.float64),
            coord_idx=np.array([i for i, _ in kept_coords], dtype=np.intp),
            # Coordinates: num and noise are per realised half step; divide to get derivatives.
            coord_num=np.array([r.num / r.delta for _, r in kept_coords], dtype=np.float64),
            coord_noise=np.array(
                [r.noise / abs(r.delta) for _, r in kept_coords], dtype=np.float64
            ),
            n_kinks_resolved=counts["resolved"],
            n_kinks_excluded=counts["excluded"],
        )

    def _settle(
        self,
        res: _Diff,
        analytic: Callable[[Any], float],
        rerun: Callable[[float], _Diff],
        scale: float,
        num_scale: float,
        h: float,
    ) -> tuple[_Diff, str]:
        """Accept a probe, retry it at smaller steps, or exclude it as a kink.

        The analytic value of a probe is ``analytic(res.delta)``. A disagreement is retried at
        smaller steps. It is confirmed when it persists, unchanged and without the kink signature,
        at every step; the probe is excluded when it persists but changes with the step or shows
        the kink signature.

        Returns
        -------
        final : _Diff
            The last finite difference.
        status : {"ok", "resolved", "differs", "differs-rough", "excluded"}
            "resolved" when a smaller step agreed; "differs-rough" when the disagreement is real
            but the finite difference itself changed with the step (a kink in a wrong gradient's
            probe), which makes it unfit to test hints with.
        """
        step = h
        finite: list[_Diff] = []
        steady, smooth, kink = True, True, False
        previous: _Diff | None = None
        for attempt in range(_N_RETRIES + 1):
            a = analytic(res.delta)
            if not math.isfinite(res.num):
                steady = False  # the loss overflowed at a perturbed point: try closer
            else:
                diff = abs(res.num - a)
                tol = self.rtol * max(scale * _delta_size(res.delta), abs(a), abs(res.num))
                if diff <= _PROBE_SHARE * tol + res.noise:
                    return res, "resolved" if attempt else "ok"
                # Judged against the numerical gradient alone: a wrong analytic gradient may be
                # far larger.
                tol_num = self.rtol * max(num_scale * _delta_size(res.delta), abs(res.num))
                # Curvature makes an asymmetry too, but one that shrinks with the step; a kink
                # that stays inside the step keeps it. For one kink inside the step the
                # asymmetry equals the disagreement; several kinks can cancel in it, but then
                # the difference quotient changes with the step.
                persists = previous is None or abs(_asym_per_unit(res)) > 0.5 * abs(
                    _asym_per_unit(previous)
                )
                asym_noise = res.asym_noise
                kink = (
                    persists and abs(res.asym) > asym_noise and abs(res.asym) >= _KINK_SHARE * diff
                )
                rough = persists and abs(res.asym) > _PROBE_SHARE * tol_num + asym_noise
                if previous is not None:
                    change = abs(_per_unit(res) - _per_unit(previous)) * _delta_size(res.delta)
                    noise = res.noise + previous.noise
                    steady = steady and change <= _KINK_SHARE * diff + noise
                    smooth = smooth and change <= _PROBE_SHARE * tol_num + noise
                previous = res
                finite.append(res)
            if attempt < _N_RETRIES:
                step /= self.retry_factor
                res = rerun(step)
        if steady and not kink:
            # The same disagreement at every step: a real one. The median step's value is the
            # least likely to be spoilt by a kink or by rounding.
            median = sorted(finite, key=_per_unit)[len(finite) // 2]
            return median, "differs" if smooth and not rough else "differs-rough"
        return res, "excluded"

    def _direction(self, x: np.ndarray, x0: np.ndarray, d: F64, h: float) -> _Diff:
        """Central difference along `d`: (derivative, asymmetry, noise, displacement / h)."""
        base = x0.astype(np.float64)
        try:
            x[...] = base + h * d
            plus = x.astype(np.float64)
            fp = self.counter()
            x[...] = base - h * d
            minus = x.astype(np.float64)
            fm = self.counter()
        finally:
            np.copyto(x, x0)
        return self._finish(fp, fm, 2 * h, (plus - minus) / (2 * h))

    def _direction_once(
        self, x: np.ndarray, x0: np.ndarray, d: F64, h: float
    ) -> tuple[float | None, float, F64]:
        res = self._direction(x, x0, d, h)
        return (res.num if math.isfinite(res.num) else None), res.noise, res.delta

    def _coord(self, x: np.ndarray, x0: np.ndarray, i: int, h: float) -> _Diff:
        """Central difference at flat index `i`, per realised half step.

        ``num`` is ``(L(x+) - L(x-)) / 2`` and ``delta`` is ``(x+ - x-) / 2``, so the analytic
        counterpart is ``g_i * delta`` and the partial derivative is ``num / delta``.
        """
        idx = np.unravel_index(i, x.shape)
        v0 = x0[idx]
        # A huge entry needs a step of its own size to change at all.
        step = h * max(1.0, abs(float(v0)) / self._entry_scale)
        try:
            x[idx] = float(v0) + step
            plus = float(x[idx])
            fp = self.counter()
            x[idx] = float(v0) - step
            minus = float(x[idx])
            fm = self.counter()
        finally:
            x[idx] = v0
        return self._finish(fp, fm, 2.0, (plus - minus) / 2)

    def _finish(self, fp: float, fm: float, width: float, delta: Any) -> _Diff:
        ulps = _NOISE_ULPS * self.eps * max(abs(fp), abs(fm), abs(self.f0))
        measured = _NOISE_SIGMAS * self.loss_noise
        return _Diff(
            num=(fp - fm) / width,
            asym=(fp - 2 * self.f0 + fm) / width,
            noise=max(ulps, measured) / width,
            # The asymmetry takes the rounding of three losses, f0 twice.
            asym_noise=max(ulps, 2 * measured) / width,
            delta=delta,
        )


class _Diff(NamedTuple):
    """One central difference: ``num`` the difference quotient, ``asym`` the one-sided
    asymmetry ``(L₊ - 2 L₀ + L₋) / width`` (a kink's signature), ``noise`` and ``asym_noise``
    their rounding allowances, ``delta`` the realised displacement in the same units (an array
    for directions)."""

    num: float
    asym: float
    noise: float
    asym_noise: float
    delta: Any


def _dot(G: F64, delta: F64) -> float:
    return float(np.sum(G * delta))


def _times(gi: float, delta: float) -> float:
    return gi * delta


def _per_unit(res: _Diff) -> float:
    """The difference quotient per unit of realised displacement (coordinates: the derivative)."""
    if isinstance(res.delta, np.ndarray):
        return res.num  # directions are already per unit step
    return res.num / res.delta if res.delta else math.nan


def _asym_per_unit(res: _Diff) -> float:
    """The asymmetry per unit of realised displacement."""
    if isinstance(res.delta, np.ndarray):
        return res.asym
    return res.asym / res.delta if res.delta else math.nan


def _delta_size(delta: Any) -> float:
    """Size of a displacement relative to a standard normal direction (1 for directions)."""
    if isinstance(delta, np.ndarray):
        return float(np.linalg.norm(delta) / math.sqrt(delta.size)) if delta.size else 0.0
    return abs(float(delta))


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def _constant_along(G: F64, axis: int) -> bool:
    spread = np.ptp(G, axis=axis)
    return bool(np.all(spread <= 1e-7 * max(float(np.max(np.abs(G))), 1e-300)))


def _axes_words(axes: tuple[int, ...], shape: tuple[int, ...]) -> str:
    if len(axes) == 1:
        return f"axis {axes[0]} ({shape[axes[0]]} entries)"
    return f"axes {', '.join(str(a) for a in axes)}"


def _fit_scale(G: F64, P: _Probes) -> float | None:
    """Least-squares factor c with analytic ≈ c * numerical over all probes."""
    a_parts, n_parts = [], []
    if len(P.dir_num):
        a_parts.append(P.dir_delta.reshape(len(P.dir_num), -1) @ G.ravel())
        n_parts.append(P.dir_num)
    if len(P.coord_idx):
        a_parts.append(G.ravel()[P.coord_idx])
        n_parts.append(P.coord_num)
    if not a_parts:
        return None
    a, n = np.concatenate(a_parts), np.concatenate(n_parts)
    nn = float(n @ n)
    if nn == 0:
        return None
    return float(a @ n) / nn


def _whole_factor(factor: float, rtol: float = _WHOLE_FACTOR_RTOL) -> tuple[int, str] | None:
    """(k, "missing") when |factor| is close to a whole number k >= 2, (k, "extra") when close
    to 1/k, else None."""
    mag = abs(factor)
    if mag == 0:
        return None
    for n, word in ((mag, "missing"), (1 / mag, "extra")):
        k = round(n)
        if k >= 2 and abs(n - k) <= rtol * k:
            return k, word
    return None


def _scale_sentence(factor: float) -> str:
    sentence = f"the analytic gradient is {factor:.4g} times the numerical one"
    sign = " and has the wrong sign" if factor < 0 else ""
    whole = _whole_factor(factor, 0.02)
    if whole is None:
        return sentence + sign
    k, word = whole
    return (
        f"{sentence}{sign}: a factor of {k}, for example a {word} division by {k} "
        "(the number of samples?)"
    )
