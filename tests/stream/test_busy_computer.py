"""A busy computer: a generator slower than real time (a fake clock on which every model
step costs fake seconds) never sends a click, holds at barlines, keeps the tempo that was
set, and the report counts what it dropped. No timing assertions: the clock is fake."""

from __future__ import annotations

import numpy as np
import pytest
from tests.stream.conftest import ScriptedClock

from tunesmith.api import Composer
from tunesmith.stream import (
    FileRecorder,
    IncrementalDecoder,
    MemoryOutput,
    Output,
    StreamSession,
    StreamSettings,
)
from tunesmith.stream.outputs import read_recording

PROMPT = "a chorale for string quartet in C major"
SLOW = 0.2  # fake seconds per model step: ~5 tokens/s where this stream needs ~11


@pytest.fixture(scope="module")
def composer(tiny_run):
    return Composer.load(tiny_run)


class Order(Output):
    """The order notes and events went out in."""

    def __init__(self):
        self.seen = []

    def note(self, event):
        self.seen.append("note")

    def event(self, name, data):
        self.seen.append(name)


def play(composer, seconds, step_cost=SLOW, live=True, outputs=()):
    mem = MemoryOutput()
    s = StreamSession(
        composer,
        PROMPT,
        [mem, *outputs],
        StreamSettings(duration=seconds, live=live),
        composer.sampling_for(seed=3).with_(speculative=False),
        composer.controls_for(PROMPT, tempo=120, instruments="violin,violin,viola,cello"),
        clock=ScriptedClock(step_cost=step_cost),
    )
    return s, mem, s.run()


@pytest.fixture(scope="module")
def slow(composer, tmp_path_factory):
    rec = tmp_path_factory.mktemp("busy") / "slow.mid"
    order = Order()
    s, mem, report = play(composer, 40, outputs=[FileRecorder(rec), order])
    mem.order = order.seen
    return s, mem, report, rec


def notes_sounded(messages):
    """(on time, off time, channel, pitch) of each note-on, in the order they were sent."""
    out, held = [], {}
    for t, m in messages:
        key = (m.channel, getattr(m, "note", None))
        if m.type == "note_on":
            held[key] = len(out)
            out.append([t, None, *key])
        elif m.type == "note_off" and key in held:
            out[held.pop(key)][1] = t
    return out


def cut_as_written(events, i) -> bool:
    """Whether the same voice strikes note i's key again before its written end."""
    e = events[i]
    end = e["beat"] + e["duration"] * 2  # 120 bpm: two beats a second
    return any(
        f["channel"] == e["channel"] and f["pitch"] == e["pitch"] and e["beat"] < f["beat"] < end
        for f in events
    )


def test_a_slow_generator_never_sends_a_note_off_at_its_note_ons_instant(slow):
    s, mem, report, _ = slow
    assert report.calibration is not None and report.calibration["enough"] is False
    assert report.notes > 30 and report.holds > 0
    sounded = notes_sounded(mem.messages)
    assert len(sounded) == len(mem.notes) == report.notes
    for i, ((on, off, _, _), e) in enumerate(zip(sounded, mem.notes, strict=True)):
        assert off is not None and off > on
        if on + e["duration"] >= report.seconds:  # released when the stream stopped
            continue
        if not cut_as_written(mem.notes, i):  # each note keeps its written length (or
            assert off - on >= e["duration"] - 1e-6  # more: sustained through a hold)
    # kept in time by holding, not by dropping or playing late
    assert report.notes_dropped_late == 0 and report.notes_late == 0 and report.underruns == 0


def test_holding_starts_and_ends_at_barlines_and_is_reported(slow):
    s, mem, report, _ = slow
    holds = [d for e, d in mem.events if e == "hold"]
    assert len(holds) == report.holds > 0
    starts = {round(b.start, 4) for b in s.bars} | {round(h["beat"], 4) for h in holds}
    ends = {round(b.start + b.length, 4) for b in s.bars}
    ends |= {round(h["beat"] + h["beats"], 4) for h in holds} | {0.0}
    assert s.bars[0].number == 0  # every bar is still known
    onsets = [e["beat"] for e in mem.notes]
    for h in holds:
        start, end = h["beat"], h["beat"] + h["beats"]
        assert round(start, 4) in ends  # where a bar (or a hold) ended
        assert round(end, 4) in starts  # where the next bar (or another hold) starts
        assert not [b for b in onsets if start - 1e-9 <= b < end - 1e-9]  # no new note
    assert report.hold_s == pytest.approx(sum(h["beats"] for h in holds) * 0.5, abs=0.01)
    states = {d["state"] for e, d in mem.events if e == "status"}
    assert "holding" in states
    # the chord sounding at a hold is sustained through it
    assert sum(h["sustained"] for h in holds) > 0


def test_tempo_from_the_recording_equals_the_set_tempo(slow):
    s, mem, report, rec = slow
    ons = [t for t, m in read_recording(rec) if m.type == "note_on" and m.velocity > 0]
    beats = [e["beat"] for e in mem.notes]
    assert len(ons) == len(beats) > 30
    slope, _ = np.polyfit(beats, ons, 1)
    assert 60 / slope == pytest.approx(120, rel=1e-4)
    resid = np.array(ons) - np.array(beats) * 0.5
    assert np.ptp(resid) <= 1.5 / 960  # every onset on the 120 bpm grid (one file tick)
    assert s.scheduler.tempo == 120


def test_calibration_warns_with_what_would_keep_up(slow):
    s, mem, report, _ = slow
    warnings = [d for e, d in mem.events if e == "warning"]
    assert len(warnings) == 1 and report.warnings == [warnings[0]["text"]]
    assert "--tempo" in warnings[0]["text"] and warnings[0]["suggest_tempo"] < 120
    # a warning, before the first note
    assert mem.order.index("warning") < mem.order.index("note")


def test_the_report_counts_what_was_dropped(composer):
    """Without the handling (the baseline), a slow generator's late notes are dropped:
    everything decoded is either played, dropped and counted, or still queued at the end."""
    s, mem, report = play(composer, 40, live=False)
    assert report.holds == 0 and report.notes_dropped_late > 0
    decoded = IncrementalDecoder(composer.tokenizer).feed_all(s.stream.history)
    merged = s.scheduler.merged
    assert len(decoded) == report.notes + report.notes_dropped_late + merged + (
        s.scheduler.pending()
    )
    for on, off, _, _ in notes_sounded(mem.messages):  # no click either
        assert off is None or off > on


def test_a_fast_generator_neither_holds_nor_economises(composer):
    s, mem, report = play(composer, 12, step_cost=0.0)
    assert report.holds == 0 and report.economy_s == 0 and report.warnings == []
    assert report.calibration is not None and report.calibration["enough"] is True
    assert {d["state"] for e, d in mem.events if e == "status"} <= {"starting", "playing"}
