"""Check one parameter tensor: its gradient in the parameter's shape, probes, verdict, hint."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ._differences import Prober
from ._hints import explain
from ._probes import F64, Comparison, compare
from ._report import LOW_PRECISION, WARN_FACTOR, TensorCheck, Verdict


def check_tensor(
    prober: Prober, name: str, x: np.ndarray, x0: np.ndarray, g: F64 | None
) -> TensorCheck:
    """Check the analytic gradient `g` of the live parameter `x` (unperturbed value `x0`).

    A missing, non-finite or wrongly shaped gradient fails at once (a shape that can be read
    as the parameter's, transposed or broadcast, is still probed for the hint); otherwise the
    finite differences give the relative error, the verdict and, on failure, the hint.
    """
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
    P = prober.probe(x, x0, G)
    cmp = compare(G, P)
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
    verdict = _verdict(cmp, prober.rtol)
    unresolved = _unresolved_message(prober, cmp) if verdict == "unresolved" else ""
    if shape_note:
        # A gradient of the wrong shape fails whatever its values.
        out = replace(out, problem="shape-mismatch")
        if g.shape == x.shape[::-1] and g.shape != x.shape:
            if verdict == "pass":
                tail = "; its transpose matches the numerical gradient"
            elif verdict == "unresolved":
                tail = f"; whether its transpose matches is {unresolved}"
            else:
                tail = f"; even transposed it differs (relative error {cmp.rel_error:.2g})"
            return replace(out, hint="transposed", message=shape_note + tail + kinks)
        if verdict == "pass":
            return replace(
                out, message=shape_note + "; its values match the numerical gradient" + kinks
            )
        if verdict == "unresolved":
            return replace(out, message=f"{shape_note}; whether its values match is {unresolved}")
        e = explain(prober, x, x0, G, P, g.size)
        return replace(
            out,
            hint=e.hint,
            factor=e.factor,
            coefficient=e.coefficient,
            message=f"{shape_note}; {e.message}{kinks}",
        )
    if verdict == "pass":
        return replace(out, verdict="pass", message="ok" + kinks)
    if verdict == "unresolved":
        return replace(out, verdict="unresolved", message=unresolved[0].upper() + unresolved[1:])
    if verdict == "warn":
        return replace(
            out,
            verdict="warn",
            problem="values-differ",
            message=f"relative error {cmp.rel_error:.2g} is slightly above the tolerance "
            f"{prober.rtol:.0e} (rounding or curvature?){kinks}",
        )
    e = explain(prober, x, x0, G, P, g.size)
    return replace(
        out,
        problem="values-differ",
        hint=e.hint,
        factor=e.factor,
        coefficient=e.coefficient,
        message=e.message + kinks,
    )


def _verdict(cmp: Comparison, rtol: float) -> Verdict:
    """Judge the error beyond the rounding allowance; but a raw error far above the tolerance
    that only the allowance excuses is not a pass: the check could not tell."""
    if cmp.excess > WARN_FACTOR * rtol:
        return "fail"
    if cmp.rel_error > WARN_FACTOR * rtol:
        return "unresolved"
    return "pass" if cmp.excess <= rtol else "warn"


def _unresolved_message(prober: Prober, cmp: Comparison) -> str:
    names = {float(np.finfo(t).eps): np.dtype(t).name for t in (np.float16, np.float32, np.float64)}
    name = names.get(prober.eps, f"eps {prober.eps:.1e}")
    what = (
        "Repeat the check with parameters and data in float64."
        if prober.eps > LOW_PRECISION
        else "Compute the loss without cancellation (cross-entropy from logits, not log(1 - p))."
    )
    return (
        f"unresolved at the loss's precision ({name}): the gradients differ by {cmp.rel_error:.2g} "
        f"(relative), but the loss's rounding could hide an error of {cmp.resolution:.2g} times "
        f"the gradient's size, so a correct and a wrong gradient cannot be told apart. {what}"
    )


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False
