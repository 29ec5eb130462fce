"""Bad input ends with one line on standard error and exit status 2; tracebacks are for bugs."""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

PROG = "lossdoctor"


class UsageError(Exception):
    """A bad command line or a bad combination of options; printed as one line."""


# The errors a user causes: bad options, files and values (``DataError`` and ``ModelFileError``
# are ``ValueError``s). Anything else is a bug and keeps its traceback.
USER_ERRORS: tuple[type[Exception], ...] = (UsageError, ValueError, TypeError, OSError)


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, without the usage dump."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def error_line(exc: BaseException) -> str:
    """``lossdoctor: error: <message>`` in one line; for an OSError, the reason and the file."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        text = f"{exc.strerror}: {exc.filename}"
    else:
        text = str(exc) or type(exc).__name__
    return f"{PROG}: error: " + " ".join(text.split())


def show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """Print a warning as one line ``lossdoctor: warning: <message>``, for ``showwarning``."""
    text = " ".join(str(message).split()).removeprefix(f"{PROG}: ")
    print(f"{PROG}: warning: {text}", file=sys.stderr)
