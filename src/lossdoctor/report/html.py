"""A diagnosis as one self-contained HTML page: findings, setup, fix and plots.

The page embeds its plots as PNG data URIs and its style inline; it loads no script, font or
image from anywhere, so it reads the same offline, attached to an issue or archived with a run.
The layout lives in the package template ``report/templates/report.html.j2`` (Jinja2, with
autoescaping on: every message, evidence value and setup entry is escaped).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from functools import lru_cache
from importlib import metadata, resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..atomic import atomic_write
from ..diagnostics.findings import SEVERITIES, Diagnosis
from .figures import PLOT_IDS, diagnosis_figures

if TYPE_CHECKING:
    import jinja2

__all__ = ["format_value", "render_html", "write_html_report"]

_TEMPLATE = "report.html.j2"
_MAX_ITEMS = 8


def format_value(value: Any, *, _nested: bool = False) -> str:
    """A number, list or dict from a finding's evidence, formatted to read at a glance.

    Floats get four significant figures (``0.001235``, ``1.235e+06``), NaN and infinities read
    ``nan`` / ``inf``, long lists show their first items and their length. A dict, or a list of
    dicts, puts one entry per line; nested dicts are written ``{key: value, ...}``.

    Examples
    --------
    >>> format_value(0.0012345678)
    '0.001235'
    >>> format_value([1.0, 2.5, float("nan")])
    '[1, 2.5, nan]'
    >>> print(format_value({"W1": 3e-9, "b1": {"start": 0.5, "end": 1}}))
    W1: 3e-09
    b1: {start: 0.5, end: 1}
    """
    if isinstance(value, bool | np.bool_):
        return str(bool(value)).lower()
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        x = float(value)
        return f"{x:.4g}" if math.isfinite(x) else str(x)
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, Mapping):
        items = [f"{k}: {format_value(v, _nested=True)}" for k, v in value.items()]
        return "{" + ", ".join(items) + "}" if _nested else "\n".join(items)
    if isinstance(value, tuple) and len(value) <= _MAX_ITEMS:
        inner = ", ".join(format_value(v, _nested=True) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list | tuple):
        if not _nested and value and all(isinstance(v, Mapping) for v in value):
            return "\n".join(format_value(v, _nested=True) for v in value)
        shown = ", ".join(format_value(v, _nested=True) for v in value[:_MAX_ITEMS])
        more = f", … ({len(value)} items)" if len(value) > _MAX_ITEMS else ""
        return f"[{shown}{more}]"
    return str(value)


def _load_template(name: str) -> str:
    return (resources.files("lossdoctor.report") / "templates" / name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_load_template),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = format_value
    return env


def _version() -> str:
    try:
        return metadata.version("lossdoctor")
    except metadata.PackageNotFoundError:
        return "unknown"


def _last_finite(history: Any, column: str) -> float | None:
    values = history.get(column) if isinstance(history, Mapping) else getattr(history, column, None)
    for v in reversed(list(values or [])):
        try:
            x = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(x):
            return x
    return None


def _run_summary(diagnosis: Diagnosis) -> dict[str, Any]:
    """What the before/after table shows of one run."""
    history = diagnosis.history
    epochs = len(history) if history is not None and hasattr(history, "__len__") else None
    stop = getattr(history, "stop_reason", "") if history is not None else ""
    return {
        "verdict": "healthy" if diagnosis.healthy else "not healthy",
        "codes": [f.code for f in diagnosis.findings if f.severity != "info"],
        "final_loss": _last_finite(history, "loss") if history is not None else None,
        "final_val_score": _last_finite(history, "val_score") if history is not None else None,
        "epochs": epochs,
        "stop_reason": stop,
    }


def _title(diagnosis: Diagnosis) -> str:
    problems = [f for f in diagnosis.findings if f.severity != "info"]
    if not problems:
        return "lossdoctor report: healthy"
    return f"lossdoctor report: {problems[0].code}"


def render_html(diagnosis: Diagnosis) -> str:
    """The HTML page of a diagnosis, as a string.

    Parameters
    ----------
    diagnosis : Diagnosis
        Its findings are shown in their rank order. ``history`` and ``monitor`` feed the plots;
        a plot whose series are missing or empty is replaced by a "not recorded" note. When
        ``diagnosis.fixed`` is set the page also compares the run before and after the fix.

    Returns
    -------
    str
        A complete HTML5 document with inline style and its plots as ``data:`` URIs. The plots
        are ``<img>`` elements with ids ``plot-loss``, ``plot-saturation``, ``plot-grad-norm``
        and ``plot-sharpness``; the findings table has id ``findings`` and one row per finding
        with a ``data-code`` attribute.
    """
    figures = diagnosis_figures(diagnosis)
    plots = [{"id": key, "caption": PLOT_IDS[key], "src": figures[key]} for key in PLOT_IDS]
    fixed = diagnosis.fixed
    return (
        _environment()
        .get_template(_TEMPLATE)
        .render(
            title=_title(diagnosis),
            diagnosis=diagnosis,
            severities=SEVERITIES,
            plots=plots,
            before=_run_summary(diagnosis),
            after=_run_summary(fixed) if fixed is not None else None,
            version=_version(),
        )
    )


def write_html_report(diagnosis: Diagnosis, path: str | os.PathLike[str]) -> None:
    """Write the HTML page of a diagnosis to ``path``, atomically.

    The page is written to a temporary file in the same directory and moved over ``path`` with
    :func:`os.replace`, so a reader never sees half a report and a failed write leaves any
    previous report in place.

    Parameters
    ----------
    diagnosis : Diagnosis
    path : str or path-like
        Where to write the page (conventionally ``report.html``); its directory must exist.

    Examples
    --------
    >>> from lossdoctor.diagnostics.findings import Diagnosis, Finding
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "report.html"
    >>> write_html_report(Diagnosis([Finding("healthy", "info", "Trains well.")]), out)
    >>> "<title>lossdoctor report: healthy</title>" in out.read_text(encoding="utf-8")
    True
    """
    target = Path(path)
    page = render_html(diagnosis)
    atomic_write(target, lambda f: f.write(page.encode("utf-8")))
