"""The HTTP API with the tiny model: every endpoint, every validation error, the limits."""

from __future__ import annotations

import base64
import io
import re
import threading
import time
import wave

import pytest
import symusic
from fastapi.testclient import TestClient
from tests.conftest import assert_one_line_error, make_score, run_cli

from tunesmith.api import Composer
from tunesmith.generate.sampling import PRESETS
from tunesmith.music.keys import KEYS
from tunesmith.serve import ServeSettings, create_app
from tunesmith.serve.limits import JobCancelledError


@pytest.fixture(scope="module")
def composer(tiny_run) -> Composer:
    return Composer.load(tiny_run)


@pytest.fixture(scope="module")
def client(composer):
    app = create_app(composer, ServeSettings(max_upload_bytes=64 * 1024))
    with TestClient(app) as c:
        yield c


def small_midi(bars: int = 2, tonic: int = 2) -> bytes:
    score = make_score(tonic, (4, 4), 1, bars, [110], seed=1)
    return score.dumps_midi()


def gen(client, fmt="json", **fields):
    body = {"prompt": "a reel in D major", "attributes": {"bars": 2}, "seed": 7, "format": fmt}
    body.update(fields)
    return client.post("/v1/generate", json=body)


def assert_one_line(resp, status: int, fragment: str) -> None:
    assert resp.status_code == status, resp.text
    detail = resp.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail
    assert fragment.lower() in detail.lower(), detail
    assert "Traceback" not in resp.text


# -- meta ---------------------------------------------------------------------------------
def test_health(client):
    r = client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["model_loaded"] is True
    assert body["queue"]["capacity"] == 10 and body["queue"]["running"] == 0


def test_info_lists_model_presets_keys_instruments_and_limits(client, tiny_run):
    r = client.get("/v1/info")
    assert r.status_code == 200
    info = r.json()
    assert info["presets"] == PRESETS
    assert info["keys"] == list(KEYS) and len(info["keys"]) == 24
    assert "6/8" in info["meters"] and "reel" in info["styles"]
    assert "fiddle" in info["instruments"]["words"]
    assert info["instruments"]["programs"][0]["name"] == "Acoustic Grand Piano"
    assert info["limits"]["max_bars"] == 64 and info["limits"]["max_candidates"] == 8
    assert info["tempo"] == {"min": 20.0, "max": 400.0}
    assert info["sampling"]["temperature"] == {"min_exclusive": 0, "max": 2}
    assert set(info["sampling"]) == {"temperature", "top_k", "top_p", "repetition_penalty",
                                     "cfg", "key_guidance", "candidates"}  # fmt: skip
    model = info["model"]
    assert model["parameters"] > 0 and model["config"]["n_layer"] == 2
    assert model["default_model"] is False
    assert str(tiny_run) not in r.text  # no file-system paths go out


def test_openapi_docs_and_page(client):
    docs = client.get("/docs")
    assert docs.status_code == 200
    # the docs page's script and style come from this server, not a CDN (works offline)
    assert "http" not in "".join(re.findall(r'(?:src|href)="([^"]+)"', docs.text))
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    spec = client.get("/openapi.json").json()
    for path in ("/v1/generate", "/v1/continue", "/v1/render", "/v1/info", "/health"):
        assert path in spec["paths"]
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for element in ('id="pianoroll"', 'id="player"', 'id="live-start"', 'id="live-panic"'):
        assert element in page.text
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/style.css").status_code == 200


def test_static_files_do_not_escape_their_folder(client):
    for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert "create_app" not in r.text


# -- generate -----------------------------------------------------------------------------
def test_generate_json_notes(client):
    r = gen(client)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["seed"] == 7 and body["controls"]["key"] == "D major"
    assert body["controls"]["bars"] == 2 and body["controls"]["style"] == "reel"
    assert body["num_notes"] == len(body["notes"])
    for n in body["notes"]:
        assert set(n) == {"track", "program", "pitch", "start", "duration", "velocity"}
        assert 0 <= n["pitch"] < 128 and n["duration"] > 0 and n["start"] >= 0
        assert 0 <= n["track"] < len(body["tracks"])
    midi = base64.b64decode(body["midi_base64"])
    assert midi[:4] == b"MThd"
    assert sum(len(t.notes) for t in symusic.Score.from_midi(midi).tracks) == body["num_notes"]


def test_generate_is_performed_unless_asked_not_to(client):
    played = gen(client, attributes={"bars": 4}).json()
    plain = gen(client, attributes={"bars": 4}, performance="none").json()
    assert {n["velocity"] for n in plain["notes"]} == {80}
    assert len({n["velocity"] for n in played["notes"]}) > 1
    onsets = lambda body: sorted((n["pitch"], round(n["start"], 4)) for n in body["notes"])  # noqa: E731
    assert onsets(played) == onsets(plain)  # the same notes, played
    assert_one_line(gen(client, humanize=90), 422, "humanize")
    assert_one_line(gen(client, performance="loud"), 422, "performance")


def test_generate_is_reproducible_with_a_seed_and_picks_one_without(client):
    a, b = gen(client).json(), gen(client).json()
    assert a["notes"] == b["notes"]
    c = client.post("/v1/generate", json={"attributes": {"bars": 2}}).json()
    assert isinstance(c["seed"], int)


@pytest.mark.parametrize(
    "fmt, media, magic",
    [
        ("midi", "audio/midi", b"MThd"),
        ("wav", "audio/wav", b"RIFF"),
        ("musicxml", "application/vnd.recordare.musicxml+xml", b"<?xml"),
    ],
)
def test_generate_files(client, fmt, media, magic):
    r = gen(client, fmt)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(media)
    assert r.content.startswith(magic)
    assert "attachment; filename=" in r.headers["content-disposition"]
    assert r.headers["x-tunesmith-seed"] == "7"
    if fmt == "wav":
        with wave.open(io.BytesIO(r.content)) as w:
            assert w.getnchannels() == 2 and w.getframerate() == 44100 and w.getnframes() > 0


def test_generate_with_every_attribute_and_sampling_option(client):
    r = client.post(
        "/v1/generate",
        json={
            "prompt": "a waltz",
            "attributes": {
                "key": "F#m",
                "meter": "3/4",
                "tempo": 96,
                "instruments": ["violin", "cello"],
                "seconds": 5,
                "style": "waltz",
            },
            "sampling": {
                "preset": "conservative",
                "temperature": 0.9,
                "top_k": 20,
                "top_p": 0.9,
                "repetition_penalty": 1.1,
                "cfg": 1.5,
                "key_guidance": 1.0,
                "candidates": 2,
            },
            "seed": 3,
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    c = body["controls"]
    assert c["key"] == "F# minor" and c["meter"] == "3/4" and c["tempo"] == 96
    assert c["instruments"] == [40, 42] and c["style"] == "waltz"
    assert c["bars"] == 3  # 5 s at 96 bpm in 3/4
    assert "total" in body["scores"]  # two candidates were scored


def test_instruments_as_a_comma_separated_string_and_tempo_as_a_word(client):
    r = gen(client, attributes={"bars": 2, "instruments": "flute, oboe", "tempo": "allegro"})
    assert r.status_code == 200, r.text
    assert r.json()["controls"]["instruments"] == [73, 68]


# -- validation: every error is a 422 with one clear line ---------------------------------
@pytest.mark.parametrize(
    "body, fragment",
    [
        ({"attributes": {"key": "H major"}}, "unknown key"),
        ({"attributes": {"meter": "11/9"}}, "unsupported meter"),
        ({"attributes": {"instruments": ["kazoo"]}}, "unknown instrument"),
        ({"attributes": {"instruments": [200]}}, "outside 0-127"),
        ({"attributes": {"style": "polka-dot"}}, "unknown style"),
        ({"attributes": {"tempo": 1000}}, "tempo"),
        ({"attributes": {"tempo": "zippy"}}, "tempo"),
        ({"attributes": {"bars": 0}}, "attributes.bars"),
        ({"attributes": {"bars": 65}}, "at most 64 bars"),
        ({"attributes": {"bars": 4, "seconds": 10}}, "not both"),
        ({"attributes": {"seconds": 121}}, "at most 120"),
        ({"attributes": {"seconds": -1}}, "attributes.seconds"),
        ({"attributes": {"seconds": 60, "tempo": 400, "meter": "2/4"}}, "at most 64 bars"),
        ({"prompt": "a jig lasting 200 bars"}, "64 bars"),
        ({"prompt": "x" * 501}, "limit is 500"),
        ({"prompt": 5}, "prompt"),
        ({"sampling": {"temperature": 0}}, "sampling.temperature"),
        ({"sampling": {"temperature": 2.5}}, "sampling.temperature"),
        ({"sampling": {"top_k": -1}}, "sampling.top_k"),
        ({"sampling": {"top_p": 0}}, "sampling.top_p"),
        ({"sampling": {"top_p": 1.5}}, "sampling.top_p"),
        ({"sampling": {"cfg": 30}}, "sampling.cfg"),
        ({"sampling": {"repetition_penalty": 0.5}}, "sampling.repetition_penalty"),
        ({"sampling": {"key_guidance": 9}}, "sampling.key_guidance"),
        ({"sampling": {"seed": 1}}, "sampling.seed: is not a known field"),
        ({"sampling": {"candidates": 9}}, "between 1 and 8"),
        ({"sampling": {"candidates": 0}}, "sampling.candidates"),
        ({"sampling": {"preset": "wild"}}, "sampling.preset"),
        ({"seed": -1}, "seed"),
        ({"seed": "abc"}, "seed"),
        ({"format": "aiff"}, "format"),
        ({"model": "/etc"}, "model: is not a known field"),
        ({"attributes": {"path": "/tmp/x.mid"}}, "attributes.path: is not a known field"),
        ({"attributes": "D major"}, "attributes"),
    ],
)
def test_generate_validation_errors(client, body, fragment):
    assert_one_line(client.post("/v1/generate", json=body), 422, fragment)


def test_invalid_json_and_wrong_content_type(client):
    bad = client.post(
        "/v1/generate", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert_one_line(bad, 422, "not valid JSON")
    assert client.post("/v1/generate", content=b"prompt=x").status_code == 422


def test_oversized_json_body_is_refused(client):
    r = client.post("/v1/generate", json={"prompt": "x" * 200_000})
    assert_one_line(r, 413, "limit")


# -- continue -----------------------------------------------------------------------------
def cont(client, data=None, midi=None, name="in.mid"):
    fields = {"bars": "4", "seed": "1", "format": "json"}
    fields.update(data or {})
    payload = small_midi() if midi is None else midi
    return client.post("/v1/continue", files={"file": (name, payload, "audio/midi")}, data=fields)


def test_continue_keeps_the_input_and_reaches_the_length(client):
    r = cont(client, {"prompt": "a reel", "temperature": "0.9", "top_k": "32", "top_p": "0.9",
                      "repetition_penalty": "1.1", "key_guidance": "0"})  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    given = symusic.Score.from_midi(small_midi())
    first = sorted((n.pitch, n.time) for n in given.tracks[0].notes)
    assert body["num_notes"] >= len(first)
    assert body["controls"]["bars"] == 4 and body["controls"]["instruments"] == [110]


@pytest.mark.parametrize(
    "fmt, magic", [("midi", b"MThd"), ("wav", b"RIFF"), ("musicxml", b"<?xml")]
)
def test_continue_files(client, fmt, magic):
    r = cont(client, {"format": fmt, "preset": "balanced", "candidates": "2", "cfg": "1.0"})
    assert r.status_code == 200, r.text
    assert r.content.startswith(magic)


@pytest.mark.parametrize(
    "data, midi, status, fragment",
    [
        ({}, b"not a midi file at all", 422, "not a valid MIDI"),
        ({}, b"MThd\x00\x00garbage", 422, "not a valid MIDI"),
        ({}, b"", 422, "empty"),
        ({"bars": "2"}, None, 422, "must be larger"),
        ({"bars": "0"}, None, 422, "bars"),
        ({"bars": "65"}, None, 422, "at most 64 bars"),
        ({"bars": "many"}, None, 422, "bars"),
        ({"candidates": "9"}, None, 422, "between 1 and 8"),
        ({"temperature": "0"}, None, 422, "temperature"),
        ({"top_p": "2"}, None, 422, "top_p"),
        ({"format": "aiff"}, None, 422, "format"),
        ({"preset": "wild"}, None, 422, "preset"),
        ({"prompt": "y" * 501}, None, 422, "limit is 500"),
        ({}, b"x" * (64 * 1024 + 1), 413, "limit"),
        ({}, b"x" * (300 * 1024), 413, "limit"),
    ],
)
def test_continue_errors(client, data, midi, status, fragment):
    assert_one_line(cont(client, data, midi), status, fragment)


def test_continue_needs_a_file_and_bars(client):
    assert_one_line(client.post("/v1/continue", data={"bars": "4"}), 422, "file: is required")
    r = client.post("/v1/continue", files={"file": ("a.mid", small_midi(), "audio/midi")})
    assert_one_line(r, 422, "bars: is required")


def test_continue_refuses_a_midi_without_notes(client):
    empty = symusic.Score(480)
    empty.tracks.append(symusic.Track(program=0))
    assert_one_line(cont(client, midi=empty.dumps_midi()), 422, "no notes")


def test_continue_ignores_the_upload_name(client):
    r = cont(client, name="../../etc/passwd")
    assert r.status_code == 200, r.text


# -- render -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "fmt, magic", [("wav", b"RIFF"), ("musicxml", b"<?xml"), ("midi", b"MThd"), ("json", b"{")]
)
def test_render(client, fmt, magic):
    r = client.post(
        "/v1/render",
        files={"file": ("p.mid", small_midi(), "audio/midi")},
        data={"format": fmt, "key": "D major", "title": "a reel"},
    )
    assert r.status_code == 200, r.text
    assert r.content.startswith(magic)


def test_render_errors(client):
    files = {"file": ("p.mid", small_midi(), "audio/midi")}
    assert_one_line(client.post("/v1/render", files=files, data={"key": "Q"}), 422, "unknown key")
    bad = {"file": ("p.mid", b"junk", "audio/midi")}
    assert_one_line(client.post("/v1/render", files=bad), 422, "not a valid MIDI")


def test_wav_length_is_capped(composer):
    app = create_app(composer, ServeSettings(max_audio_seconds=1.0, warmup=False))
    with TestClient(app) as c:
        r = c.post("/v1/render", files={"file": ("p.mid", small_midi(4), "audio/midi")})
        assert_one_line(r, 422, "longer than the server renders")


# -- limits: queue, timeout, internal errors ------------------------------------------------
def test_queue_full_is_429_and_frees_up(composer, monkeypatch):
    gate = threading.Event()
    started = threading.Event()
    real = composer.generate_with

    def slow(*args, **kwargs):
        started.set()
        gate.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(composer, "generate_with", slow)
    app = create_app(composer, ServeSettings(max_concurrent=1, max_queue=1, warmup=False))
    with TestClient(app) as c:
        results: list[int] = []

        def call():
            results.append(gen(c, "midi").status_code)

        threads = [threading.Thread(target=call) for _ in range(2)]
        threads[0].start()
        assert started.wait(30)
        threads[1].start()  # waits in the queue
        deadline = time.time() + 30
        while c.get("/health").json()["queue"]["waiting"] < 1 and time.time() < deadline:
            time.sleep(0.02)
        r = gen(c, "midi")
        assert_one_line(r, 429, "busy")
        assert r.headers["retry-after"]
        gate.set()
        for t in threads:
            t.join(60)
        assert results == [200, 200]
        q = c.get("/health").json()["queue"]
        assert q["running"] == 0 and q["waiting"] == 0 and q["rejected"] == 1
        assert gen(c, "midi").status_code == 200


def test_timeout_is_504_and_stops_the_job(composer, monkeypatch):
    stopped = threading.Event()

    def endless(controls, sampling, prompt="", candidates=1, progress=None, chords=None):
        try:
            while True:
                progress(0, 1)
                time.sleep(0.01)
        except JobCancelledError:
            stopped.set()
            raise

    monkeypatch.setattr(composer, "generate_with", endless)
    app = create_app(composer, ServeSettings(timeout_s=0.3, max_concurrent=1, warmup=False))
    with TestClient(app) as c:
        r = gen(c, "json")
        assert_one_line(r, 504, "0.3 s")
        assert stopped.wait(10)  # the worker thread was told to stop, and did
        deadline = time.time() + 10
        while c.get("/health").json()["queue"]["running"] and time.time() < deadline:
            time.sleep(0.02)
        q = c.get("/health").json()["queue"]
        assert q["running"] == 0 and q["timed_out"] == 1


def test_unexpected_errors_are_500_without_details(composer, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("secret detail at /home/user/model.py line 3")

    monkeypatch.setattr(composer, "generate_with", broken)
    app = create_app(composer, ServeSettings(warmup=False))
    with TestClient(app, raise_server_exceptions=False) as c:
        r = gen(c, "json")
    assert r.status_code == 500
    assert r.json() == {"detail": "internal error"}
    assert "secret" not in r.text and "Traceback" not in r.text
    assert "secret detail" in caplog.text  # logged on the server side


def test_model_not_loaded_is_503(composer):
    app = create_app(None, ServeSettings(warmup=False))
    c = TestClient(app)  # no lifespan: nothing was loaded
    assert_one_line(c.get("/v1/info"), 503, "not loaded")
    assert c.get("/health").json()["model_loaded"] is False


def test_lifespan_loads_the_model_once(tiny_run, monkeypatch):
    calls = []
    real = Composer.load

    def counting(path=None, device=None, backend="auto", threads=None):
        calls.append(path)
        return real(path, device, backend, threads)

    monkeypatch.setattr(Composer, "load", staticmethod(counting))
    app = create_app(None, ServeSettings(model=str(tiny_run), warmup=False))
    with TestClient(app) as c:
        assert c.get("/health").json()["model_loaded"] is True
        assert gen(c, "midi").status_code == 200
        assert gen(c, "midi").status_code == 200
    assert calls == [str(tiny_run)]


def test_settings_are_validated():
    from tunesmith.errors import BadInputError

    with pytest.raises(BadInputError, match="max_concurrent"):
        ServeSettings(max_concurrent=0).validated()
    s = ServeSettings(max_bars=16, timeout_s=5)
    assert ServeSettings.from_dict({**s.to_dict(), "unknown": 1}) == s


# -- the command ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, fragment",
    [
        (["serve", "--model", "no-such-model"], "does not exist"),
        (["serve", "--port", "70000"], "--port"),
        (["serve", "--workers", "0"], "--workers"),
        (["serve", "--concurrency", "0"], "--concurrency"),
        (["serve", "--timeout", "0"], "--timeout"),
    ],
)
def test_serve_command_bad_input_is_one_line(args, fragment, tmp_path):
    assert_one_line_error(run_cli(*args, cwd=tmp_path, timeout=120), fragment)
