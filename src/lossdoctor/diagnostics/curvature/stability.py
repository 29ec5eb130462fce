"""Stability theory: the largest stable learning rate for a measured curvature, and verdicts.

Pure functions of numbers: the sharpness ``L`` comes from :mod:`.sharpness`. On a quadratic,
gradient descent with step ``lr`` converges if and only if ``lr < 2 / L`` (with heavy-ball
momentum ``b``: ``2 (1 + b) / L``); :func:`stability_threshold` holds the bounds of every
optimiser, and ``_rule_name`` the rule's wording in the verdicts and suggestions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EDGE_BAND",
    "LRSuggestion",
    "StabilityVerdict",
    "lr_verdict",
    "stability_threshold",
    "suggest_lr",
]

#: A learning rate whose ratio to the stability limit lies in ``[1 - EDGE_BAND, 1]`` is "at the
#: edge": it still converges on the quadratic model, but the sharpest direction barely contracts
#: (by ``|1 - lr L| >= 1 - 2 * EDGE_BAND`` per step for gradient descent) and oscillates.
EDGE_BAND = 0.15


_OPTIMIZERS = ("gd", "sgd", "momentum", "nesterov", "adam")


def stability_threshold(
    L: float, optimizer: str = "gd", momentum: float = 0.0, nesterov: bool = False
) -> float:
    r"""The largest stable learning rate on a quadratic with largest curvature ``L``.

    ========================  ==============================  ==================================
    optimiser                 bound on ``lr``                 source
    ========================  ==============================  ==================================
    gradient descent          :math:`2 / L`                   classical
    heavy ball, momentum b    :math:`2 (1 + b) / L`           Polyak (1964)
    Nesterov, momentum b      :math:`(2 + 2b) / ((1 + 2b) L)` Cohen et al. (2021), App. A
    Adam, beta_1 = b          :math:`(2 + 2b) / ((1 - b) L)`  Cohen et al. (2022), with ``L`` the
                                                              *preconditioned* sharpness
    ========================  ==============================  ==================================

    The momentum bounds are those of the update lossdoctor (and scikit-learn) uses,
    ``v <- b v - lr g``, with the gradient taken at the current point; both follow from where the
    two roots of the characteristic polynomial of the linear recurrence reach -1. For Adam the
    bound holds for the preconditioned Hessian ``P**-1 H`` with ``P`` frozen; no bound in terms of
    the plain sharpness is given.

    Parameters
    ----------
    L : float
        Largest Hessian eigenvalue (preconditioned for Adam).
    optimizer : {"gd", "sgd", "momentum", "nesterov", "adam"}
        ``"sgd"``/``"gd"`` use ``momentum`` and ``nesterov`` as scikit-learn's solvers do.
    momentum : float
        Heavy-ball or Nesterov coefficient, or Adam's ``beta_1``.
    nesterov : bool

    Returns
    -------
    float
        ``inf`` when ``L <= 0`` (no positive curvature limits the step).
    """
    if optimizer not in _OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; expected one of {_OPTIMIZERS}")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    if not L > 0:
        return math.inf
    b = float(momentum)
    if optimizer == "adam":
        return (2 + 2 * b) / ((1 - b) * L)
    if optimizer == "nesterov" or (nesterov and b > 0):
        return (2 + 2 * b) / ((1 + 2 * b) * L)
    if optimizer == "gd" and not b:
        return 2 / L
    return 2 * (1 + b) / L


def _rule_name(optimizer: str, momentum: float, nesterov: bool) -> str:
    if optimizer == "adam":
        return f"(2+2b1)/((1-b1) L) for Adam with b1={momentum:g} (L preconditioned)"
    if optimizer == "nesterov" or (nesterov and momentum > 0):
        return f"(2+2b)/((1+2b) L) for Nesterov momentum b={momentum:g}"
    if momentum > 0:
        return f"2(1+b)/L for heavy-ball momentum b={momentum:g}"
    return "2/L for gradient descent"


@dataclass(frozen=True)
class StabilityVerdict:
    """Whether a learning rate is stable for the measured curvature.

    Attributes
    ----------
    label : {"stable", "edge", "unstable"}
        ``ratio < 1 - EDGE_BAND``: stable. ``1 - EDGE_BAND <= ratio <= 1``: at the edge (converges
        on the quadratic model, oscillating along the sharpest direction). ``ratio > 1``:
        unstable by a factor ``ratio``.
    threshold : float
        The largest stable learning rate (:func:`stability_threshold`).
    ratio : float
        ``lr / threshold``.
    message : str
    evidence : dict
        ``lr, sharpness, threshold, ratio, rule``.
    """

    label: str
    threshold: float
    ratio: float
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)


def lr_verdict(
    lr: float,
    L: float,
    *,
    optimizer: str = "gd",
    momentum: float = 0.0,
    nesterov: bool = False,
) -> StabilityVerdict:
    """Classify a learning rate against the stability limit of the curvature ``L``.

    Parameters
    ----------
    lr : float
    L : float
        Sharpness (preconditioned for Adam).
    optimizer, momentum, nesterov
        As for :func:`stability_threshold`.

    Returns
    -------
    StabilityVerdict
    """
    threshold = stability_threshold(L, optimizer, momentum, nesterov)
    ratio = lr / threshold if math.isfinite(threshold) else 0.0
    rule = _rule_name(optimizer, momentum, nesterov)
    limit = f"the stability limit {threshold:.4g} = {rule}, L = {L:.4g}"
    if ratio > 1:
        label = "unstable"
        message = (
            f"unstable: learning rate {lr:.4g} is {ratio:.3g}x {limit}; along the sharpest "
            f"direction the iterates grow instead of shrinking"
        )
        if ratio <= 1 + EDGE_BAND:
            message += (
                " (only slightly above: a network often settles at this edge of stability "
                "with the sharpness near the limit, at the cost of an oscillating loss)"
            )
    elif ratio >= 1 - EDGE_BAND:
        label = "edge"
        message = (
            f"at the edge: learning rate {lr:.4g} is {ratio:.3g}x {limit}; it still converges "
            f"on the local quadratic, but oscillates along the sharpest direction, and any rise "
            f"in sharpness during training tips it over"
        )
    else:
        label = "stable"
        message = f"stable: learning rate {lr:.4g} is {ratio:.3g}x {limit}"
    evidence = {"lr": lr, "sharpness": L, "threshold": threshold, "ratio": ratio, "rule": rule}
    return StabilityVerdict(label, threshold, ratio, message, evidence)


@dataclass(frozen=True)
class LRSuggestion:
    """A learning rate chosen from the curvature, and the rule that produced it.

    Attributes
    ----------
    learning_rate : float
    rule : str
        The rule in words, with the numbers.
    sharpness : float
    threshold : float
    """

    learning_rate: float
    rule: str
    sharpness: float
    threshold: float


def suggest_lr(
    L: float,
    *,
    optimizer: str = "gd",
    momentum: float = 0.0,
    nesterov: bool = False,
    fraction: float = 0.5,
) -> LRSuggestion:
    """A learning rate from the sharpness at the initial weights: half the stability limit.

    For gradient descent this is ``1 / L``. The factor 1/2 leaves room for the sharpness to
    rise during training (progressive sharpening), which it typically does by a factor of a few
    before the loss falls.

    Parameters
    ----------
    L : float
        Sharpness at the initial weights.
    optimizer, momentum, nesterov
        As for :func:`stability_threshold`; Adam is refused (its limit involves a preconditioner
        that does not exist before training).
    fraction : float
        Fraction of the stability limit.

    Returns
    -------
    LRSuggestion
    """
    if optimizer == "adam":
        raise ValueError(
            "no curvature rule is given for Adam at the initial weights (its stability depends "
            "on a preconditioner built during training); use the learning-rate range test"
        )
    if not L > 0:
        raise ValueError(f"the sharpness must be positive to suggest a learning rate, got {L!r}")
    threshold = stability_threshold(L, optimizer, momentum, nesterov)
    lr = fraction * threshold
    rule = (
        f"lr = {fraction:g} x stability limit = {fraction:g} x "
        f"{_rule_name(optimizer, momentum, nesterov)} = {lr:.4g}, "
        f"with L = {L:.4g} the sharpness at the initial weights"
    )
    return LRSuggestion(lr, rule, float(L), threshold)
