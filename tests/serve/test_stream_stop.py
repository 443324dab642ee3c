"""Who may stop what: in `serve` a stream is stopped and steered by its own client only and
no client can stop the server; with `stream --web` Stop ends the stream, not the server,
and quitting the server is its own request."""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from tunesmith.api import Composer
from tunesmith.serve import ServeSettings, create_app
from tunesmith.serve.streams import serve_shared_stream, stream_router
from tunesmith.stream import StreamSession, StreamSettings

PROMPT = "a chorale for strings in G major"


@pytest.fixture(scope="module")
def composer(tiny_run):
    return Composer.load(tiny_run)


def _start_event(lines) -> dict:
    for line in lines:
        if line.startswith("data: "):
            return json.loads(line[6:])
    raise AssertionError("no start event")


def _rest(lines) -> list[str]:
    return [line[7:] for line in lines if line.startswith("event: ")]


def test_served_streams_obey_their_own_client_only(composer):
    app = create_app(composer, ServeSettings(warmup=False), routers=[stream_router()])
    params = {"prompt": PROMPT, "duration": 60}
    with TestClient(app) as client:
        with (
            client.stream("GET", "/v1/stream", params=params) as a,
            client.stream("GET", "/v1/stream", params=params) as b,
        ):
            lines_a, lines_b = a.iter_lines(), b.iter_lines()
            next(lines_a), next(lines_b)  # "event: start"
            start_a, start_b = _start_event(lines_a), _start_event(lines_b)
            sid_a, sid_b = start_a["session"], start_b["session"]
            assert start_a["shared"] is False and start_a["token"] != start_b["token"]
            stop_a = f"/v1/stream/{sid_a}/stop"
            for headers in ({}, {"X-Stream-Token": start_b["token"]}):
                r = client.post(stop_a, headers=headers)
                assert r.status_code == 403 and "another client" in r.json()["detail"]
                r = client.post(f"/v1/stream/{sid_a}/control", json={"tempo": 90}, headers=headers)
                assert r.status_code == 403
            # nothing reaches the server's life over HTTP
            assert client.post("/v1/server/quit").status_code == 404
            runs = app.state.stream_hub.streams
            assert runs[sid_a].session.running and runs[sid_b].session.running
            r = client.post(stop_a, headers={"X-Stream-Token": start_a["token"]})
            assert r.status_code == 200
            assert _rest(lines_a)[-1] == "end"  # A's listener hears its end
            assert runs[sid_b].session.running  # B plays on
            r = client.post(
                f"/v1/stream/{sid_b}/stop", headers={"X-Stream-Token": start_b["token"]}
            )
            assert r.status_code == 200
            assert _rest(lines_b)[-1] == "end"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_web_stop_ends_the_stream_and_quit_ends_the_server(composer):
    session = StreamSession(
        composer,
        PROMPT,
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
    with httpx.Client(base_url=url, timeout=30) as http:
        deadline = time.monotonic() + 60
        while True:
            try:
                if http.get("/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        assert http.get("/v1/server").json()["quit"] == "/v1/server/quit"
        with http.stream("GET", "/v1/stream") as events:
            lines = events.iter_lines()
            start = _start_event(lines)
            assert start["shared"] is True and "token" not in start
            assert http.post(f"/v1/stream/{start['session']}/stop").status_code == 200
            assert _rest(lines)[-1] == "end"
        assert not session.running
        # the server is still there: the page loads, and says the stream was stopped
        assert http.get("/").status_code == 200
        again = http.get("/v1/stream")
        assert again.status_code == 409 and "quit the server" in again.json()["detail"]
        assert thread.is_alive()
        assert http.post("/v1/server/quit").json() == {"quit": True}
    thread.join(30)
    assert not thread.is_alive(), "the server did not stop on quit"
    assert done["report"].seconds > 0
