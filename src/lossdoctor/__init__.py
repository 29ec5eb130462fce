"""lossdoctor: a NumPy MLP that explains, with numbers, why training misbehaves.

The functional core (``network``, ``losses``, ``optimizers``, ``training``) works on plain dicts
of arrays; the estimators and the command line are thin edges around it; ``diagnostics`` holds
the gradient checker, the curvature tools and the doctor.

``import lossdoctor`` loads the core only (NumPy). Every other public name is imported on first
use (PEP 562), so scikit-learn, SciPy, pandas, matplotlib, jinja2 and rich load only when a
program reaches for the estimators, the diagnostics or the reports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .network import Network, backward, forward, init_params
from .optimizers import adam, apply_updates, sgd
from .training import Callback, History, fit, loss_and_grad

if TYPE_CHECKING:
    from .diagnostics.curvature import (
        SharpnessCallback,
        StabilityVerdict,
        lr_verdict,
        sharpness,
        stability_threshold,
        suggest_lr,
    )
    from .diagnostics.curves import CurveLabel, classify_curve
    from .diagnostics.diagnose import CLASSIC_SETUP, diagnose, diagnose_history
    from .diagnostics.findings import Diagnosis, Finding
    from .diagnostics.gradcheck import (
        GradientReport,
        TensorCheck,
        check_gradients,
        check_gradients_of,
    )
    from .diagnostics.lr_range import RangeTestResult, lr_range_test
    from .diagnostics.monitors import MonitorCallback, TrainingMonitor
    from .diagnostics.sweep import SweepResult, lr_sweep
    from .estimators import MLPClassifier, MLPRegressor
    from .model_files import ModelFileError, load, save

__all__ = [
    "CLASSIC_SETUP",
    "Callback",
    "CurveLabel",
    "Diagnosis",
    "Finding",
    "GradientReport",
    "History",
    "MLPClassifier",
    "MLPRegressor",
    "ModelFileError",
    "MonitorCallback",
    "Network",
    "RangeTestResult",
    "SharpnessCallback",
    "StabilityVerdict",
    "SweepResult",
    "TensorCheck",
    "TrainingMonitor",
    "__version__",
    "adam",
    "apply_updates",
    "backward",
    "check_gradients",
    "check_gradients_of",
    "classify_curve",
    "diagnose",
    "diagnose_history",
    "fit",
    "forward",
    "init_params",
    "load",
    "loss_and_grad",
    "lr_range_test",
    "lr_sweep",
    "lr_verdict",
    "save",
    "sgd",
    "sharpness",
    "stability_threshold",
    "suggest_lr",
]

# Public name -> the module (relative to this package) that defines it, imported on first access.
_LAZY: dict[str, str] = {
    "SharpnessCallback": ".diagnostics.curvature",
    "StabilityVerdict": ".diagnostics.curvature",
    "lr_verdict": ".diagnostics.curvature",
    "sharpness": ".diagnostics.curvature",
    "stability_threshold": ".diagnostics.curvature",
    "suggest_lr": ".diagnostics.curvature",
    "CurveLabel": ".diagnostics.curves",
    "classify_curve": ".diagnostics.curves",
    "CLASSIC_SETUP": ".diagnostics.diagnose",
    "diagnose": ".diagnostics.diagnose",
    "diagnose_history": ".diagnostics.diagnose",
    "Diagnosis": ".diagnostics.findings",
    "Finding": ".diagnostics.findings",
    "GradientReport": ".diagnostics.gradcheck",
    "TensorCheck": ".diagnostics.gradcheck",
    "check_gradients": ".diagnostics.gradcheck",
    "check_gradients_of": ".diagnostics.gradcheck",
    "RangeTestResult": ".diagnostics.lr_range",
    "lr_range_test": ".diagnostics.lr_range",
    "MonitorCallback": ".diagnostics.monitors",
    "TrainingMonitor": ".diagnostics.monitors",
    "SweepResult": ".diagnostics.sweep",
    "lr_sweep": ".diagnostics.sweep",
    "MLPClassifier": ".estimators",
    "MLPRegressor": ".estimators",
    "ModelFileError": ".model_files",
    "load": ".model_files",
    "save": ".model_files",
}


def __getattr__(name: str) -> Any:
    """Import a public name's module on first access (PEP 562) and keep the name here."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
