"""The playground in a real headless Chromium (Selenium) against a real ``reba serve`` process:
type the key and two texts, submit, and check the rendered similarity and token weights
against the API's own numbers. A screenshot is kept (the test's tmp dir, and
``$REBA_SCREENSHOT`` when set). Skips when Chromium, chromedriver or selenium is missing
(``.ci/run`` installs Debian's ``chromium`` and ``chromium-driver`` when run as root).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest

import reba

from .processes import serve_process

KEY = "sk-browser-key"
TEXTS = ["The bank raised interest rates again this year.", "我们去银行取钱"]
CONFIGS = ["tiny-random-llama-reba-k2", "m"]

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="no Chromium/chromedriver (apt-get install chromium chromium-driver)",
)


@pytest.fixture
def browser(tmp_path):
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--window-size=1280,1000",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _api(url: str, path: str, body: dict) -> dict:
    headers = {"Authorization": f"Bearer {KEY}"}
    response = httpx.post(f"{url}{path}", json=body, headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_playground_shows_the_apis_numbers(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    args = ["--model", "tiny-random-llama", "--serve", "m=tiny-random-llama:mean"]
    args += ["--device", "cpu", "--playground", "--api-key", KEY]
    with serve_process(args, tmp_path / "server.log") as url:
        browser.get(f"{url}/playground")
        wait = WebDriverWait(browser, 60)
        wait.until(ec.text_to_be_present_in_element((By.ID, "status"), "Missing or invalid"))
        browser.find_element(By.ID, "key").send_keys(KEY)
        browser.find_element(By.ID, "load").click()
        wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "input[name=config]")) == 2)
        for box in browser.find_elements(By.CSS_SELECTOR, "input[name=config]"):
            if not box.is_selected():
                box.click()
        browser.find_element(By.ID, "texts").send_keys("\n".join(TEXTS))
        browser.find_element(By.ID, "submit").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "status"), "done"))
        shot = tmp_path / "playground.png"
        browser.save_screenshot(str(shot))
        if os.environ.get("REBA_SCREENSHOT"):
            shutil.copy(shot, Path(os.environ["REBA_SCREENSHOT"]))
        for c, name in enumerate(CONFIGS):
            embedded = _api(url, "/v1/embeddings", {"model": name, "input": TEXTS})
            vectors = np.array([d["embedding"] for d in embedded["data"]], dtype=np.float64)
            unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
            table = browser.find_element(By.CSS_SELECTOR, f"table.sim[data-config='{c}']")
            shown = np.zeros((2, 2))
            for cell in table.find_elements(By.CSS_SELECTOR, "td.cell"):
                i, j = int(cell.get_attribute("data-i")), int(cell.get_attribute("data-j"))
                shown[i, j] = float(cell.get_attribute("data-value"))
                assert cell.text == f"{shown[i, j]:.3f}"
            np.testing.assert_allclose(shown, unit @ unit.T, atol=2e-6)
            assert abs(shown[0, 1]) < 0.999  # two different texts: a real comparison
            explained = _api(url, "/v1/explain", {"model": name, "input": TEXTS})["data"]
            for t, item in enumerate(explained):
                spans = browser.find_elements(
                    By.CSS_SELECTOR, f".tok[data-config='{c}'][data-text='{t}']"
                )
                weights = [float(s.get_attribute("data-weight")) for s in spans]
                np.testing.assert_allclose(weights, item["inputs"][0]["weights"], atol=1e-6)
                tokens = item["inputs"][0]["tokens"]
                shown_tokens = [t.replace("\n", "\u23ce") for t in tokens]
                assert [s.text.strip() for s in spans] == [t.strip() for t in shown_tokens]
    assert shot.stat().st_size > 10_000


def test_the_explain_page_opens_offline(browser, tmp_path):
    from selenium.webdriver.common.by import By

    from reba.cli.main import main

    page = tmp_path / "explain.html"
    argv = ["explain", *TEXTS, "--method", "reba,prompteol", "--model", "tiny-random-llama"]
    assert main([*argv, "--html", str(page)]) == 0
    browser.get(page.as_uri())
    embedder = reba.Embedder("tiny-random-llama", method="prompteol")
    for t, text in enumerate(TEXTS):
        spans = browser.find_elements(By.CSS_SELECTOR, f".tok[data-config='1'][data-text='{t}']")
        weights = [float(s.get_attribute("data-weight")) for s in spans]
        np.testing.assert_allclose(weights, embedder.explain(text).inputs[0].weights, atol=1e-6)
    cells = browser.find_elements(By.CSS_SELECTOR, "table.sim[data-config='1'] td.cell")
    vectors = embedder.encode(TEXTS)
    expected = reba.Embedder.similarity(vectors, vectors).ravel()
    np.testing.assert_allclose(
        [float(c.get_attribute("data-value")) for c in cells], expected, atol=1e-5
    )
    browser.save_screenshot(str(tmp_path / "explain-page.png"))
