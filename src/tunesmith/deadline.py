"""Cooperative stopping for long jobs: the server tells a job to stop, the job's loops listen.

The server runs each request on a worker thread with a stop flag (`serve/limits.py`); when
the request times out (504) or its client goes away, the flag is set. Code that can run for
long (the decode loop, the MusicXML writer's loops, audio rendering) calls `check()` at
each step: outside a job it does nothing, inside a stopped job it raises
`JobCancelledError`, which unwinds the job so its slot is free again at once.

The flag lives in a thread-local, so the library's signatures carry nothing for it and a
thread that is not running a job (the CLI, a live stream) never stops this way.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_local = threading.local()


class JobCancelledError(Exception):
    """Raised inside a job once it has been told to stop (timeout or client gone)."""


@contextmanager
def stop_on(event: threading.Event) -> Iterator[threading.Event]:
    """Run the body as a job that stops (at its next `check()`) once `event` is set."""
    previous = getattr(_local, "event", None)
    _local.event = event
    try:
        yield event
    finally:
        _local.event = previous


def current() -> threading.Event | None:
    """The stop flag of the job this thread is running (None: not a job)."""
    return getattr(_local, "event", None)


def stopped() -> bool:
    """Whether this thread's job has been told to stop."""
    event = getattr(_local, "event", None)
    return event is not None and event.is_set()


def check() -> None:
    """Raise JobCancelledError when this thread's job has been told to stop."""
    event = getattr(_local, "event", None)
    if event is not None and event.is_set():
        raise JobCancelledError()
