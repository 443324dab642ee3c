"""The web page end to end in a real browser: headless Chromium, driven by Selenium.

The server runs in this process (uvicorn on a free loopback port) with the tiny model. The
test types a prompt, presses Generate, waits for the piano roll and the audio element,
checks the downloads and the live tab's graceful message, and saves a screenshot
(to $TUNESMITH_SCREENSHOT_DIR when set, else the test's temporary folder). Another test
generates with a chord progression (the chord lane under the roll), rewrites part 1
(/v1/infill), adds a part (/v1/add-part) and goes Back (docs/images/serve-parts.png).

CI installs Debian's chromium and chromium-driver (.ci/run); where they cannot be installed
the test is skipped and says so.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.slow


def _skip_reason() -> str | None:
    if CHROMIUM is None or CHROMEDRIVER is None:
        return (
            "browser test skipped: Chromium and ChromeDriver are not installed "
            "(apt-get install chromium chromium-driver)"
        )
    try:
        import selenium  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        return f"browser test skipped: {e.name} is not installed (pip install -e '.[dev]')"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(app):
    """Run `app` with uvicorn on a free loopback port in a thread; yields its URL."""
    import uvicorn

    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not srv.started and thread.is_alive() and time.time() < deadline:
        time.sleep(0.05)
    assert srv.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(20)


@pytest.fixture(scope="module")
def composer(request):
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)  # before the tiny model is trained for nothing
    from tunesmith.api import Composer

    return Composer.load(request.getfixturevalue("tiny_run"))


@pytest.fixture(scope="module")
def server(composer):
    from tunesmith.serve import ServeSettings, create_app

    yield from _serve(create_app(composer, ServeSettings()))


@pytest.fixture(scope="module")
def stream_server(composer):
    """The app with the real live-stream routes (tunesmith.serve.streams)."""
    from tunesmith.serve import ServeSettings, create_app
    from tunesmith.serve.streams import stream_router

    app = create_app(composer, ServeSettings(), routers=[stream_router()])
    for url in _serve(app):
        yield url, app


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="tunesmith-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--autoplay-policy=no-user-gesture-required",
        "--window-size=1280,1400",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    try:
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    except Exception as e:  # a broken install: say why instead of failing obscurely
        shutil.rmtree(profile, ignore_errors=True)
        pytest.skip(f"browser test skipped: Chromium would not start ({type(e).__name__}: {e})")
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _wait(driver, condition, timeout=120, message=""):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(condition, message)


def test_generate_in_the_browser(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    d = browser
    d.get(server + "/")
    # /v1/info fills the pickers
    _wait(d, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#key option")) == 25, 60)
    # the sliders start at the server's default sampling
    from tunesmith.generate.sampling import PRESETS

    for slider in ("temperature", "live-temperature"):
        value = d.find_element(By.ID, slider).get_attribute("value")
        assert float(value) == PRESETS["default"]["temperature"], slider
    prompt = d.find_element(By.ID, "prompt")
    prompt.clear()
    prompt.send_keys("a cheerful jig in G major for fiddle")
    Select(d.find_element(By.ID, "meter")).select_by_value("6/8")
    d.find_element(By.ID, "bars").send_keys("4")
    d.find_element(By.ID, "seed").send_keys("5")
    d.find_element(By.ID, "generate").click()

    roll = d.find_element(By.ID, "pianoroll")
    _wait(d, lambda d: roll.get_attribute("data-notes") is not None, 120, "no piano roll")
    assert int(roll.get_attribute("data-notes")) >= 0
    player = d.find_element(By.ID, "player")
    _wait(d, lambda d: (player.get_attribute("src") or "").startswith("blob:"), 120, "no audio")
    # the WAV decodes in the browser: metadata with a duration
    _wait(d, lambda d: d.execute_script("return arguments[0].readyState >= 1", player), 60)
    assert d.execute_script("return arguments[0].duration", player) > 0
    status = d.find_element(By.ID, "status")
    _wait(d, lambda d: status.text.startswith("done"), 60, "status never said done")
    assert "error" not in status.get_attribute("class")

    midi = d.find_element(By.ID, "download-midi")
    assert midi.get_attribute("href").startswith("blob:")
    assert midi.get_attribute("download").endswith(".mid")
    assert d.find_element(By.ID, "download-wav").get_attribute("download").endswith(".wav")
    assert d.find_element(By.ID, "download-musicxml").is_enabled()
    info = d.find_element(By.ID, "piece-info").text
    assert "6/8" in info and "seed 5" in info

    # the drawn canvas is not blank: it has coloured note pixels
    lit = d.execute_script(
        """const c = arguments[0], x = c.getContext('2d');
           const px = x.getImageData(0, 0, c.width, c.height).data; let n = 0;
           for (let i = 0; i < px.length; i += 4) if (px[i + 1] > 150 && px[i] < 150) n++;
           return n;""",
        roll,
    )
    if int(roll.get_attribute("data-notes")) > 0:
        assert lit > 50

    shot = _save_screenshot(d, tmp_path, "serve-page.png")
    assert shot.stat().st_size > 10_000


def test_bad_input_shows_the_servers_message(server, browser):
    from selenium.webdriver.common.by import By

    d = browser
    d.get(server + "/")
    _wait(d, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#key option")) == 25, 60)
    d.find_element(By.ID, "instruments").send_keys("kazoo")
    d.find_element(By.ID, "generate").click()
    status = d.find_element(By.ID, "status")
    _wait(d, lambda d: "unknown instrument" in status.text, 60, "no error message")
    assert "error" in status.get_attribute("class")


def test_live_tab_degrades_gracefully_without_the_stream(server, browser, tmp_path):
    from selenium.webdriver.common.by import By

    d = browser
    d.get(server + "/")
    d.find_element(By.ID, "tab-live").click()
    for element in ("live-start", "live-stop", "live-panic", "live-temperature", "live-key"):
        assert d.find_element(By.ID, element).is_displayed()
    d.find_element(By.ID, "live-start").click()
    status = d.find_element(By.ID, "live-status")
    # this app has no /v1/stream router: the page must say so, not hang
    _wait(d, lambda d: "not available" in status.text, 30, "live status never explained")
    assert d.find_element(By.ID, "live-start").is_enabled()
    _save_screenshot(d, tmp_path, "serve-live.png")


def _save_screenshot(driver, tmp_path: Path, name: str) -> Path:
    target = Path(os.environ.get("TUNESMITH_SCREENSHOT_DIR") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    path = target / name
    driver.save_screenshot(str(path))
    return path


def test_live_mode_plays_a_stream_and_sends_controls(stream_server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    url, app = stream_server
    d = browser
    d.get(url + "/")
    _wait(d, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#live-key option")) == 25, 60)
    d.find_element(By.ID, "tab-live").click()
    Select(d.find_element(By.ID, "live-key")).select_by_value("A minor")
    d.find_element(By.ID, "live-start").click()
    status = d.find_element(By.ID, "live-status")
    _wait(d, lambda d: "bar " in status.text, 60, "no status from the stream")
    hub = app.state.stream_hub
    (run,) = hub.streams.values()
    session = run.session
    assert session.prompt == "a gentle waltz for piano"
    assert session.stream.controls.key == "A minor" and session.scheduler.tempo == 120.0
    assert d.find_element(By.ID, "live-stop").is_enabled()
    # notes reach the Web Audio synth and the scrolling roll
    _wait(d, lambda d: d.execute_script("return live.notes.length") > 3, 60, "no notes played")
    # moving the temperature slider changes the running session's sampling
    d.execute_script(
        """const s = document.getElementById('live-temperature'); s.value = '1.5';
           s.dispatchEvent(new Event('input'));"""
    )
    _wait(d, lambda d: session.stream.sampling.temperature == 1.5, 20, "temperature not applied")
    lit = d.execute_script(
        """const c = document.getElementById('liveroll'), x = c.getContext('2d');
           const px = x.getImageData(0, 0, c.width, c.height).data; let n = 0;
           for (let i = 0; i < px.length; i += 4) if (px[i + 1] > 150 && px[i] < 150) n++;
           return n;"""
    )
    assert lit > 20
    _save_screenshot(d, tmp_path, "serve-live-playing.png")
    d.find_element(By.ID, "live-panic").click()
    _wait(d, lambda d: any(c.name == "panic" for c in session.changes), 20, "panic not applied")
    d.find_element(By.ID, "live-stop").click()
    _wait(d, lambda d: not session.running, 20, "the session did not stop")
    _wait(d, lambda d: status.text == "stopped", 10)
    assert d.find_element(By.ID, "live-start").is_enabled()


def _track_notes(driver, instrument: str) -> list:
    """(pitch, start) of the current piece's notes in the track playing `instrument`."""
    return driver.execute_script(
        """const j = current.json;
           const t = j.tracks.find((t) => t.instrument === arguments[0]);
           return j.notes.filter((n) => n.track === t.index)
                         .map((n) => [n.pitch, Math.round(n.start * 1000)]).sort();""",
        instrument,
    )


def test_chords_and_part_editing_in_the_browser(server, browser, tmp_path):
    """A progression shows in the chord lane; rewrite part 1, add a part, go back."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    d = browser
    d.get(server + "/")
    _wait(d, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#key option")) == 25, 60)
    _wait(d, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#add-instrument option")) > 10, 60)
    # group words are not offered for one new part
    offered = [
        o.get_attribute("value") for o in d.find_elements(By.CSS_SELECTOR, "#add-instrument option")
    ]
    assert "cello" in offered and "flute" in offered and "string quartet" not in offered
    chords_input = d.find_element(By.ID, "chords")
    assert "I IV V I" in chords_input.get_attribute("placeholder")
    assert "numerals" in d.find_element(By.ID, "chords-hint").text
    assert d.find_element(By.ID, "parts").get_attribute("disabled") is not None
    assert not d.find_elements(By.CSS_SELECTOR, "#track-list li")

    prompt = d.find_element(By.ID, "prompt")
    prompt.clear()
    prompt.send_keys("a reel in C major for violin and cello")
    Select(d.find_element(By.ID, "key")).select_by_value("C major")
    d.find_element(By.ID, "bars").send_keys("4")
    d.find_element(By.ID, "instruments").send_keys("violin, cello")
    d.find_element(By.ID, "seed").send_keys("5")
    chords_input.send_keys("C Am F G7")
    d.find_element(By.ID, "generate").click()
    status = d.find_element(By.ID, "status")
    _wait(d, lambda d: status.text.startswith("done"), 120, f"no piece: {status.text!r}")

    # the chord lane: the progression's symbols in order, on the roll's time axis
    lane = d.find_element(By.ID, "chord-lane")
    assert lane.is_displayed()
    labels = d.find_elements(By.CSS_SELECTOR, "#chord-lane .chord")
    assert [e.text for e in labels] == ["C", "Am", "F", "G7"]
    roll = d.find_element(By.ID, "pianoroll")
    geometry = d.execute_script(
        """const c = arguments[0], r = c.getBoundingClientRect(), L = rollLayout(c);
           const s = r.width / c.width;
           return {left: r.left, scale: s, x0: L.left, x1: L.right, dur: roll.duration,
                   starts: current.json.chords.map((ch) => ch.start_s)};""",
        roll,
    )
    for e, start in zip(labels, geometry["starts"], strict=True):
        x = geometry["left"] + geometry["scale"] * (
            geometry["x0"] + start / geometry["dur"] * (geometry["x1"] - geometry["x0"])
        )
        assert abs(e.rect["x"] - x) <= 2, (e.text, e.rect["x"], x)
    for a, b in zip(labels[:-1], labels[1:], strict=True):
        assert a.rect["x"] + a.rect["width"] <= b.rect["x"] + 1  # no overlap
    assert "C | Am | F | G7" in d.find_element(By.ID, "piece-chords").text
    # the chord under the playback cursor is marked
    d.execute_script("paintRoll(2.5)")
    assert [e.text for e in labels if "now" in e.get_attribute("class")] == ["Am"]
    d.execute_script("paintRoll(-1)")

    # rewrite part 1: a new piece, the same number of parts, the other part kept
    tracks = d.find_elements(By.CSS_SELECTOR, "#track-list li")
    assert len(tracks) == 2 and "Violin" in tracks[0].text and "Cello" in tracks[1].text
    assert tracks[0].find_element(By.TAG_NAME, "input").is_selected()
    before = d.execute_script("return current.json.midi_base64")
    cello = _track_notes(d, "Cello")
    assert d.find_element(By.ID, "undo").get_attribute("disabled") is not None
    d.find_element(By.ID, "rewrite-part").click()
    _wait(
        d, lambda d: status.text.startswith("part 1 rewritten"), 120, f"no rewrite: {status.text!r}"
    )
    assert "error" not in status.get_attribute("class")
    assert d.execute_script("return current.json.midi_base64") != before
    assert len(d.find_elements(By.CSS_SELECTOR, "#track-list li")) == 2
    assert d.execute_script("return current.json.tracks.length") == 2
    assert _track_notes(d, "Cello") == cello
    assert len(d.find_elements(By.CSS_SELECTOR, "#chord-lane .chord")) == 4
    _wait(
        d,
        lambda d: (d.find_element(By.ID, "player").get_attribute("src") or "").startswith("blob:"),
        60,
    )
    rewritten = d.execute_script("return current.json.midi_base64")

    # add a part: one more track
    Select(d.find_element(By.ID, "add-instrument")).select_by_value("flute")
    d.find_element(By.ID, "add-part").click()
    _wait(
        d,
        lambda d: status.text.startswith("flute part added"),
        120,
        f"no new part: {status.text!r}",
    )
    items = d.find_elements(By.CSS_SELECTOR, "#track-list li")
    assert len(items) == 3 and any("Flute" in li.text for li in items)
    assert d.find_element(By.ID, "track-list").get_attribute("data-tracks") == "3"
    assert "Flute" in d.find_element(By.ID, "piece-desc").text
    assert d.find_element(By.ID, "undo").is_enabled()
    # the new part is the chosen one; a click on a part in the roll's legend picks it
    new = d.execute_script("return selectedTrack")
    assert d.execute_script("return current.json.tracks[selectedTrack].instrument") == "Flute"
    assert "selected" in items[new].get_attribute("class")
    other = 1 if new != 1 else 0
    d.execute_script(
        """const c = arguments[0], r = c.getBoundingClientRect(), s = r.width / c.width;
           const box = roll.legend[arguments[1]];
           c.dispatchEvent(new MouseEvent('click', {bubbles: true,
             clientX: r.left + s * (box.x0 + box.x1) / 2, clientY: r.top + s * (box.y0 + box.y1) / 2}));""",
        roll,
        other,
    )
    assert d.execute_script("return selectedTrack") == other
    assert d.find_elements(By.CSS_SELECTOR, "#track-list li input")[other].is_selected()
    d.execute_script("window.scrollTo(0, arguments[0].offsetTop - 20)", chords_input)
    _save_screenshot(d, tmp_path, "serve-parts.png")

    # Back: the piece before the new part, with its track count
    d.find_element(By.ID, "undo").click()
    _wait(d, lambda d: status.text.startswith("back to"), 60, f"no undo: {status.text!r}")
    assert len(d.find_elements(By.CSS_SELECTOR, "#track-list li")) == 2
    assert d.execute_script("return current.json.midi_base64") == rewritten
    assert len(d.find_elements(By.CSS_SELECTOR, "#chord-lane .chord")) == 4


def test_part_errors_show_the_servers_message(server, browser):
    """Rewriting the only part is refused by the server: its detail in the status line."""
    from selenium.webdriver.common.by import By

    d = browser
    d.get(server + "/")
    _wait(d, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#add-instrument option")) > 10, 60)
    d.find_element(By.ID, "bars").send_keys("2")
    d.find_element(By.ID, "instruments").send_keys("flute")
    d.find_element(By.ID, "seed").send_keys("1")
    d.find_element(By.ID, "generate").click()
    status = d.find_element(By.ID, "status")
    _wait(d, lambda d: status.text.startswith("done"), 120, f"no piece: {status.text!r}")
    # one part: the button says why it is off; the route's own message if forced
    rewrite = d.find_element(By.ID, "rewrite-part")
    assert not rewrite.is_enabled() and "another part" in rewrite.get_attribute("title")
    d.execute_script("arguments[0].disabled = false; arguments[0].click()", rewrite)
    _wait(d, lambda d: "error" in status.get_attribute("class"), 60, "no error shown")
    assert "part" in status.text and "\n" not in status.text
    assert d.find_element(By.ID, "undo").get_attribute("disabled") is not None


@pytest.fixture(scope="module")
def server_v2(request):
    """The app on the tiny v2 model (trained with the infill layouts)."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    from tunesmith.api import Composer
    from tunesmith.serve import ServeSettings, create_app

    composer = Composer.load(request.getfixturevalue("tiny_run_v2"))
    yield from _serve(create_app(composer, ServeSettings()))


def test_bars_chosen_on_the_roll_are_rewritten(server_v2, browser):
    """A drag across the roll chooses bars; Rewrite bars replaces them, the rest kept."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    d = browser
    d.get(server_v2 + "/")
    _wait(d, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#key option")) == 25, 60)
    d.find_element(By.ID, "bars").send_keys("6")
    d.find_element(By.ID, "instruments").send_keys("violin, cello")
    d.find_element(By.ID, "seed").send_keys("3")
    d.find_element(By.ID, "generate").click()
    status = d.find_element(By.ID, "status")
    _wait(d, lambda d: status.text.startswith("done"), 120, f"no piece: {status.text!r}")
    rewrite = d.find_element(By.ID, "rewrite-bars")
    assert not rewrite.is_enabled()  # no bars chosen yet
    # drag from the middle of bar 2 to the middle of bar 3
    roll = d.find_element(By.ID, "pianoroll")
    g = d.execute_script(
        """const c = arguments[0], r = c.getBoundingClientRect(), L = rollLayout(c);
           return {w: r.width, scale: r.width / c.width, x0: L.left, x1: L.right,
                   bar: barSeconds(roll.json), dur: roll.duration};""",
        roll,
    )

    def offset(t):  # from the element's centre, as ActionChains measures
        x = g["scale"] * (g["x0"] + t / g["dur"] * (g["x1"] - g["x0"]))
        return int(x - g["w"] / 2)

    ActionChains(d).move_to_element_with_offset(
        roll, offset(1.5 * g["bar"]), 0
    ).click_and_hold().move_by_offset(
        offset(2.5 * g["bar"]) - offset(1.5 * g["bar"]), 0
    ).release().perform()
    assert d.find_element(By.ID, "bars-from").get_attribute("value") == "2"
    assert d.find_element(By.ID, "bars-to").get_attribute("value") == "3"
    assert rewrite.is_enabled()
    before = d.execute_script(
        "return current.json.notes.map((n) => [n.track, n.pitch, n.start.toFixed(3)])"
    )
    rewrite.click()
    _wait(d, lambda d: status.text.startswith("bars 2-3 rewritten"), 120, status.text)
    after = d.execute_script(
        "return current.json.notes.map((n) => [n.track, n.pitch, n.start.toFixed(3)])"
    )
    # the notes of bars 1 and 4-6 are the same; the chosen bars stay chosen
    outside = lambda notes: sorted(  # noqa: E731
        n for n in notes if not g["bar"] - 1e-3 <= float(n[2]) < 3 * g["bar"] - 1e-3
    )
    assert outside(after) == outside(before)
    assert d.execute_script("return barSel") == {"from": 2, "to": 3}
    assert d.find_element(By.ID, "undo").is_enabled()


def test_an_arrangement_picked_on_the_page_adds_the_band(server, browser):
    """The arrangement picker offers none, auto and the groove library's styles; a style
    adds its band (drums, bass, comping) under the model's melody, in its meter."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    d = browser
    d.get(server + "/")
    _wait(d, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#arrangement option")) > 10, 60)
    picker = Select(d.find_element(By.ID, "arrangement"))
    offered = [o.get_attribute("value") for o in picker.options]
    assert offered[:2] == ["none", "auto"] and {"waltz", "bossa-nova"} <= set(offered)
    assert picker.first_selected_option.get_attribute("value") == "none"
    prompt = d.find_element(By.ID, "prompt")
    prompt.clear()
    prompt.send_keys("a tune for flute")
    d.find_element(By.ID, "bars").send_keys("4")
    d.find_element(By.ID, "seed").send_keys("2")
    d.find_element(By.ID, "chords").send_keys("C G7 C G7")
    picker.select_by_value("waltz")
    d.find_element(By.ID, "generate").click()
    status = d.find_element(By.ID, "status")
    _wait(d, lambda d: status.text.startswith("done"), 120, f"no piece: {status.text!r}")
    tracks = d.execute_script("return current.json.tracks.map((t) => t.instrument)")
    assert tracks[0] == "Flute" and {"Drums", "Acoustic Bass"} <= set(tracks), tracks
    assert "3/4" in d.find_element(By.ID, "piece-info").text
