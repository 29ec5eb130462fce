"""``lossdoctor diagnose``: the classic default, JSON for machines, --fix, --report."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from lossdoctor.cli import main


def test_default_is_the_classic_question_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    # Exit status 1: findings of severity error remain (diagnose works like a linter).
    assert main(["diagnose", "--json", "--epochs", "30"]) == 1
    out = json.loads(capsys.readouterr().out)  # one JSON object, nothing else
    codes = [f["code"] for f in out["findings"]]
    assert codes[0] == "inputs-unscaled"
    assert {"saturated-activations", "lr-too-high", "init-scale"} <= set(codes)
    for f in out["findings"]:
        assert set(f) >= {"code", "severity", "message", "evidence", "fix"}
        assert f["severity"] in ("info", "warning", "error")
    setup = out["setup"]
    assert setup["layer_sizes"] == [30, 128, 64, 1]
    assert setup["init"] == "normal" and setup["learning_rate_init"] == 1.0
    assert setup["scale"] == "none" and setup["data"] == "builtin:breast_cancer"
    lr = next(f for f in out["findings"] if f["code"] == "lr-too-high")
    assert lr["evidence"]["ratio"] > 1


def test_fix_shows_before_and_after(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", "--fix"]) == 0
    text = capsys.readouterr().out
    assert text.index("inputs-unscaled") < text.index("saturated-activations")
    assert "fix applied: scale_inputs='standard'" in text
    assert "before: epoch 1:" in text and "after:  epoch 1:" in text
    assert "findings that remain: none (healthy)" in text


def test_data_uses_train_defaults_and_a_healthy_run_is_quiet(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["diagnose", "builtin:iris", "--hidden", "16", "--activation", "relu"]
    argv += ["--optimizer", "adam", "--lr", "0.01", "--epochs", "60", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["healthy"] is True, [f["code"] for f in out["findings"]]
    assert out["setup"]["scale"] == "standard"
    assert out["summary"].startswith("Healthy")


def test_report_writes_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "report.html"
    assert main(["diagnose", "--epochs", "10", "--report", str(path)]) == 1
    assert "inputs-unscaled" in path.read_text(encoding="utf-8")
    assert f"HTML report written to {path}" in capsys.readouterr().out


def test_report_without_the_html_module_is_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "lossdoctor.report.html", None)  # import fails
    assert main(["diagnose", "--report", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--report needs lossdoctor.report.html" in err


def test_bad_report_path_fails_before_training(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", "--report", "/no/such/dir/r.html"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_json_is_strict_even_when_training_blows_up(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["diagnose", "builtin:diabetes", "--lr", "50", "--epochs", "15", "--json"]
    assert main(argv) == 1

    def refuse(constant: str) -> None:
        raise AssertionError(f"non-standard JSON constant {constant}")

    out = json.loads(capsys.readouterr().out, parse_constant=refuse)
    assert out["setup"]["task"] == "regression"
    assert out["findings"][0]["code"] == "targets-unscaled"


def test_exit_status_is_1_while_errors_remain_and_judged_on_the_fixed_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The classic set-up has error findings; the README's main command fixes them: exit 0.
    assert main(["diagnose", "--epochs", "20", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert any(f["severity"] == "error" for f in out["findings"])
    assert main(["diagnose", "--fix", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert any(f["severity"] == "error" for f in out["findings"])
    assert not any(f["severity"] == "error" for f in out["fixed"]["findings"])


def test_help_documents_the_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "1 when one does" in text and "like a linter" in text


def test_lr_auto_is_accepted_by_diagnose(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["diagnose", "builtin:iris", "--lr", "auto", "--hidden", "8", "--epochs", "5"]
    assert main(argv) in (0, 1)
    out = capsys.readouterr().out
    assert out.startswith("learning rate auto: ")
