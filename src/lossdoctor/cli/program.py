"""The ``lossdoctor`` parser with every subcommand, and :func:`main`."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

from .._version import __version__
from . import diagnose, gradcheck, lr_find, predict, sharpness, sweep, train
from .errors import PROG, USER_ERRORS, OneLineParser, error_line, show_warning

Add = Callable[[Any], argparse.ArgumentParser]
Run = Callable[[argparse.Namespace], int]

#: Every subcommand, as ``(add, run)``: ``add(subparsers)`` declares it and returns its parser,
#: ``run(args)`` carries it out and returns the exit status.
SUBCOMMANDS: list[tuple[Add, Run]] = [
    (command.add_parser, command.run)
    for command in (train, predict, gradcheck, lr_find, sweep, sharpness, diagnose)
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand of :data:`SUBCOMMANDS`."""
    parser = OneLineParser(
        prog=PROG,
        description="lossdoctor: train small neural networks with NumPy and find out, with "
        "numbers, why they do not train.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add, run in SUBCOMMANDS:
        add(subparsers).set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return the exit status.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name; by default ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 1 when a check fails (``gradcheck``), 2 on bad input, with one line
        ``lossdoctor: error: <message>`` on standard error.
    """
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help and --version
            return exc.code if isinstance(exc.code, int) else 0
        with warnings.catch_warnings():
            # Warnings (a diverged run, say) become one line each instead of source dumps.
            warnings.simplefilter("default")
            warnings.showwarning = show_warning
            return int(args.run(args))
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, and keep Python from complaining
        # again when it flushes standard output at exit.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 1
    except USER_ERRORS as exc:
        print(error_line(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
