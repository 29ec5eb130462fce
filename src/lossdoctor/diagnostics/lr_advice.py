"""The one rule for the learning rate to advise: lr-find, ``--lr auto`` and the doctor call it.

:func:`advise_lr` turns what is measured at the initial weights into one rate:

- the **curvature rule**, when a stability bound is known (gradient descent, with or without
  momentum): :data:`BOUND_FRACTION` of the bound (``1 / L`` for plain descent). Half the bound
  leaves room for the sharpness to rise during training; the doctor calls a rate above the bound
  at the initial weights too high, so the advice never lands there.
- the **range test's reading** (a tenth of the rate at the minimum of the smoothed range-test
  loss), when no bound is known: Adam, which has no bound before training, or a sharpness that
  could not be measured.

When both are known the advice is the curvature rule, which ``--lr auto`` and the doctor (who
run no range test) compute too, and :attr:`LRAdvice.rule` gives the range test's reading beside
it and says why it is not followed when it is above the bound (it often reads several times the
bound: the sharpness falls in its first steps, the edge of stability; a rate above the bound at
the initial weights is what the doctor calls too high).

:attr:`LRAdvice.rounded` is the rate as the doctor's fixes state it: rounded down to one
significant digit (:func:`round_lr_down`), so less than a factor 2 below the advice and never
above it. :func:`nice_lr` (down to 1, 2 or 5 times a power of ten) is for rates that are not
advice, such as a tenth of the current one.
"""

from __future__ import annotations

import math
from typing import NamedTuple

__all__ = ["BOUND_FRACTION", "LRAdvice", "advise_lr", "nice_lr", "round_lr_down"]

#: The advised rate is this fraction of the stability bound at the initial weights.
BOUND_FRACTION = 0.5


class LRAdvice(NamedTuple):
    """The advised learning rate and where it comes from.

    Attributes
    ----------
    rate : float
        The advised learning rate (nan when nothing was measured).
    rule : str
        How it was chosen, with the numbers (and, when the range test and the curvature rule
        disagree, why the advice follows the curvature).
    source : {"curvature", "range test", "none"}
    bound : float or None
        The stability bound at the initial weights, when known.
    range_lr : float or None
        The range test's reading, when one was run.
    """

    rate: float
    rule: str
    source: str
    bound: float | None
    range_lr: float | None

    @property
    def rounded(self) -> float:
        """:attr:`rate` rounded down by :func:`round_lr_down`, as the doctor's fixes state it."""
        return round_lr_down(self.rate)


def _known(x: float | None) -> bool:
    return x is not None and math.isfinite(x) and x > 0


def advise_lr(*, bound: float | None = None, range_lr: float | None = None) -> LRAdvice:
    """The learning rate to advise, from the stability bound and/or the range test's reading.

    Parameters
    ----------
    bound : float, optional
        Stability bound at the initial weights (``2 / L`` for gradient descent); None or nan
        when none is known (Adam, or a sharpness that could not be measured).
    range_lr : float, optional
        The range test's reading (a tenth of the rate at the minimum of the smoothed loss).

    Returns
    -------
    LRAdvice
    """
    b = bound if _known(bound) else None
    r = range_lr if _known(range_lr) else None
    if b is None and r is None:
        return LRAdvice(math.nan, "no stability bound and no range test", "none", None, None)
    if b is None:
        assert r is not None
        return LRAdvice(r, f"the range test's reading {r:.3g}", "range test", None, r)
    half = BOUND_FRACTION * b
    rule = f"{BOUND_FRACTION:g} x the stability bound {b:.3g} at the initial weights = {half:.3g}"
    if r is None:
        return LRAdvice(half, rule, "curvature", b, None)
    if r > b:
        why = (
            f"the range test reads {r:.3g}, x{r / b:.3g} the bound: safe only if the sharpness "
            f"falls in the first steps, and a rate above the bound is what the doctor calls too "
            f"high"
        )
    else:
        why = (
            f"the range test reads {r:.3g} (x{r / half:.2g} this); the advice follows the "
            f"curvature, as --lr auto and the doctor do"
        )
    return LRAdvice(half, f"{rule}; {why}", "curvature", b, r)


def nice_lr(value: float) -> float:
    """Round a learning rate down to one significant digit of 1, 2 or 5 (0.37 -> 0.2)."""
    if not (math.isfinite(value) and value > 0):
        return value
    exponent = math.floor(math.log10(value))
    mantissa = value / 10**exponent
    step = 5 if mantissa >= 5 else 2 if mantissa >= 2 else 1
    return float(f"{step * 10**exponent:.1g}")


def round_lr_down(value: float) -> float:
    """Round a learning rate down to one significant digit (0.44 -> 0.4, 0.19 -> 0.1).

    The result is above half the value (1.99 -> 1 is the worst case), so advice stated this way
    stays within a factor 2 of the unrounded rate.
    """
    if not (math.isfinite(value) and value > 0):
        return value
    exponent = math.floor(math.log10(value))
    digit = max(1, min(9, math.floor(value / 10**exponent * (1 + 1e-12))))
    return float(f"{digit * 10**exponent:.1g}")
