"""The question that started lossdoctor, answered with numbers.

"When the learning rate is 0.01 the loss seems to be decreasing whereas when I increase the
learning rate even slightly, the loss increases. Why does this happen? Are the gradients
calculated wrong?" (a 128-64 tanh network with one sigmoid output, written by hand in NumPy).

Below is the asker's network exactly as posted (features x samples, parameters as object
attributes), with one change: ``np.random.seed(4)`` and the global ``np.random.rand``/``randn``
are replaced by a ``numpy.random.Generator``, so that nothing touches NumPy's global state.
lossdoctor then answers the two questions:

1. Are the gradients wrong?  ``check_gradients`` names the faulty tensor and the kind of mistake.
2. Why does the loss rise at learning rate 1?  ``sharpness`` measures the curvature L of the
   asker's own network: gradient descent is stable only below 2/L. ``TrainingMonitor`` and
   ``diagnose`` then say what to change.

Run it with ``python examples/classic_question.py``.
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_breast_cancer

import lossdoctor
from lossdoctor.diagnostics.gradcheck import check_gradients_of


class FNN:
    """The asker's network, as posted (only the random number generator differs)."""

    def __init__(self, rng: np.random.Generator | None = None):
        self.rng = rng if rng is not None else np.random.default_rng(4)
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
        self.db1 = np.sum(self.dZ1, keepdims=True) / m  # the bug: no axis=1

    def init_weights(self, n_features):
        # np.random.seed(4); np.random.rand(...) / np.random.randn(...) in the original.
        self.W1 = self.rng.random((128, n_features))
        self.b1 = np.zeros((128, 1))
        self.W2 = self.rng.standard_normal((64, 128))
        self.b2 = np.zeros((64, 1))
        self.W3 = self.rng.standard_normal((1, 64))
        self.b3 = np.zeros((1, 1))

    def cost(self, x, y):
        # The asker's loss: log of probabilities, which is log(0) = -inf once A3 saturates.
        m = x.shape[1]
        self.forward_prop(x)
        logprobs = y * np.log(self.A3) + (1 - y) * np.log(1 - self.A3)
        return -(np.sum(logprobs)) / m

    def fit(self, x, y, epochs=100, learning_rate=0.01, monitor=None):
        self.init_weights(x.shape[0])
        m = x.shape[1]
        loss = []
        for i in range(epochs):
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
            if monitor is not None:  # lossdoctor's only addition to the loop
                monitor.record(
                    epoch=i + 1,
                    loss=cost,
                    activations={"A1": self.A1, "A2": self.A2},
                    grads=self.gradients_as_computed(),
                    params=self.params(),
                )
        return loss

    # -- two small adapters so that lossdoctor can read the network --------------------------
    def params(self):
        """The live parameter arrays, by name."""
        return {k: getattr(self, k) for k in ("W1", "b1", "W2", "b2", "W3", "b3")}

    def gradients_as_computed(self):
        """The asker's gradients, as the update uses them (after one ``back_prop``)."""
        return {k: getattr(self, "d" + k) for k in ("W1", "b1", "W2", "b2", "W3", "b3")}


def load_data(scaled: bool):
    """Breast-cancer data as the asker lays it out: x of shape (30, 569), y of shape (1, 569)."""
    X, y = load_breast_cancer(return_X_y=True)
    if scaled:
        X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X.T.copy(), y[None, :].astype(float)


def check_asker_gradients(seed: int = 4, n_samples: int = 64) -> lossdoctor.GradientReport:
    """Question 1: are the gradients wrong? One call, no glue: lossdoctor finds ``W1``/``dW1``
    and the others, runs ``back_prop`` and names the line that assigns a wrong gradient."""
    x, y = load_data(scaled=True)  # scaled so that the tanh units are not all saturated
    x, y = x[:, :n_samples], y[:, :n_samples]
    net = FNN(np.random.default_rng(seed))
    net.init_weights(x.shape[0])
    return check_gradients_of(net, x, y, rng=np.random.default_rng(seed))


def sharpness_of_asker_network(seed: int = 4) -> float:
    """Question 2: the curvature L of the asker's own network, from the asker's own gradients.

    The bias gradient is corrected first (``axis=1``): curvature from a wrong gradient would
    answer a different question.
    """
    x, y = load_data(scaled=True)
    net = FNN(np.random.default_rng(seed))
    net.init_weights(x.shape[0])

    def grads():
        net.back_prop(x, y)
        g = net.gradients_as_computed()
        g["b1"] = np.sum(net.dZ1, axis=1, keepdims=True) / x.shape[1]
        return g

    return float(lossdoctor.sharpness(grads, net.params())[0])


def diagnose_asker_runs(seed: int = 4, epochs: int = 100) -> dict[float, lossdoctor.Diagnosis]:
    """Train the asker's network as posted (unscaled inputs) at 0.01 and 1 and diagnose both."""
    x, y = load_data(scaled=False)
    out = {}
    for lr in (0.01, 1.0):
        monitor = lossdoctor.TrainingMonitor(activation="tanh", samples_axis=1)
        net = FNN(np.random.default_rng(seed))
        with np.errstate(all="ignore"):  # the asker's log(0) and exp overflow, as posted
            net.fit(x, y, epochs=epochs, learning_rate=lr, monitor=monitor)
        # The data (samples as rows) let the doctor trace saturation back to its root cause.
        out[lr] = monitor.diagnose(lr=lr, X=x.T, y=y.ravel())
    return out


def main() -> None:
    print("1. Are the gradients calculated wrong?\n")
    report = check_asker_gradients()
    print(report)

    print("\n2. Why does the loss rise at learning rate 1?\n")
    L = sharpness_of_asker_network()
    print(f"sharpness of the asker's network (standardised inputs): L = {L:.4g}")
    print(f"gradient descent is stable only for learning rates below 2/L = {2 / L:.4g}")
    for lr in (0.01, 1.0):
        print(f"  lr = {lr:g}: {lossdoctor.lr_verdict(lr, L).message}")

    print("\n3. What to change: the asker's runs, as posted (unscaled inputs)\n")
    for lr, diagnosis in diagnose_asker_runs().items():
        print(f"--- learning rate {lr:g}")
        print(diagnosis.summary)
        for finding in diagnosis.findings:
            print(f"  [{finding.severity}] {finding.code}: {finding.fix}")
        print()


if __name__ == "__main__":
    main()
