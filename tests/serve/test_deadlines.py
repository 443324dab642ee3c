"""Every server job is bounded: rendering, conversion and generation stop once their request
has been answered 504, and free their slot long before they would have finished."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
import symusic
from fastapi.testclient import TestClient
from tests.conftest import make_score

from tunesmith import deadline
from tunesmith.api import Composer
from tunesmith.serve import ServeSettings, create_app


@pytest.fixture(scope="module")
def composer(tiny_run) -> Composer:
    return Composer.load(tiny_run)


def _long_piece(bars: int, tracks: int, tempo: float = 120.0) -> bytes:
    """`tracks` parts of quarter notes, `bars` bars of 4/4 (rendering it takes many seconds)."""
    s = symusic.Score(480)
    s.tempos.append(symusic.Tempo(0, tempo))
    s.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    for k in range(tracks):
        t = symusic.Track(program=(k * 8) % 100)
        for i in range(bars * 4):
            t.notes.append(symusic.Note(i * 480, 480, 55 + (i * (k + 3)) % 24, 80))
        s.tracks.append(t)
    return s.dumps_midi()


def _child_renderers() -> list[int]:
    """Our child processes that render audio (render/isolated.py)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and b"tunesmith.render.isolated" in cmdline:
            found.append(int(entry.name))
    return found


def _seconds_until_idle(client: TestClient, limit: float = 30.0) -> float:
    t0 = time.monotonic()
    while client.get("/health").json()["queue"]["running"]:
        if time.monotonic() - t0 > limit:
            break
        time.sleep(0.02)
    return time.monotonic() - t0


def test_check_raises_only_inside_a_stopped_job():
    deadline.check()  # not a job: nothing happens
    event = threading.Event()
    with deadline.stop_on(event):
        deadline.check()
        event.set()
        assert deadline.stopped()
        with pytest.raises(deadline.JobCancelledError):
            deadline.check()
    deadline.check()  # the flag went with the job
    assert deadline.current() is None


@pytest.mark.parametrize(
    ("fmt", "bars", "tracks"),
    [
        # 140 s of audio (inside the 150-s cap): many seconds to render on 2 cores
        ("wav", 70, 4),
        # 250 bars x 2 parts of MusicXML (inside the caps): over 10 s on 2 cores
        ("musicxml", 250, 2),
    ],
)
def test_render_past_its_timeout_stops_and_frees_its_slot(composer, fmt, bars, tracks):
    settings = ServeSettings(timeout_s=0.5, max_concurrent=1, max_queue=0, warmup=False)
    with TestClient(create_app(composer, settings)) as c:
        t0 = time.monotonic()
        r = c.post(
            "/v1/render",
            files={"file": ("long.mid", _long_piece(bars, tracks), "audio/midi")},
            data={"format": fmt},
        )
        assert r.status_code == 504, r.text[:300]
        assert "Traceback" not in r.text
        freed = _seconds_until_idle(c)
        # the whole render takes well over 10 s here; stopped, the slot is free within ~1 s
        assert freed < 5.0, f"slot still taken {freed:.1f} s after the 504"
        assert time.monotonic() - t0 < 8.0
        assert c.get("/health").json()["queue"]["timed_out"] == 1
        assert _child_renderers() == []  # a killed renderer leaves no process behind
        # and the slot serves the next request
        small = make_score(2, (4, 4), 1, 2, [0], seed=1).dumps_midi()
        ok = c.post("/v1/render", files={"file": ("s.mid", small)}, data={"format": "midi"})
        assert ok.status_code == 200


def test_parts_generation_past_its_timeout_stops(composer):
    """harmonize has no progress callback: the decode loop itself checks the deadline."""
    settings = ServeSettings(
        timeout_s=0.2, max_concurrent=1, max_queue=0, warmup=False, max_work=4096
    )  # a budget far over the default: the work must be stopped, not refused
    melody = make_score(2, (4, 4), 1, 64, [0], seed=3).dumps_midi()
    with TestClient(create_app(composer, settings)) as c:
        r = c.post(
            "/v1/harmonize",
            files={"file": ("m.mid", melody, "audio/midi")},
            data={"voices": "4", "candidates": "8", "format": "wav", "seed": "1"},
        )
        assert r.status_code == 504, r.text[:300]
        assert _seconds_until_idle(c) < 5.0


def test_musicxml_written_in_a_child_is_the_same_score():
    """Inside a job a large score is written by a child process: the same MusicXML."""
    import re

    from tunesmith.music.chords import analyse_chords
    from tunesmith.render.isolated import musicxml_bytes_bounded
    from tunesmith.render.notation import musicxml_bytes

    score = make_score(2, (3, 4), 2, 4, [40, 42], seed=5)
    chords = analyse_chords(score, "bar")

    def clean(xml: bytes) -> bytes:  # the date and music21's random part ids differ
        xml = re.sub(rb"<encoding-date>.*?</encoding-date>", b"", xml)
        return re.sub(rb'id="([PI])[0-9a-f]{32}"', rb'id="\1"', xml)

    local = musicxml_bytes(score, "t", "D major", chords)
    with deadline.stop_on(threading.Event()):
        child = musicxml_bytes_bounded(score, "t", "D major", chords)  # measures unknown
    assert clean(child) == clean(local)
    assert b"<harmony" in child
