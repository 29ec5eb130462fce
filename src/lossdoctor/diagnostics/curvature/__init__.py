"""Curvature of the training objective: Hessian-vector products, sharpness and stability.

The *sharpness* of a network is the largest eigenvalue ``L`` of the Hessian of its training
objective (mean loss plus ``alpha / (2 n) * sum ||Wk||**2``). On a quadratic, gradient descent
with step ``lr`` converges if and only if ``lr < 2 / L``; the same bound, measured at the current
weights, is what decides whether a learning rate is too large for a network.

What lives where (imports point down this list only; SciPy loads inside the functions that use
it, not when this package is imported):

=================  ==============================================================================
``callback.py``    :class:`SharpnessCallback`: the sharpness every few epochs during ``fit``
``sharpness.py``   Lanczos (ARPACK's ``eigsh``) on a ``LinearOperator``: :func:`sharpness`,
                   :func:`sharpness_of`, :func:`sharpness_or_nan`, Adam's preconditioner, and
                   :func:`stability_verdict` (measure a fitted estimator, then judge its rate)
``hvp.py``         Hessian-vector products: exact (:func:`hvp`, :func:`hessian_operator`, the
                   R-operator) and by central differences of any gradient (:func:`hvp_central`);
                   :func:`pack_params` / :func:`unpack_params`
``stability.py``   the theory, pure functions of numbers: :func:`stability_threshold` per
                   optimiser, :func:`lr_verdict`, :func:`suggest_lr`, :data:`EDGE_BAND`, and the
                   wording of the rule in verdicts and suggestions
=================  ==============================================================================

Example
-------
>>> import numpy as np
>>> from lossdoctor.network import Network, init_params
>>> from lossdoctor.diagnostics.curvature import sharpness_of, lr_verdict
>>> rng = np.random.default_rng(0)
>>> X, Y = rng.normal(size=(50, 3)), rng.normal(size=(50, 1))
>>> net = Network((3, 1), head="identity")  # linear regression: H = [X 1]^T [X 1] / n
>>> L = sharpness_of(net, init_params(net, rng), X, Y)[0]
>>> Xa = np.hstack([X, np.ones((50, 1))])
>>> bool(np.isclose(L, np.linalg.eigvalsh(Xa.T @ Xa / 50)[-1], rtol=1e-10))
True
>>> lr_verdict(1.9 / L, L).label, lr_verdict(2.1 / L, L).label
('edge', 'unstable')
"""

from .callback import SharpnessCallback
from .hvp import hessian_operator, hvp, hvp_central, pack_params, unpack_params
from .sharpness import (
    LanczosStart,
    sharpness,
    sharpness_of,
    sharpness_or_nan,
    stability_verdict,
)
from .stability import (
    EDGE_BAND,
    LRSuggestion,
    StabilityVerdict,
    lr_verdict,
    stability_threshold,
    suggest_lr,
)

__all__ = [
    "EDGE_BAND",
    "LRSuggestion",
    "LanczosStart",
    "SharpnessCallback",
    "StabilityVerdict",
    "hessian_operator",
    "hvp",
    "hvp_central",
    "lr_verdict",
    "pack_params",
    "sharpness",
    "sharpness_of",
    "sharpness_or_nan",
    "stability_threshold",
    "stability_verdict",
    "suggest_lr",
    "unpack_params",
]
