"""Writing files atomically: a reader sees the old content or the complete new one, never half,
and a writer killed at any moment leaves no temporary file behind for long.

On Linux the new content is written to an anonymous file (``O_TMPFILE``): it has no name until
it is complete, so a process killed while writing leaves nothing. It is then linked into the
directory under a temporary name and renamed over the target; only a kill between those two
calls (microseconds) can leave a temporary file, and the next write to the same target removes
temporaries of our own naming whose writer is dead. Elsewhere a named temporary file is used,
cleaned the same way.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write", "stale_temporaries"]

_O_TMPFILE = getattr(os, "O_TMPFILE", None)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any]) -> Path:
    """Write a file so that ``path`` holds either its old content or the complete new one.

    ``write`` receives a binary file object for a temporary file in the same directory (an
    anonymous one where the system offers ``O_TMPFILE``); that file is flushed, ``fsync``-ed and
    renamed over ``path`` with :func:`os.replace`. If ``write`` (or anything else) fails, the
    temporary file is removed and ``path`` is untouched. Temporaries that an earlier, killed
    writer left beside ``path`` are removed first.

    Parameters
    ----------
    path : str or path-like
        A regular file or a name not taken yet; a trailing ``/``, a directory, a device or a
        pipe is refused before anything is written.
    write : callable taking a binary file object

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    IsADirectoryError
        If ``path`` ends with a separator or names a directory.
    ValueError
        If ``path`` exists and is not a regular file (renaming over a device would replace it).
    """
    text = os.fspath(path)
    if text.endswith(("/", os.sep)):
        raise IsADirectoryError(errno.EISDIR, "Is a directory", text)
    path = Path(text)
    existing = _mode(path)
    if existing is not None and stat.S_ISDIR(existing):
        raise IsADirectoryError(errno.EISDIR, "Is a directory", text)
    if existing is not None and not stat.S_ISREG(existing):
        raise ValueError(
            f"{text} exists and is not a regular file (a device or a pipe); not replaced"
        )
    directory = path.parent
    mode = stat.S_IMODE(existing) if existing is not None else _default_mode()
    for stale in stale_temporaries(path):
        with contextlib.suppress(OSError):
            os.unlink(stale)
    fd = _anonymous_file(directory)
    if fd is not None:
        _write_anonymous(fd, path, write, mode)
    else:
        _write_named(path, write, mode)
    _fsync_directory(directory)
    return path


def stale_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """Temporary files of :func:`atomic_write` beside ``path`` whose writing process is gone."""
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)\.[0-9a-f]{{16}}\.tmp")
    found = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return []
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match and not _alive(int(match.group(1))):
            found.append(Path(entry.path))
    return found


def _temporary_name(path: Path) -> Path:
    return path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}.tmp"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's process, or a name that only looks like ours
    return True


def _anonymous_file(directory: Path) -> int | None:
    """An unnamed file in ``directory`` that ``/proc/self/fd`` can link, or None."""
    if _O_TMPFILE is None or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        return os.open(directory, _O_TMPFILE | os.O_WRONLY | _O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
            if exc.errno == errno.ENOENT and not directory.is_dir():
                raise
            return None  # a file system (or kernel) without O_TMPFILE
        raise


def _write_anonymous(fd: int, path: Path, write: Callable[[IO[bytes]], Any], mode: int) -> None:
    tmp = None
    try:
        with os.fdopen(fd, "wb", closefd=False) as f:
            write(f)
            f.flush()
            os.fsync(fd)
        os.fchmod(fd, mode)
        tmp = _temporary_name(path)
        _link_open_file(fd, tmp)
        os.replace(tmp, path)
    except BaseException:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise
    finally:
        os.close(fd)


def _link_open_file(fd: int, name: Path) -> None:
    """Give the anonymous file ``fd`` a name: ``linkat`` through ``/proc/self/fd``, following
    the link (Python calls plain ``link``, which does not, unless a directory fd is given)."""
    proc = os.open("/proc/self/fd", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _O_CLOEXEC)
    try:
        os.link(str(fd), name, src_dir_fd=proc, follow_symlinks=True)
    finally:
        os.close(proc)


def _write_named(path: Path, write: Callable[[IO[bytes]], Any], mode: int) -> None:
    tmp = _temporary_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _mode(path: Path) -> int | None:
    try:
        return path.stat().st_mode
    except OSError:
        return None


def _default_mode() -> int:
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
