"""Central finite differences of the loss: probes, retries at smaller steps, the loss's noise.

`Prober` perturbs one parameter tensor in place (always restoring it), along random directions and
at coordinates, and returns the evidence as `Probes`. `LossCounter` calls the user's loss and
counts the calls.

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
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from ._probes import F64, Probes
from ._report import Mode

# Rounding error of one loss evaluation, in units of eps * |loss|. Sums over many samples and the
# exp/log in a loss lose a few ulps; 16 leaves room for that without hiding real faults.
NOISE_ULPS = 4.0
# The measured noise of the loss (standard deviation) times this is a floor under a probe's
# rounding allowance; measured from this many evaluations within this share of the step.
_NOISE_SIGMAS = 4.0
_NOISE_POINTS = 16
_NOISE_SPAN = 0.1
# Each retry of a disagreeing probe divides the step by this factor (float64 / float32).
_RETRY_FACTOR_F64 = 10.0
_RETRY_FACTOR_LOW = 4.0
_N_RETRIES = 2
# A disagreement counts as kink-like when the one-sided asymmetry explains this share of it; for a
# single kink inside the step the asymmetry equals the disagreement exactly.
_KINK_SHARE = 0.25
# With at least this many directions, a single disagreeing one is taken for a kink.
_LONE_OUTLIER_MIN = 5
# A probe is retried at a smaller step when its error exceeds this share of the tolerance, so that
# the errors of accepted probes cannot add up to the tolerance over a tensor.
_PROBE_SHARE = 0.5


class LossCounter:
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


class Prober:
    """Finite differences of the loss for one parameter tensor at a time, with its settings."""

    def __init__(
        self,
        counter: LossCounter,
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
        steps = {name: self.abs_step(saved[name]) for name in params}
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

    # ---- probing ---------------------------------------------------------------------------

    def abs_step(self, x0: np.ndarray) -> float:
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
        among: NDArray[np.intp] | None = None,
    ) -> Probes:
        """Run the finite differences for one tensor, retrying disagreements at smaller steps.

        With `extra_coords`, probe only that many random coordinates, taking `gstar` as the norm
        of the true gradient, and draw them from the flat indices `among` when given.
        """
        size = x.size
        h = self.abs_step(x0)
        if extra_coords:
            pool = size if among is None else among
            n_pool = size if among is None else len(among)
            coords = self.rng.choice(pool, size=min(extra_coords, n_pool), replace=False)
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
        return Probes(
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

    def direction_once(
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
        ulps = NOISE_ULPS * self.eps * max(abs(fp), abs(fm), abs(self.f0))
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
