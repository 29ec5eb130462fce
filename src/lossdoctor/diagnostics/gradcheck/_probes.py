"""The evidence about one tensor's gradient, and how a candidate gradient is measured against it.

`Probes` holds the finite differences that survived the kink checks (directional derivatives
along random directions and partial derivatives at coordinates); `compare` gives a candidate's
norm-based relative error on them, with and without the rounding allowance; `fit_scale` fits
analytic = c * numerical.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]

# A tensor probed at every coordinate may drop its worst probe when it has at least this many.
_HINT_COMPLETE_DROP = 8


@dataclass
class Probes:
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

    def subset(self, dirs: NDArray[np.bool_], coords: NDArray[np.bool_]) -> Probes:
        """The probes selected by the two boolean masks."""
        return Probes(
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

    def merge(self, other: Probes) -> Probes:
        """These probes and those of `other` (same tensor)."""
        return Probes(
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

    def smooth(self) -> Probes:
        """The probes whose finite difference did not change with the step.

        A wrong gradient's probe that crossed a kink still shows the disagreement, but its value
        is off by the kink; hints are tested on the other probes only.
        """
        return self.subset(~self.dir_rough, ~self.coord_rough)

    def without_outliers(self, G: F64, share: float) -> Probes:
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
class Comparison:
    rel_error: float  # norm-based, raw
    excess: float  # relative error beyond the rounding noise: what the verdict uses
    max_abs_error: float
    max_abs_error_at: int | None
    # The share of the gradient's size that the rounding allowance could hide, on the probes
    # that resolve best: an error smaller than this would not show.
    resolution: float = math.inf


def compare(G: F64, P: Probes) -> Comparison:
    """Compare a candidate analytic gradient `G` (the parameter's shape) with the probes."""
    g_flat = G.ravel()
    gnorm = max(float(np.linalg.norm(g_flat)), P.gstar_norm())
    rel, excess, resolution = 0.0, 0.0, math.inf
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
            resolution = min(resolution, allowance / scale)
            rel = max(rel, err / scale)
            excess = max(excess, max(err - allowance, 0.0) / scale)
        elif err > allowance:
            rel, excess = math.inf, math.inf
    max_abs, at = math.nan, None
    if len(P.coord_idx):
        diffs = np.abs(g_flat[P.coord_idx] - P.coord_num)
        j = int(np.argmax(diffs))
        max_abs, at = float(diffs[j]), int(P.coord_idx[j])
    return Comparison(rel, excess, max_abs, at, resolution)


def fit_scale(G: F64, P: Probes) -> float | None:
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
