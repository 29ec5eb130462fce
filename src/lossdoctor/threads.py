"""How many threads a step gets: one BLAS thread below a work threshold, else BLAS's default.

A matrix product of a few million multiply-adds finishes in about a millisecond on one core; a
second OpenBLAS thread then costs more in hand-over than it saves, and on a busy machine far more
(measured on a loaded 2-core VM: one product of 455 x 30 x 128 took 25 times longer on two threads
than on one, 2048 x 128 x 128 1.4 times; the chain of products of a sharpness on 10,000 x 50
through 100 units (5e7 per product) 3 to 4 times longer in wall time and 6 times more CPU; from
8192 x 128 x 128 (1.3e8) up a single product was faster on two). So a step whose largest product
is below :data:`SMALL_WORK` multiply-adds runs on one thread. Thread counts change
how a product is split, so results may differ in the last bits, never beyond rounding.

``LOSSDOCTOR_BLAS_THREADS`` in the environment overrides the policy: ``auto`` (the default) or a
positive number of threads for every product, or ``default`` to leave BLAS alone.

Below :data:`SMALL_WORK` the second core is used another way: full-batch plain descent splits
the samples into two fixed halves and computes the second on a worker thread of the fit
(:func:`parallel_step` decides; ``lossdoctor.training._full_batch_loss_and_grad`` does it). The
halves' gradients are summed in a fixed order, so the results do not depend on which thread
computed which half; they agree with the one-thread step to rounding. Only when the user has not
limited threads (``auto``, and BLAS allowing two threads when the fit starts: a
``threadpool_limits(1)`` around a fit gives the one-thread step, bit for bit), with two CPUs
available, and when a step has enough work. Measured on the 2-core VM (ms per step, medians of 9
rounds, one BLAS thread; one thread / two halves on two threads): the classic network
30-128-64-1 on 128 rows 0.46 / 0.57, 256 rows 0.79 / 0.77, 320 rows 1.01 / 0.88, 384 rows
1.17 / 0.90, 569 rows 1.65 / 1.22, 2000 rows 6.4 / 3.6, 8000 rows 19.8 / 12.8; a narrow
30-32-16-1 on 1000 rows 0.36 / 0.50, 2000 rows 0.82 / 0.67; a wide 10-256-256-1 on 64 rows
0.90 / 1.11, 96 rows 1.48 / 1.40, 128 rows 2.09 / 1.68. The hand-over to the worker and the
fixed Python cost of a half (tens of microseconds each) lose below about 3 to 4 million
multiply-adds per forward pass, and below a hundred rows whatever the width; hence
:data:`PARALLEL_MIN_WORK` and :data:`PARALLEL_MIN_ROWS`. The worker waits blocked, never
spinning, and when it has not started its half by the time the first is done, the main thread
computes it: on a busy machine the step costs no more than the one-thread step (classic fit
with 2 CPU burners: 2.6 against 2.8 ms per epoch, the worker computing 81% of the halves; with
3 burners 2.9 against 3.4 ms, 62%), where scikit-learn's two spin-waiting BLAS threads took
16 to 21 ms per epoch against its 4 to 6 ms on one thread.

Example
-------
>>> from lossdoctor.threads import blas_threads_for
>>> with blas_threads_for((30, 128, 64, 1), n_rows=569):   # the classic network, full batch
...     pass
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

__all__ = [
    "PARALLEL_MIN_ROWS",
    "PARALLEL_MIN_WORK",
    "SMALL_WORK",
    "available_cpus",
    "blas_threads",
    "blas_threads_for",
    "describe_policy",
    "largest_product",
    "parallel_step",
    "step_work",
]

#: Largest product, in multiply-adds, that runs on one BLAS thread (2**26, about 6.7e7).
SMALL_WORK = 2**26


def largest_product(layer_sizes: Sequence[int], n_rows: int) -> int:
    """Multiply-adds of the largest matrix product of a step on ``n_rows`` rows."""
    return n_rows * max(a * b for a, b in itertools.pairwise(layer_sizes))


def blas_threads(work: int) -> int | None:
    """The BLAS thread limit for products of ``work`` multiply-adds; None leaves the default."""
    setting = os.environ.get("LOSSDOCTOR_BLAS_THREADS", "auto").strip().lower()
    if setting == "default":
        return None
    if setting.isdigit() and int(setting) > 0:
        return int(setting)
    return 1 if work < SMALL_WORK else None


#: Fewest multiply-adds of a forward pass for a full-batch step to run in two halves on two
#: threads (2**22, about 4.2e6; 347 rows of the classic 30-128-64-1 network).
PARALLEL_MIN_WORK = 2**22

#: Fewest rows for a full-batch step to run in two halves on two threads, whatever the work.
PARALLEL_MIN_ROWS = 128


def step_work(layer_sizes: Sequence[int], n_rows: int) -> int:
    """Multiply-adds of a forward pass on ``n_rows`` rows (the sum over the layers' products)."""
    return n_rows * sum(a * b for a, b in itertools.pairwise(layer_sizes))


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def parallel_step(layer_sizes: Sequence[int], n_rows: int) -> bool:
    """Whether a full-batch step on ``n_rows`` rows runs its two halves on two threads.

    Only where BLAS runs on one thread (the largest product below :data:`SMALL_WORK`), on at
    least :data:`PARALLEL_MIN_ROWS` rows and :data:`PARALLEL_MIN_WORK` multiply-adds per
    forward pass, with two CPUs available, and when the user has not limited threads:
    ``LOSSDOCTOR_BLAS_THREADS`` is ``auto`` (or unset) and the BLAS libraries currently allow
    at least two threads (so under ``threadpool_limits(1)`` the step is the single-thread one).
    Not with ``default`` either: BLAS then runs the products on both cores already, and two
    halves on top were slower (2.0 against 1.7 ms per classic epoch). Call it before a fit
    limits BLAS to one thread.
    """
    setting = os.environ.get("LOSSDOCTOR_BLAS_THREADS", "auto").strip().lower()
    if setting != "auto":
        return False
    if n_rows < PARALLEL_MIN_ROWS or step_work(layer_sizes, n_rows) < PARALLEL_MIN_WORK:
        return False
    if largest_product(layer_sizes, n_rows) >= SMALL_WORK:
        return False
    if available_cpus() < 2:
        return False
    libs = _controller().select(user_api="blas").lib_controllers
    return bool(libs) and min(lib.num_threads for lib in libs) >= 2


@contextmanager
def blas_threads_for(layer_sizes: Sequence[int], n_rows: int) -> Iterator[None]:
    """Limit BLAS to the policy's threads while the body runs (steps of ``n_rows`` rows)."""
    limit = blas_threads(largest_product(layer_sizes, n_rows))
    context: Any = nullcontext()
    if limit is not None:
        context = _controller().limit(limits=limit, user_api="blas")
    with context:
        yield


_CONTROLLER: Any = None


def _controller() -> Any:
    """One ``threadpoolctl.ThreadpoolController`` for the process.

    ``threadpool_limits`` scans the loaded libraries on every call (2.6 ms measured, against
    0.04 ms for a limit through a kept controller): a cost paid by every fit, range test and
    sharpness. The controller knows the BLAS libraries loaded when it was made; one loaded
    later is picked up by making a new controller when the first one finds no BLAS.
    """
    global _CONTROLLER
    if _CONTROLLER is None or not _CONTROLLER.select(user_api="blas").lib_controllers:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


def describe_policy() -> str:
    """One line: the policy in force and the BLAS libraries with their default threads."""
    from threadpoolctl import threadpool_info

    setting = os.environ.get("LOSSDOCTOR_BLAS_THREADS", "auto")
    libs = ", ".join(
        f"{i.get('internal_api')} {i.get('num_threads')} threads"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    )
    return (
        f"LOSSDOCTOR_BLAS_THREADS={setting}: one thread for products below {SMALL_WORK:.3g} "
        f"multiply-adds, else the default ({libs or 'no BLAS found'}); full-batch steps of "
        f"{PARALLEL_MIN_WORK:.3g} multiply-adds or more (and {PARALLEL_MIN_ROWS} rows) in two "
        f"halves on two threads when BLAS allows two threads ({available_cpus()} CPUs available)"
    )
