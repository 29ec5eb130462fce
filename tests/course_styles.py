"""Hand-written networks in the styles of three public courses, each able to plant one fault.

- `TwoLayerNet`: Stanford CS231n, assignment 1 (``cs231n/classifiers/neural_net.py``): a
  ``params`` dict, ``loss(X, y, reg)`` returning ``(loss, grads)``, ReLU and softmax, samples by
  features, L2 regularisation ``reg * sum(W * W)`` in the loss.
- `Network`: Michael Nielsen, "Neural Networks and Deep Learning", ``src/network.py``: lists
  ``self.weights`` and ``self.biases``, ``backprop(x, y)`` returning ``(nabla_b, nabla_w)`` for one
  sample as a column vector, sigmoid layers, the quadratic cost of ``cost_derivative``.
- `dlai`: deeplearning.ai, "Building your Deep Neural Network: Step by Step": module functions
  ``L_model_forward(X, parameters)``, ``compute_cost(AL, Y)``, ``L_model_backward(AL, Y,
  caches)`` returning ``grads`` with ``dW1``, ``db1``; features by samples, ReLU then sigmoid.

Faults: "sign" (a gradient negated), "missing-1/m" (a division by the samples left out),
"bias-sum-all" (a bias gradient summed over every axis), "regularisation" (the L2 term left out
of the gradient; CS231n only), "transposed" (a square weight's gradient transposed).
"""

# ruff: noqa: RUF059, RUF007
from __future__ import annotations

import types
from typing import Any

import numpy as np


class TwoLayerNet:
    """CS231n style: ``self.params``, ``loss(X, y)`` -> ``(loss, grads)``."""

    def __init__(self, input_size, hidden_size, output_size, rng, std=0.5, dtype=np.float64,
                 reg=0.1, fault=None):  # fmt: skip
        self.params = {}
        self.params["W1"] = (std * rng.standard_normal((input_size, hidden_size))).astype(dtype)
        self.params["b1"] = (0.1 * rng.standard_normal(hidden_size)).astype(dtype)
        self.params["W2"] = (std * rng.standard_normal((hidden_size, output_size))).astype(dtype)
        self.params["b2"] = (0.1 * rng.standard_normal(output_size)).astype(dtype)
        self.reg = reg
        self.fault = fault

    def loss(self, X, y=None):
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        N, D = X.shape
        reg = self.reg
        hidden = np.maximum(0, X.dot(W1) + b1)
        scores = hidden.dot(W2) + b2
        if y is None:
            return scores
        shifted = scores - np.max(scores, axis=1, keepdims=True)
        probs = np.exp(shifted)
        probs /= np.sum(probs, axis=1, keepdims=True)
        loss = -np.sum(np.log(probs[np.arange(N), y])) / N
        loss += reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
        grads = {}
        dscores = probs.copy()
        dscores[np.arange(N), y] -= 1
        dscores /= N
        grads["W2"] = hidden.T.dot(dscores)
        if self.fault == "bias-sum-all":
            grads["b2"] = np.sum(dscores) * np.ones_like(b2)
        else:
            grads["b2"] = np.sum(dscores, axis=0)
        dhidden = dscores.dot(W2.T)
        dhidden[hidden <= 0] = 0
        grads["W1"] = X.T.dot(dhidden)
        grads["b1"] = np.sum(dhidden, axis=0)
        if self.fault != "regularisation":
            grads["W2"] += 2 * reg * W2
            grads["W1"] += 2 * reg * W1
        if self.fault == "sign":
            grads["W1"] = -grads["W1"]
        if self.fault == "transposed":
            grads["W1"] = grads["W1"].T
        return loss, grads


CS231N_TARGETS = {
    None: (),
    "sign": ("W1",),
    "bias-sum-all": ("b2",),
    "regularisation": ("W1", "W2"),
    "transposed": ("W1",),
}


def cs231n_problem(rng, dtype, fault=None, n_samples=30):
    net = TwoLayerNet(6, 6, 3, rng, dtype=dtype, fault=fault)
    X = rng.standard_normal((n_samples, 6)).astype(dtype)
    y = rng.integers(0, 3, size=n_samples)
    return net, X, y


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))


class Network:
    """Nielsen style: ``self.weights``, ``self.biases`` lists, ``backprop`` for one sample."""

    def __init__(self, sizes, rng, dtype=np.float64, fault=None):
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.biases = [rng.standard_normal((y, 1)).astype(dtype) for y in sizes[1:]]
        self.weights = [
            rng.standard_normal((y, x)).astype(dtype) for x, y in zip(sizes[:-1], sizes[1:])
        ]
        self.fault = fault

    def feedforward(self, a):
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def backprop(self, x, y):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        # feedforward
        activation = x
        activations = [x]  # list to store all the activations, layer by layer
        zs = []  # list to store all the z vectors, layer by layer
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        # backward pass
        delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):
            z = zs[-l]
            sp = sigmoid_prime(z)
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sp
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        if self.fault == "sign":
            nabla_w[0] = -nabla_w[0]
        if self.fault == "transposed":
            nabla_w[1] = nabla_w[1].T
        if self.fault == "missing-1/m":  # a factor the quadratic cost does not have
            nabla_b[1] = 2 * nabla_b[1]
        return (nabla_b, nabla_w)

    def cost_derivative(self, output_activations, y):
        return output_activations - y


NIELSEN_TARGETS = {
    None: (),
    "sign": ("weights[0]",),
    "transposed": ("weights[1]",),
    "missing-1/m": ("biases[1]",),
}


def nielsen_problem(rng, dtype, fault=None):
    net = Network([5, 4, 4, 2], rng, dtype=dtype, fault=fault)
    x = rng.standard_normal((5, 1)).astype(dtype)
    y = rng.random((2, 1)).astype(dtype)
    return net, x, y


def _dlai_module(fault: Any) -> types.ModuleType:
    """The deeplearning.ai functions as a module, with one planted fault."""

    def relu(Z):
        return np.maximum(0, Z), Z

    def L_model_forward(X, parameters):
        caches = []
        A = X
        L = len(parameters) // 2
        for l in range(1, L):
            A_prev = A
            Z = np.dot(parameters["W" + str(l)], A_prev) + parameters["b" + str(l)]
            A, activation_cache = relu(Z)
            caches.append(((A_prev, parameters["W" + str(l)], parameters["b" + str(l)]), Z))
        Z = np.dot(parameters["W" + str(L)], A) + parameters["b" + str(L)]
        AL = sigmoid(Z)
        caches.append(((A, parameters["W" + str(L)], parameters["b" + str(L)]), Z))
        return AL, caches

    def compute_cost(AL, Y):
        m = Y.shape[1]
        cost = (-1 / m) * np.sum(np.multiply(Y, np.log(AL)) + np.multiply(1 - Y, np.log(1 - AL)))
        return np.squeeze(cost)

    def linear_backward(dZ, cache):
        A_prev, W, b = cache
        m = A_prev.shape[1]
        dW = (1 / m) * np.dot(dZ, A_prev.T)
        if fault == "bias-sum-all":
            db = (1 / m) * np.sum(dZ, keepdims=True)
        else:
            db = (1 / m) * np.sum(dZ, axis=1, keepdims=True)
        dA_prev = np.dot(W.T, dZ)
        return dA_prev, dW, db

    def L_model_backward(AL, Y, caches):
        grads = {}
        L = len(caches)
        Y = Y.reshape(AL.shape)
        dAL = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))
        linear_cache, Z = caches[L - 1]
        s = sigmoid(Z)
        dZ = dAL * s * (1 - s)
        grads["dA" + str(L - 1)], grads["dW" + str(L)], grads["db" + str(L)] = linear_backward(
            dZ, linear_cache
        )
        for l in reversed(range(L - 1)):
            linear_cache, Z = caches[l]
            dZ = np.array(grads["dA" + str(l + 1)], copy=True)
            dZ[Z <= 0] = 0
            dA_prev_temp, dW_temp, db_temp = linear_backward(dZ, linear_cache)
            grads["dA" + str(l)] = dA_prev_temp
            grads["dW" + str(l + 1)] = -dW_temp if fault == "sign" else dW_temp
            grads["db" + str(l + 1)] = db_temp
        return grads

    module = types.ModuleType("dlai_step_by_step")
    for f in (relu, L_model_forward, compute_cost, linear_backward, L_model_backward):
        setattr(module, f.__name__, f)
    return module


# b2 has one unit: summed over every axis it is right.
DLAI_TARGETS = {None: (), "sign": ("W1",), "bias-sum-all": ("b1",)}


def dlai_problem(rng, dtype, fault=None, n_samples=40):
    module = _dlai_module(fault)
    parameters = {
        "W1": (rng.standard_normal((5, 4)) * 0.5).astype(dtype),
        "b1": (0.1 * rng.standard_normal((5, 1))).astype(dtype),
        "W2": (rng.standard_normal((1, 5)) * 0.5).astype(dtype),
        "b2": (0.1 * rng.standard_normal((1, 1))).astype(dtype),
    }
    X = rng.standard_normal((4, n_samples)).astype(dtype)
    Y = (rng.random((1, n_samples)) < 0.5).astype(dtype)
    return module, parameters, X, Y
