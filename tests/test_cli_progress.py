"""Progress (issue 17): on a terminal the long commands show what they are doing; piped, they
print their results only. Driven under a pseudo-terminal (``pty``)."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys

import pytest

from lossdoctor.cli.progress import on_terminal, progress

# Control sequences of the terminal, so that the text can be searched.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def run_under_pty(*argv: str, timeout: float = 300) -> tuple[int, str, str]:
    """Run ``lossdoctor ARGV`` with standard error on a pseudo-terminal, standard output piped."""
    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "120", "TERM": "xterm"}
    process = subprocess.Popen(
        [sys.executable, "-m", "lossdoctor", *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], timeout)
        if not ready:
            process.kill()
            raise AssertionError("no output from the terminal in time")
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert process.stdout is not None
    out = process.stdout.read().decode()
    process.stdout.close()
    code = process.wait(timeout)
    return code, out, _ANSI.sub("", b"".join(chunks).decode(errors="replace"))


def test_gradcheck_exhaustive_shows_a_bar_with_an_eta_on_a_terminal() -> None:
    code, out, terminal = run_under_pty("gradcheck", "--hidden", "24", "--exhaustive")
    assert code == 0
    assert "lossdoctor: checking 769 weights" in terminal  # 30*24 + 24 + 24 + 1
    assert "ETA" in terminal
    assert "network 30-24-1" in out and "lossdoctor:" not in out  # results stay clean


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["train", "--hidden", "8", "--epochs", "20"], "training 20 epochs"),
        (["diagnose", "builtin:iris", "--hidden", "8", "--epochs", "5"], "diagnosing"),
        (["lr-find", "--hidden", "8", "--steps", "20"], "range test: up to 20 rates"),
        (["sweep", "--hidden", "8", "--epochs", "5", "--lr", "0.1", "1"], "training 5 epochs"),
        (["sharpness", "--hidden", "8"], "measuring the top 1 Hessian eigenvalue(s)"),
    ],
)
def test_long_commands_show_progress_on_a_terminal(argv: list[str], shown: str) -> None:
    code, _, terminal = run_under_pty(*argv)
    assert code in (0, 1)
    assert f"lossdoctor: {shown}" in terminal


def test_piped_output_has_no_progress() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lossdoctor", "gradcheck", "--hidden", "8", "--exhaustive"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0
    assert done.stderr == ""
    assert "checking" not in done.stdout


def test_progress_is_free_when_not_a_terminal() -> None:
    import io

    assert not on_terminal(io.StringIO())
    with progress("nothing to see", total=3, stream=io.StringIO()) as advance:
        advance()
        advance(2)
