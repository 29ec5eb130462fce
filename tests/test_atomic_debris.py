"""No debris (issue 17): a writer killed at random moments leaves no temporary file behind.

Before, kill -9 during ``save()`` left 28 temporary files in 50 trials. Now the content is
written to an anonymous ``O_TMPFILE`` file (nothing to leave), linked and renamed at once; the
microseconds between link and rename can leave one named temporary, which the next write to
the same target removes because its writer is dead.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import lossdoctor.atomic
from lossdoctor.atomic import atomic_write, stale_temporaries

# Writes the target over and over, in chunks, with short sleeps: the kill lands anywhere.
# atomic.py is loaded by path: the standard library only, so each writer starts in milliseconds.
WRITER = r"""
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("atomic", sys.argv[2])
atomic = importlib.util.module_from_spec(spec)
spec.loader.exec_module(atomic)
atomic_write = atomic.atomic_write
target = sys.argv[1]
def write(f):
    for i in range(4):
        f.write(bytes([65 + i]) * 4096)
        time.sleep(0.0005)
print("ready", flush=True)
while True:
    atomic_write(target, write)
"""
ATOMIC = str(Path(lossdoctor.atomic.__file__))
PAYLOAD = b"".join(bytes([65 + i]) * 4096 for i in range(4))


def test_killing_the_writer_50_times_leaves_no_temporary_file(tmp_path: Path) -> None:
    rng = np.random.default_rng()
    target = tmp_path / "model.npz"
    atomic_write(target, lambda f: f.write(PAYLOAD))
    seen_before_cleanup = 0
    for _ in range(50):
        writer = subprocess.Popen(
            [sys.executable, "-S", "-c", WRITER, str(target), ATOMIC],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout is not None and writer.stdout.readline() == "ready\n"
        time.sleep(float(rng.uniform(0.0, 0.03)))
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        writer.stdout.close()
        assert target.read_bytes() == PAYLOAD  # never half a file
        leftovers = [p for p in tmp_path.iterdir() if p != target]
        # Whatever a kill between link and rename left is ours and known to be stale.
        assert sorted(leftovers) == sorted(stale_temporaries(target))
        seen_before_cleanup += len(leftovers)
    atomic_write(target, lambda f: f.write(PAYLOAD))
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]
    print(f"temporaries seen after a kill, before the next write: {seen_before_cleanup}")
    # The O_TMPFILE path leaves a name only in a window of microseconds.
    assert seen_before_cleanup <= 10, seen_before_cleanup


def test_stale_temporaries_of_a_live_writer_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "m.npz"
    mine = tmp_path / f".m.npz.{os.getpid()}.{'0' * 16}.tmp"
    mine.write_bytes(b"x")
    dead = tmp_path / f".m.npz.{2**22 + 12345}.{'a' * 16}.tmp"
    dead.write_bytes(b"x")
    other = tmp_path / ".m.npz.notours.tmp"
    other.write_bytes(b"x")
    assert stale_temporaries(target) == [dead]
    atomic_write(target, lambda f: f.write(b"new"))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["m.npz", mine.name, other.name])
    assert re.fullmatch(r"\.m\.npz\.\d+\.0+\.tmp", mine.name)


def test_a_failing_write_leaves_the_old_file_and_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "m.npz"
    atomic_write(target, lambda f: f.write(b"old"))

    def fail(f: object) -> None:
        raise RuntimeError("disk on fire")

    try:
        atomic_write(target, fail)
    except RuntimeError:
        pass
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]
