"""Server limits: the settings with their caps, a bounded work queue with a per-request
timeout, and a cap on request bodies.

The caps here are about this server's capacity (how much one request may ask of the box);
each musical one lies inside the bound of the one table, `conditioning/limits.py`, which
the request schemas enforce on their own.

Generation is CPU-heavy and synchronous, so it runs on a small thread pool. At most
`max_concurrent` jobs run and `max_queue` wait; a request beyond that is refused at once
(HTTP 429) rather than piling up. A job that outlives its timeout is told to stop (the
decode loop checks a flag at every step) and the request gets HTTP 504; its slot is freed
when the thread has really finished, so a timed-out job can never overbook the CPU.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields
from typing import Any, TypeVar

from ..conditioning.limits import BARS, CANDIDATES, PROMPT_CHARS, SECONDS
from ..deadline import JobCancelledError, stop_on
from ..errors import BadInputError

log = logging.getLogger(__name__)

T = TypeVar("T")

SETTINGS_ENV = "TUNESMITH_SERVE_SETTINGS"  # JSON, read by worker processes (--workers N)


@dataclass
class ServeSettings:
    """Everything the server can be told; the caps keep one request from taking the box."""

    model: str | None = None  # model or run folder; None: the shipped model
    max_concurrent: int = 2  # generations running at once (threads)
    max_queue: int = 8  # requests waiting for a slot; beyond this: 429
    timeout_s: float = 60.0  # per request, queue wait included; beyond this: 504
    read_timeout_s: float = 30.0  # a request body must arrive within this; beyond: 408
    max_bars: int = 64  # within limits.BARS
    max_seconds: float = 120.0  # within limits.SECONDS
    max_candidates: int = 8  # within limits.CANDIDATES
    max_work: int = 128  # bars x candidates x parts per request (docs/HARDENING.md)
    max_parts: int = 8  # instruments one request may ask for (16 ran past the timeout)
    max_prompt_chars: int = 500  # at most limits.PROMPT_CHARS (the parser reads no more)
    max_upload_bytes: int = 1024 * 1024  # a MIDI upload (1 MiB)
    max_audio_seconds: float = 150.0  # longest piece rendered to WAV (fits the timeout)
    max_notation_notes: int = 4_000  # largest piece written as MusicXML (notes)
    max_notation_measures: int = 512  # ... and bars x parts (docs/HARDENING.md: fits the timeout)
    wav_sample_rate: int = 44100
    soundfont: str | None = None  # None: the best installed GM SF2 (render/audio.py)
    reverb: float = 0.25  # render/mastering.py: 0 off, 1 wet as loud as dry
    loudness: float | None = -16.0  # LUFS target of audio responses; None: peak -1 dBFS
    warmup: bool = True  # load the text encoder at start-up, not on the first request
    # the model's intra-op threads (PyTorch's or ONNX Runtime's) at start-up (None: leave)
    torch_threads: int | None = None

    def validated(self) -> ServeSettings:
        checks = {
            "max_concurrent": self.max_concurrent >= 1,
            "max_queue": self.max_queue >= 0,
            "timeout_s": self.timeout_s > 0,
            "read_timeout_s": self.read_timeout_s > 0,
            "max_bars": self.max_bars in BARS,
            "max_seconds": self.max_seconds in SECONDS,
            "max_candidates": self.max_candidates in CANDIDATES,
            "max_work": self.max_work >= 1,
            "max_parts": 1 <= self.max_parts <= 16,
            "max_prompt_chars": 1 <= self.max_prompt_chars <= PROMPT_CHARS,
            "max_upload_bytes": self.max_upload_bytes >= 1024,
            "max_audio_seconds": self.max_audio_seconds > 0,
            "max_notation_notes": self.max_notation_notes >= 1,
            "max_notation_measures": self.max_notation_measures >= 1,
            "wav_sample_rate": 8000 <= self.wav_sample_rate <= 96000,
            "reverb": 0 <= self.reverb <= 1,
            "loudness": self.loudness is None or -40 <= self.loudness <= -6,
            "torch_threads": self.torch_threads is None or self.torch_threads >= 1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise BadInputError(f"invalid server setting(s): {', '.join(bad)}")
        if self.soundfont is not None:  # a missing or corrupt one stops the start, one line
            from ..render.audio import load_soundfont

            load_soundfont(self.soundfont)
        return self

    def audio(self):
        """How audio responses are rendered (render/audio.py `AudioOptions`)."""
        from ..render.audio import AudioOptions

        return AudioOptions(self.soundfont, self.reverb, self.loudness, self.wav_sample_rate)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ServeSettings:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known}).validated()

    def to_env(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_env(cls) -> ServeSettings:
        raw = os.environ.get(SETTINGS_ENV)
        return cls.from_dict(json.loads(raw)) if raw else cls().validated()

    def limits(self) -> dict:
        """The caps a client must respect (for /v1/info)."""
        return {
            "max_bars": self.max_bars,
            "max_seconds": self.max_seconds,
            "max_candidates": self.max_candidates,
            "max_work": self.max_work,
            "max_parts": self.max_parts,
            "max_prompt_chars": self.max_prompt_chars,
            "max_upload_bytes": self.max_upload_bytes,
            "max_audio_seconds": self.max_audio_seconds,
            "max_notation_notes": self.max_notation_notes,
            "max_notation_measures": self.max_notation_measures,
            "max_concurrent": self.max_concurrent,
            "max_queue": self.max_queue,
            "timeout_s": self.timeout_s,
        }


# -- the bounded queue --------------------------------------------------------------------
class QueueFullError(Exception):
    """Every running and waiting slot is taken."""


class JobTimeoutError(Exception):
    """The job did not finish within the request's time limit."""


class Limiter:
    """At most `max_concurrent` jobs running and `max_queue` waiting, each with a timeout."""

    def __init__(self, max_concurrent: int, max_queue: int):
        self.max_concurrent = max_concurrent
        self.capacity = max_concurrent + max_queue
        self._pool = ThreadPoolExecutor(max_concurrent, thread_name_prefix="tunesmith-job")
        self._lock = threading.Lock()
        self._admitted = 0  # running + waiting
        self._running = 0
        self.stats = {"completed": 0, "failed": 0, "rejected": 0, "timed_out": 0}

    def snapshot(self) -> dict:
        with self._lock:
            running, admitted = self._running, self._admitted
            stats = dict(self.stats)
        return {
            "running": running,
            "waiting": admitted - running,
            "capacity": self.capacity,
            "max_concurrent": self.max_concurrent,
            **stats,
        }

    def _admit(self) -> bool:
        with self._lock:
            if self._admitted >= self.capacity:
                self.stats["rejected"] += 1
                return False
            self._admitted += 1
            return True

    def _release(self, _future=None) -> None:
        with self._lock:
            self._admitted -= 1

    async def run(self, job: Callable[[threading.Event], T], timeout: float) -> T:
        """Run `job(stop)` on the pool; `stop` is set when the caller gives up on it.

        Raises QueueFullError at once when full, JobTimeoutError after `timeout` seconds
        (queue wait included); the job's own exceptions propagate.
        """
        if not self._admit():
            raise QueueFullError()
        stop = threading.Event()

        def work() -> T:
            if stop.is_set():  # gave up while it was waiting: do nothing
                raise JobCancelledError()
            with self._lock:
                self._running += 1
            try:
                with stop_on(stop):  # the job's loops call deadline.check() (deadline.py)
                    return job(stop)
            finally:
                with self._lock:
                    self._running -= 1

        try:
            future = self._pool.submit(work)
        except RuntimeError:  # the pool is shut down
            self._release()
            raise
        future.add_done_callback(self._release)  # the slot frees when the thread is done
        try:
            result = await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except asyncio.TimeoutError:
            stop.set()
            future.cancel()  # succeeds only if it never started
            self._count("timed_out")
            raise JobTimeoutError() from None
        except asyncio.CancelledError:  # the client went away
            stop.set()
            future.cancel()
            raise
        except Exception:
            self._count("failed")
            raise
        self._count("completed")
        return result

    def _count(self, name: str) -> None:
        with self._lock:
            self.stats[name] += 1

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def stop_checker(stop: threading.Event) -> Callable[..., None]:
    """A progress callback that ends a generation (JobCancelledError) once `stop` is set."""

    def progress(*_args: Any) -> None:
        if stop.is_set():
            raise JobCancelledError()

    return progress


# -- request bodies -----------------------------------------------------------------------
class BodyLimitMiddleware:
    """Refuse request bodies over `max_bytes` with 413 before any route reads them.

    A declared Content-Length over the cap is refused without reading; otherwise the body
    is read (at most `max_bytes` + one chunk) and replayed to the app, so chunked uploads
    are capped too.
    """

    def __init__(
        self, app, max_bytes: int, message: str | None = None, read_timeout_s: float = 30.0
    ):
        self.app = app
        self.max_bytes = max_bytes
        self.read_timeout_s = read_timeout_s
        self.message = message or f"the request body is larger than the limit of {max_bytes} bytes"

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > self.max_bytes
            except ValueError:
                too_big = False
            if too_big:
                await self._refuse(send)
                return
        chunks: list[bytes] = []
        size = 0
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.read_timeout_s  # a slow client cannot hold a request open
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, give_up - loop.time()))
            except asyncio.TimeoutError:
                await self._refuse(send, 408, f"the request body did not arrive within "
                                   f"{self.read_timeout_s:g} s")  # fmt: skip
                return
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        data = b"".join(chunks)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": data, "more_body": False}
            return await receive()  # after the body: wait for a disconnect

        await self.app(scope, replay, send)

    async def _refuse(self, send, status: int = 413, message: str | None = None) -> None:
        body = json.dumps({"detail": message or self.message}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


# -- unexpected errors ---------------------------------------------------------------------
class ContainErrorsMiddleware:
    """Answer an exception no handler took with a 500 "internal error", and keep the
    connection open.

    Starlette's outermost layer sends its 500 and then re-raises, and uvicorn closes the
    connection of an app that raised: a keep-alive client would see its connection reset.
    Here the traceback goes to the server's log and the exception stops. A response that
    had already begun (a stream) cannot be finished cleanly, so then it is re-raised.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            body = json.dumps({"detail": "internal error"}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
