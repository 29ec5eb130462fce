"""lossdoctor: a NumPy MLP that explains, with numbers, why training misbehaves.

The functional core (``network``, ``losses``, ``optimizers``, ``training``) works on plain
dicts of arrays; the estimators and the command line are thin edges around it.
"""

from .estimators import MLPClassifier, MLPRegressor
from .network import Network, backward, forward, init_params
from .optimizers import adam, apply_updates, sgd
from .training import Callback, History, fit, loss_and_grad

__version__ = "0.1.0"

__all__ = [
    "Callback",
    "History",
    "MLPClassifier",
    "MLPRegressor",
    "Network",
    "__version__",
    "adam",
    "apply_updates",
    "backward",
    "fit",
    "forward",
    "init_params",
    "loss_and_grad",
    "sgd",
]
