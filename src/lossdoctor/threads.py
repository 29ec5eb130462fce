"""How many BLAS threads a product gets: one below a work threshold, the library's default above.

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
    "SMALL_WORK",
    "available_cpus",
    "blas_threads",
    "blas_threads_for",
    "describe_policy",
    "largest_product",
    "parallel_step",
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


#: Fewest rows on which a full-batch step is split in two halves run on two threads.
PARALLEL_MIN_ROWS = 256


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def parallel_step(layer_sizes: Sequence[int], n_rows: int) -> bool:
    """Whether a full-batch step on ``n_rows`` rows runs its two halves on two threads.

    Only where BLAS runs on one thread (the largest product below :data:`SMALL_WORK`), on at
    least :data:`PARALLEL_MIN_ROWS` rows, with two CPUs available, and when the user has not
    limited threads: ``LOSSDOCTOR_BLAS_THREADS`` is ``auto`` or ``default`` and the BLAS
    libraries currently allow at least two threads (so under ``threadpool_limits(1)`` the step
    is the single-thread one). Call it before a fit limits BLAS to one thread.
    """
    setting = os.environ.get("LOSSDOCTOR_BLAS_THREADS", "auto").strip().lower()
    if setting not in ("auto", "default"):
        return False
    if n_rows < PARALLEL_MIN_ROWS or largest_product(layer_sizes, n_rows) >= SMALL_WORK:
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
        f"multiply-adds, else the default ({libs or 'no BLAS found'})"
    )
