"""Scheduler: wall-clock order and timing, re-attacks, tempo changes, nothing left hanging."""

from __future__ import annotations

from tunesmith.stream.decoder import Note
from tunesmith.stream.outputs import MemoryOutput
from tunesmith.stream.scheduler import ALL_NOTES_OFF, Scheduler


def play(sched: Scheduler, until: float, step: float = 0.01) -> None:
    t = 0.0
    while t <= until + 1e-9:
        sched.flush_due(t)
        t += step


def kinds(mem: MemoryOutput):
    return [(round(t, 3), m.type, getattr(m, "note", None)) for t, m in mem.messages]


def test_events_go_out_in_time_order_at_the_tempo():
    mem = MemoryOutput()
    sched = Scheduler([mem], [40], tempo=120)  # 0.5 s per quarter note
    sched.anchor(0.0, 0.0)
    sched.add(Note(1.0, 1.0, 64, 0))
    sched.add(Note(0.0, 0.5, 60, 0))
    play(sched, 2.0)
    assert kinds(mem) == [
        (0.0, "program_change", None),
        (0.0, "note_on", 60),
        (0.25, "note_off", 60),
        (0.5, "note_on", 64),
        (1.0, "note_off", 64),
    ]
    assert mem.notes[0]["duration"] == 0.25 and mem.notes[0]["program"] == 40
    assert sched.max_late < 0.011


def test_repeated_pitch_reattacks_and_overlaps_never_stick():
    mem = MemoryOutput()
    sched = Scheduler([mem], None, tempo=60)
    sched.anchor(0.0, 0.0)
    sched.add(Note(0.0, 1.0, 60, 0))
    sched.add(Note(1.0, 1.0, 60, 0))  # same key right after: off sorts before on
    sched.add(Note(2.5, 2.0, 62, 0))
    sched.add(Note(3.0, 0.5, 62, 0))  # struck again while still held
    play(sched, 6.0)
    seq = [(t, k, n) for t, k, n in kinds(mem) if k != "program_change"]
    assert seq[:3] == [(0.0, "note_on", 60), (1.0, "note_off", 60), (1.0, "note_on", 60)]
    # the later 62 releases the held one first, and the earlier note's off is not resent
    assert seq[4:7] == [(2.5, "note_on", 62), (3.0, "note_off", 62), (3.0, "note_on", 62)]
    assert sched.sounding() == []
    balance = {}
    for _, k, n in seq:
        balance[n] = balance.get(n, 0) + (1 if k == "note_on" else -1)
    assert set(balance.values()) == {0}


def test_tempo_change_retimes_queued_notes_and_drop_from_forgets_later_ones():
    mem = MemoryOutput()
    sched = Scheduler([mem], None, tempo=120)
    sched.anchor(0.0, 0.0)
    for beat in range(8):
        sched.add(Note(float(beat), 0.5, 60 + beat, 0))
    play(sched, 0.9)  # beats 0 and 1 played
    sched.set_tempo(60, 1.0)  # from beat 2 on, one second per beat
    assert abs(sched.time_at(3.0) - 2.0) < 1e-9
    assert sched.drop_from(5.0) == 3
    t = 1.0
    while t < 10:
        sched.flush_due(t)
        t += 0.01
    ons = [(round(t, 2), m.note) for t, m in mem.messages if m.type == "note_on"]
    assert ons == [(0.0, 60), (0.5, 61), (1.0, 62), (2.0, 63), (3.0, 64)]
    assert sched.pending() == 0


def test_all_notes_off_releases_what_sounds():
    mem = MemoryOutput()
    sched = Scheduler([mem], [0, 41], tempo=120)
    sched.anchor(0.0, 0.0)
    sched.add(Note(0.0, 8.0, 60, 0))
    sched.add(Note(0.0, 8.0, 48, 1))
    sched.flush_due(0.0)
    assert sched.sounding() == [(0, 60), (1, 48)]
    sched.all_notes_off(0.5)
    sched.clear()
    tail = [
        (m.type, m.channel, getattr(m, "note", getattr(m, "control", None)))
        for _, m in mem.messages[-4:]
    ]
    assert tail == [
        ("note_off", 0, 60),
        ("note_off", 1, 48),
        ("control_change", 0, ALL_NOTES_OFF),
        ("control_change", 1, ALL_NOTES_OFF),
    ]
    assert sched.sounding() == [] and sched.next_time() is None


def test_a_late_note_keeps_its_length_and_a_hopeless_one_is_dropped():
    mem = MemoryOutput()
    sched = Scheduler([mem], [40], tempo=60)  # 1 s per quarter note
    sched.anchor(0.0, 0.0)
    sched.add(Note(0.0, 1.0, 60, 0))  # due at 0 s, for 1 s
    sched.add(Note(0.0, 0.25, 62, 0))  # due at 0 s, for 0.25 s
    sched.add(Note(2.0, 1.0, 64, 0))  # on time
    sched.flush_due(0.5)  # the generator was 0.5 s behind
    play_from(sched, 0.5, 4.0)
    ons = {m.note: t for t, m in mem.messages if m.type == "note_on"}
    offs = {m.note: t for t, m in mem.messages if m.type == "note_off"}
    assert ons[60] == 0.5 and offs[60] == 1.5  # its full second, from when it sounded
    assert 62 not in ons and sched.dropped_late == 1  # over before it could start
    assert ons[64] == 2.0 and offs[64] == 3.0
    assert all(offs[p] > ons[p] for p in ons)  # never a note-off at its note-on's instant


def test_jitter_below_the_tolerance_keeps_the_written_end():
    mem = MemoryOutput()
    sched = Scheduler([mem], [40], tempo=60)
    sched.anchor(0.0, 0.0)
    sched.add(Note(0.0, 1.0, 60, 0))
    sched.flush_due(0.01)
    play_from(sched, 0.01, 2.0)
    assert [(round(t, 2), m.type) for t, m in mem.messages if m.type != "program_change"] == [
        (0.01, "note_on"), (1.0, "note_off")
    ]  # fmt: skip


def play_from(sched: Scheduler, start: float, until: float, step: float = 0.01) -> None:
    t = start
    while t <= until + 1e-9:
        sched.flush_due(round(t, 6))
        t += step


def test_a_hold_moves_later_notes_a_bar_on_and_sustains_the_sounding_chord():
    mem = MemoryOutput()
    sched = Scheduler([mem], [40], tempo=60)  # 1 s per quarter note
    sched.anchor(0.0, 0.0)
    sched.add(Note(0.0, 4.0, 60, 0))  # the bar's chord, to the barline
    sched.add(Note(2.0, 1.0, 64, 0))  # ends before the barline: not sustained
    sched.add(Note(4.0, 1.0, 67, 0))  # the next bar
    play_from(sched, 0.0, 3.5)
    # one bar of 4/4 inserted at the barline: the sounding chord is 4 s longer
    assert sched.hold(4.0, 4.0) == [{"channel": 0, "pitch": 60, "extend_s": 4.0}]
    assert sched.sustained == 1
    play_from(sched, 3.5, 10.0)
    seq = [(round(t, 2), m.type, m.note) for t, m in mem.messages if m.type != "program_change"]
    assert seq == [
        (0.0, "note_on", 60), (2.0, "note_on", 64), (3.0, "note_off", 64),
        (8.0, "note_off", 60), (8.0, "note_on", 67), (9.0, "note_off", 67),
    ]  # fmt: skip
    assert sched.tempo == 60 and sched.time_at(8.0) == 8.0  # the tempo map is untouched


def test_a_key_struck_twice_at_once_in_one_voice_sounds_once():
    mem = MemoryOutput()
    sched = Scheduler([mem], [40], tempo=60)
    sched.anchor(0.0, 0.0)
    sched.add(Note(0.0, 0.5, 60, 0))
    sched.add(Note(0.0, 1.0, 60, 0))  # the same key at the same instant, longer
    play_from(sched, 0.0, 2.0)
    seq = [(round(t, 2), m.type) for t, m in mem.messages if m.type != "program_change"]
    assert seq == [(0.0, "note_on"), (1.0, "note_off")]  # never off at its on's instant
    assert sched.merged == 1 and sched.sent_notes == 1
