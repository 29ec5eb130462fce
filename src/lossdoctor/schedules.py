"""Learning-rate schedules: functions from the update count (0, 1, 2, ...) to a step size.

Optimisers accept either a float or one of these, as in optax.
"""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = [
    "Schedule",
    "constant",
    "cosine_decay",
    "exponential_decay",
    "inverse_scaling",
    "linear_warmup",
    "step_decay",
    "value_at",
]

Schedule = Callable[[int], float]


def value_at(learning_rate: float | Schedule, count: int) -> float:
    """The step size at update ``count`` for a float or a schedule."""
    return float(learning_rate(count)) if callable(learning_rate) else float(learning_rate)


def constant(value: float) -> Schedule:
    """``lr(t) = value``."""
    return lambda count: value


def step_decay(init_value: float, step_size: int, factor: float = 0.1) -> Schedule:
    """``lr(t) = init_value * factor ** floor(t / step_size)``."""
    return lambda count: init_value * factor ** (count // step_size)


def exponential_decay(init_value: float, rate: float) -> Schedule:
    """``lr(t) = init_value * rate ** t`` (``rate`` below 1 decays, above 1 grows)."""
    return lambda count: init_value * rate**count


def inverse_scaling(init_value: float, power: float = 0.5) -> Schedule:
    """``lr(t) = init_value / (t + 1) ** power`` (scikit-learn's ``invscaling``, per update)."""
    return lambda count: init_value / (count + 1) ** power


def cosine_decay(init_value: float, decay_steps: int, final_value: float = 0.0) -> Schedule:
    """Half a cosine from ``init_value`` at t = 0 to ``final_value`` at ``decay_steps``, then flat.

    ``lr(t) = final + (init - final) * (1 + cos(pi * min(t, T) / T)) / 2``.
    """

    def schedule(count: int) -> float:
        frac = min(count, decay_steps) / decay_steps
        return final_value + (init_value - final_value) * 0.5 * (1 + math.cos(math.pi * frac))

    return schedule


def linear_warmup(peak_value: float, warmup_steps: int, after: Schedule | None = None) -> Schedule:
    """Rise linearly from ``peak_value / warmup_steps`` to ``peak_value`` over ``warmup_steps``.

    Then follow ``after(t - warmup_steps)``, or stay at ``peak_value``.
    """

    def schedule(count: int) -> float:
        if count < warmup_steps:
            return peak_value * (count + 1) / warmup_steps
        return after(count - warmup_steps) if after is not None else peak_value

    return schedule
