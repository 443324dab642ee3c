"""Sheet music and ABC on the server: /v1/render writes SVG and ABC, and takes ABC uploads."""

from __future__ import annotations

import pytest
import symusic
from fastapi.testclient import TestClient

from tunesmith.api import Composer
from tunesmith.serve import ServeSettings, create_app

TUNE = "X:1\nT:up\nM:3/4\nL:1/4\nQ:1/4=90\nK:F\nF G A|B c d|c3|]\n"


@pytest.fixture(scope="module")
def client(tiny_run):
    app = create_app(Composer.load(tiny_run), ServeSettings())
    with TestClient(app) as c:
        yield c


def _midi(tmp_path) -> bytes:
    s = symusic.Score(480)
    s.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    for program, base in ((73, 72), (42, 48)):
        t = symusic.Track(program=program)
        for i in range(8):
            t.notes.append(symusic.Note(i * 480, 480, base + (i % 5), 80))
        s.tracks.append(t)
    path = tmp_path / "duo.mid"
    s.dump_midi(str(path))
    return path.read_bytes()


def test_svg_and_abc_of_an_uploaded_midi(client, tmp_path):
    midi = _midi(tmp_path)
    files = {"file": ("duo.mid", midi, "audio/midi")}
    r = client.post("/v1/render", data={"format": "svg", "chords": "C | Am"}, files=files)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("image/svg+xml")
    svg = r.text
    assert svg.startswith("<svg") and svg.count('class="staff"') >= 2
    assert 'class="clef"' in svg and 'class="meterSig"' in svg
    assert svg.count('class="harm"') == 2  # the chords sent: C, then Am
    r = client.post("/v1/render", data={"format": "abc", "chords": "C | Am"}, files=files)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/vnd.abc")
    assert r.text.startswith("X:1\n") and '"C"' in r.text and '"Am"' in r.text
    assert "V:2" in r.text  # both parts
    assert r.headers["content-disposition"].endswith('.abc"')


def test_abc_uploads_are_read_like_midi(client):
    files = {"file": ("up.abc", TUNE.encode(), "text/plain")}
    r = client.post("/v1/render", data={"format": "json"}, files=files)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [n["pitch"] for n in body["notes"]] == [65, 67, 69, 70, 72, 74, 72]
    assert body["time_signature"] == "3/4" and body["tempo"] == pytest.approx(90, abs=1)
    r = client.post("/v1/chords", files={"file": ("tune.txt", TUNE.encode(), "text/plain")})
    assert r.status_code == 200 and len(r.json()) == 3  # ABC by content, whatever the name


@pytest.mark.parametrize(
    "text, fragment",
    [("X:1\nT:none\nK:C\n", "the uploaded ABC file has no notes"), ("hello\n", "is not ABC")],
)
def test_malformed_abc_upload_is_422(client, text, fragment):
    r = client.post("/v1/render", data={"format": "svg"}, files={"file": ("bad.abc", text)})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert fragment in detail and "\n" not in detail
