"""A live stream with the tiny model, an in-memory port and a fake clock."""

from __future__ import annotations

import pytest
from tests.stream.conftest import ScriptedClock

from tunesmith.api import Composer
from tunesmith.errors import BadInputError
from tunesmith.stream import FileRecorder, MemoryOutput, StreamSession, StreamSettings
from tunesmith.stream.outputs import read_recording
from tunesmith.stream.scheduler import ALL_NOTES_OFF

PROMPT = "a chorale for string quartet in C major"


@pytest.fixture(scope="module")
def composer(tiny_run):
    return Composer.load(tiny_run)


def stream(composer, seconds, actions=None, outputs=None, **settings):
    mem = MemoryOutput()
    session_box = {}
    clock = ScriptedClock(
        {t: (lambda f=f: f(session_box["s"])) for t, f in (actions or {}).items()}
    )
    s = StreamSession(
        composer,
        PROMPT,
        [mem, *(outputs or [])],
        StreamSettings(duration=seconds, **settings),
        composer.sampling_for(seed=3).with_(speculative=False),
        composer.controls_for(PROMPT, tempo=120, instruments="violin,violin,viola,cello"),
        clock=clock,
    )
    session_box["s"] = s
    return s, mem, s.run()


def balance(messages):
    held = {}
    for _, m in messages:
        if m.type == "note_on":
            held[(m.channel, m.note)] = held.get((m.channel, m.note), 0) + 1
        elif m.type == "note_off":
            held[(m.channel, m.note)] = max(0, held.get((m.channel, m.note), 0) - 1)
    return {k: v for k, v in held.items() if v}


def test_stream_plays_in_order_and_stops_cleanly(composer):
    s, mem, report = stream(composer, 30)
    times = [t for t, _ in mem.messages]
    assert times == sorted(times)
    assert report.notes > 20 and report.underruns == 0
    assert report.first_note_s == pytest.approx(0.1)
    assert 0 < times[0] and times[-1] <= 30.0 + 1e-6
    assert balance(mem.messages) == {}  # no stuck notes
    ccs = [m for _, m in mem.messages if m.type == "control_change"]
    assert ccs and all(m.control == ALL_NOTES_OFF for m in ccs)
    assert [e for e, _ in mem.events][0] == "start" and mem.events[-1][0] == "end"
    # notes go out at their scheduled time: onsets in beats x 0.5 s + the start delay
    for ev in mem.notes[:50]:
        assert ev["t"] == pytest.approx(0.1 + (ev["beat"] - mem.notes[0]["beat"]) * 0.5, abs=1e-3)
    # the tiny model's block (192) is far shorter than 30 s of music: the window slid
    assert report.tokens > composer.model.cfg.block_size and report.window_shifts >= 1
    assert report.tokens_per_s > report.needed_tokens_per_s > 0


def test_window_shifts_keep_the_sticky_prefix(composer):
    s, _, report = stream(composer, 40)
    ts = s.stream
    assert ts.prefills >= 3 and ts.theme
    window = ts.window_tokens()
    head = ts.prefix + ts.theme
    assert window[: len(head)] == head
    assert len(head) <= composer.model.cfg.block_size // 8 + 1
    assert len(window) <= composer.model.cfg.block_size


def test_panic_silences_and_flushes_back_to_the_prefix(composer):
    seen = {}

    def panic(s):
        s.control(panic=True)
        seen["bars_before"] = len(s.bars)

    s, mem, report = stream(composer, 20, {8.0: panic})
    after = [(t, m) for t, m in mem.messages if t >= 8.0]
    panic_time = after[0][0]
    # everything sounding is released, then all-notes-off, before any new note
    first_on = next(i for i, (_, m) in enumerate(after) if m.type == "note_on")
    assert any(
        m.type == "control_change" and m.control == ALL_NOTES_OFF for _, m in after[:first_on]
    )
    assert balance([x for x in mem.messages if x[0] <= panic_time]) == {}
    # music resumes shortly after: in the first or second bar (2 s each) of the restart
    # (the tiny model may leave the first bar empty)
    assert after[first_on][0] - panic_time < 4.0
    assert ("panic", {}) in mem.events
    assert report.controls[0]["name"] == "panic" and report.controls[0]["latency_bars"] <= 1
    assert balance(mem.messages) == {}


def test_key_change_rewinds_to_the_next_bar(composer):
    state = {}

    def change(s):
        state["playhead"] = s.scheduler.beat_at(s.clock.now())
        state["decoded_ahead"] = [b.start for b in s.bars if b.start > state["playhead"]]
        s.control(key="E major")

    s, mem, report = stream(composer, 20, {7.3: change})
    c = report.controls[0]
    assert c["name"] == "key" and c["value"] == "E major"
    assert 0 < c["latency_bars"] <= 1.0  # heard from the next barline on
    # the look-ahead had already decoded bars past the playhead: they were replaced
    assert state["decoded_ahead"]
    ts = s.stream
    assert ts.controls.key == "E major"
    assert composer.tokenizer.token_id("Key_E") in ts.prefix
    assert balance(mem.messages) == {}
    # the bar being played keeps its notes; nothing new lands before the playhead
    assert report.underruns == 0 and s.scheduler.max_late < 1e-9


def test_temperature_and_style_changes_and_validation(composer):
    def change(s):
        s.control(temperature=0.7, style="reel")

    s, _, report = stream(composer, 12, {5.0: change})
    assert s.stream.sampling.temperature == 0.7 and s.stream.controls.style == "reel"
    assert {c["name"] for c in report.controls} == {"temperature", "style"}
    assert all(c["latency_bars"] <= 1.0 for c in report.controls)
    assert report.underruns == 0 and s.scheduler.max_late < 1e-9
    for bad in ({"temperature": 0}, {"key": "H major"}, {"style": "dubstep"}, {"tempo": 1000},
                {"volume": 3}):  # fmt: skip
        with pytest.raises(BadInputError):
            s.control(**bad)


def test_tempo_change_speeds_up_playback(composer):
    s, mem, report = stream(composer, 16, {6.0: lambda s: s.control(tempo=240)})
    before = [e for e in mem.notes if e["t"] < 6.0]
    after = [e for e in mem.notes if e["t"] > 6.5]
    # seconds per beat halves: compare each note's time against its beat
    rate_before = (before[-1]["t"] - before[0]["t"]) / (before[-1]["beat"] - before[0]["beat"])
    rate_after = (after[-1]["t"] - after[0]["t"]) / (after[-1]["beat"] - after[0]["beat"])
    assert rate_before == pytest.approx(0.5, abs=0.01)
    assert rate_after == pytest.approx(0.25, abs=0.01)
    assert report.controls[0]["latency_bars"] == 0


def test_recording_equals_what_was_sent(composer, tmp_path):
    rec = FileRecorder(tmp_path / "rec.mid", save_every=5)
    _, mem, _ = stream(composer, 12, outputs=[rec])
    got = read_recording(tmp_path / "rec.mid")
    assert len(got) == len(mem.messages)
    for (t1, m1), (t2, m2) in zip(mem.messages, got, strict=True):
        assert m1.copy(time=0) == m2
        assert abs(t1 - t2) < 1.5 / 960  # one tick of the file's grid


def test_bad_settings_are_one_line_errors(composer, tmp_path):
    with pytest.raises(BadInputError, match="prompt is empty"):
        StreamSession(composer, "  ", [MemoryOutput()])
    with pytest.raises(BadInputError, match="tempo"):
        StreamSettings(tempo=5).validated()
    with pytest.raises(BadInputError, match="duration"):
        StreamSettings(duration=-1).validated()
    with pytest.raises(BadInputError, match=".mid"):
        FileRecorder(tmp_path / "x.wav")


def test_the_heap_is_frozen_out_of_garbage_collection_while_a_stream_plays(composer):
    """A full collection walks every object (~225 ms with the shipped model loaded) and
    stops the loop: the objects alive at the start are frozen until the stream ends."""
    import gc

    seen = []
    stream(composer, 2, actions={1.0: lambda s: seen.append(gc.get_freeze_count())})
    assert seen and seen[0] > 1000
    assert gc.get_freeze_count() == 0
