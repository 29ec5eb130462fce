"""lossdoctor: a NumPy MLP that explains, with numbers, why training misbehaves.

The functional core (``network``, ``losses``, ``optimizers``, ``training``) works on plain dicts
of arrays; the estimators and the command line are thin edges around it; ``diagnostics`` holds
the gradient checker, the curvature tools and the doctor.
"""

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
from .diagnostics.gradcheck import GradientReport, TensorCheck, check_gradients
from .diagnostics.lr_range import RangeTestResult, lr_range_test
from .diagnostics.monitors import MonitorCallback, TrainingMonitor
from .diagnostics.sweep import SweepResult, lr_sweep
from .estimators import MLPClassifier, MLPRegressor
from .model_files import ModelFileError, load, save
from .network import Network, backward, forward, init_params
from .optimizers import adam, apply_updates, sgd
from .training import Callback, History, fit, loss_and_grad

__version__ = "0.1.0"

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
