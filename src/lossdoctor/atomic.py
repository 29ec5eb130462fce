"""Writing files atomically: a reader sees the old content or the complete new one, never half."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write"]


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any]) -> Path:
    """Write a file so that ``path`` holds either its old content or the complete new one.

    ``write`` receives a binary file object for a temporary file in the same directory; that file
    is flushed, ``fsync``-ed and renamed over ``path`` with :func:`os.replace`. If ``write`` (or
    anything else) fails, the temporary file is removed and ``path`` is untouched.

    Parameters
    ----------
    path : str or path-like
    write : callable taking a binary file object

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    directory = path.parent
    mode = _new_file_mode(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates the file readable by its owner only; give it a normal file's mode.
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)
    return path


def _new_file_mode(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        # os.umask can only be read by setting it; restore it at once.
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable (POSIX); directories cannot be opened like this on Windows."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
