"""`stream --web` in a real browser: Stop ends the stream and the page stays served; the
Quit button (shown only in this mode) stops the server. Headless Chromium via Selenium,
as in test_browser.py (skipped, saying why, where Chromium is not installed)."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from tests.serve.test_browser import _free_port, _skip_reason, _wait, browser  # noqa: F401

pytestmark = pytest.mark.slow


def test_web_page_stop_ends_the_stream_and_quit_the_server(tiny_run, browser):  # noqa: F811
    from selenium.webdriver.common.by import By

    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    from tunesmith.api import Composer
    from tunesmith.serve.streams import serve_shared_stream
    from tunesmith.stream import StreamSession, StreamSettings

    composer = Composer.load(tiny_run)
    session = StreamSession(
        composer,
        "a reel for fiddle",
        [],
        StreamSettings(),
        composer.sampling_for(seed=1).with_(speculative=False),
    )
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    done: dict = {}
    thread = threading.Thread(
        target=lambda: done.update(
            report=serve_shared_stream(composer, session, "127.0.0.1", port)
        ),
        daemon=True,
    )
    thread.start()
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/health", timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)
    d = browser
    d.get(url + "/")
    d.find_element(By.ID, "tab-live").click()
    quit_button = d.find_element(By.ID, "live-quit")
    _wait(d, lambda d: quit_button.is_displayed(), 30, "no Quit button in --web mode")
    d.find_element(By.ID, "live-start").click()
    status = d.find_element(By.ID, "live-status")
    _wait(d, lambda d: "bar " in status.text, 60, "no status from the stream")
    d.find_element(By.ID, "live-stop").click()
    _wait(d, lambda d: not session.running, 20, "Stop did not end the stream")
    _wait(d, lambda d: status.text == "stopped", 10)
    assert thread.is_alive() and httpx.get(url + "/", timeout=10).status_code == 200
    quit_button.click()
    _wait(d, lambda d: "server quit" in status.text, 20)
    thread.join(30)
    assert not thread.is_alive(), "Quit did not stop the server"
    assert done["report"].seconds > 0
