"""Output for the commands: checking output paths before the work, plots and JSON, a network's
name."""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .errors import UsageError


def check_output_path(path: str | None, option: str) -> None:
    """Fail before training, not after, when an output cannot be written."""
    if path is None:
        return
    p = Path(path)
    if path.endswith(("/", os.sep)) or p.is_dir():
        raise UsageError(f"{option} {path} is a directory; give a file name")
    try:
        mode = os.stat(p).st_mode
    except OSError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        raise UsageError(
            f"{option} {path} exists and is not a regular file (a device or a pipe); "
            "give a file name"
        )
    parent = p.parent
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: directory {str(parent)!r} does not exist")


def check_plot_path(path: str | None) -> None:
    """Fail now, not after training, on an unwritable --plot path or an unknown image format."""
    check_output_path(path, "--plot")
    if path is not None:
        plot_format(path)


def plot_format(path: str) -> str:
    """The image format of ``path``'s suffix, if matplotlib writes it."""
    from matplotlib.backend_bases import FigureCanvasBase

    suffix = Path(path).suffix.lower().lstrip(".")
    supported = FigureCanvasBase.get_supported_filetypes()
    if suffix not in supported:
        raise UsageError(
            f"--plot {path}: unknown image format {suffix or '(none)'!r}; use one of: "
            + ", ".join(sorted(supported))
        )
    return suffix


def architecture(layer_sizes: Iterable[int]) -> str:
    """A network's layer widths as ``30-128-64-1``."""
    return "-".join(str(s) for s in layer_sizes)


def print_and_plot(
    header: str, result: Any, plot: str | None, draw: Callable[[Any, str], Any]
) -> int:
    """Print a header line and ``result``'s table; ``draw`` it to ``plot`` if given."""
    print(header)
    print(result.format())
    if plot is not None:
        # Diverged runs leave inf and nan in the curves, which the axis arithmetic warns about.
        with np.errstate(over="ignore", invalid="ignore"):
            draw(result, plot)
        print(f"plot written to {plot}")
    return 0


def json_safe(value: Any) -> Any:
    """A copy of nested dicts and lists with non-finite floats replaced by None."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def json_default(value: Any) -> Any:
    """NumPy scalars and arrays, and anything else, in a form JSON accepts."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
