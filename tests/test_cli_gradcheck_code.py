"""``lossdoctor gradcheck path/to/net.py[:NAME]``: a user's own network from the command line.

The network is the one of the question that started lossdoctor (datascience.stackexchange.com,
post 73797), as its asker wrote it (``tests/question_net.py``), with a function that initialises
it the asker's way and returns it with data, features by samples.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lossdoctor import cli

QUESTION = Path(__file__).with_name("question_net.py")

PROBLEM = """

def problem():
    rng = np.random.default_rng({seed})
    x = 0.1 * rng.standard_normal((30, 64))
    y = (rng.random((1, 64)) < 0.5).astype(float)
    net = FNN(rng, fixed={fixed})
    net.fit(x, y, epochs=0)
    net.W2 *= 0.1
    net.W3 *= 0.1
    return net, x, y


def network():
    net = FNN(np.random.default_rng({seed}), fixed={fixed})
    net.fit(np.zeros((30, 1)), np.zeros((1, 1)), epochs=0)
    net.W1 *= 0.01
    net.W2 *= 0.1
    net.W3 *= 0.1
    return net
"""


def user_file(tmp_path: Path, seed: int, fixed: bool = False) -> Path:
    path = tmp_path / "asker_net.py"
    path.write_text(QUESTION.read_text() + PROBLEM.format(seed=seed, fixed=fixed))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_the_askers_file_names_b1_its_line_and_the_fix(tmp_path, capsys, seed) -> None:
    path = user_file(tmp_path, seed)
    status, out, err = run(capsys, "gradcheck", f"{path}:problem", "--seed", str(seed))
    assert status == 1, out + err
    assert "b1 [wrong-reduction-axis]" in out
    assert f"({path}:" in out and "self.db1 = np.sum(self.dZ1, keepdims=True) / m" in out
    assert "corrected: self.db1 = np.sum(self.dZ1, axis=1, keepdims=True) / m" in out
    for name in ("W1", "W2", "W3", "b2", "b3"):
        assert f"\n{name} " in out and "pass" in out


def test_the_corrected_file_passes_on_builtin_data_in_either_layout(tmp_path, capsys, seed):
    path = user_file(tmp_path, seed, fixed=True)
    status, out, err = run(
        capsys, "gradcheck", f"{path}:network", "--samples", "40", "--seed", str(seed), "--json"
    )
    assert status == 0, out + err
    report = json.loads(out)
    assert report["ok"] and {t["name"] for t in report["tensors"]} == {
        "W1", "b1", "W2", "b2", "W3", "b3",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("{path}:nothing", "has no 'nothing'; it defines: FNN, network, problem"),
        ("{path}", "name the network in the file, path/to/net.py:NAME"),
        ("{dir}/missing.py", "is not a Python file"),
    ],
)
def test_bad_code_is_one_line_and_exit_2(tmp_path, capsys, code, words) -> None:
    path = user_file(tmp_path, 0)
    status, out, err = run(capsys, "gradcheck", code.format(path=path, dir=tmp_path))
    assert status == 2 and out == ""
    assert words in err and err.count("\n") == 1
