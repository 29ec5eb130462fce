"""The edge of stability on the built-in data: sharpness rises to 2/lr and hovers there.

Full-batch gradient descent on the standardised breast-cancer data (569 x 30) with the 128-64 tanh
network of the classic question, a sigmoid output and cross-entropy, at a fixed learning rate.
The sharpness (largest Hessian eigenvalue of the training objective) is measured every
``--every`` epochs by :class:`~lossdoctor.diagnostics.curvature.SharpnessCallback`.

Why these settings. On this nearly separable data the cross-entropy goes to zero and the
sharpness with it, so the edge is only reached at a step large enough that ``2 / lr`` lies below
the sharpness the network would otherwise reach, and an L2 penalty (``alpha = 3``, i.e.
``alpha / n = 0.005``) keeps the loss, and the sharpness, from collapsing. At ``lr = 2``
(``2 / lr = 1``) the sharpness first drops from its value at the initial weights (8.2), then
rises (progressive sharpening) to 2/lr within about 120 epochs and stays within 15% of it for
the rest of the run, with brief dips where the loss spikes (self-stabilisation). With a smaller
penalty (``--alpha 1``) the sharpness overshoots, the loss spikes, the sharpness falls to a third
of 2/lr ("catapult") and climbs back over hundreds of epochs, again and again.

Run ``python benchmarks/edge_of_stability.py [--plot eos.png]``.
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from lossdoctor.data import builtin_dataset
from lossdoctor.diagnostics.curvature import SharpnessCallback
from lossdoctor.network import Network, init_params
from lossdoctor.optimizers import sgd
from lossdoctor.report.plots import plot_sharpness
from lossdoctor.training import fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, default=2.0)
    parser.add_argument("--alpha", type=float, default=3.0)
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default="edge_of_stability.png")
    args = parser.parse_args()

    data = builtin_dataset("breast_cancer")
    X = StandardScaler().fit_transform(data.X)
    Y = data.y[:, None].astype(np.float64)
    net = Network((30, 128, 64, 1), "tanh", "binary")
    params = init_params(net, np.random.default_rng(args.seed))
    cb = SharpnessCallback(X, Y, every=args.every, alpha=args.alpha)
    # Small matrices: one BLAS thread is faster than several, above all on a shared machine.
    with threadpool_limits(1):
        result = fit(net, params, X, Y, optimizer=sgd(args.lr), epochs=args.epochs,
                     alpha=args.alpha, n_iter_no_change=None, callbacks=[cb])  # fmt: skip
    limit = 2 / args.lr
    s = np.asarray(cb.sharpness)
    e = np.asarray(cb.epochs)
    print(f"lr = {args.lr:g}, 2/lr = {limit:g}, alpha = {args.alpha:g}, epochs = {args.epochs}")
    print("epoch  sharpness  sharpness/(2/lr)  loss")
    losses = result.history.loss
    for epoch, value in zip(e, s):
        loss = losses[epoch - 1] if epoch >= 1 else float("nan")
        print(f"{epoch:5d}  {value:9.4f}  {value / limit:16.3f}  {loss:.4f}")
    first = int(np.argmax(s[1:] >= 0.85 * limit)) + 1 if (s[1:] >= 0.85 * limit).any() else None
    half = s[len(s) // 2 :]
    within = np.abs(half / limit - 1) <= 0.15
    print(f"first within 15% of 2/lr at epoch {e[first] if first else 'never'}")
    print(
        f"second half of the run: median sharpness {np.median(half):.4f} "
        f"({np.median(half) / limit:.3f} x 2/lr), {within.mean():.0%} of the measurements "
        f"within 15% of 2/lr; final loss {losses[-1]:.4f}"
    )
    plot_sharpness(e, s, args.lr, args.plot, losses=losses)
    print(f"plot written to {args.plot}")


if __name__ == "__main__":
    main()
