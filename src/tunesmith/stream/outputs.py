"""Where streamed MIDI goes: a port (mido + python-rtmidi), a file recording, memory.

Every output receives the same calls from the scheduler: `send(msg, t)` for each MIDI
message (t = seconds since the stream started), `note(event)` for each note as it starts
(with its duration, for players that synthesise whole notes, like the web page), and
`event(name, data)` for status, control and panic notices.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path

import mido

from ..errors import BadInputError
from ..fileio import atomic_write_bytes

RECORD_TICKS_PER_BEAT = 480
RECORD_TEMPO_US = 500_000  # the file's tempo: 120 bpm, so 960 ticks are one second


class Output:
    """An output that ignores everything; subclasses override what they use."""

    def send(self, msg: mido.Message, t: float) -> None:
        pass

    def note(self, event: dict) -> None:
        pass

    def event(self, name: str, data: dict) -> None:
        pass

    def close(self) -> None:
        pass


class MemoryOutput(Output):
    """Keeps every message with its time: tests, benchmarks and the recorder's check."""

    def __init__(self) -> None:
        self.messages: list[tuple[float, mido.Message]] = []
        self.notes: list[dict] = []
        self.events: list[tuple[str, dict]] = []

    def send(self, msg: mido.Message, t: float) -> None:
        self.messages.append((t, msg))

    def note(self, event: dict) -> None:
        self.notes.append(event)

    def event(self, name: str, data: dict) -> None:
        self.events.append((name, data))


class PortOutput(Output):
    """A mido output port (hardware, a synth, or a virtual port we created)."""

    def __init__(self, port) -> None:
        self.port = port

    def send(self, msg: mido.Message, t: float) -> None:
        self.port.send(msg)

    def close(self) -> None:
        self.port.close()


class FileRecorder(Output):
    """Records what was sent into a type-0 MIDI file, saved atomically.

    The file is rewritten every `save_every` seconds of music and on close, so stopping
    with Ctrl-C (or a crash) loses at most that much.
    """

    def __init__(self, path: str | Path, save_every: float = 10.0) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() not in (".mid", ".midi"):
            raise BadInputError(
                f"the recording file must end in .mid, not {self.path.name!r}", field="output"
            )
        if not self.path.parent.exists():
            raise BadInputError(f"folder {str(self.path.parent)!r} does not exist")
        self.messages: list[tuple[float, mido.Message]] = []
        self.save_every = save_every
        self._last_save = 0.0
        self._lock = threading.Lock()

    def send(self, msg: mido.Message, t: float) -> None:
        with self._lock:
            self.messages.append((t, msg))
        if t - self._last_save >= self.save_every:
            self.save()
            self._last_save = t

    def to_midifile(self) -> mido.MidiFile:
        mf = mido.MidiFile(type=0, ticks_per_beat=RECORD_TICKS_PER_BEAT)
        track = mido.MidiTrack()
        mf.tracks.append(track)
        track.append(mido.MetaMessage("set_tempo", tempo=RECORD_TEMPO_US, time=0))
        ticks_per_s = RECORD_TICKS_PER_BEAT * 1e6 / RECORD_TEMPO_US
        last = 0
        with self._lock:
            messages = list(self.messages)
        for t, msg in messages:
            tick = max(last, round(t * ticks_per_s))
            track.append(msg.copy(time=tick - last))
            last = tick
        track.append(mido.MetaMessage("end_of_track", time=0))
        return mf

    def save(self) -> Path:
        import io

        buf = io.BytesIO()
        self.to_midifile().save(file=buf)
        atomic_write_bytes(self.path, buf.getvalue())
        return self.path

    def close(self) -> None:
        self.save()


def read_recording(path: str | Path) -> list[tuple[float, mido.Message]]:
    """(seconds, message) pairs of a file FileRecorder wrote (channel messages only)."""
    out = []
    t = 0.0
    for msg in mido.MidiFile(str(path)):  # iteration yields delta times in seconds
        t += msg.time
        if not msg.is_meta:
            out.append((t, msg.copy(time=0)))
    return out


# -- ports -----------------------------------------------------------------------------------
def _backend():
    try:
        import rtmidi  # noqa: F401  (python-rtmidi: mido's default backend)
    except ImportError:
        raise BadInputError(
            "no MIDI system: python-rtmidi is not installed (pip install python-rtmidi)"
        ) from None
    return mido.Backend("mido.backends.rtmidi")


@contextmanager
def _quiet_stderr():
    """Silence the C library's own error lines (ALSA prints them on fd 2) for one call."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def list_output_ports() -> list[str]:
    """Names of the MIDI output ports the system offers."""
    backend = _backend()
    try:
        with _quiet_stderr():
            return list(backend.get_output_names())
    except Exception as e:  # rtmidi raises its own error types when ALSA/CoreMIDI is absent
        raise BadInputError(f"no MIDI system available ({_reason(e)})") from None


def open_output_port(name: str | None = None, virtual: bool = False) -> PortOutput:
    """Open an existing port by name, or create a virtual one where the OS allows it."""
    backend = _backend()
    if not virtual:
        names = list_output_ports()
        if name not in names:
            listing = ", ".join(repr(n) for n in names) if names else "none"
            raise BadInputError(f"MIDI port {name!r} does not exist; available ports: {listing}")
    try:
        with _quiet_stderr():
            return PortOutput(backend.open_output(name, virtual=virtual))
    except Exception as e:
        what = "create virtual MIDI port" if virtual else "open MIDI port"
        raise BadInputError(f"cannot {what} {name!r} ({_reason(e)})") from None


def _reason(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
