"""The live tab on a busy computer: the events a stream sends when it cannot keep up reach
the page. A real stream session on the fake clock with a generator slower than real time
(as in tests/stream/test_busy_computer.py) records its events in order; the page's own
event handler plays them in headless Chromium. The calibration's warning is shown, the
status line says `holding` and counts the bars held, and the notes sounding at a hold
are lengthened by the time the stream moved their note-offs, as the MIDI output does."""

from __future__ import annotations

import pytest
from tests.serve.test_browser import (  # noqa: F401
    _save_screenshot,
    _wait,
    browser,
    composer,
    server,
)
from tests.stream.conftest import ScriptedClock

from tunesmith.stream.outputs import Output

pytestmark = pytest.mark.slow

PROMPT = "a chorale for string quartet in C major"


class InOrder(Output):
    """Every note and event a stream sends, in the order it sends them."""

    def __init__(self):
        self.sent: list[tuple[str, dict]] = []

    def note(self, event):
        self.sent.append(("note", event))

    def event(self, name, data):
        self.sent.append((name, data))


@pytest.fixture(scope="module")
def busy_events(composer):  # noqa: F811
    from tunesmith.stream import StreamSession, StreamSettings

    out = InOrder()
    session = StreamSession(
        composer,
        PROMPT,
        [out],
        StreamSettings(duration=30),
        composer.sampling_for(seed=3).with_(speculative=False),
        composer.controls_for(PROMPT, tempo=120, instruments="violin,violin,viola,cello"),
        clock=ScriptedClock(step_cost=0.2),  # ~5 tokens/s where the stream needs ~11
    )
    report = session.run()
    assert report.holds > 0 and report.warnings
    return out.sent


def test_the_page_shows_holds_and_warnings_and_sustains_the_held_chord(
    server,  # noqa: F811
    browser,  # noqa: F811
    busy_events,
    tmp_path,
):
    from selenium.webdriver.common.by import By

    first_hold = next(
        i for i, (name, data) in enumerate(busy_events) if name == "hold" and data["extended"]
    )
    d = browser
    d.get(server + "/")
    d.find_element(By.ID, "tab-live").click()
    warning = d.find_element(By.ID, "live-warning")
    assert not warning.is_displayed()
    assert d.execute_script("return ensureAudio() !== null")
    # everything up to the hold, as the stream sent it (the start event first)
    d.execute_script(
        "for (const [t, e] of arguments[0]) handleEvent(t, e);", busy_events[:first_hold]
    )
    (calibration,) = [data["text"] for name, data in busy_events if name == "warning"]
    assert warning.is_displayed() and warning.text == calibration
    hold = busy_events[first_hold][1]
    keys = [f"{e['channel']}:{e['pitch']}" for e in hold["extended"]]
    before = d.execute_script(
        "return arguments[0].map((k) => live.sounding.get(k).drawn.dur);", keys
    )
    d.execute_script("handleEvent('hold', arguments[0]);", hold)
    after = d.execute_script(
        "return arguments[0].map((k) => live.sounding.get(k).drawn.dur);", keys
    )
    for b, a, e in zip(before, after, hold["extended"], strict=True):
        assert a == pytest.approx(b + e["extend_s"], abs=1e-6)  # the chord rings on
    status = d.find_element(By.ID, "live-status")
    assert "holding" in status.text and f"{hold['sustained']} note" in status.text
    # the next status events while the hold plays say so too
    holding = next(
        data for name, data in busy_events[first_hold:] if name == "status" and data["holds"]
    )
    d.execute_script("handleEvent('status', arguments[0]);", holding)
    assert f"held {holding['holds']} bar" in status.text
    if holding["state"] != "playing":
        assert holding["state"] in status.text
    _save_screenshot(d, tmp_path, "serve-live-holding.png")
