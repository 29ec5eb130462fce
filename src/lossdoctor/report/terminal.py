"""A diagnosis in the terminal: the summary, the ranked findings, and the fix's before and after.

:func:`print_report` uses rich (colour, tables, a sparkline of each loss curve) on a terminal and
plain text otherwise (pipes, files, logs), so that ``lossdoctor diagnose > out.txt`` is readable
and greppable. :func:`format_plain` returns the plain text.
"""

from __future__ import annotations

import math
import sys
from typing import IO, Any

from ..diagnostics.findings import Diagnosis, Finding, train_command

__all__ = ["format_plain", "print_report", "sparkline"]

_BARS = "▁▂▃▄▅▆▇█"
_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def sparkline(values: list[float], width: int = 40) -> str:
    """The values as a row of block characters, resampled to at most ``width`` (log scale).

    Non-finite values show as ``x``.
    """
    if not values:
        return ""
    n = len(values)
    m = min(width, n)
    picks = [values[min(n - 1, int(i * n / m))] for i in range(m)]
    finite = [v for v in picks if math.isfinite(v) and v > 0]
    if not finite:
        return "x" * len(picks)
    lo, hi = math.log(min(finite)), math.log(max(finite))
    span = hi - lo or 1.0
    out = []
    for v in picks:
        if not (math.isfinite(v) and v > 0):
            out.append("x")
        else:
            out.append(_BARS[min(7, int((math.log(v) - lo) / span * 7.999))])
    return "".join(out)


def _loss_points(losses: list[float], k: int = 6) -> str:
    """Losses at k evenly spaced epochs, as ``epoch 1: 0.9, epoch 20: 0.13, ...``."""
    if not losses:
        return "no finite epoch"
    n = len(losses)
    idx = sorted({round(i * (n - 1) / (k - 1)) for i in range(k)}) if n > 1 else [0]
    return ", ".join(f"epoch {i + 1}: {losses[i]:.4g}" for i in idx)


def _losses(d: Diagnosis) -> list[float]:
    return list(d.history.loss) if d.history is not None else []


def _evidence_text(ev: dict[str, Any], limit: int = 6) -> str:
    items = []
    for k, v in list(ev.items())[:limit]:
        if isinstance(v, float):
            v = f"{v:.4g}"
        elif isinstance(v, (dict, list)):
            text = str(v)
            v = text if len(text) <= 60 else text[:57] + "..."
        items.append(f"{k}={v}")
    return ", ".join(items)


def _finding_lines(i: int, f: Finding, setup: dict[str, Any]) -> list[str]:
    head = f"{i}. [{f.severity}] {f.code}"
    if f.cause:
        head += f" (caused by {f.cause})"
    lines = [head, f"   {f.message}"]
    if f.evidence:
        lines.append(f"   evidence: {_evidence_text(f.evidence)}")
    if f.fix:
        lines.append(f"   fix: {f.fix}")
    command = train_command(f.flags, setup)
    if command:
        lines.append(f"   fix as flags: {command}")
    return lines


def all_fixes_command(d: Diagnosis) -> str | None:
    """One ``lossdoctor train`` command with the flags of every root cause, when two or more
    root causes have flags (with one, its own line says it)."""
    roots = [f for f in d.findings if f.cause is None and f.severity != "info" and f.flags]
    if len(roots) < 2:
        return None
    merged: dict[str, str | bool | None] = {}
    for f in roots:
        merged.update(f.flags)
    return train_command(merged, d.setup)


def _round_line(i: int, r: dict[str, Any]) -> str:
    """One round of fixes: what changed, the training loss and the validation metric."""
    changes = ", ".join(f"{k}={v!r}" for k, v in (r.get("changes") or {}).items())
    return (
        f"round {i}{f' ({changes})' if changes else ''}: training loss "
        f"{r['train_loss_before']:.4g} -> {r['train_loss_after']:.4g}; validation metric "
        f"{r['val_score_before']:.4g} -> {r['val_score_after']:.4g}: "
        f"{'proven' if r['proven'] else 'NOT proven'} ({r['why']})"
    )


def _setup_line(d: Diagnosis) -> str:
    s = d.setup
    keys: tuple[str, ...] = ("layer_sizes", "activation", "solver")
    if s.get("solver") != "lbfgs":  # lbfgs has no learning rate and no momentum
        keys += ("learning_rate_init", "momentum")
    keys += ("init",)
    parts = [f"{k}={s[k]}" for k in keys if k in s]
    if "max_iter" in s:
        parts.append(f"epochs={s['max_iter']}")
    # What the network sees and is judged by: the input scaling, the output and the loss.
    if "scale" in s:
        parts.append(f"scale={s['scale']}")
    for key in ("output_activation", "loss"):
        if s.get(key):
            parts.append(f"{key.split('_')[0]}={s[key]}")
    return ", ".join(parts)


def format_plain(diagnosis: Diagnosis) -> str:
    """The report as plain text (no colour, no box drawing)."""
    d = diagnosis
    lines = ["lossdoctor diagnosis", f"set-up: {_setup_line(d)}", "", d.summary, ""]
    losses = _losses(d)
    if losses:
        lines.append(f"loss: {_loss_points(losses)}")
        lines.append("")
    serious = [f for f in d.findings if f.severity != "info"]
    if serious:
        lines.append("findings (root causes first):")
        for i, f in enumerate(d.findings, 1):
            lines.extend(_finding_lines(i, f, d.setup))
        every = all_fixes_command(d)
        if every:
            lines.append(f"all the root causes' fixes: {every}")
    else:
        lines.append("healthy: no warning.")
    if d.fixed is not None:
        lines += ["", "fix applied: " + ", ".join(f"{k}={v!r}" for k, v in d.fix_params.items())]
        lines.append(f"  before: {_loss_points(losses)}")
        lines.append(f"  after:  {_loss_points(_losses(d.fixed))}")
        lines.extend(f"  {_round_line(i, r)}" for i, r in enumerate(d.fix_rounds, 1))
        remaining = [f.code for f in d.fixed.findings if f.severity != "info"]
        lines.append(
            "  findings that remain: " + (", ".join(remaining) if remaining else "none (healthy)")
        )
        lines.append(f"  {d.fixed.summary}")
    return "\n".join(lines) + "\n"


def _render_rich(diagnosis: Diagnosis, file: IO[str]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.panel import Panel
    from rich.table import Table

    d = diagnosis
    console = Console(file=file)
    style = (
        "green"
        if d.healthy
        else _STYLE["error" if any(f.severity == "error" for f in d.findings) else "warning"]
    )
    console.print(Panel(escape(d.summary), title="lossdoctor diagnosis", border_style=style))
    console.print(f"[dim]set-up: {_setup_line(d)}[/dim]", highlight=False)
    losses = _losses(d)
    if losses:
        console.print(f"loss  {sparkline(losses)}  {_loss_points(losses, 3)}", highlight=False)
    if any(f.severity != "info" for f in d.findings):
        console.rule("findings, root causes first")
        for i, f in enumerate(d.findings, 1):
            # One block per finding reads better in 80 columns than a five-column table.
            head = f"{i}. [{_STYLE[f.severity]}]{f.severity}[/] [bold]{f.code}[/bold]"
            if f.cause:
                head += f" [dim](caused by {f.cause})[/dim]"
            console.print(head, highlight=False)
            console.print(escape(f.message), highlight=False)
            if f.evidence:
                console.print(f"[dim]evidence: {escape(_evidence_text(f.evidence))}[/dim]")
            if f.fix:
                console.print(f"[bold]fix:[/bold] {escape(f.fix)}", highlight=False)
            command = train_command(f.flags, d.setup)
            if command:
                console.print(f"[bold]fix as flags:[/bold] {escape(command)}", highlight=False)
            console.print()
        every = all_fixes_command(d)
        if every:
            console.print(f"[bold]all the root causes' fixes:[/bold] {escape(every)}")
    if d.fixed is not None:
        fixed_losses = _losses(d.fixed)
        table = Table(title="with the fix (same seed)", expand=True)
        table.add_column("run", no_wrap=True)
        table.add_column("loss curve", no_wrap=True)
        table.add_column("losses")
        table.add_row("before", sparkline(losses, 30), _loss_points(losses, 4))
        table.add_row("after", sparkline(fixed_losses, 30), _loss_points(fixed_losses, 4))
        console.print(table)
        console.print(
            "fix applied: " + ", ".join(f"{k}={v!r}" for k, v in d.fix_params.items()),
            highlight=False,
        )
        for i, r in enumerate(d.fix_rounds, 1):
            style = "green" if r["proven"] else "red"
            console.print(f"[{style}]{escape(_round_line(i, r))}[/{style}]", highlight=False)
        remaining = [f.code for f in d.fixed.findings if f.severity != "info"]
        console.print(
            "findings that remain: "
            + (", ".join(remaining) if remaining else "[green]none (healthy)[/green]")
        )
        console.print(d.fixed.summary, highlight=False)


def print_report(diagnosis: Diagnosis, file: IO[str] | None = None) -> None:
    """Print the report: rich on a terminal, plain text otherwise.

    Parameters
    ----------
    diagnosis : Diagnosis
    file : text stream, optional
        Standard output by default.
    """
    out = sys.stdout if file is None else file
    if getattr(out, "isatty", lambda: False)():
        _render_rich(diagnosis, out)
    else:
        out.write(format_plain(diagnosis))
