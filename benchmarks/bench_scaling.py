"""Benchmark: time per sample and peak memory over data size, 1e3 to 1e6 rows.

Run ``python benchmarks/bench_scaling.py`` (all sizes and tasks) or
``python benchmarks/bench_scaling.py --sizes 1000 100000 --tasks lr-find``. Each (task, size)
runs in a fresh interpreter, so that its peak resident memory (``ru_maxrss``) is its own. The
data are ``n x 50`` float64 (standard normal inputs, a noisy linear rule as a binary target).

Columns: seconds of wall time and of CPU time per sample, and ``peak/data``: the peak resident
memory above the interpreter with its imports loaded (before the data are made), over the bytes
of ``X`` and ``y``. A ratio of 1 is the data alone.

Tasks:
``train``     one epoch of Adam, batch 256, hidden (100,), lossdoctor and scikit-learn.
``diagnose``  ``diagnose(X, y, solver="sgd", max_iter=2, batch_size=256)``: data checks, two
              monitored epochs with a 20% holdout, the curvature checks.
``lr-find``   ``lr_range_test(X, y, hidden_layer_sizes=(100,))``: 100 full-batch steps and the
              curvature bound at the initial weights.
``sharpness`` ``sharpness_of`` at the initial weights of a 50-100-1 tanh network, defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings

N_FEATURES = 50
TASKS = ("train", "train-sklearn", "diagnose", "lr-find", "sharpness")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def make_data(n: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, N_FEATURES))
    w = rng.standard_normal(N_FEATURES)
    y = (X @ w + 0.5 * rng.standard_normal(n) > 0).astype(np.int64)
    return X, y


def run_one(task: str, n: int) -> dict:
    import numpy as np  # noqa: F401

    import lossdoctor  # noqa: F401
    from lossdoctor.diagnostics.curvature import sharpness_of
    from lossdoctor.diagnostics.diagnose import diagnose
    from lossdoctor.diagnostics.lr_range import lr_range_test, make_setup

    if task == "train-sklearn":
        from sklearn.neural_network import MLPClassifier
    else:
        from lossdoctor import MLPClassifier
    base = _rss_bytes()
    X, y = make_data(n)
    data_bytes = X.nbytes + y.nbytes
    out: dict = {}
    wall, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if task in ("train", "train-sklearn"):
            MLPClassifier(
                hidden_layer_sizes=(100,), batch_size=256, max_iter=1, random_state=0
            ).fit(X, y)
        elif task == "diagnose":
            d = diagnose(X, y, solver="sgd", max_iter=2, batch_size=256, hidden_layer_sizes=(100,))
            out["findings"] = [f.code for f in d.findings]
        elif task == "lr-find":
            r = lr_range_test(X, y, hidden_layer_sizes=(100,), random_state=0)
            out["suggestion"] = r.suggestion
            out["sharpness"] = r.sharpness
        elif task == "sharpness":
            s = make_setup(X, y, hidden_layer_sizes=(100,), activation="tanh", random_state=0)
            out["sharpness"] = float(sharpness_of(s.net, s.params, s.X, s.Y)[0])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out.update(
        task=task,
        n=n,
        wall=wall,
        cpu=cpu,
        peak_over_data=(peak - base) / data_bytes,
        peak_mib=peak / 2**20,
        data_mib=data_bytes / 2**20,
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--one", nargs=2, metavar=("TASK", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]))))
        return
    import lossdoctor.activations as activations
    from lossdoctor.threads import describe_policy

    print(f"# lossdoctor scaling benchmark, {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"cpu: {cpu_model()}, {os.cpu_count()} cores; python {platform.python_version()}")
    print(f"tanh: {activations.tanh_form()}; BLAS threads: {describe_policy()}")
    print(
        f"{'task':>14} {'n':>9} {'wall s':>8} {'us/sample':>10} {'cpu us/smp':>10} "
        f"{'peak MiB':>9} {'peak/data':>9}  result"
    )
    for n in args.sizes:
        for task in args.tasks:
            proc = subprocess.run(
                [sys.executable, __file__, "--one", task, str(n)],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode:
                print(f"{task:>14} {n:>9} failed: {proc.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            extra = {k: v for k, v in r.items() if k in ("suggestion", "sharpness", "findings")}
            print(
                f"{task:>14} {n:>9} {r['wall']:>8.2f} {1e6 * r['wall'] / n:>10.2f} "
                f"{1e6 * r['cpu'] / n:>10.2f} {r['peak_mib']:>9.0f} {r['peak_over_data']:>9.2f}  "
                f"{extra}",
                flush=True,
            )


if __name__ == "__main__":
    main()
