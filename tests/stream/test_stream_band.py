"""A live stream with a band (stream/band.py): the groove library's drums, bass and comping
under the model's melody, bar by bar, on channels of their own, in the recording too.
The tiny model, an in-memory port, a file recorder and a fake clock."""

from __future__ import annotations

from collections import Counter

import pytest
from tests.stream.conftest import ScriptedClock

from tunesmith.api import Composer
from tunesmith.stream import FileRecorder, MemoryOutput, StreamSession, StreamSettings
from tunesmith.stream.outputs import read_recording

PROMPT = "a bossa nova for flute"
TEMPO = 120.0
BEAT_S = 60.0 / TEMPO
DRUM_CHANNEL = 9  # channel 10


@pytest.fixture(scope="module")
def composer(tiny_run):
    return Composer.load(tiny_run)


def stream(composer, seconds, arrangement, actions=None, outputs=(), prompt=PROMPT):
    mem = MemoryOutput()
    box = {}
    clock = ScriptedClock({t: (lambda f=f: f(box["s"])) for t, f in (actions or {}).items()})
    s = StreamSession(
        composer,
        prompt,
        [mem, *outputs],
        StreamSettings(duration=seconds),
        composer.sampling_for(seed=3).with_(speculative=False),
        composer.controls_for(prompt, tempo=TEMPO, instruments="flute"),
        clock=clock,
        arrangement=arrangement,
    )
    box["s"] = s
    return s, mem, s.run()


def balance(messages):
    held = Counter()
    for _, m in messages:
        if m.type == "note_on":
            held[(m.channel, m.note)] += 1
        elif m.type == "note_off" and held[(m.channel, m.note)]:
            held[(m.channel, m.note)] -= 1
    return {k: v for k, v in held.items() if v}


def channels_of(session) -> dict[str, int]:
    """role -> MIDI channel index (0-15) of the band's parts."""
    return {role: ch - 1 for role, _, ch in session.band.parts()}


def test_an_arranged_stream_records_drums_bass_and_comping(composer, tmp_path):
    rec = FileRecorder(tmp_path / "band.mid")
    s, mem, report = stream(composer, 20, "bossa-nova", outputs=[rec])
    assert report.arrangement == "bossa-nova" and report.band_notes > 0
    ch = channels_of(s)
    assert ch["drums"] == DRUM_CHANNEL and {"bass", "comping"} <= set(ch)
    assert len(set(ch.values())) == len(ch) and 0 not in ch.values()  # 0: the model's flute

    recorded = read_recording(tmp_path / "band.mid")
    ons = [(t, m) for t, m in recorded if m.type == "note_on" and m.velocity > 0]
    by_channel = Counter(m.channel for _, m in ons)
    drums = {m.note for _, m in ons if m.channel == DRUM_CHANNEL}
    assert len(drums) >= 2  # kick, rim, shaker...
    bass = [m.note for _, m in ons if m.channel == ch["bass"]]
    assert len(bass) >= 8 and max(bass) < 60 and min(bass) < 48  # a bass line, roots below C3
    assert by_channel[ch["comping"]] > 0 and by_channel[0] > 0  # and the model's melody
    programs = {m.channel: m.program for _, m in recorded if m.type == "program_change"}
    assert programs[0] == 73 and programs[ch["bass"]] == 32 and programs[ch["comping"]] == 24
    assert DRUM_CHANNEL not in programs  # the kit needs no program on channel 10
    # the recording holds what was sent, at the times it was sent (the file's grid: 1/960 s)
    sent = [(t, m) for t, m in mem.messages if m.type == "note_on"]
    assert len(sent) == len(ons)
    assert all(abs(a[0] - b[0]) < 1.5 / 960 for a, b in zip(sent, ons, strict=True))
    assert balance(recorded) == {}  # nothing left hanging


def test_the_band_plays_in_time_with_the_tempo(composer):
    s, mem, report = stream(composer, 20, "bossa-nova")
    assert report.underruns == 0 and s.scheduler.max_late < 1e-9
    assert report.first_note_s == pytest.approx(0.1)
    ch = channels_of(s)
    band = [e for e in mem.notes if e["channel"] in ch.values()]
    # every note goes out at its beat: beat x 0.5 s at 120 bpm, after the start delay
    for e in mem.notes:
        assert e["t"] == pytest.approx(0.1 + e["beat"] * BEAT_S, abs=1e-6)
    # the bossa grid is sixteenths: every band onset lies on it
    assert all(abs(e["beat"] * 4 - round(e["beat"] * 4)) < 1e-6 for e in band)
    # the bass starts every bar on its downbeat (4/4: every 2 s), the drums too
    bars = int(report.seconds / (4 * BEAT_S))
    for role in ("bass", "drums"):
        downbeats = {round(e["beat"]) for e in band if e["channel"] == ch[role]
                     and e["beat"] % 4 == 0}  # fmt: skip
        assert downbeats >= {4 * b for b in range(bars)}, role
    assert mem.notes[0]["beat"] == 0 and mem.notes[0]["t"] == pytest.approx(0.1)


def test_arrangement_none_plays_only_the_models_parts(composer):
    s, mem, report = stream(composer, 12, "none")
    assert s.band is None and report.arrangement is None and report.band_notes == 0
    channels = {m.channel for _, m in mem.messages if m.type == "note_on"}
    assert channels == {0}  # the flute alone: no drums on channel 10, no bass
    assert s.scheduler.programs == [73]


def test_auto_adds_a_band_only_when_the_prompt_asks(composer):
    s, _, _ = stream(composer, 1, "auto")
    assert s.band is not None and s.band.style == "bossa-nova"
    plain, _, _ = stream(composer, 1, "auto", prompt="a waltz for flute")
    assert plain.band is None  # a dance form without band words: the model alone


def test_live_changes_keep_the_band_going(composer):
    times = {}

    def change_key(s):
        times["key"] = s.clock.now()
        s.control(key="E major")

    def panic(s):
        times["panic"] = s.clock.now()
        s.control(panic=True)

    s, mem, report = stream(composer, 30, "jazz-swing", {7.3: change_key, 16.0: panic})
    assert report.underruns == 0 and s.scheduler.max_late < 1e-9
    assert [c["name"] for c in report.controls] == ["key", "panic"]
    assert report.controls[0]["latency_bars"] <= 1.0
    drums = [t for t, m in mem.messages if m.type == "note_on" and m.channel == DRUM_CHANNEL]
    bass_ch = channels_of(s)["bass"]
    bass = [t for t, m in mem.messages if m.type == "note_on" and m.channel == bass_ch]
    for when in (times["key"], times["panic"]):
        # the band plays on after the change (a rewind, then a restart from bar 0)
        assert any(when < t < when + 6 for t in drums) and any(when < t < when + 6 for t in bass)
    assert balance(mem.messages) == {}
