"""The server over real sockets (uvicorn with tunesmith's protocol, tiny model): errors keep
the connection, slow clients are cut off, unparseable bodies are 422, and the small input
points of issue 22 (signed tempo strings, booleans as numbers, "yes" as true)."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import pytest
import uvicorn
from fastapi import APIRouter
from fastapi.testclient import TestClient

from tunesmith.api import Composer
from tunesmith.serve import ServeSettings, create_app, default_routers, uvicorn_target
from tunesmith.serve.protocol import TimedH11Protocol


class QuickHeadTimeout(TimedH11Protocol):
    head_timeout_s = 0.5


def _boom_router() -> APIRouter:
    router = APIRouter()

    @router.get("/boom")
    async def boom() -> dict:
        return {"ratio": 1 / 0}  # a bug in a route, not the client's fault

    return router


@pytest.fixture(scope="module")
def composer(tiny_run) -> Composer:
    return Composer.load(tiny_run)


@pytest.fixture(scope="module")
def server(composer):
    settings = ServeSettings(warmup=False, read_timeout_s=0.5)
    app = create_app(composer, settings, [_boom_router(), *default_routers()])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="critical", http=QuickHeadTimeout
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    t0 = time.time()
    while not srv.started and thread.is_alive() and time.time() - t0 < 60:
        time.sleep(0.05)
    assert srv.started
    yield port
    srv.should_exit = True
    thread.join(20)


def test_serve_runs_uvicorn_with_the_timed_protocol(tiny_run):
    _, options = uvicorn_target(ServeSettings(model=str(tiny_run)))
    assert options["http"] == "tunesmith.serve.protocol:TimedH11Protocol"
    assert options["timeout_keep_alive"] == 5


def test_an_internal_error_is_500_and_keeps_the_connection(server):
    conn = http.client.HTTPConnection("127.0.0.1", server, timeout=10)
    conn.request("GET", "/boom")
    r = conn.getresponse()
    body = r.read()
    assert r.status == 500 and json.loads(body) == {"detail": "internal error"}
    sock = conn.sock
    conn.request("GET", "/health")  # the same keep-alive connection
    r = conn.getresponse()
    assert r.status == 200 and json.loads(r.read())["status"] == "ok"
    assert conn.sock is sock  # not reconnected: the server kept it open
    conn.close()


def test_a_silent_client_is_cut_off(server):
    with socket.create_connection(("127.0.0.1", server), timeout=10) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        t0 = time.monotonic()
        assert s.recv(1024) == b""  # closed by the server
        assert time.monotonic() - t0 < 5


def _read_until_closed(s: socket.socket) -> bytes:
    chunks = []
    while chunk := s.recv(4096):
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_slow_body_is_408(server):
    with socket.create_connection(("127.0.0.1", server), timeout=10) as s:
        s.sendall(
            b"POST /v1/generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"prompt": '
        )
        reply = _read_until_closed(s)  # head and body may arrive in separate segments
        assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
        assert b"did not arrive within 0.5 s" in reply


@pytest.fixture(scope="module")
def client(composer):
    app = create_app(composer, ServeSettings(warmup=False), default_routers())
    with TestClient(app) as c:
        yield c


@pytest.mark.parametrize(
    ("headers", "content"),
    [
        ({"content-type": "multipart/form-data"}, b"no boundary"),
        ({"content-type": "multipart/form-data; boundary=zz"}, b"--zz\r\nbroken"),
        ({"content-type": "application/json"}, b"{not json"),
    ],
)
def test_unparseable_bodies_are_422(client, headers, content):
    for path in ("/v1/render", "/v1/generate"):
        r = client.post(path, content=content, headers=headers)
        assert r.status_code == 422, (path, r.text)
        assert "\n" not in r.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"attributes": {"tempo": "-200"}}, "tempo"),
        ({"attributes": {"bars": True}}, "attributes.bars"),
        ({"attributes": {"tempo": True}}, "attributes.tempo"),
        ({"sampling": {"temperature": True}}, "sampling.temperature"),
        ({"seed": False}, "seed"),
        ({"humanize": True}, "humanize"),
    ],
)
def test_no_negative_tempo_strings_and_no_booleans_as_numbers(client, body, field):
    r = client.post("/v1/generate", json={"prompt": "a reel", **body})
    assert r.status_code == 422, r.text
    assert field in r.json()["detail"]


def test_yes_is_not_true_for_a_stream_control(client):
    r = client.post("/v1/stream/nosuch/control", json={"panic": "yes"})
    assert r.status_code == 422 and "panic" in r.json()["detail"]


def test_work_over_the_budget_is_422(client):
    body = {"prompt": "a piece", "attributes": {"bars": 64, "instruments": ["violin", "cello"]},
            "sampling": {"candidates": 8}}  # fmt: skip
    r = client.post("/v1/generate", json=body)
    assert r.status_code == 422 and "1,024 bar-parts" in r.json()["detail"]
    assert "at most 128" in r.json()["detail"]


def test_notation_over_its_caps_is_422(client):
    import symusic

    s = symusic.Score(480)
    t = symusic.Track(program=0)
    for i in range(600):  # 600 bars of whole notes
        t.notes.append(symusic.Note(i * 1920, 1920, 60, 80))
    s.tracks.append(t)
    files = {"file": ("long.mid", s.dumps_midi(), "audio/midi")}
    r = client.post("/v1/render", files=files, data={"format": "musicxml"})
    assert r.status_code == 422 and "at most 512 bars x parts" in r.json()["detail"]
    ok = client.post("/v1/render", files=files, data={"format": "midi"})
    assert ok.status_code == 200


def test_more_parts_than_the_cap_is_422(client):
    body = {"prompt": "a piece", "attributes": {"bars": 2, "instruments": ["violin"] * 10}}
    r = client.post("/v1/generate", json=body)
    assert r.status_code == 422 and "at most 8 parts" in r.json()["detail"]
