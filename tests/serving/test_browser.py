"""End-to-end test of the web page in headless Chromium (Debian ``chromium`` + ``chromium-driver``).

Starts a real uvicorn server on a free loopback port, searches items, builds a history and checks the
top-K table updates; saves a screenshot (``$GENREC_SCREENSHOT_DIR`` or pytest's tmp dir) and prints its
path. Skipped when Chromium or selenium is missing locally; under CI (``CI=true``) it fails instead, so
CI really runs it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from genrec.serving.app import create_app
from genrec.serving.service import RecommendService
from serving.browser import headless_chrome, require_browser, served


@pytest.fixture()
def server_url(popularity_run: Path) -> Iterator[str]:
    with served(create_app(RecommendService.from_run(popularity_run))) as url:
        yield url


def test_page_builds_history_and_shows_recommendations(server_url: str, tmp_path: Path) -> None:
    require_browser()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    driver = headless_chrome(tmp_path / "profile")
    wait = WebDriverWait(driver, 10)

    def data_ids(selector: str) -> list[str]:
        # One script call reads the whole list, so a re-render between "find" and "read"
        # cannot leave a stale element behind.
        script = "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.dataset.id || '');"
        return list(driver.execute_script(script, selector))

    def rec_ids() -> list[str]:
        return data_ids("#recs tbody tr")

    def first_row_cells() -> list[str]:
        script = "const r = document.querySelector('#recs tbody tr'); return r ? Array.from(r.cells).map(c => c.innerText) : [];"
        return list(driver.execute_script(script))

    def add_from_search(query: str, item_id: str) -> None:
        box = driver.find_element(By.ID, "search")
        box.clear()
        box.send_keys(query)
        selector = f'#search-results li[data-id="{item_id}"] button.add'
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, selector))
        driver.find_element(By.CSS_SELECTOR, selector).click()

    try:
        driver.get(server_url + "/")
        wait.until(lambda d: "model: popularity" in d.find_element(By.ID, "model-info").text)
        # Empty history: the popular items, flagged as the fallback.
        wait.until(lambda d: rec_ids()[:3] == ["i0", "i1", "i2"])
        assert driver.find_element(By.ID, "fallback").is_displayed()

        add_from_search("charlie", "i2")
        wait.until(lambda d: rec_ids() and "i2" not in rec_ids())
        add_from_search("Delta", "i3")
        wait.until(lambda d: rec_ids() and "i3" not in rec_ids())
        assert data_ids("#history li") == ["i2", "i3"]
        assert not driver.find_element(By.ID, "fallback").is_displayed()
        expected = [
            "i0",
            "i1",
            "i4",
            "i5",
            "i6",
            "i7",
            "i8",
            "i9",
            "i10",
            "i11",
        ]
        wait.until(lambda d: rec_ids() == expected)
        first = first_row_cells()
        assert first[1] == "Item Alpha 0" and float(first[3]) > 0

        # Changing K updates the table.
        k_box = driver.find_element(By.ID, "k")
        k_box.clear()
        k_box.send_keys("3\t")
        wait.until(lambda d: rec_ids() == ["i0", "i1", "i4"])

        out_dir = Path(os.environ.get("GENREC_SCREENSHOT_DIR", tmp_path))
        out_dir.mkdir(parents=True, exist_ok=True)
        shot = out_dir / "serving_page.png"
        assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 1000
        print(f"screenshot: {shot}")
    finally:
        driver.quit()
