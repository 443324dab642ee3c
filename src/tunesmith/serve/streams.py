"""Streaming over HTTP: server-sent events of note events, and live-control endpoints.

`stream_router()` plugs into the serve app (`tunesmith serve`): each `GET /v1/stream`
starts a stream session for that client and ends it when the client goes away. With
`tunesmith stream --web` the CLI's own session is shared instead: every page that opens
the stream listens to the same music, and any of them can steer it.

Who may stop what: in `serve`, a stream's `start` event carries a token for the client
that opened it, and stopping or steering that stream needs it (`X-Stream-Token`), so one
client can never stop or steer another's stream; `serve` has no way to stop the server
over HTTP. With `stream --web`, Stop on the page ends the stream and the server keeps
serving the page; quitting the server is its own action (`POST /v1/server/quit`, the
page's Quit button, or Ctrl-C).

Events: `start` {session, status...}, `note` {t, pitch, velocity, duration, program,
channel, beat}, `status` {..., state, holds, dropped}, `control` {name, value,
latency_bars}, `hold` {beat, beats, bars, sustained, extended}, `warning` {text, ...},
`panic`, `end` (docs/STREAMING.md).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from dataclasses import dataclass, field

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from ..arrange.library import find_style
from ..conditioning.limits import (
    CFG,
    KEY_GUIDANCE,
    REPETITION_PENALTY,
    SEED,
    STREAM_DURATION,
    TEMPERATURE,
    TEMPO,
    TOP_K,
    TOP_P,
)
from ..errors import BadInputError
from ..stream.outputs import Output
from ..stream.session import StreamReport, StreamSession, StreamSettings
from .schemas import Preset, bounded

MAX_CLIENT_SECONDS = 3600.0  # server capacity: one served stream plays at most an hour
assert MAX_CLIENT_SECONDS in STREAM_DURATION
QUEUE_LIMIT = 5000  # events buffered for a slow client before it starts missing some
KEEPALIVE_S = 15.0


class BroadcastOutput(Output):
    """Hands each note and event to every subscribed client's asyncio queue."""

    def __init__(self) -> None:
        self._subs: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = []
        self._lock = threading.Lock()
        self.dropped = 0

    def subscribe(self) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue(QUEUE_LIMIT)
        with self._lock:
            self._subs.append((asyncio.get_running_loop(), q))
        return q

    def unsubscribe(self, q: asyncio.Queue) -> int:
        with self._lock:
            self._subs = [s for s in self._subs if s[1] is not q]
            return len(self._subs)

    def _put(self, name: str, data: dict) -> None:
        with self._lock:
            subs = list(self._subs)
        for loop, q in subs:
            try:
                loop.call_soon_threadsafe(self._offer, q, (name, data))
            except RuntimeError:  # that client's loop has closed
                pass

    def _offer(self, q: asyncio.Queue, item) -> None:
        try:
            q.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped += 1

    def note(self, event: dict) -> None:
        self._put("note", event)

    def event(self, name: str, data: dict) -> None:
        self._put(name, data)


@dataclass
class _Running:
    session: StreamSession
    output: BroadcastOutput
    thread: threading.Thread | None = None
    per_client: bool = True
    result: dict = field(default_factory=dict)
    token: str | None = None  # needed to stop or steer it (None: the shared --web stream)
    stopped_by_client: bool = False

    def check_token(self, token: str | None) -> None:
        """Only the client that opened a stream may stop or steer it (403 otherwise)."""
        if self.token is not None and not (
            token is not None and secrets.compare_digest(token, self.token)
        ):
            raise HTTPException(403, "this stream belongs to another client")


class StreamHub:
    """The app's running streams by id."""

    def __init__(self, max_sessions: int = 2) -> None:
        self.max_sessions = max_sessions
        self.streams: dict[str, _Running] = {}
        self.shared: str | None = None
        self._lock = threading.Lock()

    def add(self, session: StreamSession, output: BroadcastOutput, per_client: bool) -> str:
        sid = secrets.token_hex(6)
        token = secrets.token_urlsafe(16) if per_client else None
        with self._lock:
            self.streams[sid] = _Running(session, output, per_client=per_client, token=token)
        return sid

    def start(self, sid: str) -> None:
        run = self.streams[sid]

        def target():
            try:
                run.result["report"] = run.session.run()
            finally:
                if run.per_client:
                    with self._lock:
                        self.streams.pop(sid, None)

        run.thread = threading.Thread(target=target, name=f"stream-{sid}", daemon=True)
        run.thread.start()

    def active(self) -> int:
        return sum(1 for r in self.streams.values() if r.per_client)

    def get(self, sid: str) -> _Running:
        run = self.streams.get(sid)
        if run is None:
            raise HTTPException(404, f"no stream session {sid!r}")
        return run

    def stop_all(self) -> None:
        for run in list(self.streams.values()):
            run.session.stop()
        for run in list(self.streams.values()):
            if run.thread is not None:
                run.thread.join(timeout=5)


class StreamControl(BaseModel):
    """Live changes; give any of them."""

    model_config = ConfigDict(extra="forbid", strict=True)  # true is no number, "yes" no bool
    temperature: float | None = bounded(TEMPERATURE, None)
    key: str | None = Field(default=None, max_length=20, examples=["D minor"])
    style: str | None = Field(default=None, max_length=40, examples=["reel"])
    tempo: float | None = bounded(TEMPO, None)
    panic: bool = False


def _sse(name: str, data: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


def hub_of(request: Request) -> StreamHub:
    hub = getattr(request.app.state, "stream_hub", None)
    if hub is None:
        hub = request.app.state.stream_hub = StreamHub()
    return hub


def stream_router() -> APIRouter:
    router = APIRouter(tags=["stream"])

    @router.get("/v1/stream")
    async def open_stream(
        request: Request,
        prompt: str = Query("", max_length=500),
        tempo: float | None = Query(None, **TEMPO.pydantic()),
        key: str | None = Query(None, max_length=20),
        style: str | None = Query(None, max_length=40),
        preset: Preset | None = Query(None),
        temperature: float | None = Query(None, **TEMPERATURE.pydantic()),
        top_k: int | None = Query(None, **TOP_K.pydantic()),
        top_p: float | None = Query(None, **TOP_P.pydantic()),
        repetition_penalty: float | None = Query(None, **REPETITION_PENALTY.pydantic()),
        cfg: float | None = Query(None, **CFG.pydantic()),
        seed: int | None = Query(None, **SEED.pydantic()),
        key_guidance: float | None = Query(None, **KEY_GUIDANCE.pydantic()),
        duration: float = Query(MAX_CLIENT_SECONDS, gt=0, le=MAX_CLIENT_SECONDS),
        arrangement: str = Query("none", max_length=40),
    ) -> StreamingResponse:
        """Server-sent events of a live stream (a new one, or the shared one of --web).
        `arrangement`: "none", "auto" or a groove-library style (GET /v1/info
        "arrangements"): a band under the model's melody, bar by bar."""
        hub = hub_of(request)
        if hub.shared is not None:
            sid = hub.shared
            if hub.get(sid).stopped_by_client:
                raise HTTPException(
                    409,
                    "the stream was stopped; quit the server (Quit, or Ctrl-C where it runs) "
                    "and start tunesmith stream again",
                )
        else:
            composer = request.app.state.composer
            if composer is None:
                raise HTTPException(503, "the model is still loading")
            if not prompt.strip():
                raise BadInputError("the prompt is empty; describe the music to stream")
            if arrangement.strip().lower() not in ("auto", "none"):
                find_style(arrangement)  # an unknown style: 422 naming the nearest ones
            if hub.active() >= hub.max_sessions:
                raise HTTPException(429, "too many live streams right now; try again later")
            controls = composer.controls_for(prompt, key=key, tempo=tempo, style=style)
            sampling = composer.sampling_for(
                preset, temperature, top_k, top_p, repetition_penalty, cfg, seed,
                key_guidance=key_guidance,
            ).with_(speculative=False)  # fmt: skip
            out = BroadcastOutput()
            session = StreamSession(
                composer, prompt, [out], StreamSettings(duration=duration), sampling, controls,
                arrangement=arrangement,
            )  # fmt: skip
            sid = hub.add(session, out, per_client=True)
        run = hub.get(sid)
        queue = run.output.subscribe()
        if run.thread is None:
            hub.start(sid)

        async def events():
            try:
                start = {"session": sid, "shared": not run.per_client, **run.session.status}
                if run.token is not None:  # the opener's key to stop and steer it
                    start["token"] = run.token
                yield _sse("start", start)
                while True:
                    try:
                        name, data = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    if name == "start":
                        continue
                    yield _sse(name, data)
                    if name == "end":
                        return
            finally:
                left = run.output.unsubscribe(queue)
                if run.per_client and left == 0:
                    run.session.stop()  # nobody is listening any more

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @router.post("/v1/stream/{session}/control")
    async def control(
        session: str,
        body: StreamControl,
        request: Request,
        x_stream_token: str | None = Header(None),
    ) -> dict:
        """Change temperature, key, style or tempo, or panic; applied at the next bar.
        A served stream takes changes from its own client only (its `start` token)."""
        run = hub_of(request).get(session)
        run.check_token(x_stream_token)
        applied = run.session.control(**body.model_dump())
        if not applied:
            raise BadInputError("no change given: set temperature, key, style, tempo or panic")
        return {"applied": applied}

    @router.post("/v1/stream/{session}/stop")
    async def stop(
        session: str, request: Request, x_stream_token: str | None = Header(None)
    ) -> dict:
        """End a stream (not the server); its listeners get an `end` event. A served
        stream is stopped by its own client only (its `start` token)."""
        run = hub_of(request).get(session)
        run.check_token(x_stream_token)
        run.stopped_by_client = True
        run.session.stop()
        return {"stopped": session}

    @router.get("/v1/stream/{session}")
    async def status(session: str, request: Request) -> dict:
        """The stream's status line as JSON."""
        return hub_of(request).get(session).session.status

    return router


def serve_shared_stream(composer, session: StreamSession, host: str, port: int) -> StreamReport:
    """`tunesmith stream --web`: serve the page and play `session` to every listener.

    The stream starts with the server. Stop on a page ends the stream and the server
    keeps serving the page; the server stops when the stream reaches its --duration, on
    `POST /v1/server/quit` (the page's Quit button) or on Ctrl-C. The report is the
    stream's.
    """
    import uvicorn

    from . import ServeSettings, create_app

    out = BroadcastOutput()
    session.add_output(out)
    server_box: list = []
    app = create_app(
        composer,
        ServeSettings(warmup=False),
        routers=[stream_router(), _quit_router(session, server_box)],
    )
    hub = app.state.stream_hub = StreamHub()
    hub.shared = hub.add(session, out, per_client=False)
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    server_box.append(server)
    running = hub.streams[hub.shared]

    def run_stream():
        try:
            running.result["report"] = session.run()
        finally:
            if not running.stopped_by_client:  # --duration reached (or Ctrl-C, or an error)
                server.should_exit = True

    thread = threading.Thread(target=run_stream, name="stream", daemon=True)
    hub.streams[hub.shared].thread = thread
    thread.start()
    try:
        server.run()
    finally:
        session.stop()
        thread.join(timeout=10)
    return hub.streams[hub.shared].result.get("report") or session.report


def _quit_router(session: StreamSession, server_box: list) -> APIRouter:
    """`stream --web` only: the page learns it may quit the server, and quits it."""
    router = APIRouter(tags=["stream"])

    @router.get("/v1/server")
    async def server_mode() -> dict:
        """This server plays one shared stream and may be quit from the page."""
        return {"shared_stream": True, "quit": "/v1/server/quit"}

    @router.post("/v1/server/quit")
    async def quit_server() -> dict:
        """End the stream and stop the server (the command that started it returns)."""
        session.stop()
        for server in server_box:
            server.should_exit = True
        return {"quit": True}

    return router
