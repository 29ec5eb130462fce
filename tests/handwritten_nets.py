"""Hand-written networks, in the styles people write them, for testing `check_gradients`.

Each network can plant one fault in its backprop. ``*_TARGETS`` say, per fault, which tensors
the fault spoils and which hint the checker should give (None: no listed hint applies).

Styles:
- `CourseNet`: features-by-samples (X has shape (n_features, n_samples)), parameters as object
  attributes, tanh-tanh-sigmoid with cross-entropy, as taught in popular courses.
- `functional_net`: samples-by-features, parameters in a dict, ReLU and softmax cross-entropy,
  ``loss(params)`` and ``grads(params)`` as plain functions.
- `LayerNet`: samples-by-features, a list of Dense layer objects each holding ``W``, ``b`` and
  storing ``dW``, ``db`` in backward, sigmoid hidden layer and mean squared error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

FAULTS = (
    None,
    "bias-sum-all",
    "missing-1/m",
    "sign",
    "activation",
    "regularisation",
    "transposed",
    "transposed-square",
    "zero",
)
LAMBDA = 0.5  # strength of the L2 term, large enough for its omission to show in float32


COURSE_TARGETS: dict[str | None, tuple[tuple[str, ...], str | None]] = {
    None: ((), None),
    "bias-sum-all": (("b1",), "wrong-reduction-axis"),
    "missing-1/m": (("W2",), "scale-mismatch"),
    "sign": (("W3",), "sign-flipped"),
    "activation": (("W1", "b1"), None),
    "regularisation": (("W1", "W2", "W3"), None),
    "transposed": (("W1",), "transposed"),
    "transposed-square": (("W2",), "transposed"),
    "zero": (("b2",), "zero-gradient"),
}


class CourseNet:
    """Features-by-samples, object attributes: Z1 = W1 @ X + b1, tanh, tanh, sigmoid output.

    Layer sizes (n_in, 6, 6, 1): W2 is square so that a transposed W2 gradient keeps its shape.
    """

    def __init__(self, rng: np.random.Generator, dtype: Any, n_in: int = 5, fault: Any = None):
        self.fault = fault
        self.lambd = LAMBDA if fault == "regularisation" else 0.0
        self.W1 = (rng.standard_normal((6, n_in)) / np.sqrt(n_in)).astype(dtype)
        self.b1 = (0.1 * rng.standard_normal((6, 1))).astype(dtype)
        self.W2 = (rng.standard_normal((6, 6)) / np.sqrt(6)).astype(dtype)
        self.b2 = (0.1 * rng.standard_normal((6, 1))).astype(dtype)
        self.W3 = (rng.standard_normal((1, 6)) / np.sqrt(6)).astype(dtype)
        self.b3 = (0.1 * rng.standard_normal((1, 1))).astype(dtype)

    def params(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k) for k in ("W1", "b1", "W2", "b2", "W3", "b3")}

    def forward(self, X: np.ndarray) -> np.ndarray:
        self.A1 = np.tanh(self.W1 @ X + self.b1)
        self.A2 = np.tanh(self.W2 @ self.A1 + self.b2)
        self.A3 = 1 / (1 + np.exp(-(self.W3 @ self.A2 + self.b3)))
        return self.A3

    def cost(self, X: np.ndarray, Y: np.ndarray) -> Any:
        A3 = self.forward(X)
        m = X.shape[1]
        cost = -np.sum(Y * np.log(A3) + (1 - Y) * np.log(1 - A3)) / m
        l2 = sum(np.sum(W * W) for W in (self.W1, self.W2, self.W3))
        return cost + self.lambd / 2 * l2

    def backward(self, X: np.ndarray, Y: np.ndarray) -> dict[str, np.ndarray]:
        self.forward(X)
        m = X.shape[1]
        f = self.fault
        dZ3 = self.A3 - Y
        dW3 = dZ3 @ self.A2.T / m
        db3 = np.sum(dZ3, axis=1, keepdims=True) / m
        dZ2 = (self.W3.T @ dZ3) * (1 - self.A2**2)
        dW2 = dZ2 @ self.A1.T if f == "missing-1/m" else dZ2 @ self.A1.T / m
        db2 = np.sum(dZ2, axis=1, keepdims=True) / m
        dA1 = self.W2.T @ dZ2
        if f == "activation":
            dZ1 = dA1 * self.A1 * (1 - self.A1)  # the sigmoid's derivative, for a tanh
        else:
            dZ1 = dA1 * (1 - self.A1**2)
        dW1 = dZ1 @ X.T / m
        if f == "bias-sum-all":
            db1 = np.sum(dZ1, keepdims=True) / m
        else:
            db1 = np.sum(dZ1, axis=1, keepdims=True) / m
        # The L2 term's gradient, unless it is the planted omission (lambd is 0 otherwise).
        if f != "regularisation":
            dW1 = dW1 + self.lambd * self.W1
            dW2 = dW2 + self.lambd * self.W2
            dW3 = dW3 + self.lambd * self.W3
        if f == "sign":
            dW3 = -dW3
        if f == "transposed":
            dW1 = dW1.T
        if f == "transposed-square":
            dW2 = dW2.T
        if f == "zero":
            db2 = np.zeros_like(self.b2)
        return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "W3": dW3, "b3": db3}


def course_problem(
    rng: np.random.Generator, dtype: Any, fault: Any = None, n_samples: int = 40
) -> tuple[Callable[[], Any], dict[str, np.ndarray], Callable[[], dict[str, np.ndarray]]]:
    """A `CourseNet` and data: (loss, params, grads) for `check_gradients`."""
    net = CourseNet(rng, dtype, fault=fault)
    X = rng.standard_normal((5, n_samples)).astype(dtype)
    Y = (rng.random((1, n_samples)) < 0.5).astype(dtype)
    return (lambda: net.cost(X, Y)), net.params(), (lambda: net.backward(X, Y))


FUNCTIONAL_TARGETS: dict[str | None, tuple[tuple[str, ...], str | None]] = {
    None: ((), None),
    "bias-sum-all": (("b1",), "wrong-reduction-axis"),
    # The 1/m is left out of d_logits, so every gradient is n_samples times too large.
    "missing-1/m": (("W1", "b1", "W2", "b2"), "scale-mismatch"),
    "sign": (("W1",), "sign-flipped"),
    "activation": (("W1", "b1"), None),
    "regularisation": (("W1", "W2"), None),
    "transposed": (("W2",), "transposed"),
    "transposed-square": (("W1",), "transposed"),
    "zero": (("W2",), "zero-gradient"),
}


def functional_net(
    rng: np.random.Generator,
    dtype: Any,
    fault: Any = None,
    n_samples: int = 50,
    n_in: int = 8,
    n_hidden: int = 8,
    n_classes: int = 3,
) -> tuple[Callable[[], Any], dict[str, np.ndarray], Callable[[], dict[str, np.ndarray]]]:
    """Samples-by-features, parameters in a dict, ReLU hidden layer, softmax cross-entropy.

    W1 is square (n_in == n_hidden) so that a transposed W1 gradient keeps its shape.
    """
    X = rng.standard_normal((n_samples, n_in)).astype(dtype)
    y = rng.integers(0, n_classes, size=n_samples)
    params = {
        "W1": (rng.standard_normal((n_in, n_hidden)) * np.sqrt(2 / n_in)).astype(dtype),
        "b1": (0.1 * rng.standard_normal(n_hidden)).astype(dtype),
        "W2": (rng.standard_normal((n_hidden, n_classes)) / np.sqrt(n_hidden)).astype(dtype),
        "b2": (0.1 * rng.standard_normal(n_classes)).astype(dtype),
    }
    lambd = LAMBDA if fault == "regularisation" else 0.0

    def forward(p: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        Z1 = X @ p["W1"] + p["b1"]
        A1 = np.maximum(Z1, 0)
        logits = A1 @ p["W2"] + p["b2"]
        return Z1, A1, logits

    def loss_fn(p: dict[str, np.ndarray]) -> Any:
        _, _, logits = forward(p)
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
        data = -np.mean(log_probs[np.arange(n_samples), y])
        return data + lambd / 2 * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))

    def grads_fn(p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        Z1, A1, logits = forward(p)
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        d_logits = probs.copy()
        d_logits[np.arange(n_samples), y] -= 1
        if fault != "missing-1/m":
            d_logits /= n_samples
        dW2 = A1.T @ d_logits
        db2 = d_logits.sum(axis=0)
        dA1 = d_logits @ p["W2"].T
        # The planted fault multiplies by the activation instead of its derivative.
        dZ1 = dA1 * A1 if fault == "activation" else dA1 * (Z1 > 0)
        dW1 = X.T @ dZ1
        db1 = np.full_like(p["b1"], dZ1.sum()) if fault == "bias-sum-all" else dZ1.sum(axis=0)
        if fault != "regularisation":
            dW1, dW2 = dW1 + lambd * p["W1"], dW2 + lambd * p["W2"]
        if fault == "sign":
            dW1 = -dW1
        if fault == "transposed":
            dW2 = dW2.T
        if fault == "transposed-square":
            dW1 = dW1.T
        if fault == "zero":
            dW2 = np.zeros_like(dW2)
        return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}

    return (lambda: loss_fn(params)), params, (lambda: grads_fn(params))


class Dense:
    """A layer object holding its parameters and, after backward, their gradients."""

    def __init__(self, rng: np.random.Generator, n_in: int, n_out: int, dtype: Any):
        # Twice the usual scale: varied activations make a wrong derivative easy to tell from a
        # rescaled gradient.
        self.W = (2 * rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(dtype)
        self.b = (0.1 * rng.standard_normal((1, n_out))).astype(dtype)

    def forward(self, X: np.ndarray) -> np.ndarray:
        self.X = X
        return X @ self.W + self.b

    def backward(self, dZ: np.ndarray) -> np.ndarray:
        self.dW = self.X.T @ dZ
        self.db = dZ.sum(axis=0, keepdims=True)
        return dZ @ self.W.T


LAYER_TARGETS: dict[str | None, tuple[tuple[str, ...], str | None]] = {
    None: ((), None),
    "bias-sum-all": (("dense0.b",), "wrong-reduction-axis"),
    "missing-1/m": (("dense1.W",), "scale-mismatch"),
    "sign": (("dense1.b",), "sign-flipped"),
    "activation": (("dense0.W", "dense0.b"), None),
    "regularisation": (("dense0.W", "dense1.W"), None),
    "transposed": (("dense0.W",), "transposed"),
    "zero": (("dense0.b",), "zero-gradient"),
}


class LayerNet:
    """Samples-by-features, a list of `Dense` layers, sigmoid hidden layer, mean squared error."""

    def __init__(self, rng: np.random.Generator, dtype: Any, fault: Any = None):
        self.fault = fault
        self.lambd = LAMBDA if fault == "regularisation" else 0.0
        self.layers = [Dense(rng, 4, 7, dtype), Dense(rng, 7, 2, dtype)]

    def params(self) -> dict[str, np.ndarray]:
        out = {}
        for i, layer in enumerate(self.layers):
            out[f"dense{i}.W"], out[f"dense{i}.b"] = layer.W, layer.b
        return out

    def predict(self, X: np.ndarray) -> np.ndarray:
        self.H = 1 / (1 + np.exp(-self.layers[0].forward(X)))
        return self.layers[1].forward(self.H)

    def loss(self, X: np.ndarray, Y: np.ndarray) -> Any:
        l2 = sum(np.sum(layer.W**2) for layer in self.layers)
        return 0.5 * np.mean(np.sum((self.predict(X) - Y) ** 2, axis=1)) + self.lambd / 2 * l2

    def gradients(self, X: np.ndarray, Y: np.ndarray) -> dict[str, np.ndarray]:
        f, m = self.fault, X.shape[0]
        dOut = (self.predict(X) - Y) / m
        dH = self.layers[1].backward(dOut)
        # The planted fault uses tanh's derivative for the sigmoid.
        sig_prime = 1 - self.H**2 if f == "activation" else self.H * (1 - self.H)
        dZ0 = dH * sig_prime
        self.layers[0].backward(dZ0)
        if f == "bias-sum-all":
            self.layers[0].db = np.sum(dZ0, keepdims=True)
        if f == "missing-1/m":
            self.layers[1].dW = self.layers[1].dW * m
        if f != "regularisation":
            for layer in self.layers:
                layer.dW = layer.dW + self.lambd * layer.W
        if f == "sign":
            self.layers[1].db = -self.layers[1].db
        if f == "transposed":
            self.layers[0].dW = self.layers[0].dW.T
        if f == "zero":
            self.layers[0].db = np.zeros_like(self.layers[0].db)
        out = {}
        for i, layer in enumerate(self.layers):
            out[f"dense{i}.W"], out[f"dense{i}.b"] = layer.dW, layer.db
        return out


def layer_problem(
    rng: np.random.Generator, dtype: Any, fault: Any = None, n_samples: int = 30
) -> tuple[Callable[[], Any], dict[str, np.ndarray], Callable[[], dict[str, np.ndarray]]]:
    """A `LayerNet` and data: (loss, params, grads) for `check_gradients`."""
    net = LayerNet(rng, dtype, fault=fault)
    X = rng.standard_normal((n_samples, 4)).astype(dtype)
    Y = rng.standard_normal((n_samples, 2)).astype(dtype)
    return (lambda: net.loss(X, Y)), net.params(), (lambda: net.gradients(X, Y))
