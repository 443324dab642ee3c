"""Live controls from the keyboard (single keys, no Enter) and a one-line status display."""

from __future__ import annotations

import os
import select
import sys
import threading
from typing import Any

from ..conditioning.limits import STREAM_STYLES, TEMPERATURE, TEMPO
from ..errors import TunesmithError
from ..music.keys import key_name, key_pitch_class
from .session import StreamSession

TEMPERATURE_STEP, MIN_TEMPERATURE = 0.1, 0.1  # the +/- keys; never down to 0
TEMPO_STEP = 5.0  # bpm per [ or ] key
HELP = (
    "keys: -/+ temperature  [/] tempo  k/K key by fifths  m major/minor  s style  p panic  q quit"
)


def next_key(key: str | None, step_fifths: int = 1, flip_mode: bool = False) -> str:
    """The key a fifth up (or down), or the parallel major/minor."""
    tonic, mode = key_pitch_class(key) if key else (0, "major")
    if flip_mode:
        return key_name(tonic, "minor" if mode == "major" else "major")
    return key_name((tonic + 7 * step_fifths) % 12, mode)


def key_action(session: StreamSession, ch: str) -> dict | None:
    """The control change one key press asks for (None: not a control key)."""
    s = session.stream
    if ch in "+=":
        up = round(s.sampling.temperature + TEMPERATURE_STEP, 2)
        return {"temperature": min(float(TEMPERATURE.high), up)}
    if ch in "-_":
        down = round(s.sampling.temperature - TEMPERATURE_STEP, 2)
        return {"temperature": max(MIN_TEMPERATURE, down)}
    if ch == "]":
        return {"tempo": min(float(TEMPO.high), session.scheduler.tempo + TEMPO_STEP)}
    if ch == "[":
        return {"tempo": max(float(TEMPO.low), session.scheduler.tempo - TEMPO_STEP)}
    if ch in "kK":
        return {"key": next_key(s.controls.key, 1 if ch == "k" else -1)}
    if ch == "m":
        return {"key": next_key(s.controls.key, flip_mode=True)}
    if ch in "sS":
        cur = s.controls.style
        i = STREAM_STYLES.index(cur) if cur in STREAM_STYLES else -1
        return {"style": STREAM_STYLES[(i + (1 if ch == "s" else -1)) % len(STREAM_STYLES)]}
    if ch in "p ":
        return {"panic": True}
    return None


def status_line(session: StreamSession) -> str:
    st = session.status
    return (
        f"bar {st['bar']:>4} | {st['tempo']:.0f} bpm | T {st['temperature']:.2f} | "
        f"{st['key'] or 'any key'} | {st['style'] or 'any style'} | "
        f"notes {st['notes']} | underruns {st['underruns']}"
        + ("" if st.get("state", "playing") == "playing" else f" | {st['state']}")
        + (f" | held {st['holds']} bars" if st.get("holds") else "")
    )


class TerminalControls:
    """Reads single key presses in a background thread while the stream plays.

    Only when stdin is a terminal; the terminal mode is restored on exit.
    """

    def __init__(self, session: StreamSession, write=None) -> None:
        self.session = session
        self.write = write or (lambda text: print(text, file=sys.stderr, end="", flush=True))
        self._done = threading.Event()
        self._threads: list[threading.Thread] = []
        self._saved: list[Any] | None = None  # the terminal mode to restore (termios)

    @staticmethod
    def available() -> bool:
        return sys.stdin.isatty() and os.name == "posix"

    def __enter__(self) -> TerminalControls:
        import termios
        import tty

        fd = sys.stdin.fileno()
        self._saved = termios.tcgetattr(fd)
        tty.setcbreak(fd)
        self.write(HELP + "\n")
        for target in (self._read_keys, self._show_status):
            t = threading.Thread(target=target, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def __exit__(self, *exc) -> None:
        import termios

        self._done.set()
        for t in self._threads:
            t.join(timeout=1)
        if self._saved is not None:
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, self._saved)
        self.write("\n")

    def _read_keys(self) -> None:
        while not self._done.is_set():
            ready, _, _ = select.select([sys.stdin], [], [], 0.1)
            if not ready:
                continue
            ch = sys.stdin.read(1)
            if ch in ("q", "\x1b"):
                self.session.stop()
                return
            change = key_action(self.session, ch)
            if change:
                try:
                    self.session.control(**change)
                except TunesmithError as e:
                    self.write(f"\r{e}\n")

    def _show_status(self) -> None:
        while not self._done.wait(0.5):
            if self.session.running:
                self.write("\r\x1b[2K" + status_line(self.session))
