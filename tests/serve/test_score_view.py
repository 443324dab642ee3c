"""The web page's score view in a real browser (headless Chromium, Selenium): after a piece
is generated, the server's SVG engraving (POST /v1/render, format svg) shows under the
piano roll with its parts, clefs, key and time signatures and chord symbols. The screenshot
goes to $TUNESMITH_SCREENSHOT_DIR when set (docs/images/score_view.png), else the test's
temporary folder. Skipped, saying why, where Chromium cannot run (tests/serve/test_browser.py).
"""

from __future__ import annotations

import pytest
from tests.serve.test_browser import (  # noqa: F401  (fixtures used by name)
    _save_screenshot,
    _wait,
    browser,
    composer,
    server,
)

pytestmark = pytest.mark.slow

SCORE_FACTS = """
const box = document.getElementById('score-svg');
const measure = box.querySelector('g.measure');
const text = (sel) => [...box.querySelectorAll(sel)].map((e) => e.textContent.replace(/\\s+/g, ''));
return {
  staves: measure ? measure.querySelectorAll('g.staff').length : 0,
  clefs: box.querySelectorAll('g.clef').length,
  keySigs: box.querySelectorAll('g.keySig').length,
  meterSigs: box.querySelectorAll('g.meterSig').length,
  harm: text('g.harm'),
  parts: current.json.tracks.filter((t) => t.num_notes > 0).length,
  width: box.getBoundingClientRect().width,
};
"""


def test_score_view_shows_the_engraved_piece(server, browser, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    d = browser
    d.get(server + "/")
    _wait(d, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#key option")) == 25, 60)
    assert not d.find_element(By.ID, "score-view").is_displayed()  # nothing to show yet
    prompt = d.find_element(By.ID, "prompt")
    prompt.clear()
    prompt.send_keys("a waltz in G major for flute and cello")
    Select(d.find_element(By.ID, "key")).select_by_value("G major")
    Select(d.find_element(By.ID, "meter")).select_by_value("3/4")
    d.find_element(By.ID, "bars").send_keys("4")
    d.find_element(By.ID, "instruments").send_keys("flute, cello")
    d.find_element(By.ID, "seed").send_keys("3")
    d.find_element(By.ID, "chords").send_keys("G C D7 G")
    d.find_element(By.ID, "generate").click()
    status = d.find_element(By.ID, "status")
    _wait(d, lambda d: status.text.startswith("done"), 180, f"no piece: {status.text!r}")

    box = d.find_element(By.ID, "score-svg")
    _wait(d, lambda d: box.get_attribute("data-ready") == "1", 120, f"no score: {box.text!r}")
    assert d.find_element(By.ID, "score-view").is_displayed()
    facts = d.execute_script(SCORE_FACTS)
    assert facts["parts"] >= 1 and facts["staves"] == facts["parts"]  # a staff per part, per bar
    assert facts["clefs"] >= facts["parts"]
    assert facts["keySigs"] >= 1 and facts["meterSigs"] >= 1  # G major (one sharp), 3/4
    assert facts["harm"] == ["G", "C", "D7", "G"]  # the requested chords, one per bar
    assert facts["width"] > 400  # laid out, not collapsed
    for fmt in ("svg", "abc"):
        assert d.find_element(By.ID, f"download-{fmt}").is_enabled()

    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", box)
    shot = _save_screenshot(d, tmp_path, "score_view.png")
    assert shot.stat().st_size > 10_000
