"""A stream's recording survives kills: `tunesmith stream -o` in a real subprocess, killed
with SIGKILL (the file on disk is valid and at most one bar behind) or SIGTERM (nothing is
lost: the file holds every note the stream's report counts)."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import mido
import pytest

from tunesmith.stream.outputs import FileRecorder

BAR_S = 2.0  # 4/4 at 120 bpm


def _stream(tiny_run: Path, rec: Path, report: Path | None = None) -> subprocess.Popen:
    args = [sys.executable, "-m", "tunesmith.cli", "stream", "a waltz for violin", "--model",
            str(tiny_run), "-o", str(rec), "--seed", "1", "--tempo", "120", "--meter", "4/4",
            "--duration", "120"]  # fmt: skip
    if report is not None:
        args += ["--report", str(report)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _read(path: Path) -> tuple[float, int] | None:
    """(time of the last message in seconds, note-ons) of a recording; None if unreadable."""
    try:
        data = path.read_bytes()
        mf = mido.MidiFile(file=io.BytesIO(data))
    except (OSError, EOFError, ValueError, KeyError, IndexError):
        return None
    t, ons = 0.0, 0
    for msg in mf:
        t += msg.time
        ons += msg.type == "note_on" and msg.velocity > 0
    return t, ons


def _watch(proc: subprocess.Popen, rec: Path, music_s: float) -> list[tuple[float, float]]:
    """Poll the recording until it holds `music_s` seconds of music: (wall, last time) of
    every version seen."""
    seen: list[tuple[float, float]] = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < 120:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        got = _read(rec) if rec.exists() else None
        if got is not None and (not seen or got[0] != seen[-1][1]):
            seen.append((time.monotonic(), got[0]))
            if got[0] >= music_s:
                return seen
        time.sleep(0.02)
    raise AssertionError("the recording did not grow")


def test_sigkill_loses_at_most_one_bar(tiny_run, tmp_path):
    rec = tmp_path / "live.mid"
    proc = _stream(tiny_run, rec)
    try:
        seen = _watch(proc, rec, music_s=6 * BAR_S)
        time.sleep(0.5 * BAR_S)  # half a bar after the last journal entry
        last_seen = seen[-1][1]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    got = _read(rec)
    assert got is not None, "the recording is not a valid MIDI file after kill -9"
    assert got[0] >= last_seen  # nothing that was journaled is gone
    assert got[1] > 0
    # journaled at every barline: a new version of the file for (about) every bar played;
    # the last message of a version is the last one before its barline, so two versions
    # are at most two bars apart in it
    times = [t for _, t in seen]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert max(gaps) <= 2 * BAR_S, gaps
    assert len(seen) >= times[-1] / BAR_S - 2, times


def test_sigterm_loses_nothing(tiny_run, tmp_path):
    rec, report = tmp_path / "live.mid", tmp_path / "report.json"
    proc = _stream(tiny_run, rec, report)
    try:
        _watch(proc, rec, music_s=3 * BAR_S)
        time.sleep(0.3 * BAR_S)  # in the middle of a bar
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert "Traceback" not in err
    played = json.loads(report.read_text())["notes"]
    got = _read(rec)
    assert got is not None and got[1] == played > 0  # every note played is in the file


def test_recorder_file_is_valid_at_every_sync(tmp_path):
    rec = FileRecorder(tmp_path / "r.mid")
    for i in range(50):
        rec.send(mido.Message("note_on", note=60 + i % 12, velocity=80), i * 0.1)
        rec.send(mido.Message("note_off", note=60 + i % 12), i * 0.1 + 0.05)
        if i % 7 == 0:
            rec.sync()
            rec.save()  # what the writer thread writes, in this thread
            got = _read(rec.path)
            assert got is not None and got[1] == i + 1
    rec.close()
    got = _read(rec.path)
    assert got is not None and got[1] == 50 and got[0] == pytest.approx(4.95, abs=0.01)
