"""The plots of a diagnosis, rendered to self-contained PNG data URIs.

Each ``*_figure`` function takes plain series (a :class:`~lossdoctor.training.History` and the
monitor dict of a :class:`~lossdoctor.diagnostics.findings.Diagnosis`) and returns a matplotlib
:class:`~matplotlib.figure.Figure`, or None when the data it needs were not recorded. Figures are
drawn on an Agg canvas without pyplot, so rendering a report never changes the caller's backend
or opens a window, and :func:`figure_to_data_uri` turns one into a ``data:image/png`` URI that an
HTML page can embed without any external file.

The monitor series may be missing, empty, shorter than their epochs or contain None and NaN: a
missing series skips its plot, and NaN or infinite values leave gaps in the lines.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "PLOT_IDS",
    "diagnosis_figures",
    "figure_to_data_uri",
    "grad_norm_figure",
    "loss_figure",
    "saturation_figure",
    "sharpness_figure",
]

#: The plots of a report in page order: HTML id -> caption.
PLOT_IDS: dict[str, str] = {
    "plot-loss": "Loss curves",
    "plot-saturation": "Saturated and dead units per layer",
    "plot-grad-norm": "Gradient norm per parameter",
    "plot-sharpness": "Sharpness against 2 / learning rate",
}

_BEFORE, _AFTER = "#1f77b4", "#2ca02c"


def _as_float_array(values: Any) -> NDArray[np.float64]:
    """``values`` as a 1-D float array; None, non-numbers and infinities become NaN."""
    if values is None:
        return np.empty(0)
    if isinstance(values, np.ndarray):
        values = values.ravel().tolist()
    if not isinstance(values, Sequence) or isinstance(values, str | bytes):
        return np.empty(0)
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        try:
            x = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(x):
            out[i] = x
    return out


def _has_data(values: NDArray[np.float64]) -> bool:
    return bool(values.size) and bool(np.isfinite(values).any())


def _aligned(y: Any, *xs: Any) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(x, y)`` with ``x`` the first candidate as long as ``y``, else 1, 2, ..., len(y)."""
    ys = _as_float_array(y)
    for x in xs:
        if hasattr(x, "__len__") and len(x) == ys.size:
            return _as_float_array(x), ys
    return np.arange(1, ys.size + 1, dtype=float), ys


def _series(source: Any, name: str) -> Any:
    """Column ``name`` of a History-like object or a mapping (None when absent)."""
    if source is None:
        return None
    if isinstance(source, Mapping):
        return source.get(name)
    return getattr(source, name, None)


def _named_series(monitor: Mapping[str, Any], key: str) -> dict[str, NDArray[np.float64]]:
    """``monitor[key]`` (a dict name -> list) with only the series that hold a finite value."""
    raw = monitor.get(key)
    if not isinstance(raw, Mapping):
        return {}
    series = {str(name): _as_float_array(values) for name, values in raw.items()}
    return {name: values for name, values in series.items() if _has_data(values)}


def _new_figure(n_axes: int = 1, *, width: float = 7.0, height: float = 3.6) -> Figure:
    # Agg is chosen here, per figure, instead of through pyplot's global backend.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # Fixed margins instead of a layout engine: constrained layout draws every figure twice.
    total = height * n_axes
    fig = Figure(figsize=(width, total))
    FigureCanvasAgg(fig)
    fig.subplots(n_axes, 1, squeeze=False, sharex=True)
    fig.subplots_adjust(
        left=0.12, right=0.97, bottom=0.55 / total, top=1 - 0.35 / total, hspace=0.45 / height
    )
    return fig


def _log_scale_if_positive(ax: Axes, *arrays: NDArray[np.float64], min_ratio: float = 1.0) -> None:
    """Log y axis when every finite value is positive and max / min >= ``min_ratio``."""
    finite = np.concatenate([a[np.isfinite(a)] for a in arrays]) if arrays else np.empty(0)
    if finite.size and bool((finite > 0).all()) and finite.max() >= min_ratio * finite.min():
        ax.set_yscale("log")


def _finish(ax: Axes, *, ylabel: str, title: str) -> None:
    ax.set_title(title, fontsize=11, loc="left")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best")


def loss_figure(history: Any, fixed_history: Any = None) -> Figure | None:
    """Training (and validation) loss per epoch, before and after the fix, on a log scale.

    Parameters
    ----------
    history : History, mapping or None
        The diagnosed run: needs ``epoch`` and ``loss``; ``val_loss`` is drawn dashed when it holds
        a finite value.
    fixed_history : History, mapping or None
        The run retrained with the fix, overlaid in another colour.

    Returns
    -------
    Figure or None
        None when neither run recorded a finite loss.
    """
    runs = [("", history, _BEFORE)]
    if fixed_history is not None:
        runs = [("before: ", history, _BEFORE), ("after fix: ", fixed_history, _AFTER)]
    drawn: list[tuple[str, NDArray[np.float64], NDArray[np.float64], str]] = []
    for label, hist, colour in runs:
        for column, suffix in (("loss", "train"), ("val_loss", "validation")):
            x, y = _aligned(_series(hist, column), _series(hist, "epoch"))
            if _has_data(y):
                drawn.append((f"{label}{suffix}", x, y, colour))
    if not any(label.endswith("train") for label, *_ in drawn):
        return None
    fig = _new_figure()
    ax = fig.axes[0]
    for label, x, y, colour in drawn:
        style = "--" if label.endswith("validation") else "-"
        ax.plot(x, y, style, color=colour, label=label, lw=1.5, marker="." if x.size < 30 else "")
    _log_scale_if_positive(ax, *(y for _, _, y, _ in drawn))
    ax.set_xlabel("epoch")
    _finish(ax, ylabel="loss", title="Loss per epoch")
    return fig


def saturation_figure(monitor: Mapping[str, Any]) -> Figure | None:
    """Share of saturated units and share of dead units per hidden layer over the epochs.

    Parameters
    ----------
    monitor : dict
        ``epoch`` and ``saturation`` / ``dead``: dicts layer name -> list of shares in [0, 1],
        aligned with ``epoch``.

    Returns
    -------
    Figure or None
        None when neither series was recorded; a panel is drawn for each one that was.
    """
    panels = [
        (key, title, series)
        for key, title in (
            ("saturation", "Saturated units (share of the layer)"),
            ("dead", "Dead units (share of the layer)"),
        )
        if (series := _named_series(monitor, key))
    ]
    if not panels:
        return None
    fig = _new_figure(len(panels), height=3.0)
    for ax, (_key, title, series) in zip(fig.axes, panels):
        for name, values in series.items():
            x, y = _aligned(values, monitor.get("epoch"), monitor.get("update_epoch"))
            ax.plot(x, y, label=name, lw=1.5, marker="." if x.size < 30 else "")
        ax.set_ylim(-0.03, 1.03)
        _finish(ax, ylabel="share", title=title)
    fig.axes[-1].set_xlabel("epoch")
    return fig


def grad_norm_figure(monitor: Mapping[str, Any]) -> Figure | None:
    """Gradient norm of each parameter over the epochs, on a log scale.

    Parameters
    ----------
    monitor : dict
        ``epoch`` and ``grad_norm``: dict parameter name -> list of norms aligned with ``epoch``
        (a series of another length is drawn against ``update_epoch`` when that fits, else
        against 1, 2, ...).
        Weights are drawn solid and biases dashed, one colour per layer.

    Returns
    -------
    Figure or None
    """
    series = _named_series(monitor, "grad_norm")
    if not series:
        return None
    fig = _new_figure()
    ax = fig.axes[0]
    colours: dict[str, str] = {}
    for name, values in series.items():
        x, y = _aligned(values, monitor.get("epoch"), monitor.get("update_epoch"))
        layer = name.lstrip("Wb") or name
        colour = colours.setdefault(layer, f"C{len(colours) % 10}")
        style = "--" if name.startswith("b") else "-"
        ax.plot(x, y, style, color=colour, label=name, lw=1.5, marker="." if x.size < 30 else "")
    _log_scale_if_positive(ax, *series.values(), min_ratio=20.0)
    ax.set_xlabel("epoch")
    _finish(ax, ylabel="gradient norm", title="Gradient norm per parameter")
    return fig


def sharpness_figure(monitor: Mapping[str, Any], history: Any = None) -> Figure | None:
    """Sharpness (largest Hessian eigenvalue) against the stability edge ``2 / lr``.

    Gradient descent with step ``lr`` is stable on a quadratic only while its sharpness stays
    below ``2 / lr``; sharpness above the dashed line means the step is too large for the
    curvature.

    Parameters
    ----------
    monitor : dict
        ``sharpness`` aligned with ``sharpness_epoch``; ``learning_rate``, the step size of each
        training epoch (as ``History.learning_rate``).
    history : History, mapping or None
        Its ``epoch`` places the learning rates; its ``learning_rate`` is used when the monitor
        did not record one.

    Returns
    -------
    Figure or None
        None when no finite sharpness was recorded.
    """
    x, sharp = _aligned(monitor.get("sharpness"), monitor.get("sharpness_epoch"))
    if not _has_data(sharp):
        return None
    # The learning rate is recorded per training epoch (as in the history), not per probe.
    epochs = _series(history, "epoch")
    lr_x, lr = _aligned(
        monitor.get("learning_rate"), epochs, monitor.get("update_epoch"), monitor.get("epoch")
    )
    if not _has_data(lr):
        lr_x, lr = _aligned(_series(history, "learning_rate"), epochs)
    with np.errstate(divide="ignore", invalid="ignore"):
        edge = np.where(lr > 0, 2.0 / lr, np.nan)
    fig = _new_figure()
    ax = fig.axes[0]
    ax.plot(x, sharp, "-o", color="#d62728", label="sharpness", lw=1.5, ms=4)
    if _has_data(edge):
        ax.plot(lr_x, edge, "--", color="0.3", label="2 / learning rate", lw=1.5)
    _log_scale_if_positive(ax, sharp, edge, min_ratio=20.0)
    ax.set_xlabel("epoch")
    _finish(ax, ylabel="largest Hessian eigenvalue", title="Sharpness against 2 / lr")
    return fig


def figure_to_data_uri(fig: Figure, *, dpi: int = 100) -> str:
    """Render ``fig`` to PNG and return it as a ``data:image/png;base64,...`` URI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def diagnosis_figures(diagnosis: Any) -> dict[str, str | None]:
    """Every plot of a report as a PNG data URI, or None when its data were not recorded.

    Parameters
    ----------
    diagnosis : Diagnosis

    Returns
    -------
    dict of str to (str or None)
        Keyed by the HTML ids of :data:`PLOT_IDS`, in page order.
    """
    monitor = diagnosis.monitor if isinstance(diagnosis.monitor, Mapping) else {}
    fixed = diagnosis.fixed.history if diagnosis.fixed is not None else None
    figures = {
        "plot-loss": loss_figure(diagnosis.history, fixed),
        "plot-saturation": saturation_figure(monitor),
        "plot-grad-norm": grad_norm_figure(monitor),
        "plot-sharpness": sharpness_figure(monitor, diagnosis.history),
    }
    return {key: None if fig is None else figure_to_data_uri(fig) for key, fig in figures.items()}
