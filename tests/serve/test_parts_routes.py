"""The parts routes over HTTP with the tiny model: harmonize, add-part, infill, chords."""

from __future__ import annotations

import pytest
import symusic
from fastapi.testclient import TestClient
from tests.conftest import make_score

from tunesmith.api import Composer
from tunesmith.serve import ServeSettings, create_app


@pytest.fixture(scope="module")
def client(tiny_run):
    app = create_app(Composer.load(tiny_run), ServeSettings(max_upload_bytes=64 * 1024))
    with TestClient(app) as c:
        yield c


def midi(voices: int = 1, programs=(73,)) -> bytes:
    return make_score(0, (4, 4), voices, 2, list(programs), seed=2).dumps_midi()


def post(client, route: str, data: dict, body: bytes):
    return client.post(route, data=data, files={"file": ("x.mid", body, "audio/midi")})


def assert_one_line(resp, status: int, fragment: str) -> None:
    assert resp.status_code == status, resp.text
    detail = resp.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and fragment in detail, detail


def test_harmonize_keeps_the_melody_and_returns_chords(client):
    r = post(client, "/v1/harmonize", {"voices": "3", "style": "quartet", "seed": "1"}, midi())
    assert r.status_code == 200, r.text
    body = r.json()
    assert [t["program"] for t in body["tracks"]] == [40, 40, 41]
    given = symusic.Score.from_midi(midi()).to("second")
    melody = sorted((n.pitch, round(float(n.time), 3)) for n in given.tracks[0].notes)
    got = sorted((n["pitch"], round(n["start"], 3)) for n in body["notes"] if n["track"] == 0)
    assert got == melody
    assert len(body["chords"]) == 2 and all("symbol" in c for c in body["chords"])


def test_add_part_infill_and_chords(client):
    r = post(client, "/v1/add-part", {"instrument": "cello", "format": "midi"}, midi())
    assert r.status_code == 200 and r.content.startswith(b"MThd")
    trio = midi(3, (40, 41, 42))
    r = post(client, "/v1/infill", {"part": "2", "chords": "C G", "seed": "3"}, trio)
    assert r.status_code == 200, r.text
    r = client.post("/v1/chords", data={"per": "beat"}, files={"file": ("t.mid", trio)})
    assert r.status_code == 200 and len(r.json()) == 8


@pytest.mark.parametrize(
    "route, data, fragment",
    [
        ("/v1/harmonize", {"style": "bebop"}, "unknown style"),
        ("/v1/harmonize", {"voices": "9"}, "voices"),
        ("/v1/harmonize", {"chords": "C Q7"}, "unknown chord 'Q7'"),
        ("/v1/add-part", {"instrument": "kazooo"}, "unknown instrument"),
        ("/v1/infill", {"part": "5"}, "part 5 does not exist"),
        ("/v1/infill", {"part": "0"}, "part"),
        ("/v1/infill", {}, "a part or a span of bars"),
        ("/v1/infill", {"bars": "1-2"}, "trained without infill"),
        ("/v1/infill", {"bars": "x"}, "bars"),
        ("/v1/chords", {"per": "minute"}, "per"),
    ],
)
def test_bad_requests_are_422_with_one_line(client, route, data, fragment):
    assert_one_line(post(client, route, data, midi()), 422, fragment)


def test_an_empty_upload_is_refused(client):
    assert_one_line(post(client, "/v1/harmonize", {}, b""), 422, "empty")


def test_generate_with_an_arrangement_adds_the_band(client):
    body = {"prompt": "a tune", "attributes": {"bars": 2}, "seed": 1, "arrangement": "reggae"}
    r = client.post("/v1/generate", json=body)
    assert r.status_code == 200, r.text
    tracks = r.json()["tracks"]
    assert any(t["is_drum"] for t in tracks) and len(tracks) >= 3
    assert "reggae" in client.get("/v1/info").json()["arrangements"]
    r = client.post("/v1/generate", json={**body, "arrangement": "bebopp"})
    assert_one_line(r, 422, "no arrangement style 'bebopp'")


def test_infill_bars_on_a_v2_model(tiny_run_v2):
    app = create_app(Composer.load(tiny_run_v2), ServeSettings())
    with TestClient(app) as c:
        body = make_score(0, (4, 4), 2, 4, [40, 42], seed=6).dumps_midi()
        r = post(c, "/v1/infill", {"bars": "2-3", "seed": "1"}, body)
        assert r.status_code == 200, r.text
        assert r.json()["controls"]["bars"] == 4
        assert_one_line(post(c, "/v1/infill", {"bars": "4-7"}, body), 422, "outside the piece")
