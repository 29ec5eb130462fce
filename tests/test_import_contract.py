"""The import contract of pyproject.toml catches what it promises to catch.

The package itself is checked by ``lint-imports`` in ``.ci/run``. Here the same configuration runs
on a skeleton package that has the same layer modules and imports only downwards: the contract
must hold on it, and break once one upward import, or one cycle, is planted in it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest
from import_contracts import import_cycles

ROOT = Path(__file__).resolve().parents[1]

# module -> what it imports: each module imports the one below it, so every layer is in use.
SKELETON = {
    "__init__.py": "from . import training\n",
    "_version.py": "",
    "cli.py": "from . import model_files\nfrom ._version import __version__\n",
    "model_files.py": "from . import atomic, estimators\n",
    "estimators.py": "from .report import terminal\n",
    "report/__init__.py": "",
    "report/terminal.py": "from ..diagnostics import findings\n",
    "diagnostics/__init__.py": "",
    "diagnostics/findings.py": "from .. import training\n",
    "training.py": "from . import optimizers\n",
    "optimizers.py": "from . import schedules\n",
    "schedules.py": "from . import network\n",
    "network.py": "from . import activations, initializers, losses\n",
    "activations.py": "from . import data\n",
    "losses.py": "",
    "initializers.py": "",
    "data.py": "",
    "atomic.py": "",
}


def _lint(tmp_path: Path, planted: dict[str, str]) -> subprocess.CompletedProcess[str]:
    for name, body in {**SKELETON, **planted}.items():
        path = tmp_path / "src" / "lossdoctor" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / "tests").mkdir()
    shutil.copy(ROOT / "tests" / "import_contracts.py", tmp_path / "tests")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src")}
    code = "from importlinter.cli import lint_imports_command; lint_imports_command()"
    return subprocess.run(
        [sys.executable, "-c", code, "--no-cache"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )


def test_the_contract_holds_on_a_package_that_imports_down_only(tmp_path: Path) -> None:
    run = _lint(tmp_path, {})
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Contracts: 2 kept, 0 broken." in run.stdout


def test_an_upward_import_breaks_the_layers(tmp_path: Path) -> None:
    # Inside a function, as a lazy import would be: it counts all the same.
    run = _lint(tmp_path, {"network.py": "def f():\n    from .diagnostics import findings\n"})
    assert run.returncode == 1
    assert "Layers: imports point down only BROKEN" in run.stdout
    assert "lossdoctor.network is not allowed to import lossdoctor.diagnostics" in run.stdout
    assert "- lossdoctor.network -> lossdoctor.diagnostics.findings (l.2)" in run.stdout


@pytest.mark.parametrize(
    "planted",
    [
        # The root imports training; training imports the root back, lazily.
        {"training.py": "from . import optimizers\n\ndef f():\n    from lossdoctor import fit\n"},
        # Two modules of one layer, where the layers contract has nothing to say.
        {"losses.py": "from . import initializers\n", "initializers.py": "from . import losses\n"},
    ],
    ids=["root-and-child", "siblings-in-one-layer"],
)
def test_a_cycle_breaks_the_no_cycles_contract(tmp_path: Path, planted: dict[str, str]) -> None:
    run = _lint(tmp_path, planted)
    assert run.returncode == 1
    assert "No import cycles between modules of the package BROKEN" in run.stdout
    assert "Modules that import each other:" in run.stdout


def test_import_cycles_finds_each_group_once() -> None:
    graph = grimp.ImportGraph()
    for importer, imported in [
        ("pkg", "pkg.a"),
        ("pkg.a", "pkg.b"),
        ("pkg.b", "pkg.c"),
        ("pkg.c", "pkg.a"),  # a -> b -> c -> a
        ("pkg.d", "pkg.e"),
        ("pkg.e", "pkg.d"),  # d <-> e
        ("pkg.f", "pkg.a"),  # into a cycle, not part of one
        ("pkg.a", "other"),
        ("other", "pkg.f"),  # a cycle through another package does not count
    ]:
        graph.add_import(importer=importer, imported=imported)
    assert import_cycles(graph, "pkg") == [["pkg.a", "pkg.b", "pkg.c"], ["pkg.d", "pkg.e"]]
