"""The web page's chat box in headless Chromium: two turns, the state line and the items follow the session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from genrec.recommenders.conversation_parser import ParserSlot
from genrec.serving.app import create_app
from genrec.serving.service import RecommendService
from serving.browser import headless_chrome, require_browser, served
from serving.test_chat import KeywordParser


@pytest.fixture()
def chat_url(popularity_run: Path) -> Iterator[str]:
    app = create_app(RecommendService.from_run(popularity_run))
    app.state.chat_parser = ParserSlot(KeywordParser)
    with served(app) as url:
        yield url


def test_chat_box_refines_and_shows_state(chat_url: str, tmp_path: Path) -> None:
    require_browser()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    driver = headless_chrome(tmp_path / "profile", window="1200,1200")
    wait = WebDriverWait(driver, 10)

    def chat_ids() -> list[str]:
        script = (
            "return Array.from(document.querySelectorAll('#chat-items tbody tr')).map(e => e.dataset.id);"
        )
        return list(driver.execute_script(script))

    def say(text: str, turn: int) -> None:
        box = driver.find_element(By.ID, "chat-message")
        box.clear()
        box.send_keys(text)
        driver.find_element(By.ID, "chat-send").click()
        wait.until(lambda d: d.find_element(By.ID, "chat-items").get_attribute("data-turn") == str(turn))

    try:
        driver.get(chat_url + "/")
        wait.until(lambda d: "model: popularity" in d.find_element(By.ID, "model-info").text)
        say("no paper", 1)
        assert chat_ids() == [
            "i0",
            "i2",
            "i3",
            "i4",
            "i6",
            "i7",
            "i8",
            "i10",
            "i11",
        ]  # k=10, 3 paper items out
        assert driver.find_element(By.ID, "chat-state").text == "without paper"
        say("more like the second one, but not desks", 2)
        assert driver.find_element(By.ID, "chat-state").text == "like “Item Charlie 2”; without paper, desks"
        assert chat_ids() == ["i0", "i4", "i6", "i8", "i10"]
        log = driver.find_element(By.ID, "chat-log").text
        assert "exclude category desks" in log and "like Item Charlie 2" in log
        shot = tmp_path / "chat_page.png"
        assert driver.save_screenshot(str(shot))
        print(f"screenshot: {shot}")
        driver.find_element(By.ID, "chat-message").send_keys("   ")
        driver.find_element(By.ID, "chat-send").click()  # blank: nothing sent, nothing changes
        assert driver.find_element(By.ID, "chat-items").get_attribute("data-turn") == "2"
        driver.find_element(By.ID, "chat-new").click()
        assert driver.find_element(By.ID, "chat-state").text == "no conversation yet" and chat_ids() == []
    finally:
        driver.quit()
