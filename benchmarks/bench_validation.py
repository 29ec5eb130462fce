"""Benchmark: the error of ``diagnose``'s subsampled validation loss against the full one.

Run ``python benchmarks/bench_validation.py`` (default 200,000 x 50, the data of
``bench_scaling.py``) or ``--n 100000 --draws 50``. ``diagnose`` holds out 20% (here 40,000 rows);
above ``VALIDATION_SUBSAMPLE_ABOVE`` validation rows it scores every epoch on a fixed subsample
of ``VALIDATION_SUBSAMPLE`` rows (``monitored_run.validation_rows``). This trains the network of
the scaling benchmark (hidden (100,)) with SGD and with Adam, batch 256, on the training part of
the same split and, at the initial weights and after epochs 1, 2 and 5, scores the whole holdout
(in chunks, as training does) and the subsample of each of ``--draws`` seeds. It prints the
relative error of the subsampled loss, the absolute error of the accuracy, and the time of one
full and one subsampled scoring against one training epoch.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from pathlib import Path

import numpy as np

import lossdoctor.training as training
from lossdoctor.diagnostics.lr_range import make_setup
from lossdoctor.diagnostics.monitored_run import (
    VALIDATION_SUBSAMPLE,
    VALIDATION_SUBSAMPLE_ABOVE,
    validation_rows,
)
from lossdoctor.diagnostics.prepare import split_holdout
from lossdoctor.network import forward
from lossdoctor.runspec import Run, train

EPOCHS = (0, 1, 2, 5)


def _make_data(n: int):
    import importlib.util

    path = Path(__file__).with_name("bench_scaling.py")
    spec = importlib.util.spec_from_file_location("bench_scaling", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.make_data(n)


class _Keep(training.Callback):
    def __init__(self) -> None:
        self.params: dict[int, dict] = {}

    def on_train_begin(self, net, params, optimizer) -> None:
        self.params[0] = {k: v.copy() for k, v in params.items()}

    def on_epoch_end(self, epoch, params, history):
        if epoch in EPOCHS:
            self.params[epoch] = {k: v.copy() for k, v in params.items()}
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--draws", type=int, default=20)
    args = parser.parse_args()
    X, y = _make_data(args.n)
    rows = np.arange(X.shape[0])
    i_tr, _, i_val, _ = split_holdout(rows[:, None], y[:, None], y, 0.2, 1)
    X_tr, y_tr = X[i_tr[:, 0]], y[i_tr[:, 0]]
    X_val, Y_val = X[i_val[:, 0]], y[i_val[:, 0]].astype(float)[:, None]
    n_val = X_val.shape[0]
    print(
        f"# validation subsample: {args.n} x {X.shape[1]}, holdout {n_val} rows; subsample "
        f"{VALIDATION_SUBSAMPLE} rows above {VALIDATION_SUBSAMPLE_ABOVE}; {args.draws} draws"
    )
    all_rel, all_acc, all_change, agree = [], [], [], []
    for solver in ("sgd", "adam"):
        s = make_setup(
            X_tr, y_tr, hidden_layer_sizes=(100,), solver=solver, batch_size=256,
            max_iter=max(EPOCHS), n_iter_no_change=None, random_state=0,
        )  # fmt: skip
        keep = _Keep()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = time.perf_counter()
            train(s.spec, Run(s.net, s.params, s.X, s.Y, s.rng), callbacks=[keep], progress=False)
            epoch_s = (time.perf_counter() - t) / max(EPOCHS)
        prev: tuple[float, list[float]] | None = None
        for epoch in EPOCHS:
            params = keep.params[epoch]
            t = time.perf_counter()
            full_loss, full_acc = training._validate(s.net, params, (X_val, Y_val))
            full_s = time.perf_counter() - t
            logits, _ = forward(s.net, params, X_val)
            one_pass = training.get_head(s.net.head).loss(logits, Y_val)[0]
            rel, acc, signed = [], [], []
            for seed in range(args.draws):
                sub = validation_rows(n_val, seed)
                t = time.perf_counter()
                loss, score = training._validate(s.net, params, (X_val[sub], Y_val[sub]))
                sub_s = time.perf_counter() - t
                rel.append(abs(loss - full_loss) / full_loss)
                signed.append(loss - full_loss)
                acc.append(abs(score - full_acc))
            all_rel += rel
            all_acc += acc
            subs = [full_loss + r for r in signed]
            if prev is not None:
                full_change = full_loss - prev[0]
                for a, b in zip(prev[1], subs):
                    all_change.append(abs((b - a) - full_change) / abs(full_change))
                    agree.append((b - a > 0) == (full_change > 0))
            prev = (full_loss, subs)
            print(
                f"{solver:>5} epoch {epoch}: loss {full_loss:.5f} (chunked vs one pass "
                f"{abs(full_loss - one_pass) / one_pass:.1e}), accuracy {full_acc:.4f}; "
                f"subsample loss error max {max(rel):.2%} mean {statistics.mean(rel):.2%}, "
                f"accuracy error max {max(acc):.4f}; scoring {full_s * 1e3:.0f} ms full, "
                f"{sub_s * 1e3:.0f} ms subsample, training epoch {epoch_s * 1e3:.0f} ms"
            )
    print(
        f"all: loss error max {max(all_rel):.2%}, mean {statistics.mean(all_rel):.2%}, "
        f"95th percentile {np.percentile(all_rel, 95):.2%}; accuracy error max "
        f"{max(all_acc):.4f}, mean {statistics.mean(all_acc):.4f}; change between measured "
        f"epochs: relative error max {max(all_change):.2%}, mean "
        f"{statistics.mean(all_change):.2%}, same sign in {sum(agree)} of {len(agree)}"
    )


if __name__ == "__main__":
    main()
