"""A live stream: tokens -> notes -> scheduled MIDI, with live controls, until stopped.

One loop, one thread: send what is due, apply control changes, and decode one more
model step whenever the decoded music reaches less than `lookahead_bars` ahead of the
playhead; otherwise sleep until the next event. A decode step takes a few milliseconds
on a CPU, which bounds how late any message goes out (`max_late_ms` in the report).

Python's cyclic garbage collector would undo that: a full collection walks every object
the process holds (~390,000 with the model and text encoder loaded: ~225 ms here), and it
stops the loop while it runs. So while any stream plays, the objects that existed when it
started are frozen out of collection (`gc.freeze`); collections then walk only what the
stream itself creates.

Control changes (temperature, key, style) take effect at the next barline after the
playhead: the notes decoded beyond it are dropped and decoded again under the new
setting, so a change is heard within a bar, not after the whole look-ahead buffer.
Tempo changes re-time the queued notes at once. Panic silences everything and restarts
from the sticky prefix on the next beat.

With an arrangement (`arrangement`: "auto" or a style, as in `Composer.generate`) the model
writes the plan's melody parts and a live band (band.py) adds the groove library's drums,
bass, comping and pad bar by bar, on channels of their own; it needs one bar more of
look-ahead, and the playhead starts once the first bar's band is written.
"""

from __future__ import annotations

import gc
import math
import queue
import signal
import threading
import time
from dataclasses import dataclass, field, replace

from ..api import Composer
from ..conditioning.controls import Controls, normalize_key, normalize_style
from ..conditioning.limits import DEFAULT_TEMPO, LOOKAHEAD_BARS, STREAM_DURATION, TEMPERATURE, TEMPO
from ..errors import BadInputError
from ..generate.sampling import SamplingConfig
from .band import LiveBand, tonic_chord
from .clock import RealClock
from .decoder import DecoderState, IncrementalDecoder
from .generator import TokenStream
from .outputs import Output
from .scheduler import Scheduler

# The bounds of conditioning/limits.py, named for this module's readers.
MIN_TEMPO, MAX_TEMPO = float(TEMPO.low), float(TEMPO.high)
MAX_DURATION = float(STREAM_DURATION.high)
_frozen_lock = threading.Lock()
_frozen_streams = 0  # streams running: the heap stays frozen while there is one


def _freeze_heap() -> None:
    global _frozen_streams
    with _frozen_lock:
        if _frozen_streams == 0:
            gc.freeze()
        _frozen_streams += 1


def _thaw_heap() -> None:
    global _frozen_streams
    with _frozen_lock:
        _frozen_streams -= 1
        if _frozen_streams == 0:
            gc.unfreeze()


@dataclass
class StreamSettings:
    tempo: float = DEFAULT_TEMPO
    lookahead_bars: float = 2.0  # decoded music kept ahead of the playhead
    start_delay: float = 0.1  # seconds between the first decoded note and its playing
    duration: float | None = None  # seconds; None: until stopped
    status_every: float = 1.0  # seconds between status events

    def validated(self) -> StreamSettings:
        TEMPO.check(self.tempo, field="tempo")
        if self.duration is not None:
            STREAM_DURATION.check(self.duration, field="duration")
        LOOKAHEAD_BARS.check(self.lookahead_bars, field="lookahead_bars")
        return self


@dataclass
class ControlChange:
    name: str
    value: object
    requested_beat: float  # playhead when asked
    applied_beat: float | None = None  # where music under the new setting starts
    latency_bars: float | None = None
    bar_len: float = 4.0  # quarter notes per bar where it took effect


@dataclass
class _Bar:
    index: int  # its Bar token's position in the stream's history
    start: float  # quarter notes
    length: float
    before: DecoderState  # the decoder just before the Bar token (for rewinds)
    number: int = 0  # bars from the stream's (re)start, 0-based


@dataclass
class StreamReport:
    seconds: float = 0.0
    first_note_s: float | None = None
    tokens: int = 0
    generation_s: float = 0.0
    needed_tokens_per_s: float = 0.0
    underruns: int = 0
    notes: int = 0
    bars: int = 0
    max_late_ms: float = 0.0
    notes_dropped_late: int = 0  # later than their whole written length: not played
    window_shifts: int = 0
    shift_ms_mean: float = 0.0
    shift_ms_max: float = 0.0
    arrangement: str | None = None  # the live band's style (None: the model's parts only)
    band_notes: int = 0  # notes the band wrote (those played are in `notes`)
    controls: list[dict] = field(default_factory=list)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.generation_s if self.generation_s else 0.0

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["tokens_per_s"] = round(self.tokens_per_s, 1)
        return d


class StreamSession:
    """Plays endless music from a prompt to `outputs` until `stop()` or the duration ends."""

    def __init__(
        self,
        composer: Composer,
        prompt: str,
        outputs: list[Output],
        settings: StreamSettings | None = None,
        sampling: SamplingConfig | None = None,
        controls: Controls | None = None,
        clock=None,
        arrangement: str = "none",
    ) -> None:
        """`arrangement`: "none" (the model's parts only), "auto" (a band when the prompt
        asks for one) or a style of the groove library: see the module's docstring."""
        if not prompt or not prompt.strip():
            raise BadInputError("the prompt is empty; describe the music to stream")
        self.settings = (settings or StreamSettings()).validated()
        self.clock = clock or RealClock()
        controls = replace(controls or composer.controls_for(prompt))
        controls, plan = composer.arrangement_for(controls, prompt, arrangement)
        self.settings.tempo = float(controls.tempo or self.settings.tempo)
        self.settings.validated()  # a tempo from the prompt must fit the stream's range too
        controls.tempo = self.settings.tempo
        self.stream = TokenStream(
            composer.engine, controls, prompt, sampling or SamplingConfig(speculative=False)
        )
        self.decoder = IncrementalDecoder(composer.tokenizer)
        programs = list(controls.instruments or [])
        self.plan = plan
        self.band = LiveBand(plan, len(programs), controls.key) if plan is not None else None
        if self.band is not None:
            programs += self.band.programs
        self.scheduler = Scheduler(outputs, programs, self.settings.tempo)
        self.outputs = outputs
        self.prompt = prompt
        self._commands: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self.bars: list[_Bar] = []  # decoded bars, oldest first
        self.report = StreamReport()
        self.changes: list[ControlChange] = []
        self._waiting: list[ControlChange] = []  # not yet heard
        self._underrun = False
        self._bars_decoded = 0  # every Bar decoded, rewound ones too (tokens per bar)
        self.running = False

    # -- public controls (any thread) ------------------------------------------------------
    def control(self, **changes) -> dict:
        """Queue live changes: temperature, key, style, tempo, panic. Validated here."""
        applied = {}
        for name, value in changes.items():
            if value is None:
                continue
            if name == "temperature":
                value = float(TEMPERATURE.check(float(value), field="temperature"))
            elif name == "key":
                value = normalize_key(str(value))
            elif name == "style":
                value = normalize_style(str(value))
            elif name == "tempo":
                value = float(TEMPO.check(float(value), field="tempo"))
            elif name == "panic":
                if not value:
                    continue
                value = True
            else:
                raise BadInputError(
                    f"unknown control {name!r}; use temperature, key, style, tempo or panic"
                )
            applied[name] = value
        for name, value in applied.items():
            self._commands.put((name, value))
        return applied

    def stop(self) -> None:
        self._stop.set()

    def add_output(self, output: Output) -> None:
        """Another destination for the music (before `run`)."""
        self.outputs.append(output)
        if self.scheduler.outputs is not self.outputs:
            self.scheduler.outputs.append(output)

    @property
    def status(self) -> dict:
        s = self.stream
        playhead = self.scheduler.beat_at(self.clock.now()) if self.scheduler.anchored else 0.0
        ahead = sum(1 for b in self.bars if b.start > playhead)
        return {
            "bar": max(0, self._bars_decoded - ahead),
            "underruns": self.report.underruns,
            "temperature": s.sampling.temperature,
            "key": s.controls.key,
            "style": s.controls.style,
            "tempo": self.scheduler.tempo,
            "notes": self.scheduler.sent_notes,
            "arrangement": self.band.style if self.band is not None else None,
        }

    # -- the loop ------------------------------------------------------------------------------
    def run(self) -> StreamReport:
        clock, sched = self.clock, self.scheduler
        start = clock.now()
        sched.start_time = start
        self.running = True
        self._emit("start", {**self.status, "prompt": self.prompt})
        next_status = start + self.settings.status_every
        next_sync = 0.0  # beat of the next barline: recordings are journaled there
        restore_sigterm = self._stop_on_sigterm()
        _freeze_heap()  # no full garbage collection pauses the music (module docstring)
        try:
            while not self._stop.is_set():
                now = clock.now()
                if self.settings.duration is not None and now - start >= self.settings.duration:
                    break
                sched.flush_due(now)
                if sched.anchored and (beat := sched.beat_at(now)) >= next_sync:
                    for out in self.outputs:
                        out.sync()
                    next_sync = self._next_barline(beat)
                self._apply_commands(now)
                if now >= next_status:
                    self._emit("status", self.status)
                    next_status = now + self.settings.status_every
                if self._needs_music(now):
                    self._decode_step(now)
                    continue
                wake = sched.next_time()
                wait = 0.01 if wake is None else min(0.01, max(0.0, wake - clock.now()))
                clock.sleep(wait)
        except KeyboardInterrupt:  # Ctrl-C is the ordinary way to stop a live stream
            pass
        finally:
            restore_sigterm()
            _thaw_heap()
            end = clock.now()
            sched.all_notes_off(end)
            self._emit("end", {})
            self._finish_report(end - start)
            self.running = False
            for out in self.outputs:
                out.close()
        return self.report

    def _stop_on_sigterm(self):
        """SIGTERM stops the stream like Ctrl-C (outputs closed, the recording written
        whole); returns what puts the previous handler back. Only the main thread can."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = signal.signal(signal.SIGTERM, lambda _sig, _frame: self.stop())
        return lambda: signal.signal(signal.SIGTERM, previous)

    def _next_barline(self, beat: float) -> float:
        """The first decoded barline after `beat` (else one bar on)."""
        later = [b.start for b in self.bars if b.start > beat + 1e-6]
        return min(later) if later else beat + self._bar_len()

    def _needs_music(self, now: float) -> bool:
        sched = self.scheduler
        if not sched.anchored:
            return True
        playhead = sched.beat_at(now)
        horizon = self.decoder.horizon
        if horizon < playhead - 1e-6:
            if not self._underrun:  # playback reached music not decided yet
                self.report.underruns += 1
                self._underrun = True
        else:
            self._underrun = False
        ahead = self.settings.lookahead_bars + (1 if self.band is not None else 0)
        return horizon < playhead + ahead * self._bar_len()

    def _bar_len(self) -> float:
        return self.bars[-1].length if self.bars else self.decoder.state.bar_len

    def _decode_step(self, now: float) -> None:
        t0 = time.perf_counter()
        ids = self.stream.advance()
        base = len(self.stream.history) - len(ids)
        for k, t in enumerate(ids):
            before = self.decoder.snapshot() if t == self.stream.tok.bar_id else None
            note = self.decoder.feed(t)
            if before is not None:
                st = self.decoder.state
                self.bars.append(_Bar(base + k, st.bar_start, st.bar_len, before, st.bars - 1))
                self._bars_decoded += 1
                if len(self.bars) > 64:
                    del self.bars[0]
                self._mark_applied(st.bar_start)
                if self.band is not None:
                    self._band_step()
            elif self.bars and self.stream.engine.grammar.type_of[t] == "TimeSig":
                self.bars[-1].length = self.decoder.state.bar_len
            if note is not None:
                self.scheduler.add(note)
                if self.band is not None:
                    self.band.heard(note)
                elif not self.scheduler.anchored:
                    # The first note is ready: start the playhead just ahead of it.
                    self._anchor(note.start)
        self.report.generation_s += time.perf_counter() - t0
        self.report.tokens += len(ids)

    def _anchor(self, beat: float) -> None:
        anchor_time = self.clock.now() + self.settings.start_delay
        self.scheduler.anchor(beat, anchor_time)
        self.report.first_note_s = anchor_time - self.scheduler.start_time

    def _band_step(self) -> None:
        """A Bar token arrived: the bar before it is complete, and the band of the bar
        before that is written (band.py); the first one starts the playhead at its bar."""
        assert self.band is not None
        if len(self.bars) < 2 or self.bars[-2].number != self.bars[-1].number - 1:
            return
        done = self.bars[-2]
        written = self.band.bar_complete(done.number, done.start, done.length)
        if written is None:
            return
        start, notes = written
        for note in notes:
            self.scheduler.add(note)
        if not self.scheduler.anchored:
            self._anchor(start)

    # -- control changes ------------------------------------------------------------------------
    def _apply_commands(self, now: float) -> None:
        while True:
            try:
                name, value = self._commands.get_nowait()
            except queue.Empty:
                return
            playhead = self.scheduler.beat_at(now) if self.scheduler.anchored else 0.0
            change = ControlChange(name, value, requested_beat=playhead)
            self.changes.append(change)
            if name == "tempo":
                self.scheduler.set_tempo(value, now)
                self.stream.set_tempo(value)
                change.applied_beat = playhead
            elif name == "panic":
                self._panic(now, change)
            else:
                self._rewind_after(playhead)
                if name == "temperature":
                    self.stream.set_temperature(value)
                elif name == "key":
                    self.stream.set_key(value)
                    if self.band is not None:
                        self.band.key_chord = tonic_chord(value)
                elif name == "style":
                    self.stream.set_style(value)
                self._waiting.append(change)
            self._emit_change(change)

    def _rewind_after(self, playhead: float) -> None:
        """Drop the decoded music from the first barline after the playhead on."""
        later = [b for b in self.bars if b.start > playhead + 1e-6]
        if not later:
            return  # that bar is not decoded yet: it will be made under the new setting
        bar = later[0]
        self.scheduler.drop_from(bar.start)
        if self.band is not None:
            self.band.rewind(bar.number, bar.start)
        self.stream.rewind_to_bar(bar.index)
        self.decoder.restore(bar.before)
        # Everything before that barline stays decided (the stream restarts with its Bar).
        self.decoder.state.cursor = bar.start
        self.bars = [b for b in self.bars if b.index < bar.index]

    def _panic(self, now: float, change: ControlChange) -> None:
        sched = self.scheduler
        sched.all_notes_off(now)
        sched.clear()
        self._emit("panic", {})
        # Restart on the next beat after a short breath, from the sticky prefix.
        restart = math.ceil(sched.beat_at(now + self.settings.start_delay)) if sched.anchored else 0
        self.stream.reset()
        self.decoder.restart_at(float(restart))
        self.bars = []
        if self.band is not None:
            self.band.reset()
        change.applied_beat = float(restart)
        self._waiting = [c for c in self._waiting if c.applied_beat is not None]

    def _mark_applied(self, bar_start: float) -> None:
        for change in self._waiting:
            change.applied_beat = bar_start
            self._emit_change(change)
        self._waiting = []

    def _emit_change(self, change: ControlChange) -> None:
        if change.applied_beat is None:
            return
        change.bar_len = self._bar_len()
        bars = (change.applied_beat - change.requested_beat) / max(1e-9, change.bar_len)
        change.latency_bars = round(max(0.0, bars), 3)
        self._emit(
            "control",
            {"name": change.name, "value": change.value, "latency_bars": change.latency_bars},
        )

    def _emit(self, name: str, data: dict) -> None:
        for out in self.outputs:
            out.event(name, data)

    def _finish_report(self, seconds: float) -> None:
        r, sched = self.report, self.scheduler
        r.seconds = seconds
        r.notes = sched.sent_notes
        r.bars = self._bars_decoded
        r.max_late_ms = round(sched.max_late * 1000, 2)
        r.notes_dropped_late = sched.dropped_late
        if self.band is not None:
            r.arrangement, r.band_notes = self.band.style, self.band.notes
        shifts = self.stream.shift_seconds
        r.window_shifts = len(shifts)
        if shifts:
            r.shift_ms_mean = round(1000 * sum(shifts) / len(shifts), 2)
            r.shift_ms_max = round(1000 * max(shifts), 2)
        # Tokens needed per second at this tempo: tokens per bar x bars per second.
        if self._bars_decoded and sched.anchored:
            per_bar = r.tokens / self._bars_decoded
            r.needed_tokens_per_s = round(per_bar * sched.tempo / 60.0 / self._bar_len(), 1)
        r.controls = [
            {
                "name": c.name,
                "value": c.value,
                "latency_bars": c.latency_bars,
                "requested_beat": round(c.requested_beat, 3),
                "applied_beat": c.applied_beat,
                "bar_len": c.bar_len,
            }
            for c in self.changes
        ]
