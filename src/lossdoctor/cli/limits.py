"""Limits checked before work: the memory a network and its data would need, against what the
machine has, so that ``--hidden 100000 100000`` is one line and exit status 2, not a
``MemoryError`` traceback from deep inside NumPy."""

from __future__ import annotations

import argparse
import itertools
import os
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from .errors import UsageError
from .output import architecture

# Copies of the parameters alive during training: the weights, their gradients, the update,
# the optimiser's state (two for Adam) and the best weights kept for restoring.
_PARAM_COPIES = 6
# Arrays per hidden unit and sample in a full-batch pass: pre-activation, activation, delta.
_ACTIVATION_COPIES = 3


def training_bytes(layer_sizes: Sequence[int], n_samples: int, dtype: str = "float64") -> int:
    """An estimate, from above, of the memory one training run of this network takes.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(n_features, *hidden, n_outputs)``.
    n_samples : int
        Samples in a full-batch pass (every command evaluates the loss on all of them).
    dtype : {"float64", "float32"}

    Returns
    -------
    int
        Bytes, computed with Python integers (no overflow for absurd widths).
    """
    itemsize = np.dtype(dtype).itemsize
    sizes = [int(s) for s in layer_sizes]
    n_params = sum(a * b + b for a, b in itertools.pairwise(sizes))
    per_sample = sizes[0] + _ACTIVATION_COPIES * sum(sizes[1:])
    return itemsize * (_PARAM_COPIES * n_params + int(n_samples) * per_sample)


def available_bytes() -> int | None:
    """Memory this process can still take: ``MemAvailable``, bounded by ``RLIMIT_AS``."""
    limits = []
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    limits.append(int(line.split()[1]) * 1024)
                    break
    except (OSError, ValueError, IndexError):
        try:
            limits.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (OSError, ValueError, AttributeError):
            pass
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            limits.append(int(soft))
    except (ImportError, OSError, ValueError):
        pass
    return min(limits) if limits else None


def check_memory(layer_sizes: Sequence[int], n_samples: int, dtype: str = "float64") -> None:
    """Refuse, in one line, a network whose training would not fit in the available memory.

    Raises
    ------
    UsageError
        Naming the network, what it would need and what is available.
    """
    needed = training_bytes(layer_sizes, n_samples, dtype)
    available = available_bytes()
    if available is None or needed <= available:
        return
    raise UsageError(
        f"a {architecture(layer_sizes)} network ({dtype}) on {n_samples} samples needs about "
        f"{format_bytes(needed)} of memory, but {format_bytes(available)} is available: use "
        "narrower or fewer --hidden layers"
    )


def check_args_memory(args: argparse.Namespace, X_shape: tuple[int, ...], n_outputs: int) -> None:
    """:func:`check_memory` for the set-up options' ``--hidden`` and ``--dtype``."""
    n_samples, n_features = X_shape
    check_memory((n_features, *args.hidden, n_outputs), n_samples, args.dtype)


def n_outputs(task: str, y: NDArray) -> int:
    """Output units of the network for ``y``: one per class (one for two), one for regression."""
    if task != "classification":
        return 1
    k = int(np.unique(y).size)
    return 1 if k == 2 else k


def format_bytes(n: int) -> str:
    """``n`` bytes as ``74.5 GiB``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.3g} {unit}"
        value /= 1024
    return f"{value:.3g} PiB"  # pragma: no cover
