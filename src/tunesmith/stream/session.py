"""A live stream: tokens -> notes -> scheduled MIDI, with live controls, until stopped.

Two threads on the real clock: the scheduler (the thread that calls `run`) sends what is
due and keeps time, and never waits on the model; the decode thread applies control
changes and decodes one more model step whenever the decoded music reaches less than
`lookahead_bars` ahead of the playhead. They share the queue under one lock, held for
bookkeeping only, never across a model step or a window rebuild (a prefill). On a fake
clock (tests) both run in one deterministic loop and each model step costs the clock's
`step_cost`.

On a busy computer (other processes on the same cores) the model can produce fewer
tokens per second than the tempo needs. The stream measures both continuously (tokens/s
over the recent model steps against tokens per beat over the recent bars x beats per
second) and degrades in this order, never by drifting from the tempo the user set:

1. *economy*: when production is under `ECONOMY_BELOW` x the need, each token costs less
   (generator.py `set_economy`: smaller window rebuilds, no guidance batch doubling) and
   a control change re-decodes only the bar being decoded, not the whole look-ahead;
2. *hold*: when the bar at the next barline cannot be decoded whole before it would be
   played out (projected from the measured rate), the music holds there for one bar:
   the notes sounding at the barline are sustained (or it rests when nothing sounds),
   and everything after moves one bar later on the same tempo grid. A hold starts and
   ends at a barline and repeats bar by bar while the stream is still behind;
3. *late notes*: a note that still goes out late keeps its written length from when it
   sounds, or is dropped when later than its whole length (scheduler.py).

Before the first note a short calibration (`CALIBRATE_S` or `CALIBRATE_TOKENS` of the
stream's own first tokens) measures tokens/s on this machine and warns, with what would
keep up, when the tempo and voices asked for cannot be sustained (a `warning` event).
`StreamSettings(live=False)` turns all of this off (one thread, no calibration, no
economy, no holds): the behaviour before it, kept as the benchmark's baseline.

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

import collections
import gc
import logging
import math
import os
import queue
import signal
import sys
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

log = logging.getLogger(__name__)
# The bounds of conditioning/limits.py, named for this module's readers.
MIN_TEMPO, MAX_TEMPO = float(TEMPO.low), float(TEMPO.high)
MAX_DURATION = float(STREAM_DURATION.high)
ECONOMY_BELOW = 1.5  # production / need under this: spend less per token
ECONOMY_ABOVE = 3.0  # ... and back to the full cost above this, with no hold for a while
ECONOMY_CALM_S = 20.0  # seconds without a hold before economy may end
HOLD_GUARD_S = 0.08  # a hold is decided at least this long before its barline is played
HOLD_SAFETY = 1.5  # the projected time to decode a bar, padded for bars denser than usual
CALIBRATE_S, CALIBRATE_TOKENS = 0.25, 64  # the start-up measurement: whichever comes first
CALIBRATE_MARGIN = 1.25  # production must beat the need by this much to be called enough
RATE_WINDOW_STEPS = 48  # model steps the production rate is measured over
SCHEDULER_NICE = -10  # the scheduler thread's priority where the system allows it
SWITCH_INTERVAL_S = 0.001  # how soon the decode thread hands the interpreter lock over
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
    live: bool = True  # the handling of a busy computer (module docstring); False: baseline

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
    notes_late: int = 0  # sent late but kept their written length
    holds: int = 0  # bars the music held at a barline because decoding fell behind
    hold_s: float = 0.0  # seconds of music spent holding
    economy_s: float = 0.0  # seconds spent in economy (cheaper tokens while behind)
    calibration: dict | None = None  # the start-up measurement (live streams)
    warnings: list[str] = field(default_factory=list)
    live: bool = True  # the busy-computer handling was on
    scheduler_nice: int | None = None  # the scheduler thread's niceness (None: unchanged)
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
        # Shared by the scheduler and decode threads: the queue, decoder, bars and band.
        self._lock = threading.RLock()
        self._wake = threading.Event()  # the scheduler tells the decode thread to look
        self._steps: collections.deque = collections.deque(maxlen=RATE_WINDOW_STEPS)
        self._calibrating = False
        self._pending_anchor: float | None = None  # while calibrating: where to start
        self._calib_per_beat: float | None = None
        self.holds: list[tuple[float, float]] = []  # (start beat, length) of each hold
        self._last_hold_t = -math.inf
        self._economy_since: float | None = None
        self._run_thread: int | None = None  # events from other threads wait for it
        self._tick = None  # the scheduler's turn (set by run)
        self._events: queue.SimpleQueue = queue.SimpleQueue()

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
        now = self.clock.now()
        playhead = self.scheduler.beat_at(now) if self.scheduler.anchored else 0.0
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
            "state": self._state(playhead),
            "holds": self.report.holds,
            "dropped": self.scheduler.dropped_late,
        }

    def _state(self, playhead: float) -> str:
        """playing, holding (at a barline, decoding behind), catching up (economy), starting."""
        if not self.scheduler.anchored:
            return "starting"
        if any(b <= playhead < b + n for b, n in self.holds[-4:]):
            return "holding"
        return "catching up" if self.stream.economy else "playing"

    # -- the loop ------------------------------------------------------------------------------
    def run(self) -> StreamReport:
        clock, sched = self.clock, self.scheduler
        start = clock.now()
        sched.start_time = start
        self.running = True
        self._run_thread = threading.get_ident()
        self.report.live = self.settings.live
        self._emit("start", {**self.status, "prompt": self.prompt})
        restore_sigterm = self._stop_on_sigterm()
        _freeze_heap()  # no full garbage collection pauses the music (module docstring)
        self._tick = self._ticker(start)
        try:
            if self.settings.live:
                self._calibrate()
            if self.settings.live and clock.threaded:
                self._run_threaded(start)
            else:
                self._run_inline(start)
        except KeyboardInterrupt:  # Ctrl-C is the ordinary way to stop a live stream
            pass
        finally:
            self._stop.set()  # the decode thread ends with the stream
            restore_sigterm()
            _thaw_heap()
            end = clock.now()
            with self._lock:
                sched.all_notes_off(end)
            while not self._events.empty():
                self._emit(*self._events.get())
            self._emit("end", {})
            self._finish_report(end - start)
            self.running = False
            for out in self.outputs:
                out.close()
        return self.report

    def _run_inline(self, start: float) -> None:
        """One thread: send, steer, decode, sleep (the fake clock, and the baseline)."""
        clock, sched = self.clock, self.scheduler
        ticker = self._tick
        assert ticker is not None
        while not self._stop.is_set():
            now = clock.now()
            if self.settings.duration is not None and now - start >= self.settings.duration:
                break
            ticker(now)
            self._apply_commands(now)
            if self.settings.live:
                self._update_economy(now)
            if self._needs_music(now):
                self._decode_step()
                continue
            wake = sched.next_time()
            wait = 0.01 if wake is None else min(0.01, max(0.0, wake - clock.now()))
            clock.sleep(wait)

    def _run_threaded(self, start: float) -> None:
        """The scheduler here, the model in a thread of its own (the module's docstring)."""
        clock, sched = self.clock, self.scheduler
        failure: list[BaseException] = []

        def decode() -> None:
            try:
                self._decode_loop()
            except BaseException as e:  # re-raised by the scheduler thread below
                failure.append(e)
                self._stop.set()

        worker = threading.Thread(target=decode, name="tunesmith-decode", daemon=True)
        restore_nice = self._raise_priority()
        # The decode thread's Python (sampling, the grammar) holds the interpreter lock for
        # up to the switch interval (5 ms by default) while the scheduler waits to send.
        switch = sys.getswitchinterval()
        sys.setswitchinterval(min(switch, SWITCH_INTERVAL_S))
        ticker = self._tick
        assert ticker is not None
        worker.start()
        try:
            while not self._stop.is_set():
                now = clock.now()
                if self.settings.duration is not None and now - start >= self.settings.duration:
                    break
                with self._lock:
                    ticker(now)
                    wake = sched.next_time()
                self._wake.set()
                wait = 0.005 if wake is None else min(0.005, max(0.0, wake - clock.now()))
                clock.sleep(wait)
        finally:
            self._stop.set()
            worker.join()
            restore_nice()
            sys.setswitchinterval(switch)
        if failure:
            raise failure[0]

    def _decode_loop(self) -> None:
        """The decode thread: controls, then one model step whenever music is needed."""
        while not self._stop.is_set():
            with self._lock:
                now = self.clock.now()
                self._apply_commands(now)
                self._update_economy(now)
                needed = self._needs_music(now)
            if needed:
                self._decode_step()
            else:
                self._wake.wait(0.01)
                self._wake.clear()

    def _ticker(self, start: float):
        """What the scheduler does at each turn: send what is due, journal recordings at
        barlines, hold when decoding cannot keep up, status events."""
        sched = self.scheduler
        state = {"sync": 0.0, "status": start + self.settings.status_every}

        def tick(now: float) -> None:
            while not self._events.empty():  # from the decode thread: sent from here
                self._emit(*self._events.get())
            if self.settings.live:
                self._check_hold(now)
            sched.flush_due(now)
            if sched.anchored and (beat := sched.beat_at(now)) >= state["sync"]:
                for out in self.outputs:
                    out.sync()
                state["sync"] = self._next_barline(beat)
            if now >= state["status"]:
                self._emit("status", self.status)
                state["status"] = now + self.settings.status_every

        return tick

    def _raise_priority(self):
        """The scheduler thread sends on time even when other processes want the cores:
        it asks for a higher priority (it needs little CPU, so this takes nothing from
        them). Only where the system allows it (Linux, with the privilege); the decode
        thread stays at the ordinary priority. Returns what undoes it."""
        if not hasattr(os, "setpriority") or not hasattr(threading, "get_native_id"):
            return lambda: None
        tid = threading.get_native_id()
        try:
            before = os.getpriority(os.PRIO_PROCESS, tid)
            os.setpriority(os.PRIO_PROCESS, tid, min(before, SCHEDULER_NICE))
        except OSError:  # not permitted: the ordinary priority
            return lambda: None
        self.report.scheduler_nice = os.getpriority(os.PRIO_PROCESS, tid)

        def restore() -> None:
            try:
                os.setpriority(os.PRIO_PROCESS, tid, before)
            except OSError:  # lowering back can fail only without the privilege
                pass

        return restore

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

    # -- decoding ------------------------------------------------------------------------------
    def _decode_step(self) -> None:
        """One model step (outside the lock: the scheduler keeps sending meanwhile), then
        its tokens into notes, bars and the queue (under the lock)."""
        t0, c0 = time.perf_counter(), self.clock.now()
        ids = self.stream.advance()
        self._spend(getattr(self.clock, "step_cost", 0.0))
        with self._lock:
            self._steps.append((len(ids), self.clock.now() - c0))
            self._take(ids)
            self.report.generation_s += time.perf_counter() - t0
            self.report.tokens += len(ids)

    def _spend(self, seconds: float) -> None:
        """A fake clock's cost of one model step. A live stream's scheduler keeps acting
        meanwhile, as its thread does on the real clock (to each due event, at least every
        5 ms); the baseline's one loop waits for the step."""
        if seconds <= 0 or self.clock.threaded:
            return
        if not self.settings.live or self._tick is None:
            self.clock.sleep(seconds)
            return
        end = self.clock.now() + seconds
        while (now := self.clock.now()) < end - 1e-12:
            nxt = self.scheduler.next_time()
            target = min(end, now + 0.005)
            if nxt is not None and now < nxt < target:
                target = nxt
            self.clock.sleep(target - now)
            self._tick(self.clock.now())

    def _take(self, ids: list[int]) -> None:
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

    def _anchor(self, beat: float) -> None:
        if self._calibrating:  # the playhead starts when the calibration is done
            if self._pending_anchor is None:
                self._pending_anchor = beat
            return
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

    # -- keeping up on a busy computer ---------------------------------------------------------
    def _calibrate(self) -> None:
        """Decode the stream's first tokens before its first note, measure tokens/s
        against what this tempo needs, and warn when it cannot keep up. It runs until the
        first bar is decoded whole (tokens per beat are read from it), at least
        `CALIBRATE_S` and at most 4x that; the first step (the first prefill) is not
        counted in the rate. Nothing is wasted: these are the stream's own first tokens."""
        clock = self.clock
        self._calibrating = True
        t0, tokens, busy, steps = clock.now(), 0, 0.0, 0
        try:
            while not self._stop.is_set():
                c0 = clock.now()
                before = self.report.tokens
                self._decode_step()
                steps += 1
                if steps > 1:
                    tokens += self.report.tokens - before
                    busy += clock.now() - c0
                ready = self._pending_anchor is not None
                spent = clock.now() - t0
                a_bar = len(self.bars) >= 2
                if ready and spent >= CALIBRATE_S and (a_bar or tokens >= CALIBRATE_TOKENS):
                    break
                if ready and a_bar and tokens >= CALIBRATE_TOKENS:
                    break
                if spent >= 4 * CALIBRATE_S and (ready or tokens >= 4 * CALIBRATE_TOKENS):
                    break  # measure what there is (with no note yet, the loop plays later)
                if self._past_duration():
                    break
        finally:
            self._calibrating = False
        per_beat = self._tokens_per_beat()
        if per_beat is None:  # not a whole bar yet: the tokens over the beats decoded
            start = self._pending_anchor or 0.0
            per_beat = self.report.tokens / max(0.5, self.decoder.horizon - start)
        self._calib_per_beat = per_beat
        rate = tokens / busy if busy > 0 else math.inf
        self._judge_calibration(rate, tokens, busy)
        with self._lock:
            if self._pending_anchor is not None:
                self._anchor(self._pending_anchor)

    def _past_duration(self) -> bool:
        d = self.settings.duration
        return d is not None and self.clock.now() - self.scheduler.start_time >= d

    def _judge_calibration(self, rate: float, tokens: int, busy: float) -> None:
        tempo = self.settings.tempo
        per_beat = self._calib_per_beat or 0.0
        need = per_beat * tempo / 60.0
        voices = max(1, len(self.stream.controls.instruments or []))
        enough = rate >= need * CALIBRATE_MARGIN
        calib = {
            "tokens": tokens,
            "seconds": round(busy, 3),
            "tokens_per_s": round(rate, 1) if math.isfinite(rate) else None,
            "needed_tokens_per_s": round(need, 1),
            "enough": enough,
        }
        if not enough:
            share = rate / (need * CALIBRATE_MARGIN)
            slower = max(float(TEMPO.low), 5 * math.floor(tempo * share / 5))
            fewer = math.floor(voices * share)
            options = [f"--tempo {slower:.0f}"]
            if 1 <= fewer < voices:
                options.append(f"{fewer} voice{'s' if fewer > 1 else ''} instead of {voices}")
            options.append("a lighter model (--model)")
            text = (
                f"this computer makes {rate:.0f} tokens/s just now and {tempo:.0f} bpm with "
                f"{voices} voice{'s' if voices > 1 else ''} needs about {need:.0f}: the music "
                f"will hold at barlines to keep time. What would keep up: " + ", or ".join(options)
            )
            calib["suggest_tempo"] = slower
            calib["suggest_voices"] = fewer if 1 <= fewer < voices else None
            self.report.warnings.append(text)
            log.warning("%s", text)
            self._emit("warning", {"text": text, **calib})
        self.report.calibration = calib

    def _rate(self) -> float | None:
        """Tokens per second of decoding over the recent model steps."""
        if len(self._steps) < 4:
            return None
        busy = sum(dt for _, dt in self._steps)
        return sum(n for n, _ in self._steps) / busy if busy > 0 else math.inf

    def _tokens_per_beat(self) -> float | None:
        """Tokens per quarter note over the last complete bars (else the calibration's:
        None before it)."""
        bars = self.bars[-5:]
        pairs = [(a, b) for a, b in zip(bars, bars[1:], strict=False) if b.number == a.number + 1]
        beats = sum(a.length for a, _ in pairs)
        if beats > 0:
            return sum(b.index - a.index for a, b in pairs) / beats
        return self._calib_per_beat

    def _need(self) -> float | None:
        per_beat = self._tokens_per_beat()
        return None if per_beat is None else per_beat * self.scheduler.tempo / 60.0

    def _update_economy(self, now: float) -> None:
        rate, need = self._rate(), self._need()
        if rate is None or not need:
            return
        if not self.stream.economy and (
            rate < ECONOMY_BELOW * need or now - self._last_hold_t < ECONOMY_CALM_S
        ):
            self.stream.set_economy(True)
            self._economy_since = now
        elif (
            self.stream.economy
            and rate > ECONOMY_ABOVE * need
            and now - self._last_hold_t >= ECONOMY_CALM_S
        ):
            self.stream.set_economy(False)
            self._end_economy(now)

    def _end_economy(self, now: float) -> None:
        if self._economy_since is not None:
            self.report.economy_s += now - self._economy_since
            self._economy_since = None

    def _ready_until(self) -> float | None:
        """The barline from which music is not wholly written yet: the start of the bar the
        model is decoding (with a band: the end of the last bar whose band is written)."""
        st = self.decoder.state
        if st.bars == 0:
            return None
        if self.band is not None:
            return min(st.bar_start, self.band.written_until)
        return st.bar_start

    def _check_hold(self, now: float) -> None:
        """Hold at the next barline if the bar after it cannot be decoded whole in time."""
        sched = self.scheduler
        if not sched.anchored or self._calibrating:
            return
        barline = self._ready_until()
        if barline is None or barline <= sched.beat_at(now) + 1e-9:
            return  # nothing decoded yet, or the playhead is already inside that bar
        steps = [dt for _, dt in self._steps]
        step_s = sum(steps) / len(steps) if steps else 0.0
        guard = HOLD_GUARD_S + min(1.0, 2 * step_s)
        deadline = sched.time_at(barline)
        if deadline - now > guard:
            return  # not time to decide yet
        if not self._will_finish(now, barline, guard):
            self._hold(now, barline)

    def _will_finish(self, now: float, barline: float, guard: float) -> bool:
        """Whether the bar from `barline` will be decoded before each of its notes is due,
        at the rate measured (decoding and playing both move linearly through the bar,
        and decoding is already past the barline, so checking its end is enough)."""
        if self.band is not None:
            return False  # its band is written only after the bar after it: not in time
        st = self.decoder.state
        rate, per_beat = self._rate(), self._tokens_per_beat()
        if rate is None or per_beat is None:
            return self.decoder.horizon >= barline + st.bar_len - 1e-9
        remaining = max(0.0, barline + st.bar_len - self.decoder.horizon) * per_beat
        done_at = now + HOLD_SAFETY * remaining / rate
        return done_at + guard <= self.scheduler.time_at(barline + st.bar_len)

    def _hold(self, now: float, barline: float) -> None:
        """One bar of time inserted at `barline`: the sounding chord is sustained and
        everything after moves one bar later (the tempo is unchanged)."""
        length = next((b.length for b in self.bars if abs(b.start - barline) < 1e-6), None)
        length = length or self.decoder.state.bar_len
        before = self.scheduler.sustained
        extended = self.scheduler.hold(barline, length)
        sustained = self.scheduler.sustained - before
        st = self.decoder.state
        if st.bar_start >= barline - 1e-9:
            st.bar_start += length
            st.cursor += length
        for bar in self.bars:
            if bar.start >= barline - 1e-9:
                bar.start += length
                bar.before = replace(
                    bar.before,
                    bar_start=bar.before.bar_start + length,
                    cursor=bar.before.cursor + length,
                )
        if self.band is not None:
            self.band.shift_from(barline, length)
        self.holds.append((barline, length))
        self._last_hold_t = now
        self.report.holds += 1
        self.report.hold_s += length * 60.0 / self.scheduler.tempo
        self._emit(
            "hold",
            {
                "beat": round(barline, 4),
                "beats": length,
                "bars": 1,
                "sustained": sustained,
                "extended": extended,
            },
        )

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
        # Behind (economy): only the bar being decoded is made again, not the look-ahead.
        bar = later[-1] if self.stream.economy else later[0]
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
        """Events go out from the thread that runs the stream (outputs need not be
        thread-safe): the decode thread's wait for the scheduler's next turn."""
        if self._run_thread is not None and threading.get_ident() != self._run_thread:
            self._events.put((name, data))
            return
        for out in self.outputs:
            out.event(name, data)

    def _finish_report(self, seconds: float) -> None:
        r, sched = self.report, self.scheduler
        r.seconds = seconds
        r.notes = sched.sent_notes
        r.bars = self._bars_decoded
        r.max_late_ms = round(sched.max_late * 1000, 2)
        r.notes_dropped_late = sched.dropped_late
        r.notes_late = sched.late_notes
        r.hold_s = round(r.hold_s, 2)
        self._end_economy(self.clock.now())
        r.economy_s = round(r.economy_s, 2)
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
