"""Plots of the learning-rate tools: sweep curves, range test, sharpness against ``2 / lr``.

Figures are built as :class:`matplotlib.figure.Figure` objects on an Agg canvas, never through
pyplot, so plotting neither changes the caller's backend nor opens a window, and needs no display.
matplotlib is imported inside the functions: importing lossdoctor does not import it.

Files are written atomically: the figure goes to a temporary file in the target directory, which
then replaces the target, so a reader never sees half a PNG.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..atomic import atomic_write

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_loss_curves", "plot_lr_range", "plot_sharpness", "plot_sweep", "save_figure"]


def _figure(width: float = 7.0, height: float = 4.2) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def save_figure(fig: Figure, path: str | os.PathLike[str], *, dpi: int = 110) -> Path:
    """Save ``fig`` to ``path`` atomically (temporary file in the same directory, then replace).

    The format follows the suffix of ``path`` (``.png``, ``.svg``, ``.pdf``).
    """
    target = Path(path)
    fmt = target.suffix.lstrip(".").lower() or "png"
    target.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(target, lambda f: fig.savefig(f, format=fmt, dpi=dpi))


def _finish(fig: Figure, path: str | os.PathLike[str] | None) -> Figure:
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_loss_curves(
    curves: Mapping[str, Sequence[float]],
    path: str | os.PathLike[str] | None = None,
    *,
    title: str = "Training loss",
) -> Figure:
    """Overlay loss curves on a logarithmic loss axis.

    Parameters
    ----------
    curves : dict of str to sequence of float
        Legend label -> losses, one per epoch (non-finite values leave gaps).
    path : path, optional
        Where to save the figure.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = _figure()
    ax = fig.add_subplot()
    for label, losses in curves.items():
        y = np.asarray(losses, dtype=np.float64)
        y = np.where(np.isfinite(y) & (y > 0), y, np.nan)
        ax.plot(np.arange(1, y.size + 1), y, label=label, linewidth=1.4)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (log scale)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    if curves:
        ax.legend(fontsize="small")
    return _finish(fig, path)


def plot_sweep(result: Any, path: str | os.PathLike[str] | None = None) -> Figure:
    """Loss curves of a :class:`~lossdoctor.diagnostics.sweep.SweepResult`, labelled."""
    curves = {f"lr={row.lr:g} ({row.label})": row.losses for row in result.rows}
    return plot_loss_curves(curves, path, title="Learning-rate sweep: same initial weights")


def plot_lr_range(result: Any, path: str | os.PathLike[str] | None = None) -> Figure:
    """Loss against learning rate (log axis) with the suggestion and the curvature bound."""
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot(result.lrs, result.losses, color="0.7", linewidth=1, label="loss")
    ax.plot(result.lrs, result.smoothed, color="C0", linewidth=1.8, label="smoothed loss")
    ax.axvline(
        result.suggestion, color="C2", linestyle="--", label=f"suggestion {result.suggestion:.3g}"
    )
    if np.isfinite(result.bound):
        ax.axvline(
            result.bound,
            color="C3",
            linestyle=":",
            label=f"curvature bound at init {result.bound:.3g}",
        )
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("training loss")
    ax.set_title("Learning-rate range test")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    return _finish(fig, path)


def plot_sharpness(
    epochs: Sequence[int],
    sharpness: Sequence[float],
    learning_rate: float | Sequence[float],
    path: str | os.PathLike[str] | None = None,
    *,
    losses: Sequence[float] | None = None,
    limit_factor: float = 2.0,
) -> Figure:
    """Sharpness during training against the stability limit ``limit_factor / lr``.

    Parameters
    ----------
    epochs : sequence of int
    sharpness : sequence of float
    learning_rate : float or sequence of float
        The step size (one per measurement for a schedule).
    path : path, optional
    losses : sequence of float, optional
        Training loss per epoch, drawn on a second axis.
    limit_factor : float
        2 for gradient descent, ``2 (1 + b)`` for heavy-ball momentum.
    """
    fig = _figure()
    ax = fig.add_subplot()
    e = np.asarray(epochs)
    lr = np.broadcast_to(np.asarray(learning_rate, dtype=np.float64), e.shape)
    ax.plot(
        e, sharpness, "o-", color="C0", markersize=3, label="sharpness (top Hessian eigenvalue)"
    )
    ax.plot(e, limit_factor / lr, "--", color="C3", label=f"{limit_factor:g} / lr")
    ax.set_xlabel("epoch")
    ax.set_ylabel("sharpness")
    # The sharpness at the initial weights can dwarf the rest of the run; keep the limit line and
    # the bulk of the series in view and write the clipped values down instead.
    s = np.asarray(sharpness, dtype=np.float64)
    finite = s[np.isfinite(s)]
    top = max(2.0 * float(np.nanmax(limit_factor / lr)), 1.2 * float(np.percentile(finite, 90)))
    if finite.size and finite.max() > top:
        ax.set_ylim(0, top)
        clipped = [f"epoch {int(ep)}: {v:.3g}" for ep, v in zip(e, s) if v > top]
        ax.text(0.02, 0.97, "off scale: " + ", ".join(clipped[:3]), transform=ax.transAxes,
                va="top", fontsize="small", color="C0")  # fmt: skip
    else:
        ax.set_ylim(bottom=0)
    ax.set_title("Sharpness during training (edge of stability)")
    ax.grid(True, alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if losses is not None:
        ax2 = ax.twinx()
        y = np.asarray(losses, dtype=np.float64)
        ax2.plot(np.arange(1, y.size + 1), y, color="0.6", linewidth=1, label="training loss")
        ax2.set_yscale("log")
        ax2.set_ylabel("training loss (log scale)")
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    ax.legend(handles, labels, fontsize="small", loc="best")
    return _finish(fig, path)
