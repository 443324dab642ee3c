"""uvicorn's h11 protocol with a read timeout for the request head.

uvicorn closes an idle keep-alive connection (`timeout_keep_alive`) but never a client that
sends its request head slowly, or sends a few bytes and then nothing: each such connection
would hold a socket for as long as the client likes (a "slowloris" attack). Here the head
of every request must arrive in full within `HEAD_TIMEOUT_S` of the connection opening (or
of the previous response), else the connection is closed. The body's own time limit is
`BodyLimitMiddleware`'s (408, `ServeSettings.read_timeout_s`). `tunesmith serve` runs
uvicorn with this protocol (`uvicorn_target`).
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.h11_impl import H11Protocol

HEAD_TIMEOUT_S = 10.0
PROTOCOL = "tunesmith.serve.protocol:TimedH11Protocol"  # for uvicorn.run(http=...)


class TimedH11Protocol(H11Protocol):
    """H11Protocol that closes a connection whose request head is not in within the limit."""

    head_timeout_s = HEAD_TIMEOUT_S
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def handle_events(self) -> None:
        super().handle_events()
        if self._serving():
            self._disarm()  # the head is in; the app now has the request

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self._serving():
            self._arm()  # the next request's head has the same time to arrive

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _serving(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing() and not self._serving():
            self.logger.info(
                "closing a connection whose request head took over %gs", self.head_timeout_s
            )
            self.transport.close()
