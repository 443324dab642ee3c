"""GET /v1/stream with `arrangement`: the band's notes among the events, drums on channel 10;
an unknown style refused with the nearest ones named."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def client(stream_client):
    return stream_client


def notes_of(client, **params) -> tuple[dict, list[dict]]:
    query = {"prompt": "a bossa nova for flute", "duration": 3, "tempo": 120, **params}
    events, name = [], None
    with client.stream("GET", "/v1/stream", params=query) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
    start = next(d for n, d in events if n == "start")
    return start, [d for n, d in events if n == "note"]


def test_a_served_stream_plays_the_band_it_asks_for(client):
    start, notes = notes_of(client, arrangement="bossa-nova")
    assert start["arrangement"] == "bossa-nova"
    drums = {n["pitch"] for n in notes if n["channel"] == 9}
    assert len(drums) >= 2 and all(n["program"] == -1 for n in notes if n["channel"] == 9)
    assert {n["program"] for n in notes} >= {73, 32, 24}  # flute, bass, nylon guitar
    start, notes = notes_of(client)  # the server's default, as for pieces: none
    assert start["arrangement"] is None and {n["channel"] for n in notes} == {0}


def test_an_unknown_style_is_refused(client):
    r = client.get("/v1/stream", params={"prompt": "a tune", "arrangement": "bosa-nova"})
    assert r.status_code == 422 and "bossa-nova" in r.json()["detail"]
