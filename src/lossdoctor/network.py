"""The multi-layer perceptron as plain data and three pure functions.

A network is described by a :class:`Network` (layer sizes, hidden activation, output head) and its
weights by a parameter dict ``{"W1": ..., "b1": ..., "W2": ...}`` with ``Wk`` of shape
(fan_in, fan_out) and ``bk`` of shape (fan_out,). Samples are rows.

One training step is ``forward`` then the head's loss then ``backward``::

    logits, trace = forward(net, params, X)
    value, d_logits = get_head(net.head).loss(logits, Y)
    grads = backward(net, params, trace, d_logits)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import DTypeLike, NDArray

from .activations import get_activation
from .initializers import DEFAULT_INIT, get_initializer
from .losses import get_head

__all__ = [
    "Network",
    "Packed",
    "Params",
    "Workspace",
    "backward",
    "forward",
    "init_params",
    "make_workspace",
    "n_layers",
    "pack_params",
    "predict_output",
]

Params = dict[str, NDArray]


class Network(NamedTuple):
    """The architecture of a dense feed-forward network.

    Attributes
    ----------
    layer_sizes : tuple of int
        ``(n_features, *hidden_layer_sizes, n_outputs)``; with no hidden layer this is a linear or
        logistic model.
    activation : str
        Hidden activation: ``tanh``, ``relu``, ``leaky_relu``, ``sigmoid`` or ``identity``.
    head : str
        ``binary`` (sigmoid + binary cross-entropy), ``softmax`` (softmax + cross-entropy) or
        ``identity`` (squared error).
    """

    layer_sizes: tuple[int, ...]
    activation: str = "tanh"
    head: str = "binary"


def n_layers(net: Network) -> int:
    """Number of weight matrices (hidden layers plus the output layer)."""
    return len(net.layer_sizes) - 1


def init_params(
    net: Network,
    rng: np.random.Generator,
    *,
    init: str | None = None,
    init_scale: float = 1.0,
    dtype: DTypeLike = np.float64,
) -> Params:
    """Draw initial weights.

    The default, ``sklearn_uniform``, is scikit-learn's draw: for each layer in turn, the weights
    and then the biases uniform in +-``init_scale * sqrt(factor / (fan_in + fan_out))``, factor 2
    for the logistic activation and 6 otherwise, so that the same ``RandomState`` gives the same
    weights as ``sklearn.neural_network``. Every other initialiser draws the weights only; their
    biases start at zero.

    Parameters
    ----------
    net : Network
    rng : numpy.random.Generator or numpy.random.RandomState
        The only source of randomness.
    init : str, optional
        Name of an initialiser in :mod:`lossdoctor.initializers`; by default ``sklearn_uniform``.
    init_scale : float
        Multiplies the initialiser's scale.
    dtype : dtype
        float64 or float32.

    Returns
    -------
    params : dict of str to ndarray
        ``W1, b1, ..., WL, bL`` in forward order.
    """
    name = init if init is not None else DEFAULT_INIT
    draw = get_initializer(name)
    params: Params = {}
    for k, (fan_in, fan_out) in enumerate(zip(net.layer_sizes[:-1], net.layer_sizes[1:]), 1):
        if name == "sklearn_uniform":
            factor = 2.0 if net.activation in ("logistic", "sigmoid") else 6.0
            bound = init_scale * np.sqrt(factor / (fan_in + fan_out))
            W = rng.uniform(-bound, bound, (fan_in, fan_out))
            b = rng.uniform(-bound, bound, fan_out)
        else:
            W, b = draw(rng, (fan_in, fan_out), init_scale), np.zeros(fan_out)
        params[f"W{k}"] = np.ascontiguousarray(W, dtype=dtype)
        params[f"b{k}"] = np.ascontiguousarray(b, dtype=dtype)
    return params


class Workspace(NamedTuple):
    """Preallocated arrays for the steps of one batch size, owned and reused by the caller.

    With a workspace, :func:`forward` writes each layer's output and :func:`backward` each
    hidden layer's delta into these arrays instead of new ones, so that a training step allocates
    nothing of the batch's size. The trace and logits of a call are then views of the workspace:
    the next call with the same workspace overwrites them. Make one with :func:`make_workspace`.

    Attributes
    ----------
    outputs : list of ndarray
        ``outputs[k - 1]`` of shape (n_samples, layer_sizes[k]): the activation of layer ``k``,
        and the logits for the last layer.
    deltas : list of ndarray
        ``deltas[k - 1]`` of shape (n_samples, layer_sizes[k]) for each hidden layer ``k``: the
        gradient of the loss with respect to its pre-activation.
    work : list of ndarray
        Scratch arrays shaped like ``deltas``, for the activation derivatives.
    grads : dict of str to ndarray or None
        If given, :func:`backward` writes the gradients into these arrays and returns them; the
        caller must then be done with one step's gradients before the next step.
    ones : ndarray of shape (n_samples,) or None
        A row of ones, for the bias gradients ``ones @ delta``.
    """

    outputs: list[NDArray]
    deltas: list[NDArray]
    work: list[NDArray]
    grads: Params | None = None
    ones: NDArray | None = None


def make_workspace(
    net: Network, n_samples: int, dtype: DTypeLike = np.float64, *, grads: bool = False
) -> Workspace:
    """Allocate a :class:`Workspace` for batches of ``n_samples`` rows (and the gradients)."""
    sizes = net.layer_sizes[1:]
    grad_arrays: Params = {}
    for k, (fan_in, fan_out) in enumerate(zip(net.layer_sizes[:-1], sizes), 1):
        grad_arrays[f"W{k}"] = np.empty((fan_in, fan_out), dtype)
        grad_arrays[f"b{k}"] = np.empty(fan_out, dtype)
    return Workspace(
        outputs=[np.empty((n_samples, m), dtype) for m in sizes],
        deltas=[np.empty((n_samples, m), dtype) for m in sizes[:-1]],
        work=[np.empty((n_samples, m), dtype) for m in sizes[:-1]],
        grads=grad_arrays if grads else None,
        ones=np.ones(n_samples, dtype),
    )


def forward(
    net: Network, params: Params, X: NDArray, *, workspace: Workspace | None = None
) -> tuple[NDArray, list[NDArray]]:
    """Run the network up to its logits.

    Parameters
    ----------
    net : Network
    params : dict of str to ndarray
    X : ndarray or scipy sparse matrix of shape (n_samples, n_features)
        A sparse ``X`` (CSR or CSC) enters the first layer as a sparse product.
    workspace : Workspace, optional
        Arrays to write the layer outputs into (see :class:`Workspace`); by default new ones.

    Returns
    -------
    logits : ndarray of shape (n_samples, n_outputs)
        Output pre-activations; the head's loss takes these.
    trace : list of ndarray
        ``[X, A1, ..., A_{L-1}]``: the input of each layer, which ``backward`` needs. ``Ak`` has
        shape (n_samples, layer_sizes[k]).
    """
    act = get_activation(net.activation)
    L = n_layers(net)
    trace = [X]
    A = X
    for k in range(1, L + 1):
        out = None if workspace is None else workspace.outputs[k - 1]
        if isinstance(A, np.ndarray):
            Z = np.matmul(A, params[f"W{k}"], out=out)
        else:  # a sparse X
            Z = np.asarray(A @ params[f"W{k}"])
        Z += params[f"b{k}"]
        if k < L:
            A = act.forward(Z, Z)  # in place: Z is not needed once A exists
            trace.append(A)
    return Z, trace


def backward(
    net: Network,
    params: Params,
    trace: list[NDArray],
    d_logits: NDArray,
    *,
    workspace: Workspace | None = None,
) -> Params:
    """Backpropagate the gradient of a loss with respect to the logits.

    Parameters
    ----------
    net : Network
    params : dict of str to ndarray
    trace : list of ndarray
        As returned by :func:`forward`.
    d_logits : ndarray of shape (n_samples, n_outputs)
        Gradient of the loss with respect to the logits. It is overwritten.
    workspace : Workspace, optional
        Arrays for the hidden layers' deltas, and for the gradients if it has them (see
        :class:`Workspace`); by default new ones.

    Returns
    -------
    grads : dict of str to ndarray
        Same keys and shapes as ``params``, in backprop order (output layer first).
    """
    act = get_activation(net.activation)
    ws = workspace
    out = None if ws is None else ws.grads
    grads: Params = {}
    delta = d_logits
    # The bias gradients are column sums, ones @ delta: the BLAS does them in 0.4-0.7 of the time
    # of NumPy's delta.sum(axis=0).
    ones = None if ws is None else ws.ones
    if ones is None or ones.dtype != delta.dtype or len(ones) != len(delta):
        ones = np.ones(delta.shape[0], delta.dtype)
    for k in range(n_layers(net), 0, -1):
        A_prev = trace[k - 1]
        if isinstance(A_prev, np.ndarray):
            grads[f"W{k}"] = np.matmul(A_prev.T, delta, out=None if out is None else out[f"W{k}"])
        else:  # a sparse X
            grads[f"W{k}"] = np.asarray(A_prev.T @ delta)
        grads[f"b{k}"] = np.matmul(ones, delta, out=None if out is None else out[f"b{k}"])
        if k > 1:  # no gradient with respect to the input X
            W_T = params[f"W{k}"].T
            out_k = None if ws is None else ws.deltas[k - 2]
            if W_T.shape[0] == 1:  # one output: an outer product, cheaper as an einsum
                # than as a broadcast product (0.6 of the time for 569 x 64) or a matmul; the
                # same numbers (a zero may lose its sign)
                delta = np.einsum("ik,kj->ij", delta, W_T, out=out_k)
            else:
                delta = np.matmul(delta, W_T, out=out_k)
            act.grad_from_output(A_prev, delta, None if ws is None else ws.work[k - 2])
    return grads


class Packed(NamedTuple):
    """All parameters of a network in one flat array, layer by layer as (fan_in + 1, fan_out)
    blocks: the weights, then the bias as the last row.

    A product ``[A, 1] @ block`` is then ``A @ Wk + bk`` in one matrix product, and an update of
    every parameter is one operation on ``flat``.

    Attributes
    ----------
    flat : ndarray
        Every parameter, block after block.
    blocks : list of ndarray
        ``blocks[k - 1]`` of shape (fan_in + 1, fan_out), a view of ``flat``.
    params : dict of str to ndarray
        The usual parameter dict, of views: ``Wk = blocks[k - 1][:-1]`` (C-contiguous) and
        ``bk = blocks[k - 1][-1]``.
    """

    flat: NDArray
    blocks: list[NDArray]
    params: Params


def pack_params(
    net: Network, dtype: DTypeLike, params: Params | None = None, keys: list[str] | None = None
) -> Packed:
    """A new :class:`Packed` set of parameters, holding a copy of ``params`` if given.

    ``keys`` orders the dict of views (by default ``W1, b1, W2, ...``).
    """
    shapes = [(a + 1, b) for a, b in zip(net.layer_sizes[:-1], net.layer_sizes[1:])]
    flat = np.empty(sum(a * b for a, b in shapes), dtype)
    blocks, views, start = [], {}, 0
    for k, (rows, cols) in enumerate(shapes, 1):
        block = flat[start : start + rows * cols].reshape(rows, cols)
        start += rows * cols
        blocks.append(block)
        views[f"W{k}"], views[f"b{k}"] = block[:-1], block[-1]
        if params is not None:
            block[:-1], block[-1] = params[f"W{k}"], params[f"b{k}"]
    return Packed(flat, blocks, views if keys is None else {k: views[k] for k in keys})


def predict_output(net: Network, params: Params, X: NDArray) -> NDArray:
    """Network outputs after the head: probabilities for classification, values for regression.

    Returns
    -------
    ndarray of shape (n_samples, n_outputs)
    """
    logits, _ = forward(net, params, X)
    return get_head(net.head).output(logits)
