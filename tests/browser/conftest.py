"""On a failed browser test: the page as it was (a screenshot, the text of its
error and notice regions, the browser's console) kept beside the others."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.common.exceptions import WebDriverException
from support.browser import SCREENSHOTS


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    browser = getattr(item, "funcargs", {}).get("browser")
    if report.when != "call" or not report.failed or browser is None:
        return
    try:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(SCREENSHOTS / f"failed-{item.name}.png"))
        regions = browser.execute_script(
            "return ['error', 'notice'].map(id => document.getElementById(id))"
            ".filter(e => e && !e.hidden).map(e => e.id + ': ' + e.textContent)")
        text = browser.find_element("tag name", "main").text
        console = [entry["message"] for entry in browser.get_log("browser")]
        shown = [f"url: {browser.current_url}", *regions, *console, "--- the page's text:", text]
        report.sections.append(("the page", "\n".join(shown)))
    except WebDriverException as exc:
        report.sections.append(("the page", f"could not be read: {exc}"))
