"""Argument types for ``type=``: each parses one value and names the offending text."""

from __future__ import annotations

import argparse
import math


def positive_int(text: str) -> int:
    """Parse a positive integer."""
    return _int_at_least(text, 1, "a positive integer")


def seed(text: str) -> int:
    """Parse a random seed, an integer >= 0 (what NumPy's generators take)."""
    return _int_at_least(text, 0, "a non-negative integer")


def positive_float(text: str) -> float:
    """Parse a positive finite number."""
    value = _float(text, "a positive number")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """Parse a finite number >= 0."""
    value = _float(text, "a non-negative number")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative number, got {text!r}")
    return value


def fraction(text: str) -> float:
    """Parse a number strictly between 0 and 1."""
    value = _float(text, "a number between 0 and 1")
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be a number between 0 and 1, got {text!r}")
    return value


def lr_or_auto(text: str) -> float | str:
    """Parse a positive learning rate, or ``auto`` (chosen from the curvature)."""
    return "auto" if text == "auto" else positive_float(text)


def _int_at_least(text: str, minimum: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return value


def _float(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return value
