"""report.html in a real browser: headless Chromium renders it, every section shows, every plot loads.

Uses Debian's chromium + chromium-driver (installed by scripts/setup.sh) through Selenium,
with the driver given explicitly (nothing is downloaded). The screenshot is kept beside the
report (``report.png``) for a person to look at.
"""
from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from codesign.report.report import write_report

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER),
                                reason="needs Debian's chromium and chromium-driver: "
                                       "apt-get install chromium chromium-driver (scripts/setup.sh does)")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--window-size=1280,900",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _not_blank(png: bytes) -> bool:
    """True when a screenshot of an element has more than one colour (something was drawn)."""
    from PIL import Image
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    return pixels.size > 0 and pixels.std() > 1.0


def check_page(driver, page: Path, screenshot: Path) -> dict:
    """Opens ``page``; returns its sections (h2 titles, each with content below it) and images."""
    from selenium.webdriver.common.by import By
    driver.get(page.resolve().as_uri())
    sections = {}
    for h2 in driver.find_elements(By.TAG_NAME, "h2"):
        content = driver.execute_script(
            "let n = arguments[0].nextElementSibling, t = '';"
            "while (n && n.tagName !== 'H2') { t += n.innerText || (n.tagName === 'IMG' ? '[img]' : '');"
            " n = n.nextElementSibling; } return t.trim();", h2)
        sections[h2.text] = {"visible": h2.is_displayed() and h2.size["height"] > 0, "content": content}
    images = []
    for img in driver.find_elements(By.TAG_NAME, "img"):
        driver.execute_script("arguments[0].scrollIntoView()", img)
        loaded = driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img)
        images.append({"alt": img.get_attribute("alt"), "natural_width": loaded,
                       "area": img.size["width"] * img.size["height"],
                       "drawn": _not_blank(img.screenshot_as_png)})
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1280, min(max(900, height + 100), 16000))
    driver.save_screenshot(str(screenshot))
    return {"sections": sections, "images": images}


def test_report_of_a_trained_design_in_chromium(tiny_design, browser):
    summary = json.loads((tiny_design.folder / "summary.json").read_text())
    page = write_report(tiny_design.folder, summary)
    shot = tiny_design.folder / "report.png"
    seen = check_page(browser, page, shot)
    expected = {"Accuracy (MovieLens-100K, test split)", "Bit-exactness against the fixed-point reference",
                "Hardware"}
    assert expected <= set(seen["sections"]), seen["sections"].keys()
    for title, s in seen["sections"].items():
        assert s["visible"] and s["content"], f"section {title!r} is empty or hidden"
    # steps that did not run say so
    assert "not run" in seen["sections"]["Bit-exactness against the fixed-point reference"]["content"]
    assert "No hardware step has run." in seen["sections"]["Hardware"]["content"]
    assert any(i["alt"] == "training curves" for i in seen["images"])
    for img in seen["images"]:
        assert img["natural_width"] and img["area"] > 0 and img["drawn"], img
    assert shot.stat().st_size > 10_000


def test_a_broken_plot_is_detected(tmp_path, browser):
    """The check is not vacuous: an image that cannot be decoded fails it."""
    page = tmp_path / "broken.html"
    page.write_text('<html><body><h2>Plots</h2><img alt="bad" src="data:image/png;base64,AAAA"></body></html>')
    seen = check_page(browser, page, tmp_path / "broken.png")
    assert seen["sections"]["Plots"]["content"] == "[img]"
    assert not seen["images"][0]["natural_width"]
