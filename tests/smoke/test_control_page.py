"""admin-server's control page, driven as a person would: headless Chromium via Selenium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from infralab.faults import Faults
from infralab.lab import Lab
from infralab.waiting import wait_until

pytestmark = pytest.mark.smoke


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium, "Debian's chromium is needed (.ci/run installs it)"
    assert driver, "Debian's chromium-driver is needed (.ci/run installs it)"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    # Headless as root, and nothing that phones home (the machine has no internet).
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ):
        options.add_argument(flag)
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    chrome.implicitly_wait(5)
    try:
        yield chrome
    finally:
        chrome.quit()


def test_a_fault_injected_from_the_page_becomes_active_and_reverts(
    browser: WebDriver, lab: Lab, lab_http: httpx.Client, faults: Faults
) -> None:
    browser.get(f"{lab.endpoints.base_url}/admin/")
    browser.find_element(By.CSS_SELECTOR, "#login input[name=token]").send_keys(lab.endpoints.admin_token)
    browser.find_element(By.CSS_SELECTOR, "#login button").click()

    form = browser.find_element(By.CSS_SELECTOR, 'form.inject[data-type="chaos.latency"]')
    Select(form.find_element(By.NAME, "target")).select_by_visible_text("core-1")
    delay = form.find_element(By.NAME, "p_delay_ms")
    delay.clear()
    delay.send_keys("400")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").submit()

    row = browser.find_element(By.CSS_SELECTOR, "#active-faults tr[data-fault-id]")
    assert "chaos.latency" in row.text
    assert "core-1" in row.text
    assert [f["type"] for f in faults.active()] == ["chaos.latency"]
    # nginx balances over both replicas: the slow one shows within a few calls.
    assert max(lab_http.get("/api/health").elapsed.total_seconds() for _ in range(4)) >= 0.4

    row.find_element(By.CSS_SELECTOR, "button[type=submit]").click()  # Revert
    assert browser.find_element(By.CSS_SELECTOR, "p#active-faults").text == "No active faults."
    wait_until(
        lambda: max(lab_http.get("/api/health").elapsed.total_seconds() for _ in range(4)) < 0.3,
        timeout=10,
        what="latency gone after revert",
    )
