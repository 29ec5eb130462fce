"""The network of the question that started lossdoctor, written as its asker wrote it.

datascience.stackexchange.com, post 73797 ("Why is my loss increasing in gradient descent?"):
features by samples, parameters and gradients as attributes (``self.W1``, ``self.dW1``), the bias
gradient of the first layer summed without ``axis=1``. Only the random numbers differ: a
``numpy.random.Generator`` instead of ``np.random.seed(4)`` and the global ``np.random.rand``, and
the plotting is left out of ``fit``; ``fixed=True`` gives the corrected ``db1`` line.
"""

import numpy as np


class FNN:
    def __init__(self, rng=None, fixed=False):
        self.rng = rng if rng is not None else np.random.default_rng(4)
        self.fixed = fixed
        self.W1 = None
        self.b1 = None
        self.W2 = None
        self.b2 = None
        self.W3 = None
        self.b3 = None

    def sigmoid(self, x):
        return 1 / (1 + np.exp(-x))

    def forward_prop(self, x):
        self.Z1 = np.dot(self.W1, x) + self.b1
        self.A1 = np.tanh(self.Z1)
        self.Z2 = np.dot(self.W2, self.A1) + self.b2
        self.A2 = np.tanh(self.Z2)
        self.Z3 = np.dot(self.W3, self.A2) + self.b3
        self.A3 = self.sigmoid(self.Z3)
        return self.A3

    def back_prop(self, x, y):
        self.forward_prop(x)
        m = x.shape[1]
        self.dZ3 = self.A3 - y
        self.dW3 = np.dot(self.dZ3, self.A2.T) / m
        self.db3 = np.sum(self.dZ3, axis=1, keepdims=True) / m
        self.dZ2 = np.dot(self.W3.T, self.dZ3) * (1 - self.A2**2)
        self.dW2 = np.dot(self.dZ2, self.A1.T) / m
        self.db2 = np.sum(self.dZ2, axis=1, keepdims=True) / m
        self.dZ1 = np.dot(self.W2.T, self.dZ2) * (1 - self.A1**2)
        self.dW1 = np.dot(self.dZ1, x.T) / m
        if self.fixed:
            self.db1 = np.sum(self.dZ1, axis=1, keepdims=True) / m
        else:
            self.db1 = np.sum(self.dZ1, keepdims=True) / m

    def fit(self, x, y, epochs=100, learning_rate=0.01, dtype=np.float64):
        # np.random.seed(4); np.random.rand / np.random.randn in the original
        self.W1 = self.rng.random((128, x.shape[0])).astype(dtype)
        self.b1 = np.zeros((128, 1), dtype)
        self.W2 = self.rng.standard_normal((64, 128)).astype(dtype)
        self.b2 = np.zeros((64, 1), dtype)
        self.W3 = self.rng.standard_normal((1, 64)).astype(dtype)
        self.b3 = np.zeros((1, 1), dtype)
        m = x.shape[1]
        loss = []
        for i in range(epochs):  # noqa: B007
            self.back_prop(x, y)
            self.W1 -= learning_rate * self.dW1
            self.b1 -= learning_rate * self.db1
            self.W2 -= learning_rate * self.dW2
            self.b2 -= learning_rate * self.db2
            self.W3 -= learning_rate * self.dW3
            self.b3 -= learning_rate * self.db3
            logprobs = y * np.log(self.A3) + (1 - y) * np.log(1 - self.A3)
            cost = -(np.sum(logprobs)) / m
            loss.append(cost)
        return loss
