"""Progress for the commands that take a while: a transient rich display on standard error when
it is a terminal, nothing at all when it is piped or redirected (scripts and CI see only the
results).

The library's long procedures (``diagnose``, the range test, sweeps) have no progress hooks of
their own, so a command shows a spinner with the elapsed time and says what is running; where
the CLI can count the work (the gradient check's loss evaluations) it shows a bar with an ETA.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

Advance = Callable[..., None]


def _nothing(*args: Any, **kwargs: Any) -> None:
    return None


def on_terminal(stream: IO[str] | None = None) -> bool:
    """Whether ``stream`` (standard error by default) is a terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


@contextmanager
def progress(
    description: str, total: float | None = None, *, stream: IO[str] | None = None
) -> Iterator[Advance]:
    """Show ``description`` with a spinner and the elapsed time (and a bar with an ETA when
    ``total`` is given) while the block runs; yield ``advance(n=1)``.

    Silent, and free, when ``stream`` (standard error by default) is not a terminal. The
    display vanishes when the block ends, however it ends.
    """
    stream = sys.stderr if stream is None else stream
    if not on_terminal(stream):
        yield _nothing
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        ProgressColumn,
        SpinnerColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns: list[ProgressColumn] = [SpinnerColumn(), TextColumn("{task.description}")]
    if total:
        columns += [BarColumn(), TaskProgressColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    columns.append(TimeElapsedColumn())
    display = Progress(
        *columns,
        console=Console(file=stream),
        transient=True,
        redirect_stdout=False,
        redirect_stderr=False,
    )
    with display:
        task = display.add_task(f"lossdoctor: {description}", total=total or None)

        def advance(n: float = 1) -> None:
            display.advance(task, n)

        yield advance
