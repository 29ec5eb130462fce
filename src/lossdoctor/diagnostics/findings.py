"""What a diagnosis says: findings with stable codes, and the diagnosis that ranks them.

Every diagnostic produces :class:`Finding` objects; :class:`Diagnosis` holds them ranked so that
a root cause comes before the symptoms it explains (``Finding.cause`` names the root cause's code).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["SEVERITIES", "Diagnosis", "Finding", "train_command"]

#: Severities from least to most serious.
SEVERITIES = ("info", "warning", "error")


@dataclass(frozen=True)
class Finding:
    """One thing a diagnostic found.

    Attributes
    ----------
    code : str
        Stable identifier, e.g. ``inputs-unscaled`` or ``lr-too-high``.
    severity : {"info", "warning", "error"}
    message : str
        One or two sentences in plain words, with the numbers.
    evidence : dict
        The numbers behind the message (JSON-serialisable scalars, lists or dicts).
    fix : str
        The concrete change to make, naming the parameter and the value (empty for ``info``).
    cause : str or None
        Code of the root-cause finding that explains this one, when it is a symptom.
    flags : dict
        The fix as options of ``lossdoctor train``: flag -> value, True for a switch given
        without a value, None for "leave the option out" (its default); a symptom carries its
        root cause's. Empty when ``train`` cannot express the fix.
    """

    code: str
    severity: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    fix: str = ""
    cause: str | None = None
    flags: dict[str, str | bool | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict: ``code, severity, message, evidence, fix, cause, flags``."""
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "evidence": self.evidence,
            "fix": self.fix,
            "cause": self.cause,
            "flags": dict(self.flags),
        }


def train_command(
    flags: dict[str, str | bool | None], setup: dict[str, Any] | None = None
) -> str | None:
    """A fix's flags as one ``lossdoctor train`` command line, or None when it has none.

    ``setup["train_flags"]`` (set by ``lossdoctor diagnose``: the diagnosed set-up as ``train``
    options that differ from train's defaults) comes first and the fix's flags override it (None
    removes an option, so that train's default applies); ``setup["data"]`` names the data
    (``DATA`` when it is not known).
    """
    import shlex

    if not flags:
        return None
    setup = setup or {}
    merged: dict[str, str | bool | None] = {**setup.get("train_flags", {}), **flags}
    words = ["lossdoctor", "train", shlex.quote(str(setup.get("data") or "DATA"))]
    for flag, value in merged.items():
        if value is None or value is False:
            continue
        words.append(flag)
        if value is not True:
            # A list-valued option (``--hidden 32 16``) is held as its words joined by spaces.
            words += [shlex.quote(v) for v in str(value).split(" ")] if value != "" else []
    return " ".join(words)


@dataclass
class Diagnosis:
    """The ranked findings of one diagnosed run, and what is needed to show them.

    Attributes
    ----------
    findings : list of Finding
        Ranked: root causes first, each followed by the symptoms it explains.
    setup : dict
        The estimator parameters of the diagnosed run (and the data's name and shape).
    history : History or None
        The training history of the diagnosed run.
    monitor : dict
        Per-epoch series recorded by the monitors, for plots: ``epoch``, ``saturation`` and
        ``dead`` (dict layer -> list), ``grad_norm`` (dict parameter -> list), ``update_ratio``,
        ``sharpness`` and ``sharpness_epoch``, ``learning_rate``.
    summary : str
        One paragraph: the root cause and the fix, or "healthy" with the numbers that say so.
    fix_params : dict
        The parameter changes ``--fix`` applied (empty when no fix was run).
    fixed : Diagnosis or None
        The diagnosis of the run retrained with ``fix_params`` from the same seed.
    fix_rounds : list of dict
        One entry per round of ``--fix``: ``changes``, the training loss and the validation
        metric and loss before and after, ``proven`` (the validation metric did not get worse and
        something improved) and ``why``.
    """

    findings: list[Finding]
    setup: dict[str, Any] = field(default_factory=dict)
    history: Any = None
    monitor: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    fix_params: dict[str, Any] = field(default_factory=dict)
    fixed: Diagnosis | None = None
    fix_rounds: list[dict[str, Any]] = field(default_factory=list)

    @property
    def fix_proven(self) -> bool:
        """True when every round of ``--fix`` was proven on the validation data."""
        return bool(self.fix_rounds) and all(r["proven"] for r in self.fix_rounds)

    @property
    def healthy(self) -> bool:
        """True when no finding is a warning or an error."""
        return all(f.severity == "info" for f in self.findings)

    @property
    def codes(self) -> list[str]:
        """The findings' codes in rank order."""
        return [f.code for f in self.findings]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict; ``findings`` is a list of :meth:`Finding.to_dict`."""
        out: dict[str, Any] = {
            "healthy": self.healthy,
            "summary": self.summary,
            "findings": [
                {**f.to_dict(), "train_command": train_command(f.flags, self.setup)}
                for f in self.findings
            ],
            "setup": self.setup,
            "history": self.history.as_dict() if self.history is not None else None,
            "monitor": self.monitor,
            "fix_params": self.fix_params,
        }
        if self.fix_rounds:
            out["fix_rounds"] = self.fix_rounds
            out["fix_proven"] = self.fix_proven
        if self.fixed is not None:
            out["fixed"] = self.fixed.to_dict()
        return out
