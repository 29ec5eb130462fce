"""Overhead of the training monitors over plain training, on the built-in breast-cancer data.

Runs plain :func:`lossdoctor.training.fit` and the same fit with a
:class:`~lossdoctor.diagnostics.monitors.MonitorCallback` attached, interleaved (plain, monitored,
plain, ...) so that both see the same machine load, and prints the median time of each and the
ratio of medians, of process CPU time (the verdict) and of wall-clock time. The spec allows at
most 15% extra (ratio <= 1.15).

The sharpness measured at a few points of the run (Lanczos on the monitor's parameter snapshots,
after training) is timed separately: it is a check the diagnosis runs, not part of the training
loop.

Usage::

    python benchmarks/bench_monitors.py [--repeats 9] [--epochs 200] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_limits

from lossdoctor.data import builtin_dataset
from lossdoctor.diagnostics.evidence import lr_evidence, standardize
from lossdoctor.diagnostics.monitors import MonitorCallback, select_probe
from lossdoctor.network import Network, init_params
from lossdoctor.optimizers import adam, sgd
from lossdoctor.training import fit


def _setups(epochs: int) -> dict[str, dict]:
    data = builtin_dataset("breast_cancer")
    X = standardize(data.X)
    Y = (data.y == 1).astype(np.float64)[:, None]
    return {
        "classic gd (128, 64) tanh, full batch": {
            "X": X,
            "Y": Y,
            "net": Network((30, 128, 64, 1), "tanh", "binary"),
            "optimizer": sgd(0.1),
            "batch_size": None,
            "epochs": epochs,
        },
        "adam (100,) relu, batches of 200": {
            "X": X,
            "Y": Y,
            "net": Network((30, 100, 1), "relu", "binary"),
            "optimizer": adam(1e-3),
            "batch_size": 200,
            "epochs": epochs,
        },
    }


def _time(setup: dict, monitored: bool, seed: int) -> tuple[float, float]:
    """Wall-clock and process CPU seconds of one fit."""
    X, Y, net = setup["X"], setup["Y"], setup["net"]
    params = init_params(net, np.random.default_rng(seed))
    callbacks = []
    if monitored:
        probe = select_probe(X.shape[0], np.random.default_rng(seed))
        callbacks = [
            MonitorCallback(X[probe], Y[probe], epochs=setup["epochs"], n_samples=X.shape[0])
        ]
    start, cpu = time.perf_counter(), time.process_time()
    fit(
        net,
        params,
        X,
        Y,
        optimizer=setup["optimizer"],
        epochs=setup["epochs"],
        batch_size=setup["batch_size"],
        rng=np.random.default_rng(seed),
        n_iter_no_change=None,
        callbacks=callbacks,
        progress=False,
    )
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (0: library default)")
    args = parser.parse_args()
    limits = threadpool_limits(args.threads) if args.threads else None
    try:
        worst = 0.0
        for name, setup in _setups(args.epochs).items():
            _time(setup, False, 0)  # warm-up
            plain, monitored = [], []
            for r in range(args.repeats):
                plain.append(_time(setup, False, r))
                monitored.append(_time(setup, True, r))
            wall = [statistics.median(t[0] for t in runs) for runs in (plain, monitored)]
            cpu = [statistics.median(t[1] for t in runs) for runs in (plain, monitored)]
            # CPU time of this process is what the monitors cost; on a shared machine the wall
            # clock also measures the neighbours. With one BLAS thread the two agree when idle.
            ratio = cpu[1] / cpu[0]
            worst = max(worst, ratio)
            print(
                f"{name}: plain {wall[0]:.3f} s wall / {cpu[0]:.3f} s CPU, monitored "
                f"{wall[1]:.3f} s wall / {cpu[1]:.3f} s CPU; ratio {ratio:.3f} CPU, "
                f"{wall[1] / wall[0]:.3f} wall ({args.repeats} interleaved repeats, "
                f"{args.epochs} epochs, medians)"
            )
            # The post-training sharpness checks, for reference (not part of the training loop).
            X, Y, net = setup["X"], setup["Y"], setup["net"]
            params = init_params(net, np.random.default_rng(0))
            start = time.perf_counter()
            lr_evidence(net, params, X, Y, learning_rate=0.1, subsample=128)
            print(
                f"  one sharpness check (128-sample subsample): {time.perf_counter() - start:.3f} s"
            )
        print(f"worst overhead ratio {worst:.3f} (limit 1.15): {'OK' if worst <= 1.15 else 'FAIL'}")
    finally:
        if limits is not None:
            limits.unregister()


if __name__ == "__main__":
    main()
