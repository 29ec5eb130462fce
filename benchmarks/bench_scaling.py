"""Benchmark: time per sample and peak memory over data size, 1e3 to 1e6 rows.

Run ``python benchmarks/bench_scaling.py`` (all sizes and tasks) or
``python benchmarks/bench_scaling.py --sizes 1000 100000 --tasks lr-find --repeats 3``. Each
(task, size) runs in a fresh interpreter, so that its peak resident memory (``ru_maxrss``) is its
own. The data are ``n x 50`` float64 (standard normal inputs, a noisy linear rule as a binary
target). With ``--repeats R`` every size and task runs R times, interleaved (all tasks of all
sizes, then again), and the table gives the medians (the machine is shared: single runs are
noisy).

Columns: seconds of wall time and of CPU time per sample, and ``peak/data``: the peak resident
memory above the interpreter with its imports loaded (before the data are made), over the bytes
of ``X`` and ``y``. A ratio of 1 is the data alone. Only the benchmark's own process is measured
(``n_jobs=1`` everywhere).

Tasks:
``train``         one epoch of Adam, batch 256, hidden (100,) ReLU, float64: lossdoctor,
``train-sklearn`` scikit-learn and
``train-torch``   PyTorch (the same network, loss, optimiser and batches drawn by a shuffled
                  permutation, float64, ``torch.from_numpy`` without a copy; one step on 4
                  samples before the clock starts, for PyTorch's one-off set-up; "torch not
                  installed" when it cannot be imported). Only training has a PyTorch equivalent.
``diagnose``      ``diagnose(X, y, solver="sgd", max_iter=2, batch_size=256)``: data checks, two
                  monitored epochs with a 20% holdout, the curvature checks.
``diagnose-fix``  the same with ``learning_rate_init=10, fix=True``: the run diverges, the doctor
                  finds the learning rate too high and one round of ``--fix`` retrains at the
                  learning rate it proposes (0.2), judged on the holdout.
``lr-find``       ``lr_range_test(X, y, hidden_layer_sizes=(100,))``: 100 full-batch steps and the
                  curvature bound at the initial weights.
``sweep``         ``lr_sweep(X, y, [0.01, 0.1, 1.0], hidden_layer_sizes=(100,), max_iter=3)``:
                  three full-batch gradient-descent runs from the same weights (the defaults),
                  and the sharpness at the end of each.
``sharpness``     ``sharpness_of`` at the initial weights of a 50-100-1 tanh network, defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import warnings

N_FEATURES = 50
TASKS = (
    "train",
    "train-sklearn",
    "train-torch",
    "diagnose",
    "diagnose-fix",
    "lr-find",
    "sweep",
    "sharpness",
)
#: The exit status of a ``--one`` run that could not import PyTorch.
NO_TORCH = 3


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
    from lossdoctor.diagnostics.sweep import lr_sweep

    if task == "train-sklearn":
        from sklearn.neural_network import MLPClassifier
    else:
        from lossdoctor import MLPClassifier
    if task == "train-torch":
        try:
            import torch
        except ImportError:
            sys.exit(NO_TORCH)
        # PyTorch sets up its kernels and thread pool on the first step (about 1.4 s and 250 MiB
        # here): a step on 4 samples before the clock starts, as imports are for the others.
        train_torch(torch, *make_data(4))
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
        elif task == "train-torch":
            out.update(train_torch(torch, X, y))
        elif task == "diagnose":
            d = diagnose(X, y, solver="sgd", max_iter=2, batch_size=256, hidden_layer_sizes=(100,))
            out["findings"] = [f.code for f in d.findings]
        elif task == "diagnose-fix":
            d = diagnose(
                X, y, solver="sgd", max_iter=2, batch_size=256, hidden_layer_sizes=(100,),
                learning_rate_init=10.0, fix=True,
            )  # fmt: skip
            out["findings"] = [f.code for f in d.findings]
            out["fixes"] = [r["changes"] for r in d.fix_rounds]
        elif task == "sweep":
            r = lr_sweep(X, y, [0.01, 0.1, 1.0], hidden_layer_sizes=(100,), max_iter=3)
            out["labels"] = [row.label for row in r.rows]
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


def train_torch(torch, X, y) -> dict:
    """One epoch of Adam (batch 256) on a 50-100-1 ReLU network with PyTorch, in float64.

    PyTorch runs on ``TORCH_THREADS`` threads (default 1: on this shared 2-core machine its two
    OpenMP threads wait on each other at every one of these small products; lossdoctor's policy
    also runs them on one thread).
    """
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "1")))
    torch.manual_seed(0)
    Xt = torch.from_numpy(X)  # shares the memory of X
    yt = torch.from_numpy(y.astype(X.dtype))[:, None]
    model = torch.nn.Sequential(
        torch.nn.Linear(X.shape[1], 100), torch.nn.ReLU(), torch.nn.Linear(100, 1)
    ).double()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=0.0)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    order = torch.randperm(X.shape[0])
    total = 0.0
    for start in range(0, X.shape[0], 256):
        idx = order[start : start + 256]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(Xt[idx]), yt[idx])
        loss.backward()
        opt.step()
        total += float(loss.detach()) * idx.numel()
    return {"torch_threads": torch.get_num_threads(), "loss": total / X.shape[0]}


def _one(task: str, n: int) -> dict | str:
    """Run one task in a fresh interpreter; its result, or why it has none."""
    proc = subprocess.run(
        [sys.executable, __file__, "--one", task, str(n)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode == NO_TORCH:
        return "torch not installed"
    if proc.returncode:
        return f"failed: {proc.stderr.strip().splitlines()[-1:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _row(task: str, n: int, runs: list[dict]) -> str:
    med = {k: statistics.median(r[k] for r in runs) for k in ("wall", "cpu", "peak_mib")}
    ratio = statistics.median(r["peak_over_data"] for r in runs)
    extra = {
        k: v for k, v in runs[-1].items() if k in ("suggestion", "sharpness", "findings", "fixes")
    }
    if "labels" in runs[-1]:
        extra["labels"] = runs[-1]["labels"]
    return (
        f"{task:>14} {n:>9} {len(runs):>3} {med['wall']:>8.2f} {1e6 * med['wall'] / n:>10.2f} "
        f"{1e6 * med['cpu'] / n:>10.2f} {med['peak_mib']:>9.0f} {ratio:>9.2f}  {extra}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--repeats", type=int, default=3)
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
    print(f"load average at start: {os.getloadavg()}")
    print(
        f"{'task':>14} {'n':>9} {'R':>3} {'wall s':>8} {'us/sample':>10} {'cpu us/smp':>10} "
        f"{'peak MiB':>9} {'peak/data':>9}  result (medians of R interleaved runs)",
        flush=True,
    )
    results: dict[tuple[str, int], list[dict]] = {}
    notes: dict[tuple[str, int], str] = {}
    for rep in range(args.repeats):
        for n in args.sizes:
            for task in args.tasks:
                if (task, n) in notes:
                    continue
                r = _one(task, n)
                if isinstance(r, str):
                    notes[(task, n)] = r
                else:
                    results.setdefault((task, n), []).append(r)
                if rep + 1 == args.repeats or (task, n) in notes:
                    print(
                        _row(task, n, results[(task, n)])
                        if (task, n) in results
                        else f"{task:>14} {n:>9} {notes[(task, n)]}",
                        flush=True,
                    )
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
