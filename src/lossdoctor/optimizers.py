"""Optimisers as pure ``init``/``update`` pairs over a parameter dict, in the style of optax.

An optimiser never touches the parameters: ``update(grads, state, params)`` returns the *updates*
(what to add to the parameters) and a new immutable state; :func:`apply_updates` adds them and
returns new arrays. A learning rate is a float or a schedule (see :mod:`lossdoctor.schedules`),
evaluated at the state's update count.

Example
-------
>>> import numpy as np
>>> from lossdoctor.optimizers import sgd, apply_updates
>>> opt = sgd(0.1, momentum=0.9)
>>> params = {"w": np.array([1.0, -2.0])}
>>> state = opt.init(params)
>>> grads = {"w": 2 * params["w"]}  # gradient of ||w||^2
>>> updates, state = opt.update(grads, state, params)
>>> apply_updates(params, updates)["w"]
array([ 0.8, -1.6])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from .schedules import Schedule, value_at

__all__ = [
    "AdamState",
    "MomentumState",
    "Optimizer",
    "SGDState",
    "adam",
    "apply_updates",
    "clip_by_global_norm",
    "global_norm",
    "sgd",
]

Params = dict[str, NDArray]


class Optimizer(NamedTuple):
    """A pair of pure functions.

    Attributes
    ----------
    init : callable (params) -> state
    update : callable (grads, state, params) -> (updates, state)
    learning_rate : float or callable
        Kept so that callers (history, stability checks) can read the step size.
    name : str
        ``gd``, ``momentum``, ``nesterov`` or ``adam``.
    momentum : float
        The heavy-ball or Nesterov coefficient (0 for plain descent and Adam).
    update_into : callable (grads, state, params, out) -> state, optional
        The same step as ``update`` followed by :func:`apply_updates`, but writing the new
        parameters into the arrays of ``out`` (which the caller owns) and using ``grads`` as
        scratch, so that nothing is allocated. ``params`` is not modified. None when the
        optimiser has no such form.
    """

    init: Callable[[Params], Any]
    update: Callable[[Params, Any, Params], tuple[Params, Any]]
    learning_rate: float | Schedule
    name: str
    momentum: float = 0.0
    update_into: Callable[[Params, Any, Params, Params], Any] | None = None


class SGDState(NamedTuple):
    """State of plain gradient descent: only the update count."""

    step: int


class MomentumState(NamedTuple):
    """State of heavy-ball or Nesterov momentum: the velocity of each parameter."""

    step: int
    velocity: Params


class AdamState(NamedTuple):
    """State of Adam: first and second moment estimates of each parameter's gradient."""

    step: int
    mu: Params
    nu: Params


def sgd(
    learning_rate: float | Schedule, momentum: float = 0.0, nesterov: bool = False
) -> Optimizer:
    r"""Gradient descent, optionally with heavy-ball or Nesterov momentum.

    With step size :math:`\eta_t` and momentum :math:`\mu` (scikit-learn's formulation):

    .. math::
        v_{t+1} = \mu v_t - \eta_t g_t, \qquad
        \Delta_t = v_{t+1} \;\text{(heavy ball)} \quad\text{or}\quad
        \Delta_t = \mu v_{t+1} - \eta_t g_t \;\text{(Nesterov)}.

    With ``momentum=0`` this is plain descent, :math:`\Delta_t = -\eta_t g_t`, with no velocity.
    """
    if momentum == 0.0:

        def init_gd(params: Params) -> SGDState:
            return SGDState(0)

        def update_gd(grads: Params, state: SGDState, params: Params) -> tuple[Params, SGDState]:
            lr = value_at(learning_rate, state.step)
            return {k: -lr * g for k, g in grads.items()}, SGDState(state.step + 1)

        def update_into_gd(grads: Params, state: SGDState, params: Params, out: Params) -> SGDState:
            lr = value_at(learning_rate, state.step)
            for k, g in grads.items():
                np.multiply(g, -lr, out=g)
                np.add(params[k], g, out=out[k])
            return SGDState(state.step + 1)

        return Optimizer(init_gd, update_gd, learning_rate, "gd", update_into=update_into_gd)

    def init(params: Params) -> MomentumState:
        return MomentumState(0, {k: np.zeros_like(p) for k, p in params.items()})

    def update(grads: Params, state: MomentumState, params: Params) -> tuple[Params, MomentumState]:
        lr = value_at(learning_rate, state.step)
        velocity = {k: momentum * state.velocity[k] - lr * g for k, g in grads.items()}
        if nesterov:
            updates = {k: momentum * velocity[k] - lr * g for k, g in grads.items()}
        else:
            updates = velocity
        return updates, MomentumState(state.step + 1, velocity)

    return Optimizer(init, update, learning_rate, "nesterov" if nesterov else "momentum", momentum)


def adam(
    learning_rate: float | Schedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
) -> Optimizer:
    r"""Adam (Kingma & Ba, 2015) in the form scikit-learn uses.

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \quad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,

    .. math::
        \Delta_t = -\eta_t \frac{\sqrt{1-\beta_2^t}}{1-\beta_1^t} \frac{m_t}{\sqrt{v_t}+\epsilon}.
    """

    def init(params: Params) -> AdamState:
        zeros = {k: np.zeros_like(p) for k, p in params.items()}
        return AdamState(0, zeros, {k: z.copy() for k, z in zeros.items()})

    def update(grads: Params, state: AdamState, params: Params) -> tuple[Params, AdamState]:
        t = state.step + 1
        lr = value_at(learning_rate, state.step) * math.sqrt(1 - b2**t) / (1 - b1**t)
        mu = {k: b1 * state.mu[k] + (1 - b1) * g for k, g in grads.items()}
        nu = {k: b2 * state.nu[k] + (1 - b2) * (g * g) for k, g in grads.items()}
        updates = {k: -lr * mu[k] / (np.sqrt(nu[k]) + eps) for k in grads}
        return updates, AdamState(t, mu, nu)

    return Optimizer(init, update, learning_rate, "adam")


def apply_updates(params: Params, updates: Params) -> Params:
    """Return new parameter arrays ``params + updates`` (the inputs are left untouched)."""
    return {k: p + updates[k].astype(p.dtype, copy=False) for k, p in params.items()}


def global_norm(tree: Params) -> float:
    """Euclidean norm of all arrays of a dict taken together."""
    return math.sqrt(sum(float(np.vdot(g, g)) for g in tree.values()))


def clip_by_global_norm(grads: Params, max_norm: float) -> tuple[Params, float]:
    """Scale ``grads`` so that their global norm is at most ``max_norm``.

    Returns
    -------
    grads : dict of str to ndarray
        The same dict when no clipping is needed, new arrays otherwise.
    norm : float
        The global norm before clipping.
    """
    norm = global_norm(grads)
    if norm <= max_norm or not math.isfinite(norm):
        return grads, norm
    factor = max_norm / norm
    return {k: g * g.dtype.type(factor) for k, g in grads.items()}, norm
