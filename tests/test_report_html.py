"""The HTML report: one self-contained page with the findings and the plots.

The page is checked twice: as text (escaping, rank order, "not recorded" notes, atomic writes) and
in a real headless Chromium driven by Playwright, offline, where every plot must have decoded.
"""

from __future__ import annotations

import math
import re
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lossdoctor.diagnostics.findings import Diagnosis, Finding
from lossdoctor.report import html as report_html
from lossdoctor.report.figures import PLOT_IDS, diagnosis_figures
from lossdoctor.report.html import format_value, render_html, write_html_report
from lossdoctor.training import History

PLOTS = list(PLOT_IDS)  # plot-loss, plot-saturation, plot-grad-norm, plot-sharpness


def _history(loss: list[float], lr: float) -> History:
    n = len(loss)
    return History(
        epoch=list(range(1, n + 1)),
        loss=loss,
        val_loss=[x * 1.1 for x in loss],
        val_score=list(np.linspace(0.5, 0.9, n)),
        learning_rate=[lr] * n,
        grad_norm=[1.0] * n,
        time=[0.01 * i for i in range(n)],
        stop_reason="max_iter",
        message=f"reached the maximum of {n} epochs",
    )


def _synthetic_diagnosis(*, with_monitor: bool = True) -> Diagnosis:
    """An lr-too-high run (sharpness above 2 / lr, saturated tanh units) and its fix."""
    n = 40
    loss = list(0.7 + 0.3 * np.abs(np.sin(np.arange(n))) + 0.01 * np.arange(n))
    epochs = list(range(1, n + 1, 5))
    k = len(epochs)
    monitor: dict[str, Any] = {}
    if with_monitor:
        monitor = {
            "epoch": epochs,
            "saturation": {"layer 1": list(np.linspace(0.2, 0.95, k)), "layer 2": [0.1] * k},
            "dead": {"layer 1": [0.0] * k, "layer 2": [math.nan] + [0.05] * (k - 1)},
            "grad_norm": {
                "W1": list(np.geomspace(1.0, 1e-4, k)),
                "b1": [1e-3] * k,
                "W2": [0.5] * k,
                "b2": [None] + [0.02] * (k - 1),
            },
            "update_ratio": {"W1": [1e-2] * k},
            "sharpness": [3.0, 9.0, 12.0, float("inf")],
            "sharpness_epoch": [1, 10, 20, 30],
            "learning_rate": [0.5] * k,
        }
    fixed = Diagnosis(
        findings=[Finding("healthy", "info", "The loss fell by 99% and the gradients are sound.")],
        setup={"learning_rate_init": 0.05},
        history=_history(list(np.geomspace(0.7, 0.01, n)), 0.05),
        summary="Healthy after lowering the learning rate.",
    )
    return Diagnosis(
        findings=[
            Finding(
                "lr-too-high",
                "error",
                "Sharpness 12 exceeds 2 / lr = 4 from epoch 10: the step overshoots.",
                {"sharpness": 12.000004, "two_over_lr": 4.0, "epochs": [10, 20, 30]},
                "learning_rate_init=0.05",
            ),
            Finding(
                "loss-oscillating",
                "warning",
                "The loss rises in 48% of epochs <script>alert(1)</script>.",
                {"share_rising": 0.4848484848, "nan": math.nan},
                "",
                cause="lr-too-high",
            ),
            Finding(
                "units-saturated",
                "warning",
                "95% of layer 1's tanh units are saturated.",
                {"share": {"layer 1": 0.95, "layer 2": 0.1}},
                "",
                cause="lr-too-high",
            ),
            Finding("gradients-ok", "info", "Analytic and numeric gradients agree to 1e-8."),
        ],
        setup={"hidden_layer_sizes": (128, 64), "learning_rate_init": 0.5, "data": "moons"},
        history=_history(loss, 0.5),
        monitor=monitor,
        summary="The learning rate is too high for the curvature; lower it to 0.05.",
        fix_params={"learning_rate_init": 0.05},
        fixed=fixed,
    )


# --------------------------------------------------------------------------- text of the page


def test_format_value_formats_evidence() -> None:
    assert format_value(12.000004) == "12"
    assert format_value(0.0012345678) == "0.001235"
    assert format_value(math.nan) == "nan"
    assert format_value(np.float32(2.5)) == "2.5"
    assert format_value(True) == "true"
    assert format_value((128, 64)) == "(128, 64)"
    assert format_value((32,)) == "(32,)"
    assert format_value(list(range(20))) == "[0, 1, 2, 3, 4, 5, 6, 7, … (20 items)]"
    assert format_value({"W1": 3e-9, "b1": 1}) == "W1: 3e-09\nb1: 1"
    assert format_value({"A1": {"start": 0.25, "end": 1}}) == "A1: {start: 0.25, end: 1}"
    layers = [{"name": "W1", "rms": 0.99789}, {"name": "W2", "rms": 0.5}]
    assert format_value(layers) == "{name: W1, rms: 0.9979}\n{name: W2, rms: 0.5}"


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(_synthetic_diagnosis())


def test_page_has_findings_in_rank_order_and_escapes_text(page: str) -> None:
    diagnosis = _synthetic_diagnosis()
    assert "<title>lossdoctor report: lr-too-high</title>" in page
    table = page.split('id="findings"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r'data-code="([^"]+)"', table) == diagnosis.codes
    # Text is escaped, never injected.
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # Evidence is formatted, causes link back to the root cause, the fix is shown.
    assert "<dd>12</dd>" in page and "<dd>0.4848</dd>" in page
    assert page.count('symptom of <a href="#findings-lr-too-high">') == 2
    assert "learning_rate_init=0.05" in page
    assert 'id="before-after"' in page and 'id="fixed-findings"' in page
    for plot in PLOTS:
        assert f'<img id="{plot}" src="data:image/png;base64,' in page


def test_page_is_self_contained(page: str) -> None:
    assert "<script" not in page and "<link" not in page
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", page)
    assert "url(" not in page


def test_missing_monitor_says_not_recorded() -> None:
    diagnosis = _synthetic_diagnosis(with_monitor=False)
    diagnosis.fixed = None
    diagnosis.history = None
    assert diagnosis_figures(diagnosis) == dict.fromkeys(PLOTS)
    page = render_html(diagnosis)
    assert "<img" not in page
    for plot, caption in PLOT_IDS.items():
        assert f'id="{plot}-missing">{caption}: not recorded.' in page
    assert 'id="fix-section"' not in page


def test_partial_and_degenerate_monitor_series() -> None:
    # Empty, all-NaN, misaligned and non-positive series: plots are drawn or skipped, no warning.
    diagnosis = Diagnosis(
        findings=[],
        history=_history([1.0, 0.0, math.nan], 0.0),
        monitor={
            "epoch": [1, 2, 3],
            "saturation": {"layer 1": [math.nan, math.nan, math.nan]},
            "dead": {},
            "grad_norm": {"W1": [0.0, -1.0, 2.0, 5.0, 7.0]},
            "sharpness": [1.0],
            "sharpness_epoch": [],
            "learning_rate": [0.0, 0.0, 0.0],
        },
    )
    figures = diagnosis_figures(diagnosis)
    assert figures["plot-saturation"] is None
    assert all(figures[key] for key in ("plot-loss", "plot-grad-norm", "plot-sharpness"))
    assert "lossdoctor report: healthy" in render_html(diagnosis)


def test_template_is_package_data() -> None:
    template = resources.files("lossdoctor.report") / "templates" / "report.html.j2"
    assert template.is_file()


def test_write_html_report_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "report.html"
    diagnosis = Diagnosis([Finding("healthy", "info", "Trains well.")])
    write_html_report(diagnosis, out)
    first = out.read_text(encoding="utf-8")
    assert first.startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]

    # A failed write leaves the previous report whole and no temporary file behind.
    def fail(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(report_html.os, "fsync", fail)
    with pytest.raises(OSError, match="disk full"):
        write_html_report(diagnosis, out)
    monkeypatch.undo()
    assert out.read_text(encoding="utf-8") == first
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


# --------------------------------------------------------------------------- in a real browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser_page() -> Any:
    """A page in a headless Chromium with the network switched off."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if CHROMIUM is None:
        pytest.skip("chromium is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(offline=True, viewport={"width": 1200, "height": 900})
        page = context.new_page()
        yield page
        context.close()
        browser.close()


def _open_report(page: Any, path: Path) -> list[str]:
    """Load ``path`` in ``page``; return the URLs it requested."""
    requests: list[str] = []

    def record(request: Any) -> None:
        requests.append(request.url)

    page.on("request", record)
    try:
        page.goto(path.as_uri(), wait_until="load")
    finally:
        page.remove_listener("request", record)
    return requests


def _check_in_browser(page: Any, diagnosis: Diagnosis, path: Path) -> None:
    write_html_report(diagnosis, path)
    requests = _open_report(page, path)
    assert all(url.startswith(("file:", "data:")) for url in requests), requests

    text = path.read_text(encoding="utf-8")
    title = re.search(r"<title>(.*)</title>", text)
    assert title is not None and title[1].startswith("lossdoctor report: ")
    assert page.title() == title[1]
    images = page.evaluate(
        "Array.from(document.images).map(i => ({id: i.id, alt: i.alt, complete: i.complete,"
        " width: i.naturalWidth, height: i.naturalHeight}))"
    )
    recorded = [key for key in PLOTS if f'<img id="{key}"' in text]
    assert [image["id"] for image in images] == recorded
    for image in images:
        assert image["complete"] and image["width"] > 0 and image["height"] > 0, image
        assert image["alt"] == PLOT_IDS[image["id"]]
    for key in set(PLOTS) - set(recorded):
        assert "not recorded" in page.inner_text(f"#{key}-missing")

    codes = page.eval_on_selector_all(
        "#findings tbody tr.finding", "rows => rows.map(r => r.dataset.code)"
    )
    assert codes == diagnosis.codes
    shown = page.eval_on_selector_all(
        "#findings tbody tr.finding code.code", "els => els.map(e => e.textContent)"
    )
    assert shown == diagnosis.codes
    assert page.is_visible("#findings")


def test_report_in_headless_browser(browser_page: Any, tmp_path: Path) -> None:
    diagnosis = _synthetic_diagnosis()
    _check_in_browser(browser_page, diagnosis, tmp_path / "report.html")
    assert browser_page.evaluate("Array.from(document.images).map(i => i.id)") == PLOTS
    assert browser_page.title() == "lossdoctor report: lr-too-high"
    # The script in a message is text, not code.
    assert browser_page.evaluate("document.scripts.length") == 0
    assert "<script>alert(1)</script>" in browser_page.inner_text("#findings")
    assert browser_page.inner_text("#findings tr[data-code=loss-oscillating] .cause") == (
        "symptom of lr-too-high"
    )
    assert "after fix" in browser_page.inner_text("#before-after")
    browser_page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 0


def test_report_without_monitor_in_headless_browser(browser_page: Any, tmp_path: Path) -> None:
    diagnosis = _synthetic_diagnosis(with_monitor=False)
    _check_in_browser(browser_page, diagnosis, tmp_path / "report.html")


@pytest.fixture(scope="module")
def real_diagnosis() -> Diagnosis:
    """``lossdoctor diagnose --fix`` on the classic question's set-up (unscaled inputs, lr 1)."""
    from lossdoctor.data import builtin_dataset
    from lossdoctor.diagnostics.diagnose import CLASSIC_SETUP, diagnose

    data = builtin_dataset("breast_cancer")
    return diagnose(data.X, data.y, fix=True, **{**CLASSIC_SETUP, "max_iter": 10})


def test_report_of_real_diagnosis(real_diagnosis: Diagnosis) -> None:
    assert real_diagnosis.fixed is not None
    page = render_html(real_diagnosis)
    assert f"<title>lossdoctor report: {real_diagnosis.codes[0]}</title>" in page
    for plot in PLOTS:
        assert f'<img id="{plot}" src="data:image/png;base64,' in page
    assert 'id="fix-params"' in page and 'id="fixed-findings"' in page


def test_report_of_real_diagnosis_in_headless_browser(
    browser_page: Any, real_diagnosis: Diagnosis, tmp_path: Path
) -> None:
    _check_in_browser(browser_page, real_diagnosis, tmp_path / "report.html")
    fixed_codes = browser_page.eval_on_selector_all(
        "#fixed-findings tbody tr.finding", "rows => rows.map(r => r.dataset.code)"
    )
    assert real_diagnosis.fixed is not None
    assert fixed_codes == real_diagnosis.fixed.codes
    browser_page.screenshot(path=str(tmp_path / "real.png"), full_page=True)
