"""The report in a real browser: Debian's Chromium (installed by dev.py), driven by Playwright.

Missing Chromium or Playwright is a failure, never a skip: the report is for people, and
this is the test that looks at it as they will.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from comp_adapters.cli.main import main

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_report_in_chromium(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser test needs Debian's chromium package "
            "(python3 dev.py test installs it; or apt-get install chromium)"
        )
    try:
        from playwright.sync_api import sync_playwright  # noqa: PLC0415
    except ImportError:
        pytest.fail("the browser test needs Playwright: pip install -e '.[dev]'")
    import json  # noqa: PLC0415

    report, data = tmp_path / "report.html", tmp_path / "report.json"
    assert (
        main(["report", "-o", str(report), "--data", str(data), "--as-of", "2026-11-01T00:00:00Z"])
        == 0
    )
    capsys.readouterr()
    heatmap = json.loads(data.read_text())["kpis"]["heatmap"]
    expected = {
        (row, column): value
        for row, values in zip(heatmap["rows"], heatmap["cells"], strict=True)
        for column, value in zip(heatmap["columns"], values, strict=True)
        if value is not None
    }
    assert expected, "the example's heat map has cells"

    requests: list[str] = []
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda request: requests.append(request.url))
            page.on(
                "console",
                lambda message: (
                    problems.append(message.text) if message.type in ("error", "warning") else None
                ),
            )
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(report.as_uri(), wait_until="load")
            cells = page.eval_on_selector_all(
                "#heatmap g.cell",
                "els => els.map(e => [e.dataset.row, e.dataset.column, e.dataset.coverage,"
                " e.querySelector('title').textContent])",
            )
            shown = page.locator("article.learner:not([hidden])").count()
            page.fill("#filter", "ben.schulz")
            filtered = page.locator("article.learner:not([hidden])").count()
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()

    assert problems == []
    assert requests == [report.as_uri()], "the page loads nothing but itself"
    found = {(row, column): float(value) for row, column, value, _ in cells}
    assert found == expected
    for row, column, value, title in cells:
        assert f"{round(float(value) * 100)}% met" in title, (row, column)
    assert shown == 10
    assert filtered == 1
    assert (tmp_path / "report.png").stat().st_size > 10_000
