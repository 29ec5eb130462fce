"""Options that do what they say (issue 17): every option is used or refused, --lr auto
wherever --lr is accepted."""

from __future__ import annotations

import pytest

from lossdoctor.cli import main


@pytest.mark.parametrize(
    "option",
    [["--epochs", "3"], ["--lr", "0.1"], ["--batch-size", "8"], ["--validation-fraction", "0.2"]],
)
def test_lr_find_refuses_the_options_it_would_ignore(
    capsys: pytest.CaptureFixture[str], option: list[str]
) -> None:
    assert main(["lr-find", *option]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert f"{option[0]} does not apply here" in err


def test_refused_options_are_hidden_from_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lr-find", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--epochs" not in out and "--batch-size" not in out and "--start" in out


@pytest.mark.parametrize("command", ["train", "diagnose", "sweep"])
def test_lr_auto_is_accepted_wherever_lr_is(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    argv = [command, "builtin:iris", "--lr", "auto", "--hidden", "4", "--epochs", "3"]
    assert main(argv) in (0, 1)
    out, err = capsys.readouterr()
    assert "learning rate auto: " in out, err


def test_sweep_mixes_auto_with_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["sweep", "builtin:iris", "--lr", "auto", "0.1", "--hidden", "4", "--epochs", "3"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    auto = float(out.split("learning rate auto: ")[1].split()[0])
    assert f"{auto:.4g}"[:3] in out.split("\n", 3)[3]  # a row of the table


def test_sweep_refuses_validation_fraction(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", "--validation-fraction", "0.2"]) == 2
    assert "--validation-fraction does not apply here" in capsys.readouterr().err
