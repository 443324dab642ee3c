"""Uploads pass the MIDI gate: the server answers 422 at once, never 500 or a hung worker."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.music.test_gate import EVIL

from tunesmith.api import Composer
from tunesmith.serve import ServeSettings, create_app


@pytest.fixture(scope="module")
def client(tiny_run):
    app = create_app(Composer.load(tiny_run), ServeSettings(max_upload_bytes=256 * 1024))
    with TestClient(app) as c:
        yield c


@pytest.mark.parametrize("name", list(EVIL))
@pytest.mark.parametrize(
    "route, data",
    [
        ("/v1/render", {"format": "musicxml"}),
        ("/v1/render", {"format": "json"}),
        ("/v1/continue", {"bars": "8"}),
        ("/v1/chords", {}),
        ("/v1/harmonize", {}),
    ],
)
def test_evil_uploads_are_422_at_once(client, name, route, data):
    body, fragment = EVIL[name]
    r = client.post(route, data=data, files={"file": ("evil.mid", body, "audio/midi")})
    assert r.status_code == 422, r.text
    assert fragment in r.json()["detail"] and "\n" not in r.json()["detail"]
    queue = client.get("/health").json()["queue"]
    assert queue["running"] == 0 and queue["timed_out"] == 0  # refused before any job ran
