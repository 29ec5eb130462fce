"""Loss-curve classification: a pure function over a history of losses.

:func:`classify_curve` looks only at the numbers, so it works as well on a ``History`` from
lossdoctor's own trainer as on a list of losses printed by someone else's code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "CONVERGING",
    "DIVERGING",
    "LABELS",
    "NON_FINITE",
    "OSCILLATING",
    "PLATEAU",
    "SLOW",
    "TOO_SHORT",
    "CurveLabel",
    "classify_curve",
]

CONVERGING = "converging"
SLOW = "slow"
PLATEAU = "plateau"
OSCILLATING = "oscillating"
DIVERGING = "diverging"
NON_FINITE = "non-finite"
TOO_SHORT = "too-short"
LABELS = (CONVERGING, SLOW, PLATEAU, OSCILLATING, DIVERGING, NON_FINITE, TOO_SHORT)

# Thresholds; the docstring of classify_curve states the rules they enter.
MIN_FALL = 0.10  # a fall of 10% of the starting loss is substantial; less is "barely moved"
MIN_STEADY_FALL = 0.01  # a steady fall smaller than 1% is still a plateau
STEADY_TAU = -0.7  # Kendall's tau of the binned curve at or below this is a steady fall
RISE_RATIO = 1.2  # a rise to 1.2 times the start (or, sustained, the best) is diverging
FAR_ABOVE_BEST = 2.0  # ending at 2 times the best loss ...
UNDO_FRACTION = 0.25  # ... and giving back a quarter of the fall is diverging
RISE_TAU = 0.6  # Kendall's tau of the second half at or above this is a sustained rise
SWING_RATIO = 1.3  # 90th / 10th percentile of the loss at or above this is a swing ...
PATTERN_RATIO = 6.0  # ... if it is this many noise sds (white noise gives about 2.6) ...
SWING_BIG = 2.0  # ... or this large without a substantial fall
MAX_LAG = 16  # patterns repeating within this many epochs are told apart from noise ...
MIN_PATTERN_POINTS = 40  # ... in histories of at least this many losses
BEST_BIAS = 2.0  # standard errors by which the lowest running median undershoots its level
SLOW_FACTOR = 3.0  # needing 3 times the epochs run to settle is slow
SETTLE_TOL = 0.05  # settled: within 5% of the whole fall from the (extrapolated) floor
CHANCE_TOL = 0.95  # ending at 95% of the chance-level loss or above is stuck at chance
SIGNIFICANCE = 3.0  # a change must exceed this many standard errors of the noise
MIN_TREND_POINTS = 5  # fewer points: no slope, trend or oscillation rules
N_BINS = 20  # the trend statistics use medians of at most this many bins

_MAD_TO_SD = 1.4826  # standard deviation of a normal = 1.4826 * its median absolute deviation
_MEDIAN_SE = 1.2533  # standard error of a median = 1.2533 * sd / sqrt(n) for normal noise


@dataclass(frozen=True)
class CurveLabel:
    """The label of a loss curve, with the numbers behind it.

    Attributes
    ----------
    label : str
        One of ``converging``, ``slow``, ``plateau``, ``oscillating``, ``diverging``,
        ``non-finite`` or ``too-short`` (the module constants ``CONVERGING`` ... ``TOO_SHORT``).
    evidence : dict of str to float or int
        The epochs (counted from 1) and ratios that decided the label; see
        :func:`classify_curve`.
    message : str
        One sentence in plain words, with the numbers.
    """

    label: str
    evidence: dict[str, float | int] = field(default_factory=dict)
    message: str = ""


def classify_curve(losses: ArrayLike, *, chance_loss: float | None = None) -> CurveLabel:
    """Classify a training-loss history as converging, slow, plateau, oscillating or diverging.

    The rules work on the logarithm of the loss, so that a fall from 1.0 to 0.1 counts as much
    as one from 0.01 to 0.001, and on medians of windows, so that the noise of mini-batch losses
    does not raise false alarms. Epochs are counted from 1: ``losses[0]`` is epoch 1.

    **Levels.** With n losses, the *start* is the first loss (the median of the first 0.5% of
    a history of 400 losses or more), the *end* the median of the last 10%, the *best* the
    lowest running median over 10% (or the start, if lower), and the *thirds* the medians of
    the first, middle and last third. Windows of more than one loss hold an even number, so
    that a loss alternating between two values does not fool a median. The *noise* is the
    robust standard deviation of the log-loss about its local trend (from the median absolute
    second difference), and a change between two levels is *significant* if it exceeds
    ``SIGNIFICANCE = 3`` standard errors of their difference (plus ``BEST_BIAS = 2`` standard
    errors when the best is involved, since the lowest of many medians undershoots). The
    *fall* is 1 - end / start or 1 - last third / first third, whichever is larger among
    those that are significant.

    **Rules**, the first that applies wins:

    1. ``non-finite``: a loss is NaN or infinite. Evidence: ``first_bad_epoch``, and the best
       and last finite losses before it.
    2. ``too-short``: a single loss; there is nothing to compare it with.
    3. ``diverging``, if any of

       - a net rise: the end is at least ``RISE_RATIO = 1.2`` times the start, significantly;
       - a rise far above the best: the end is at least ``FAR_ABOVE_BEST = 2`` times the best,
         significantly, and gives back at least ``UNDO_FRACTION = 25%`` of the fall from the
         start to the best (so a loss wobbling at 1e-4 after a fall from 0.7 is no alarm);
       - a sustained rise: over the second half, Kendall's tau of the binned medians is at
         least ``RISE_TAU = 0.6``, their Theil-Sen slope rises by a factor of 1.2 or more, and
         the end is significantly at least 1.2 times the best.

    4. ``oscillating``: the loss swings over the second half, its 90th percentile there being
       ``SWING_RATIO = 1.3`` times its 10th or more, and either

       - the swings form a pattern rather than noise (with at least 40 losses: the swing is
         ``PATTERN_RATIO = 6`` or more times the smallest noise estimated from differences
         at lags 1 to 16; white noise gives about 2.6), and the log-swing is more than twice
         the net change of the log-loss from start to end, measured between means over
         windows of 1 to 5 times 10% of the history (the smallest, since a window can be out
         of phase with a wave); or
       - the swings are large, ``SWING_BIG = 2`` times or more, and there is no substantial
         fall (rule 5) or the log-swing is more than twice the net change between the means
         of the first and last 10%.
    5. ``slow``: the fall is significant and either substantial (at least ``MIN_FALL = 10%``)
       or steady (Kendall's tau of the binned curve at most ``STEADY_TAU = -0.7`` and a fall
       of at least 1%), and at this rate the loss needs ``SLOW_FACTOR = 3`` times the epochs
       run, or more, to settle. The estimate (``epochs_to_settle``) fits an exponential
       approach to a floor, ``loss = floor + a * exp(-t / time_constant)``, through the three
       thirds, whose falls shrink by q = exp(-spacing / time_constant), and counts the epochs
       until the loss is within ``SETTLE_TOL = 5%`` of its whole fall from the floor. If the
       curve is not slowing down (q >= 1) or the floor would be negative, it takes a decay to
       zero at the recent log-slope, ``time_constant = -1 / slope``, instead.
    6. ``converging``: a substantial, significant fall that is not slow, still falling or
       settled. With ``chance_loss``, an end at ``CHANCE_TOL = 95%`` of it or above is
       ``plateau`` instead: the network fell to the chance level and stays there.
    7. ``plateau``: otherwise; the loss barely moved from its start.

    **Short histories.** With 2 to 4 losses each window is a single loss and only rules 1, 3
    (net rise, far above best), 6 and 7 apply: the label is ``non-finite``, ``diverging``,
    ``converging`` or ``plateau``, never ``slow`` or ``oscillating``, which need at least
    ``MIN_TREND_POINTS = 5`` losses. With very noisy losses (epoch-to-epoch noise comparable
    to the whole fall) the pace of the fall is uncertain and ``slow`` may read ``converging``.

    Parameters
    ----------
    losses : array-like of shape (n_epochs,)
        Training losses, one per epoch (or per step), non-negative, oldest first.
    chance_loss : float, optional
        The loss of predicting without looking at the inputs, such as ``log(2)`` for balanced
        binary cross-entropy or the variance of the target for squared error. It adds
        ``end_over_chance`` to the evidence and turns "settled at chance" into ``plateau``.

    Returns
    -------
    CurveLabel
        ``label``, ``evidence`` and ``message``. The evidence always has ``n_epochs``; for two
        finite losses or more also ``start_loss``, ``end_loss``, ``best_loss``, ``best_epoch``,
        ``end_over_start``, ``end_over_best``, ``fall``, ``noise`` (log units) and ``window``;
        with ``chance_loss``, ``end_over_chance``; with 5 losses or more the trend statistics
        ``trend_tau``, ``tail_tau`` and ``recent_log_slope`` (change of the log-loss per epoch
        over the second half) and, past rule 3, ``swing_ratio`` and ``pattern_noise``; after
        a fall, ``time_constant``, ``floor_estimate``, ``epochs_to_settle`` (after the last
        epoch; 0 if settled) and ``settle_ratio`` (``epochs_to_settle / n_epochs``).

    Raises
    ------
    ValueError
        If ``losses`` is not 1-D, is empty or holds a negative loss, or if ``chance_loss`` is
        not a positive finite number.

    Examples
    --------
    >>> import numpy as np
    >>> epochs = np.arange(100)
    >>> classify_curve(0.05 + 0.65 * np.exp(-epochs / 10)).label
    'converging'
    >>> classify_curve(np.full(50, np.log(2)), chance_loss=np.log(2)).label
    'plateau'
    >>> classify_curve([0.69, 0.5, float("nan")]).evidence["first_bad_epoch"]
    3
    """
    L = np.asarray(losses, dtype=np.float64)
    if L.ndim != 1:
        raise ValueError(f"losses must be 1-D (n_epochs,), got shape {L.shape}")
    n = L.shape[0]
    if n == 0:
        raise ValueError("losses is empty: there is no curve to classify")
    if chance_loss is not None and not (math.isfinite(chance_loss) and chance_loss > 0):
        raise ValueError(f"chance_loss must be a positive finite number, got {chance_loss!r}")

    bad = ~np.isfinite(L)
    negative = ~bad & (L < 0)
    if negative.any():
        i = int(np.argmax(negative))
        raise ValueError(
            f"losses must be non-negative, got {L[i]:.6g} at epoch {i + 1}; "
            "classify_curve compares losses by their ratios"
        )
    if bad.any():
        return _non_finite(L, bad)
    if n == 1:
        return CurveLabel(
            TOO_SHORT,
            {"n_epochs": 1, "end_loss": float(L[0])},
            f"only one loss ({L[0]:.4g}): nothing to compare it with",
        )
    return _classify_finite(L, chance_loss)


def _classify_finite(L: np.ndarray, chance_loss: float | None) -> CurveLabel:
    n = L.shape[0]
    # A loss of exactly zero has no logarithm: count it as 1000 times below the smallest
    # positive loss (not relative to the largest, which an explosion can make 1e300).
    positive = L[L > 0]
    if not positive.size:
        return CurveLabel(
            PLATEAU,
            {"n_epochs": n, "start_loss": 0.0, "end_loss": 0.0, "best_loss": 0.0},
            f"the loss is exactly 0 in all {n} epochs: a perfect fit of the training data",
        )
    floor = float(positive.min()) * 1e-3
    z = np.log(np.maximum(L, max(floor, np.finfo(np.float64).tiny)))
    # Second differences cancel any locally straight trend, even an explosion of x100 per epoch.
    d2 = np.diff(z, 2)
    noise = (
        _MAD_TO_SD * float(np.median(np.abs(d2 - np.median(d2)))) / math.sqrt(6) if n > 2 else 0.0
    )
    trend = n >= MIN_TREND_POINTS

    # The start is the first loss, or the median of the first 0.5% in long (per-step) histories:
    # an explosion can take only a few epochs. The end is the median of the last 10%, and the
    # best the lowest running median over 10%, or the start if lower. Windows hold an even
    # number of losses (when more than one), so that a loss alternating between two values has
    # a median between them whatever the window's phase.
    s = _even(max(1, n // 200))
    m = _even(max(1, n // 10))
    z1, z3 = float(np.median(z[:s])), float(np.median(z[n - m :]))
    running = np.median(np.lib.stride_tricks.sliding_window_view(z, m), axis=1)
    i_best, zb = int(np.argmin(running)) + m // 2, float(running.min())
    if z1 <= zb:
        i_best, zb = s // 2, z1
    se_start = _MEDIAN_SE * noise / math.sqrt(s)
    se_end = _MEDIAN_SE * noise / math.sqrt(m)
    margin = SIGNIFICANCE * math.hypot(se_start, se_end)
    # The lowest of many running medians sits below the true level by a couple of standard errors.
    margin_best = max(margin, SIGNIFICANCE * math.sqrt(2) * se_end + BEST_BIAS * se_end)

    # Levels over thirds, to judge the fall and its pace with as much averaging as possible.
    k = _even(max(1, n // 3))
    t1 = float(np.median(z[:k]))
    t3 = float(np.median(z[n - k :]))
    margin3 = SIGNIFICANCE * math.sqrt(2) * _MEDIAN_SE * noise / math.sqrt(k)
    # The fall from start to end sees a curve that settles within its first third; the fall
    # from the first to the last third averages out more noise. Either may show it.
    drops = [(d, mg) for d, mg in ((z1 - z3, margin), (t1 - t3, margin3)) if d >= mg]
    drop = max((d for d, _ in drops), default=max(z1 - z3, t1 - t3))
    fall = 1.0 - _ratio(-drop)
    significant = bool(drops)

    Ls, Le, Lb = math.exp(z1), math.exp(z3), math.exp(zb)
    ev: dict[str, float | int] = {
        "n_epochs": n,
        "start_loss": Ls,
        "end_loss": Le,
        "best_loss": Lb,
        "best_epoch": i_best + 1,
        "end_over_start": _ratio(z3 - z1),
        "end_over_best": _ratio(z3 - zb),
        "fall": fall,
        "noise": noise,
        "window": m,
    }
    r_start, r_best = ev["end_over_start"], ev["end_over_best"]
    if chance_loss is not None:
        ev["chance_loss"] = float(chance_loss)
        ev["end_over_chance"] = _ratio(z3 - math.log(chance_loss))
    trend_tau = tail_tau = tail_slope = 0.0
    if trend:
        trend_tau, _ = _binned_trend(z, 0)
        tail_tau, tail_slope = _binned_trend(z, n // 2)
        ev.update(trend_tau=trend_tau, tail_tau=tail_tau, recent_log_slope=tail_slope)

    # 3. Diverging.
    tail_len = n - n // 2
    if z3 - z1 >= max(math.log(RISE_RATIO), margin):
        return CurveLabel(
            DIVERGING,
            ev,
            f"the loss rose from {Ls:.4g} to {Le:.4g} (x{r_start:.3g} its start)",
        )
    far_above = z3 - zb >= max(math.log(FAR_ABOVE_BEST), margin_best)
    if far_above and Le - Lb >= UNDO_FRACTION * (Ls - Lb):
        given_back = f", giving back {(Le - Lb) / (Ls - Lb):.0%} of its fall" if Ls > Lb else ""
        return CurveLabel(
            DIVERGING,
            ev,
            f"the loss rose to {Le:.4g}, x{r_best:.3g} its best of {Lb:.4g} at epoch "
            f"{i_best + 1}{given_back}",
        )
    if (
        trend
        and tail_tau >= RISE_TAU
        and tail_slope * (tail_len - 1) >= math.log(RISE_RATIO)
        and z3 - zb >= max(math.log(RISE_RATIO), margin_best)
    ):
        return CurveLabel(
            DIVERGING,
            ev,
            f"the loss has been rising over the last {tail_len} epochs, to {Le:.4g} "
            f"(x{r_best:.3g} its best of {Lb:.4g} at epoch {i_best + 1})",
        )

    # 4. Oscillating: swings in the second half, of a pattern or large, that dwarf the net
    # change. Mini-batch noise is no pattern, and the second half leaves out the early fall of
    # a curve that has settled since.
    substantial = significant and fall >= MIN_FALL
    recent = z[n // 2 :]
    q10, q90 = (float(v) for v in np.percentile(recent, [10, 90]))
    swing = q90 - q10
    # A pattern that repeats every `lag` epochs hardly changes between z[t] and z[t + lag], so
    # the smallest noise over the lags is small for a pattern and not for noise.
    lags = range(1, max(1, min(MAX_LAG, recent.shape[0] // 3)) + 1)
    pattern_noise = min(_noise(recent, lag) for lag in lags)
    patterned = n >= MIN_PATTERN_POINTS and swing >= PATTERN_RATIO * pattern_noise
    # The net change between means over windows at the start and the end. For a pattern, the
    # smallest over a few widths, since a window can be out of phase with a wave.
    nets = [
        abs(float(np.mean(z[:w])) - float(np.mean(z[n - w :])))
        for w in sorted({m * j for j in range(1, 6) if m * j <= max(m, n // 2)})
    ]
    ev.update(swing_ratio=_ratio(swing), pattern_noise=pattern_noise)
    if (
        trend
        and swing >= math.log(SWING_RATIO)
        and (
            (patterned and min(nets) < swing / 2)
            or (swing >= math.log(SWING_BIG) and (not substantial or nets[0] < swing / 2))
        )
    ):
        return CurveLabel(
            OSCILLATING,
            ev,
            f"the loss swings up and down between {math.exp(q10):.4g} and {math.exp(q90):.4g} "
            f"(x{_ratio(swing):.3g}) without a net fall: {Ls:.4g} at the start, "
            f"{Le:.4g} at the end{_over(m)}",
        )

    # 5-6. Slow or converging, after a significant fall.
    steady = significant and trend and trend_tau <= STEADY_TAU and fall >= MIN_STEADY_FALL
    at_chance = chance_loss is not None and Le >= CHANCE_TOL * chance_loss
    to_settle = 0.0
    if trend and (substantial or steady):
        # Trimmed means of the loss itself, not medians of its log: on a steep trend a median
        # rests on the few losses near the window's centre, a mean on all of them. Scaled by
        # the largest loss so that losses near 1e308 cannot overflow.
        top = float(z.max())
        y1, y2, y3 = (_trimmed_mean(np.exp(z[i : i + k] - top)) for i in (0, (n - k) // 2, n - k))
        tau, floor = _exponential_approach(y1, y2, y3, (n - k) / 2)
        remaining, whole = y3 - floor, y1 - floor
        # whole <= 0: the first third is no higher than the floor, so the fall happened
        # within it and the loss has settled since.
        if whole > 0 and remaining > SETTLE_TOL * whole:
            to_settle = tau * math.log(remaining / (SETTLE_TOL * whole))
        ev.update(
            time_constant=tau,
            floor_estimate=floor * _ratio(top),
            epochs_to_settle=to_settle,
            settle_ratio=to_settle / n,
        )
        if to_settle >= SLOW_FACTOR * n:
            return CurveLabel(
                SLOW,
                ev,
                f"the loss fell from {Ls:.4g} to {Le:.4g} (x{r_start:.3g}) in {n} epochs and is "
                f"still falling steadily: at this rate it needs about {to_settle:.3g} more "
                f"epochs to settle, x{to_settle / n:.3g} the epochs run",
            )
    if substantial and not at_chance:
        if "epochs_to_settle" not in ev:  # too short to judge the pace
            state = ""
        elif to_settle == 0:
            state = " and has settled"
        else:
            state = f" and is still falling (about {to_settle:.3g} more epochs to settle)"
        return CurveLabel(
            CONVERGING, ev, f"the loss fell from {Ls:.4g} to {Le:.4g} (x{r_start:.3g}){state}"
        )

    # 7. Plateau.
    if chance_loss is not None and at_chance:
        how = "fell to" if substantial else "is stuck at"
        if ev["end_over_chance"] > 1.5:  # worse than guessing, not merely as good as it
            how = "ended above" if substantial else "is stuck above"
        message = (
            f"the loss {how} the chance level: {Le:.4g} at the end{_over(m)}, "
            f"x{ev['end_over_chance']:.3g} "
            f"the loss of predicting without the inputs ({chance_loss:.4g})"
        )
    elif abs(fall) < MIN_FALL:
        message = f"the loss barely moved: from {Ls:.4g} to {Le:.4g} (x{r_start:.3g}) in {n} epochs"
    else:
        message = (
            f"the loss shows no clear fall: from {Ls:.4g} to {Le:.4g} (x{r_start:.3g}) in {n} "
            f"epochs, within its epoch-to-epoch noise of x{_ratio(noise):.3g}"
        )
    return CurveLabel(PLATEAU, ev, message)


def _ratio(log_ratio: float) -> float:
    """exp(log_ratio), capped at about 1e304 so that evidence stays finite for JSON."""
    return math.exp(min(log_ratio, 700.0))


def _even(width: int) -> int:
    return width if width < 2 else width - width % 2


def _noise(z: np.ndarray, lag: int) -> float:
    """Robust standard deviation of the noise in z from its differences at ``lag``.

    The median absolute deviation of the differences ignores a smooth trend and the odd spike;
    dividing by sqrt(2) turns the spread of a difference into that of one value.
    """
    d = z[lag:] - z[:-lag]
    if d.size == 0:
        return 0.0
    return _MAD_TO_SD * float(np.median(np.abs(d - np.median(d)))) / math.sqrt(2)


def _non_finite(L: np.ndarray, bad: np.ndarray) -> CurveLabel:
    first = int(np.argmax(bad))
    kind = "NaN" if np.isnan(L[first]) else "infinite"
    ev: dict[str, float | int] = {
        "n_epochs": L.shape[0],
        "first_bad_epoch": first + 1,
        "n_finite_before": first,
    }
    message = f"the loss became {kind} at epoch {first + 1}"
    if first > 0:
        before = L[:first]
        i_best = int(np.argmin(before))
        ev.update(
            best_loss=float(before[i_best]),
            best_epoch=i_best + 1,
            last_finite_loss=float(before[-1]),
            last_over_best=(
                _ratio(math.log(before[-1]) - math.log(before[i_best]))
                if before[i_best] > 0
                else 1.0
            ),
        )
        if ev["last_over_best"] >= FAR_ABOVE_BEST:
            message += (
                f", after rising from its best of {before[i_best]:.4g} at epoch {i_best + 1} "
                f"to {before[-1]:.4g}"
            )
    return CurveLabel(NON_FINITE, ev, message)


def _binned_trend(z: np.ndarray, start: int) -> tuple[float, float]:
    """Kendall's tau and the Theil-Sen slope (per epoch) of z[start:], over bin medians.

    Medians of at most N_BINS contiguous bins first remove most of the mini-batch noise and
    bound the pairwise work, so long per-step histories cost no more than short ones.
    """
    index = np.arange(start, z.shape[0])
    bins = np.array_split(index, min(N_BINS, index.shape[0]))
    t = np.array([b.mean() for b in bins])
    v = np.array([np.median(z[b]) for b in bins])
    i, j = np.triu_indices(t.shape[0], k=1)
    tau = float(np.mean(np.sign(v[j] - v[i]))) if i.size else 0.0
    slope = float(np.median((v[j] - v[i]) / (t[j] - t[i]))) if i.size else 0.0
    return tau, slope


def _exponential_approach(y1: float, y2: float, y3: float, spacing: float) -> tuple[float, float]:
    """Time constant and floor of ``floor + a * exp(-t / tau)`` through three levels.

    The levels are means over equal windows ``spacing`` epochs apart; a window mean of this curve
    is the curve at the window's centre times a factor common to all three, so that the falls
    d1 = y1 - y2 and d2 = y2 - y3 still shrink by q = d2 / d1 = exp(-spacing / tau), and the
    fall still to come after the last is d2 * q / (1 - q). If the curve is not slowing down
    (q >= 1) or the floor would be negative, fall back to an exponential decay to zero at the
    recent log-slope: tau = -1 / slope.
    """
    d1, d2 = y1 - y2, y2 - y3
    if d2 <= 0 or y3 <= 0:
        return 0.0, max(y3, 0.0)  # the last third did not fall: settled at y3
    if d2 < d1:
        q = d2 / d1
        if q == 0.0:  # underflow: the last third fell by nothing next to the first
            return 0.0, y3
        remaining = d2 * q / (1 - q)
        if remaining <= y3:
            return -spacing / math.log(q), y3 - remaining
    return spacing / math.log(y2 / y3), 0.0


def _trimmed_mean(values: np.ndarray, cut: float = 0.1) -> float:
    """Mean without the lowest and highest ``cut`` fraction, so that a spike cannot drag it."""
    ordered = np.sort(values)
    drop = int(cut * ordered.shape[0])
    return float(np.mean(ordered[drop : ordered.shape[0] - drop]))


def _over(m: int) -> str:
    """Says that an end level is a median, so that it is not read as the last epoch's loss."""
    return f" (median of the last {m} epochs)" if m > 1 else ""
