"""Check one parameter tensor: its gradient in the parameter's shape, probes, verdict, hint."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ._differences import Prober
from ._hints import explain
from ._probes import F64, compare
from ._report import WARN_FACTOR, TensorCheck, Verdict


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
    verdict = _verdict(cmp.excess, prober.rtol)
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
        hint, factor, why = explain(prober, x, x0, G, P)
        return replace(out, hint=hint, factor=factor, message=f"{shape_note}; {why}{kinks}")
    if verdict == "pass":
        return replace(out, verdict="pass", message="ok" + kinks)
    if verdict == "warn":
        return replace(
            out,
            verdict="warn",
            problem="values-differ",
            message=f"relative error {cmp.rel_error:.2g} is slightly above the tolerance "
            f"{prober.rtol:.0e} (rounding or curvature?){kinks}",
        )
    hint, factor, why = explain(prober, x, x0, G, P)
    return replace(out, problem="values-differ", hint=hint, factor=factor, message=why + kinks)


def _verdict(excess: float, rtol: float) -> Verdict:
    if excess <= rtol:
        return "pass"
    if excess <= WARN_FACTOR * rtol:
        return "warn"
    return "fail"


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False
