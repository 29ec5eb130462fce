"""The cli package: fast start, its copies of library constants, and diagnose's defaults."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from lossdoctor import data
from lossdoctor.cli import build_parser, main
from lossdoctor.cli.diagnose import setup_of
from lossdoctor.cli.options import (
    BUILTIN_DATASETS,
    CLASSIC_SETUP,
    MAX_AUTO_CLASSES,
    TRAIN_SETUP,
)
from lossdoctor.diagnostics import diagnose

HEAVY = ("sklearn", "pandas", "scipy", "matplotlib", "jinja2", "rich", "joblib")


def test_building_the_parser_imports_nothing_heavy() -> None:
    # The package root is replaced by an empty module, as a lazy root would be, so that what is
    # measured is the cli's own imports.
    script = textwrap.dedent(
        """
        import importlib.util, sys, types
        root = types.ModuleType("lossdoctor")
        root.__path__ = list(importlib.util.find_spec("lossdoctor").submodule_search_locations)
        root.__version__ = "0"
        sys.modules["lossdoctor"] = root
        import lossdoctor.cli
        lossdoctor.cli.build_parser()
        print(" ".join(sorted({name.split(".")[0] for name in sys.modules})))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    loaded = set(done.stdout.split())
    assert "numpy" in loaded  # the script ran
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_copied_constants_match_the_library() -> None:
    # --help shows these without importing lossdoctor.data, which loads pandas.
    assert BUILTIN_DATASETS == data.BUILTIN_DATASETS
    assert MAX_AUTO_CLASSES == data.MAX_AUTO_CLASSES
    classic = diagnose.CLASSIC_SETUP
    assert CLASSIC_SETUP.hidden == classic["hidden_layer_sizes"]
    assert (CLASSIC_SETUP.lr, CLASSIC_SETUP.epochs) == (
        classic["learning_rate_init"],
        classic["max_iter"],
    )
    for key in ("activation", "init", "init_scale", "alpha"):
        assert getattr(CLASSIC_SETUP, key) == classic[key], key
    assert (CLASSIC_SETUP.optimizer, classic["solver"], classic["momentum"]) == ("gd", "gd", 0)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [(["diagnose"], CLASSIC_SETUP), (["diagnose", "builtin:iris"], TRAIN_SETUP)],
)
def test_diagnose_fills_the_setup_by_data(argv: list[str], expected) -> None:
    args = setup_of(build_parser().parse_args(argv))
    for key, value in expected._asdict().items():
        assert getattr(args, key) == (list(value) if key == "hidden" else value), key
    # What the user gives wins, in both cases.
    args = setup_of(build_parser().parse_args([*argv, "--lr", "0.5", "--hidden", "3"]))
    assert (args.lr, args.hidden, args.epochs) == (0.5, [3], expected.epochs)


def test_diagnose_help_shows_both_defaults(capsys) -> None:
    assert main(["diagnose", "--help"]) == 0
    # argparse may break lines after the hyphen of "set-up".
    text = " ".join(capsys.readouterr().out.split()).replace("set- up", "set-up")
    assert "(default: 200; without DATA: 100, the classic set-up's)" in text
    assert "(default: standard; without DATA: none, the classic set-up's)" in text
    assert "He for ReLU; without DATA: normal, the classic set-up's)" in text
