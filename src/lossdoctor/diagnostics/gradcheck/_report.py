"""The results of a gradient check: `TensorCheck` per parameter, `GradientReport` for the whole.

Plain frozen data with a table (``str``), a dict and JSON; no computation happens here.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Verdict = Literal["pass", "warn", "unresolved", "fail"]
Mode = Literal["fast", "exhaustive"]

# A tensor whose excess relative error lies between rtol and WARN_FACTOR * rtol gets "warn".
WARN_FACTOR = 10.0
# The report calls the loss noisy above this many times its dtype's rounding allowance.
NOISY_LOSS = 100.0


@dataclass(frozen=True)
class SourceLine:
    """A statement in the user's code: file, line number (1-based) and its text."""

    file: str
    line: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {"file": self.file, "line": self.line, "text": self.text}


# A machine epsilon above this (float32, float16) gets the low-precision caveat on failures.
LOW_PRECISION = 1e-10


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
    verdict : {"pass", "warn", "unresolved", "fail"}
        "warn" means slightly above tolerance, or that the tensor could not be checked (every probe
        sat on a kink); "unresolved" means the loss's rounding at its precision is as large as
        the gradient's effect over the step, so that a wrong gradient would not show (repeat in
        float64); "fail" means the analytic gradient is wrong or has the wrong shape.
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
    coefficient : float or None
        For "missing-regularization": ``c`` with numerical - analytic = c * parameter.
    grad_name : str or None
        The gradient's name where it differs from the parameter's (``dW1`` for ``W1``).
    source : SourceLine or None
        For a failing tensor, the statement in the user's code that assigns its gradient, when
        it can be found.
    fix : str or None
        That statement corrected, for hints with a mechanical fix.
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
    coefficient: float | None = None
    grad_name: str | None = None
    source: SourceLine | None = None
    fix: str | None = None

    @property
    def ok(self) -> bool:
        """True when the verdict is "pass" or "warn"."""
        return self.verdict in ("pass", "warn")

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
            "rel_error": json_float(self.rel_error),
            "max_abs_error": json_float(self.max_abs_error),
            "max_abs_error_at": (
                None if self.max_abs_error_at is None else list(self.max_abs_error_at)
            ),
            "factor": None if self.factor is None else json_float(self.factor),
            "n_evals": self.n_evals,
            "n_directions": self.n_directions,
            "n_coords": self.n_coords,
            "n_kinks_resolved": self.n_kinks_resolved,
            "n_kinks_excluded": self.n_kinks_excluded,
            "coefficient": None if self.coefficient is None else json_float(self.coefficient),
            "grad_name": self.grad_name,
            "source": None if self.source is None else self.source.to_dict(),
            "fix": self.fix,
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
        Machine epsilon of the dtype the loss is computed in (2.2e-16 for float64).
    notes : tuple of str
        What was assumed to run the check (for example the loss of a network with no cost
        method), printed under the first line.
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
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every tensor passes (warnings allowed): none fails or is unresolved."""
        return all(t.ok for t in self.tensors)

    @property
    def failing(self) -> tuple[TensorCheck, ...]:
        """The failing tensors, in backprop order."""
        return tuple(t for t in self.tensors if t.verdict == "fail")

    @property
    def unresolved(self) -> tuple[TensorCheck, ...]:
        """The tensors the check could not judge at the loss's precision."""
        return tuple(t for t in self.tensors if t.verdict == "unresolved")

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
            "loss_value": json_float(self.loss_value),
            "n_evals": self.n_evals,
            "unused_grads": list(self.unused_grads),
            "loss_noise": json_float(self.loss_noise),
            "loss_resolution": json_float(self.loss_resolution),
            "precision": self.precision,
            "failing": [t.name for t in self.failing],
            "unresolved": [t.name for t in self.unresolved],
            "notes": list(self.notes),
            "tensors": [t.to_dict() for t in self.tensors],
        }

    def to_json(self, **kwargs: Any) -> str:
        """Return `to_dict` as a JSON string; keyword arguments go to `json.dumps`."""
        return json.dumps(self.to_dict(), **kwargs)

    def __str__(self) -> str:
        failing = self.failing
        n = len(self.tensors)
        if failing:
            status = f"FAIL: {len(failing)} of {n} tensors"
        elif self.unresolved:
            status = f"UNRESOLVED: {len(self.unresolved)} of {n} tensors"
        else:
            status = "OK"
        lines = [
            f"Gradient check {status} ({self.mode} mode, {self.n_evals} loss evaluations, "
            f"rtol {self.rtol:.0e})"
        ]
        lines.extend(f"  ({note})" for note in self.notes)
        for t in failing:
            hint = f" [{t.hint}]" if t.hint else ""
            lines.append(f"  {t.name}{hint}: {t.message}")
            if t.source is not None:
                where = f"{t.source.file}:{t.source.line}"
                lines.append(f"      line {t.source.line} ({where}): {t.source.text}")
            if t.fix is not None:
                lines.append(f"      corrected: {t.fix}")
        for t in self.tensors:
            if t.verdict in ("warn", "unresolved"):
                label = "warning" if t.verdict == "warn" else t.verdict
                lines.append(f"  {t.name} ({label}): {t.message}")
        if len(failing) > 1:
            lines.append(
                "  Fix the first failing tensor first: an error in a later layer's backprop "
                "also spoils the gradients of the layers before it."
            )
        if self.unused_grads:
            lines.append(f"  Gradients with no parameter: {', '.join(self.unused_grads)}")
        if self.loss_noise > NOISY_LOSS * self.loss_resolution:
            lines.append(
                f"  The loss itself is noisy: its rounding error, about {self.loss_noise:.1e}, is "
                f"{self.loss_noise / max(self.loss_resolution, 1e-300):.0f} times what its "
                "dtype allows, which blunts this check. Compute it without cancellation, for "
                "example cross-entropy from logits instead of log(1 - p)."
            )
        if failing and self.precision > LOW_PRECISION:
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


def json_float(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def _fmt(v: float) -> str:
    return "-" if not math.isfinite(v) else f"{v:.2e}"
