"""Ranking: the causal graph and the priority derived from the rules' rows, and the summary.

:mod:`.rules` holds the table; the functions here take its rows as ``(code, causes)`` pairs, so
that the graph and the order are computed, never kept by hand:

- :func:`causal_graph`: code -> the codes it can cause.
- :func:`rank_order`: the rows' order, made consistent with the graph (every cause above what it
  causes; independent codes keep the order of their rows).
- :func:`rank_by_graph`: root causes first, each followed by the symptoms it explains; a finding
  of severity ``info`` explains nothing, and infos come after the warnings and errors.
- :func:`summarize`: one paragraph, the root cause and its fix (or "healthy" with the numbers);
  :func:`summarize_roots` is its part for a diagnosis with warnings or errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .evidence import Evidence
from .findings import Finding

__all__ = ["causal_graph", "rank_by_graph", "rank_order", "summarize", "summarize_roots"]


def causal_graph(rows: Iterable[tuple[str, tuple[str, ...]]]) -> dict[str, tuple[str, ...]]:
    """The edges of the rows that cause something: ``{code: causes}``."""
    return {code: tuple(causes) for code, causes in rows if causes}


def rank_order(rows: Iterable[tuple[str, tuple[str, ...]]]) -> tuple[str, ...]:
    """The codes in the rows' order, moved only as far as needed to put causes above effects.

    A topological order of the causal graph: at each step, the first row (in the rows' order)
    whose causes are all placed. Raises ``ValueError`` on a cycle.
    """
    rows = list(rows)
    codes = [code for code, _ in rows]
    parents: dict[str, set[str]] = {code: set() for code in codes}
    for code, causes in rows:
        for effect in causes:
            parents.setdefault(effect, set()).add(code)
            if effect not in codes:
                codes.append(effect)
    order: list[str] = []
    while len(order) < len(codes):
        ready = [c for c in codes if c not in order and parents[c] <= set(order)]
        if not ready:
            raise ValueError(f"the causal graph has a cycle among {set(codes) - set(order)}")
        order.append(ready[0])
    return tuple(order)


def _ancestors(code: str, present: set[str], causes: Mapping[str, tuple[str, ...]]) -> set[str]:
    """Codes in ``present`` from which ``code`` can be reached in the causal graph."""
    parents = {c for c in present if code in causes.get(c, ())}
    out = set(parents)
    for p in parents:
        out |= _ancestors(p, present - {code}, causes)
    return out


def rank_by_graph(
    findings: list[Finding],
    causes: Mapping[str, tuple[str, ...]],
    order: tuple[str, ...],
) -> list[Finding]:
    """Rank findings root causes first, each followed by the symptoms it explains.

    Infos never explain anything. A symptom's ``cause`` is set to its highest-priority root
    (earliest in ``order``), and its fix points to that root's fix (the one to apply first).
    """

    def prio(code: str) -> int:
        return order.index(code) if code in order else len(order)

    serious = {f.code for f in findings if f.severity != "info"}
    by_code = {f.code: f for f in findings}
    root_of: dict[str, str | None] = {}
    for f in findings:
        anc = _ancestors(f.code, serious, causes) if f.severity != "info" else set()
        roots = [a for a in anc if not (_ancestors(a, serious, causes) - {f.code})]
        root_of[f.code] = min(roots, key=prio) if roots else None
    roots_sorted = sorted(
        (f for f in findings if root_of[f.code] is None),
        key=lambda f: (f.severity == "info", prio(f.code)),
    )
    out: list[Finding] = []
    for r in roots_sorted:
        out.append(r)
        symptoms = sorted(
            (f for f in findings if root_of[f.code] == r.code), key=lambda f: prio(f.code)
        )
        for s in symptoms:
            root = by_code[r.code]
            out.append(
                Finding(
                    s.code,
                    s.severity,
                    s.message + f" This follows from {r.code}.",
                    s.evidence,
                    f"Fix {r.code} first: {root.fix}",
                    cause=r.code,
                    flags=root.flags,
                )
            )
    return out


def _healthy_summary(ev: Evidence) -> str:
    parts = []
    losses = ev.losses
    if len(losses) >= 2:
        label = ev.curve_label if ev.curve_label is not None else ""
        parts.append(
            f"the loss fell from {losses[0]:.4g} to {losses[-1]:.4g} in {len(losses)} epochs "
            f"({label})"
        )
    mon = ev.monitor
    if mon.get("saturation"):
        worst = max((max(v) for v in mon["saturation"].values() if v), default=0.0)
        if ev.activation in ("tanh", "sigmoid", "logistic"):
            parts.append(f"at most {worst:.0%} of units saturated")
    if mon.get("dead") and ev.activation in ("relu", "leaky_relu"):
        worst = max((v[-1] for v in mon["dead"].values() if v), default=0.0)
        parts.append(f"{worst:.0%} dead units at the end")
    lev = ev.lr
    if lev:
        parts.append(
            f"learning rate x{lev['ratio']:.2g} the stability bound {lev['threshold']:.3g}"
        )
    return "Healthy: " + ("; ".join(parts) if parts else "no problem found") + "."


def summarize(findings: list[Finding], ev: Evidence) -> str:
    """One paragraph: the top root cause, its fix and what it explains; or why it is healthy."""
    return summarize_roots(findings) or _healthy_summary(ev)


def summarize_roots(findings: list[Finding]) -> str | None:
    """The top root cause, its fix, what it explains and the other roots; None when healthy."""
    serious = [f for f in findings if f.severity != "info"]
    if not serious:
        return None
    roots = [f for f in serious if f.cause is None]
    top = roots[0]
    explained = [f.code for f in serious if f.cause == top.code]
    text = f"Root cause: {top.code}. {top.message} Fix: {top.fix}"
    if explained:
        text += f" It explains: {', '.join(explained)}."
    others = [f.code for f in roots[1:]]
    if others:
        text += f" Also independent: {', '.join(others)}."
    return text
