"""The streaming endpoints: server-sent note events and live controls over HTTP."""

from __future__ import annotations

import json
import threading
import time

import pytest

from tunesmith.serve.streams import StreamHub

PROMPT = "a chorale for strings in G major"


@pytest.fixture(scope="module")
def client(stream_client):
    return stream_client


def read_events(lines):
    events, name = [], None
    for line in lines:
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            events.append((name, json.loads(line[6:])))
    return events


def test_stream_sends_notes_and_takes_live_controls(client):
    replies = {}

    def steer(sid, token):
        time.sleep(1.0)
        url, own = f"/v1/stream/{sid}/control", {"X-Stream-Token": token}
        replies["key"] = client.post(url, json={"key": "D minor"}, headers=own)
        replies["bad"] = client.post(url, json={"key": "H minor"}, headers=own)
        replies["extra"] = client.post(url, json={"volume": 2}, headers=own)
        replies["empty"] = client.post(url, json={}, headers=own)
        # the loop applies a queued change between decode steps: give it that moment
        deadline = time.monotonic() + 2.0
        while True:
            replies["status"] = client.get(f"/v1/stream/{sid}")
            if replies["status"].json()["key"] == "D minor" or time.monotonic() > deadline:
                break
            time.sleep(0.05)

    with client.stream("GET", "/v1/stream", params={"prompt": PROMPT, "duration": 4}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = r.iter_lines()
        first = [next(lines), next(lines)]
        assert first[0] == "event: start"
        start = json.loads(first[1][6:])
        t = threading.Thread(target=steer, args=(start["session"], start["token"]))
        t.start()
        events = read_events(lines)
        t.join()
    names = [n for n, _ in events]
    assert names[-1] == "end" and "note" in names
    note = next(d for n, d in events if n == "note")
    assert set(note) >= {"t", "pitch", "velocity", "duration", "program", "channel"}
    times = [d["t"] for n, d in events if n == "note"]
    assert times == sorted(times) and times[-1] <= 4.0
    assert replies["key"].status_code == 200
    assert replies["key"].json() == {"applied": {"key": "D minor"}}
    assert ("control", {"name": "key", "value": "D minor"}) in [
        (n, {k: d[k] for k in ("name", "value")}) for n, d in events if n == "control"
    ]
    for bad in ("bad", "extra", "empty"):
        assert replies[bad].status_code == 422, bad
        assert "Traceback" not in replies[bad].text
    assert replies["status"].json()["key"] == "D minor"


def test_stream_errors(client):
    assert client.get("/v1/stream", params={"prompt": " "}).status_code == 422
    assert client.get("/v1/stream", params={"prompt": "x", "tempo": 5}).status_code == 422
    assert client.get("/v1/stream", params={"prompt": "x", "key": "Q"}).status_code == 422
    # the same bounds as everywhere else (conditioning/limits.py)
    for params in ({"temperature": 2.5}, {"top_k": -1}, {"top_p": 0}, {"cfg": 30},
                   {"repetition_penalty": 0.5}, {"key_guidance": 9}, {"preset": "wild"},
                   {"tempo": 401}):  # fmt: skip
        r = client.get("/v1/stream", params={"prompt": "x", **params})
        assert r.status_code == 422 and next(iter(params)) in r.json()["detail"], params
    assert client.post("/v1/stream/nope/control", json={"panic": True}).status_code == 404
    assert client.post("/v1/stream/nope/stop").status_code == 404
    app = client.app
    saved = getattr(app.state, "stream_hub", None)
    app.state.stream_hub = StreamHub(max_sessions=0)
    try:
        r = client.get("/v1/stream", params={"prompt": PROMPT})
        assert r.status_code == 429 and "too many" in r.json()["detail"]
    finally:
        app.state.stream_hub = saved
