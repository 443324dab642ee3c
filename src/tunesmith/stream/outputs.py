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
from mido.midifiles.midifiles import encode_variable_int

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

    def sync(self) -> None:
        """The playhead crossed a barline: a recording journals what it has (FileRecorder)."""

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
    """Records what was sent into a type-0 MIDI file, journaled at every barline.

    The stream calls `sync()` as the playhead crosses each barline (and the file is also
    rewritten every `save_every` seconds of music, for streams that have no bars yet): the
    messages since the last sync are encoded and appended to the bytes kept in memory, and
    a writer thread replaces the file with them atomically. A `kill -9` therefore loses at
    most the bar being played (the file on disk is always a whole, valid MIDI file), and
    `close()` (a normal stop, Ctrl-C or SIGTERM) writes everything.
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
        self._events = bytearray()  # the track's events so far, delta times encoded
        self._encoded = 0  # messages already in _events
        self._last_tick = 0
        # the newest file for the writer thread, with the number of messages it holds
        self._pending: tuple[int, bytes] | None = None
        self._write_lock = threading.Lock()
        self._written = -1  # messages in the file on disk: an older snapshot never replaces it
        self._wake = threading.Condition()
        self._closed = False
        self._writer: threading.Thread | None = None
        self.write_error: OSError | None = None  # the writer's last failure (close raises it)

    def send(self, msg: mido.Message, t: float) -> None:
        with self._lock:
            self.messages.append((t, msg))
        if t - self._last_save >= self.save_every:
            self._last_save = t
            self.sync()

    def _file_bytes(self) -> bytes:
        return self._snapshot()[1]

    def _snapshot(self) -> tuple[int, bytes]:
        """(messages held, the recording so far as MIDI file bytes); only the new messages
        are encoded."""
        with self._lock:
            new = self.messages[self._encoded :]
            self._encoded = len(self.messages)
            ticks_per_s = RECORD_TICKS_PER_BEAT * 1e6 / RECORD_TEMPO_US
            for t, msg in new:
                tick = max(self._last_tick, round(t * ticks_per_s))
                self._events += bytes(encode_variable_int(tick - self._last_tick))
                self._events += bytes(msg.bin())
                self._last_tick = tick
            tempo = RECORD_TEMPO_US.to_bytes(3, "big")
            track = b"\x00\xff\x51\x03" + tempo + bytes(self._events) + b"\x00\xff\x2f\x00"
            count = self._encoded
        header = b"MThd" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big") + (1).to_bytes(2, "big")
        header += RECORD_TICKS_PER_BEAT.to_bytes(2, "big")
        return count, header + b"MTrk" + len(track).to_bytes(4, "big") + track

    def _write(self, count: int, data: bytes) -> None:
        """Replace the file, unless a snapshot with more messages is already there (the
        writer thread and `save` may race)."""
        with self._write_lock:
            if count < self._written:
                return
            atomic_write_bytes(self.path, data)
            self._written = count

    def to_midifile(self) -> mido.MidiFile:
        import io

        return mido.MidiFile(file=io.BytesIO(self._file_bytes()))

    def sync(self) -> None:
        """Journal what was sent so far: the file is replaced by the writer thread."""
        snapshot = self._snapshot()
        with self._wake:
            if self._closed:
                return
            self._pending = snapshot
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_loop, name="recorder", daemon=True
                )
                self._writer.start()
            self._wake.notify()

    def _write_loop(self) -> None:
        while True:
            with self._wake:
                while self._pending is None and not self._closed:
                    self._wake.wait()
                snapshot, self._pending = self._pending, None
            if snapshot is None:
                return
            try:
                self._write(*snapshot)
            except OSError as e:  # a full disk: the stream plays on; close() reports it
                self.write_error = e

    def save(self) -> Path:
        """Write the whole recording now (in this thread)."""
        self._write(*self._snapshot())
        return self.path

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._pending = None
            self._wake.notify()
        if self._writer is not None:
            self._writer.join()
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
