"""Fuzzing every route (hypothesis, tiny model, a few examples each so CI stays quick): no
500, no traceback, one-line errors, every call answered within the timeout, and the slots
free afterwards. `benchmarks/fuzz.py` runs the same inputs many more times against a real
server."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.fuzzing import (
    UPLOAD_ROUTES,
    control_bodies,
    generate_bodies,
    stream_queries,
    upload_requests,
)

from tunesmith.api import Composer
from tunesmith.serve import ServeSettings, create_app, default_routers

TIMEOUT_S = 4.0
FUZZ = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,
)


@pytest.fixture(scope="module")
def client(tiny_run):
    composer = Composer.load(tiny_run)
    app = create_app(
        composer,
        ServeSettings(timeout_s=TIMEOUT_S, max_concurrent=1, max_queue=1, warmup=False),
        default_routers(),
    )
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
        t0 = time.monotonic()  # afterwards: every slot free again
        while c.get("/health").json()["queue"]["running"] and time.monotonic() - t0 < 10:
            time.sleep(0.05)
        queue = c.get("/health").json()["queue"]
        assert queue["running"] == 0 and queue["waiting"] == 0


def check(r, elapsed: float) -> None:
    assert r.status_code < 500 or r.status_code == 504, (r.status_code, r.text[:300])
    assert "Traceback" not in r.text and 'File "' not in r.text
    if r.status_code >= 400:
        detail = r.json()["detail"]
        assert isinstance(detail, str) and detail and "\n" not in detail
    assert elapsed < TIMEOUT_S + 5, elapsed


def timed(call, *args, **kwargs):
    t0 = time.monotonic()
    r = call(*args, **kwargs)
    check(r, time.monotonic() - t0)
    return r


@FUZZ
@given(body=generate_bodies())
def test_fuzz_generate(client, body):
    timed(client.post, "/v1/generate", content=body, headers={"content-type": "application/json"})


@pytest.mark.parametrize("route", UPLOAD_ROUTES)
def test_fuzz_uploads(client, route):
    @FUZZ
    @given(request=upload_requests(route))
    def run(request):
        file, fields = request
        files = {"file": ("x.mid", file, "audio/midi")} if file is not None else None
        timed(client.post, route, data=fields, files=files)

    run()


@FUZZ
@given(query=stream_queries(), duration=st.sampled_from(["0.3", "-1", "abc", "1e9"]))
def test_fuzz_stream(client, query, duration):
    r = timed(client.get, "/v1/stream", params={**query, "duration": duration})
    if r.status_code == 200:
        assert "event: end" in r.text or "event: start" in r.text


@FUZZ
@given(session=st.text(max_size=12).map(lambda s: quote(s, safe="")), body=control_bodies())
def test_fuzz_stream_controls(client, session, body):
    headers = {"content-type": "application/json"}
    timed(client.post, f"/v1/stream/{session}/control", content=body, headers=headers)
    timed(client.post, f"/v1/stream/{session}/stop")
    timed(client.get, f"/v1/stream/{session}")
