"""Each finding's fix as ``lossdoctor train`` flags (issue 13): every row's flags parse and train,
and the command lines ``diagnose`` prints run as they are."""

from __future__ import annotations

import json
import shlex

import pytest

from lossdoctor.cli import main
from lossdoctor.diagnostics.findings import train_command
from lossdoctor.diagnostics.rules import RULES, Planned

#: A planned value as the doctor fills it in: a learning rate, the wider network's widths.
PLANNED = {
    "learning_rate_init": "0.1",
    "hidden_layer_sizes": "32 16",
    "activation": "tanh",
    "alpha": "0.001",
}
#: Fixes that only apply to one kind of task, and built-in data of that kind.
DATA_FOR = {"--scale-target": "builtin:diabetes"}


def _argv(command: str) -> list[str]:
    words = shlex.split(command)
    assert words[:2] == ["lossdoctor", "train"], command
    return ["train", *words[2:]]


def _short(argv: list[str]) -> list[str]:
    """``argv`` with 2 epochs (train takes the last ``--epochs`` given)."""
    return [*argv, "--epochs", "2"]


@pytest.mark.parametrize("rule", [r for r in RULES if r.fix.flags], ids=lambda r: r.code)
def test_every_rows_flags_run_through_train(rule, capsys) -> None:
    flags = {
        flag: (PLANNED[value.name] if isinstance(value, Planned) else value)
        for flag, value in rule.fix.flags.items()
    }
    data = next((DATA_FOR[f] for f in flags if f in DATA_FOR), "builtin:iris")
    command = train_command(flags, {"data": data, "train_flags": {"--hidden": "8"}})
    assert command is not None
    assert main(_short(_argv(command))) == 0, command
    assert "loss" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["diagnose", "--json", "--epochs", "30"],  # the classic set-up: several root causes
        ["diagnose", "--json", "builtin:diabetes", "--epochs", "30", "--hidden", "16"],
    ],
)
def test_diagnose_prints_commands_that_train_runs(argv, capsys) -> None:
    main(argv)
    out = json.loads(capsys.readouterr().out)
    commands = {f["train_command"] for f in out["findings"] if f["flags"]}
    assert commands, [f["code"] for f in out["findings"]]
    for f in out["findings"]:
        assert (f["train_command"] is None) == (not f["flags"]), f
    for command in sorted(commands):
        assert main(_short(_argv(command))) == 0, command
        capsys.readouterr()


def test_the_terminal_report_prints_the_fix_as_flags(capsys) -> None:
    main(["diagnose", "builtin:diabetes", "--epochs", "30", "--hidden", "16"])
    out = capsys.readouterr().out
    assert "fix as flags: lossdoctor train builtin:diabetes --hidden 16 --epochs 30" in out
    assert "--scale-target" in out
