"""A real browser for the pages' tests: Debian's headless Chromium driven over
WebDriver (Selenium and chromedriver), as a person would use the pages.

The stack's gateway serves HTTPS with a certificate from the stack's own CA;
Chromium trusts exactly that certificate's public key
(``--ignore-certificate-errors-spki-list``: any other certificate is still
refused), so verification stays on. Screenshots go to ``build/screenshots``
(``ORDERFLOW_SCREENSHOT_DIR``), which CI keeps.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

__all__ = ["DESKTOP", "PHONE", "SCREENSHOTS", "chromium", "screenshot", "wait_for"]

T = TypeVar("T")
DESKTOP = (1280, 900)
PHONE = (390, 844)  # a phone's CSS width
SCREENSHOTS = Path(os.environ.get("ORDERFLOW_SCREENSHOT_DIR", Path(__file__).parents[2] / "build" / "screenshots"))


def spki_hash(cert_file: Path) -> str:
    """The base64 SHA-256 of a certificate's public key, as Chromium's SPKI list wants it."""
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    der = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def chromium(gateway_cert: Path | None) -> WebDriver:
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if binary is None or driver is None:
        raise RuntimeError("the browser tests need chromium and chromedriver: `make install` puts them in place")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={DESKTOP[0]},{DESKTOP[1]}", "--lang=en-US"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the console, kept for a failed test
    if gateway_cert is not None:
        options.add_argument(f"--ignore-certificate-errors-spki-list={spki_hash(gateway_cert)}")
    browser = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    browser.set_script_timeout(30)
    return browser


def wait_for(browser: WebDriver, probe: Callable[[WebDriver], T], timeout: float = 30.0, what: str = "") -> T:
    """``probe``'s first truthy answer (an element gone stale mid-render is asked again)."""
    return WebDriverWait(browser, timeout, poll_frequency=0.1,
                         ignored_exceptions=(StaleElementReferenceException,)).until(probe, what)


def screenshot(browser: WebDriver, name: str) -> Path:
    """The whole page (not only the window) at desktop and at phone width, as PNGs."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, (width, height) in (("desktop", DESKTOP), ("phone", PHONE)):
        browser.set_window_size(width, height)
        size = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]  # type: ignore[attr-defined]
        clip = {"x": 0, "y": 0, "width": width, "height": max(height, size["height"]), "scale": 1}
        shot: dict[str, Any] = browser.execute_cdp_cmd(  # type: ignore[attr-defined]
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip})
        (SCREENSHOTS / f"{name}-{label}.png").write_bytes(base64.b64decode(shot["data"]))
    browser.set_window_size(*DESKTOP)
    return SCREENSHOTS
