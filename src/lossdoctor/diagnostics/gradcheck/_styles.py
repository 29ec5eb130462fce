"""`check_gradients_of`: check a hand-written network in one call, recognising how it is written.

The styles recognised, tried in this order:

``cs231n``
    a ``params`` dict and ``loss(X, y) -> (loss, grads)`` (Stanford CS231n assignments).
``nielsen``
    ``weights`` and ``biases`` lists and ``backprop(x, y) -> (nabla_b, nabla_w)`` (Nielsen's
    "Neural Networks and Deep Learning", ``network.py``); the cost is ``self.cost.fn(a, y)`` when
    the network has one (``network2.py``), else the quadratic cost ``0.5 * |a - y|**2`` that
    ``cost_derivative`` implies.
``deeplearning.ai``
    a module (or object) with ``L_model_forward(X, parameters) -> (AL, caches)``,
    ``compute_cost(AL, Y)`` and ``L_model_backward(AL, Y, caches) -> grads`` (``dW1``, ``db1``),
    with ``parameters`` given or kept beside them.
``attributes``
    parameters as attributes (``self.W1``) and a backward method (``back_prop``, ``backprop``,
    ``backward`` ...) that stores gradients as attributes (``self.dW1``) or returns them; the loss
    is a ``cost``/``loss`` method taking ``(X, y)``, else the cross-entropy of the forward
    method's output (sigmoid: binary; columns or rows summing to one: categorical), averaged
    over the samples, as said in the report.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ._checker import check_gradients
from ._names import spellings
from ._report import GradientReport

_BACKWARD = (
    "back_prop",
    "backprop",
    "backward",
    "backward_prop",
    "backward_propagation",
    "back_propagation",
    "compute_gradients",
    "gradients",
)
_COST = ("cost", "loss", "compute_cost", "compute_loss", "cost_function", "loss_function")
_FORWARD = ("forward_prop", "forward", "forward_propagation", "feedforward", "predict_proba")


def check_gradients_of(
    net: Any,
    X: Any,
    y: Any,
    *,
    loss: Callable[[], Any] | None = None,
    params: Mapping[str, Any] | None = None,
    **options: Any,
) -> GradientReport:
    """Check the backprop of a hand-written network in one call, with no glue code.

    Parameters
    ----------
    net : object or module
        The network, written in one of the recognised styles (see the module's docstring): its
        parameters are perturbed in place and restored.
    X, y : array_like
        The data the loss and gradients are computed on, in the layout the network expects
        (features by samples or samples by features).
    loss : callable, optional
        The loss, taking no arguments, when the network has no cost method and its output is
        not probabilities.
    params : mapping, optional
        The parameters, for a deeplearning.ai-style module whose ``parameters`` are not kept
        beside its functions.
    **options
        Passed to `check_gradients` (``mode``, ``rng``, ``rtol`` ...).

    Returns
    -------
    GradientReport
        As from `check_gradients`, with the line that assigns each failing gradient.

    Raises
    ------
    TypeError
        When no style is recognised: the message lists what was found and what to pass.
    """
    for style in (_cs231n, _nielsen, _deeplearning_ai, _attributes):
        found = style(net, X, y, loss, params)
        if found is not None:
            loss_fn, net_params, grads, code, note = found
            report = check_gradients(loss_fn, net_params, grads, code=code, **options)
            return report if note is None else _with_note(report, note)
    raise TypeError(_unrecognised(net))


_Found = tuple[Callable[[], Any], Any, Callable[[], Any], Any, "str | None"]


def _cs231n(net: Any, X: Any, y: Any, loss: Any, params: Any) -> _Found | None:
    if not (isinstance(getattr(net, "params", None), Mapping) and callable(_method(net, "loss"))):
        return None

    def both() -> tuple[Any, Any]:
        out = net.loss(X, y)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError(
                f"{type(net).__name__}.loss(X, y) returned {type(out).__name__}; the cs231n "
                "style returns (loss, grads)"
            )
        return out

    return (
        (lambda: both()[0]) if loss is None else loss,
        net.params,
        lambda: both()[1],
        net.loss,
        None,
    )


def _nielsen(net: Any, X: Any, y: Any, loss: Any, params: Any) -> _Found | None:
    weights, biases = getattr(net, "weights", None), getattr(net, "biases", None)
    if not (isinstance(weights, list) and isinstance(biases, list) and _method(net, "backprop")):
        return None

    def grads() -> dict[str, Any]:
        nabla_b, nabla_w = net.backprop(X, y)
        return {"biases": list(nabla_b), "weights": list(nabla_w)}

    note = None
    if loss is None:
        cost = getattr(net, "cost", None)
        if cost is not None and callable(getattr(cost, "fn", None)):

            def loss() -> Any:
                return cost.fn(net.feedforward(X), y)
        else:
            note = "loss: the quadratic cost 0.5 * |feedforward(x) - y|**2 (cost_derivative)"

            def loss() -> Any:
                return 0.5 * np.sum((net.feedforward(X) - y) ** 2)

    return loss, {"weights": weights, "biases": biases}, grads, net.backprop, note


def _deeplearning_ai(net: Any, X: Any, y: Any, loss: Any, params: Any) -> _Found | None:
    forward, cost, backward = (
        getattr(net, name, None) for name in ("L_model_forward", "compute_cost", "L_model_backward")
    )
    if not (callable(forward) and callable(cost) and callable(backward)):
        return None
    parameters = params if params is not None else getattr(net, "parameters", None)
    if not isinstance(parameters, Mapping):
        raise TypeError(
            f"{_describe(net)} has L_model_forward, compute_cost and L_model_backward "
            "(deeplearning.ai style) but no `parameters` dict beside them: pass params="
            "parameters"
        )

    def grads() -> Any:
        AL, caches = forward(X, parameters)
        return backward(AL, y, caches)

    def loss_fn() -> Any:
        return cost(forward(X, parameters)[0], y)

    return loss_fn if loss is None else loss, parameters, grads, backward, None


def _attributes(net: Any, X: Any, y: Any, loss: Any, params: Any) -> _Found | None:
    if isinstance(net, types.ModuleType):
        return None
    backward = next((m for name in _BACKWARD if (m := _method(net, name))), None)
    if backward is None:
        return None
    # Run twice: the gradient attributes exist after the first run, and the arrays that the
    # second replaces (activations such as Z1, whose dZ1 is stored too) are not parameters.
    backward(X, y)
    before = {name: id(value) for name, value in vars(net).items()}
    returned = backward(X, y)
    names = {
        p: g
        for p, g in _parameter_attributes(net, returned).items()
        if before.get(p) == id(getattr(net, p))
    }
    if not names:
        return None

    def grads() -> dict[str, Any]:
        out = backward(X, y)
        if isinstance(out, Mapping):
            return dict(out)
        return {g: getattr(net, g) for g in names.values()}

    note = None
    if loss is None:
        loss, note = _loss_of(net, X, y)
    return loss, {p: getattr(net, p) for p in names}, grads, backward, note


def _parameter_attributes(net: Any, returned: Any) -> dict[str, str]:
    """Parameter attribute -> gradient name, for the float arrays that have a gradient."""
    attrs = vars(net)
    available = set(returned) if isinstance(returned, Mapping) else set(attrs)
    out = {}
    for name, value in attrs.items():
        if not (isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating)):
            continue
        for g in spellings(name)[1:]:
            if g in available:
                out[name] = g
                break
    return out


def _loss_of(net: Any, X: Any, y: Any) -> tuple[Callable[[], Any], str | None]:
    cost = next((m for name in _COST if (m := _method(net, name))), None)
    if cost is not None:
        return (lambda: _scalar(cost(X, y))), None
    forward = next((m for name in _FORWARD if (m := _method(net, name))), None)
    if forward is None:
        raise TypeError(
            f"{_describe(net)}: found a backward method but no cost method ({', '.join(_COST)}) "
            f"and no forward method ({', '.join(_FORWARD)}); pass loss=lambda: ..."
        )
    out = np.asarray(forward(X))
    Y = np.asarray(y)
    kind, n_samples = _cross_entropy_kind(out, Y, np.asarray(X))
    if kind is None:
        raise TypeError(
            f"{_describe(net)}: the output of {forward.__name__} (shape {out.shape}, values "
            f"from {out.min():.3g} to {out.max():.3g}) is not probabilities for targets of shape "
            f"{Y.shape}, so the loss cannot be assumed; pass loss=lambda: ..."
        )

    def loss() -> Any:
        p = forward(X)
        if kind == "binary":
            return -np.sum(Y * np.log(p) + (1 - Y) * np.log(1 - p)) / n_samples
        return -np.sum(Y * np.log(p)) / n_samples

    note = (
        f"loss: {kind} cross-entropy of {forward.__name__}(X), summed and divided by the "
        f"{n_samples} samples (assumed: the network has no cost method; pass loss= to choose)"
    )
    return loss, note


def _cross_entropy_kind(out: Any, Y: Any, X: Any) -> tuple[str | None, int]:
    if out.shape != Y.shape or out.ndim == 0 or not np.all((out >= 0) & (out <= 1)):
        return None, 0
    if not np.all((Y == 0) | (Y == 1)):
        return None, 0
    axes = [a for a in range(out.ndim) if a < X.ndim and out.shape[a] == X.shape[a]]
    if len(axes) != 1:
        return None, 0
    n_samples = out.shape[axes[0]]
    if out.ndim == 2 and out.size > n_samples:
        other = 1 - axes[0]
        if np.allclose(out.sum(axis=other), 1):
            return "categorical", n_samples
    return "binary", n_samples


def _scalar(value: Any) -> Any:
    return value[0] if isinstance(value, tuple) else value


def _method(net: Any, name: str) -> Any:
    m = getattr(net, name, None)
    return m if callable(m) else None


def _describe(net: Any) -> str:
    return net.__name__ if isinstance(net, types.ModuleType) else type(net).__name__


def _unrecognised(net: Any) -> str:
    names = [n for n in dir(net) if not n.startswith("_")]
    arrays = [n for n in names if isinstance(getattr(net, n, None), np.ndarray)]
    methods = [n for n in names if callable(getattr(net, n, None))]
    return (
        f"could not recognise how {_describe(net)} is written: found arrays "
        f"{arrays or 'none'} and methods {methods[:12] or 'none'}. Recognised: a `params` dict "
        "with loss(X, y) -> (loss, grads) (cs231n); `weights`/`biases` lists with "
        "backprop(x, y) -> (nabla_b, nabla_w) (Nielsen); L_model_forward, compute_cost and "
        "L_model_backward with `parameters` (deeplearning.ai); array attributes W1 ... with a "
        f"backward method ({', '.join(_BACKWARD[:4])} ...) that sets dW1 .... Otherwise call "
        "check_gradients(loss, params, grads) with a loss taking no arguments, the parameter "
        "arrays by name and their gradients."
    )


def _with_note(report: GradientReport, note: str) -> GradientReport:
    from dataclasses import replace

    return replace(report, notes=(*report.notes, note))
