"""Limits checked before work (issue 17): memory, hostile model files, FIFOs, odd --out paths.

Each test reproduces one failure of the issue's attack and asserts the refusal: one line,
exit status 2 (or the project's own error), before anything large is allocated or waited for.
"""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from lossdoctor import MLPClassifier, cli
from lossdoctor.atomic import atomic_write
from lossdoctor.cli.errors import UsageError
from lossdoctor.cli.limits import check_memory, format_bytes, training_bytes
from lossdoctor.data import DataError, read_dataset
from lossdoctor.model_files import ModelFileError, _digest, load, save


def one_line_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("lossdoctor: error: "), err
    return lines[0]


# --- memory ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command", [["train"], ["diagnose"], ["lr-find"], ["sweep"], ["gradcheck"]]
)
@pytest.mark.parametrize("hidden", [["100000", "100000"], ["1000000000000"]])
def test_a_network_that_cannot_fit_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], command: list[str], hidden: list[str]
) -> None:
    line = one_line_error(capsys, *command, "--hidden", *hidden)
    assert "needs about" in line and "is available" in line
    assert "--hidden" in line


def test_training_bytes_counts_weights_and_activations() -> None:
    # 3-4-1: 3*4+4 + 4*1+1 = 21 parameters, 6 copies; per sample 3 + 3 * (4 + 1) = 18 numbers.
    assert training_bytes((3, 4, 1), 10) == 8 * (6 * 21 + 10 * 18)
    assert training_bytes((3, 4, 1), 10, "float32") == 4 * (6 * 21 + 10 * 18)
    # No overflow for absurd widths: Python integers.
    assert training_bytes((30, 10**12, 1), 569) > 10**15
    assert format_bytes(80 * 2**30) == "80 GiB"


def test_check_memory_passes_small_networks() -> None:
    check_memory((30, 128, 64, 1), 569)
    with pytest.raises(UsageError, match="30-100000-100000-1"):
        check_memory((30, 100000, 100000, 1), 569)


# --- model files -----------------------------------------------------------------------------


def _zip_with(tmp_path: Path, members: dict[str, bytes], name: str = "m.npz") -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return path


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=False)
    return buf.getvalue()


def test_a_header_declaring_1e12_elements_is_refused_before_allocation(tmp_path: Path) -> None:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)}
    )
    fake = b"\x93NUMPY\x01\x00" + header.getvalue()[8:] + b"\x00" * 64
    path = _zip_with(tmp_path, {"mlp.W1.npy": fake, "metadata.npy": _npy(np.zeros(3, np.uint8))})
    with pytest.raises(ModelFileError, match=r"declares shape \(1000000, 1000000\)"):
        load(path)


@pytest.mark.parametrize("depth", [3_000, 200_000])
def test_deeply_nested_metadata_is_refused(tmp_path: Path, depth: int) -> None:
    text = ("[" * depth + "]" * depth).encode()
    arrays = {"metadata": np.frombuffer(text, dtype=np.uint8)}
    arrays["digest"] = np.frombuffer(_digest(arrays), dtype=np.uint8)
    path = tmp_path / "deep.npz"
    np.savez(path, **arrays)
    with pytest.raises(ModelFileError, match="nested"):
        load(path)


def _fitted(tmp_path: Path) -> tuple[MLPClassifier, Path]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    y = (X[:, 0] > 0).astype(int)
    clf = MLPClassifier((4,), max_iter=2, n_iter_no_change=None, random_state=0).fit(X, y)
    path = tmp_path / "good.npz"
    save(clf, path)
    return clf, path


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_weights_with_a_valid_digest_are_refused(tmp_path: Path, value: float) -> None:
    _, path = _fitted(tmp_path)
    with np.load(path, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    arrays["mlp.W1"] = arrays["mlp.W1"].copy()
    arrays["mlp.W1"][0, 0] = value
    del arrays["digest"]
    arrays["digest"] = np.frombuffer(_digest(arrays), dtype=np.uint8)
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    with pytest.raises(ModelFileError, match=r"W1 with 1 non-finite"):
        load(bad)


def test_a_fifo_as_model_or_data_is_refused_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    with pytest.raises(ModelFileError, match="not a regular file"):
        load(fifo)
    csv_fifo = tmp_path / "pipe.csv"
    os.mkfifo(csv_fifo)
    with pytest.raises(DataError, match="not a regular file"):
        read_dataset(csv_fifo)


def test_the_cli_does_not_hang_on_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "data.csv"
    os.mkfifo(fifo)
    done = subprocess.run(
        [sys.executable, "-m", "lossdoctor", "train", str(fifo)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "not a regular file" in done.stderr and "Traceback" not in done.stderr


# --- outputs ---------------------------------------------------------------------------------


def test_out_with_a_trailing_slash_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    line = one_line_error(
        capsys, "train", "--hidden", "3", "--epochs", "1", "--out", f"{tmp_path}/m.npz/"
    )
    assert "directory" in line
    assert list(tmp_path.iterdir()) == []


def test_out_to_a_non_regular_file_is_refused_and_left_alone(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    line = one_line_error(capsys, "train", "--hidden", "3", "--epochs", "1", "--out", str(fifo))
    assert "not a regular file" in line
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    with pytest.raises(ValueError, match="not a regular file"):
        atomic_write(fifo, lambda f: f.write(b"x"))
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    with pytest.raises(IsADirectoryError):
        atomic_write(f"{tmp_path}/x.npz/", lambda f: f.write(b"x"))


def test_metadata_json_of_normal_depth_still_loads(tmp_path: Path) -> None:
    clf, path = _fitted(tmp_path)
    X = np.random.default_rng(1).normal(size=(5, 3))
    np.testing.assert_array_equal(load(path).predict_proba(X), clf.predict_proba(X))
    with np.load(path, allow_pickle=False) as archive:
        assert isinstance(json.loads(archive["metadata"].tobytes()), dict)


def test_a_data_npz_declaring_1e12_elements_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)}
    )
    fake = b"\x93NUMPY\x01\x00" + header.getvalue()[8:] + b"\x00" * 64
    path = _zip_with(tmp_path, {"X.npy": fake, "y.npy": _npy(np.zeros(3))}, name="d.npz")
    line = one_line_error(capsys, "train", str(path))
    assert "declares shape (1000000, 1000000)" in line


def test_out_to_a_character_device_leaves_the_device(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Issue 17: --out to a character device replaced it with a regular file.
    device = tmp_path / "null"
    try:
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a /dev/null of our own
    except (PermissionError, OSError):
        pytest.skip("creating a device node needs CAP_MKNOD")
    line = one_line_error(capsys, "train", "--hidden", "3", "--epochs", "1", "--out", str(device))
    assert "not a regular file" in line
    assert stat.S_ISCHR(os.stat(device).st_mode)
    with pytest.raises(ValueError, match="not a regular file"):
        save(_fitted(tmp_path)[0], device)
    assert stat.S_ISCHR(os.stat(device).st_mode)
