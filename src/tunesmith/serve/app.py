"""The HTTP API and the web page: `create_app(composer, settings) -> FastAPI`.

The model loads once, at start-up (the app's lifespan), unless a loaded `Composer` is
passed in. Generation runs on a bounded thread pool (`limits.Limiter`): 429 when it is
full, 504 past the per-request timeout. Every error a client can cause is a 422 (or 413,
429, 504) with one clear line in `detail`; anything else is a 500 that says "internal
error" and logs the traceback on the server only. No route takes a file-system path.
"""

from __future__ import annotations

import base64
import functools
import importlib.util
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import anyio
import symusic
from fastapi import APIRouter, Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from swagger_ui_bundle import swagger_ui_path

from ..api import Composer
from ..arrange.library import style_names
from ..conditioning.controls import METERS, STYLES
from ..conditioning.instruments import GM_PROGRAM_NAMES, INSTRUMENT_WORDS
from ..conditioning.limits import (
    BARS,
    CANDIDATES,
    CFG,
    KEY_GUIDANCE,
    REPETITION_PENALTY,
    SEED,
    TEMPERATURE,
    TEMPO,
    TOP_K,
    TOP_P,
)
from ..errors import BadInputError, TunesmithError
from ..generate.sampling import PRESETS
from ..music.keys import KEYS
from ..render.piece import Piece
from .limits import (
    BodyLimitMiddleware,
    ContainErrorsMiddleware,
    JobCancelledError,
    JobTimeoutError,
    Limiter,
    QueueFullError,
    ServeSettings,
    stop_checker,
)
from .schemas import MAX_PROGRESSION_CHARS, Format, GenerateRequest, Health, PieceJSON, Preset

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
MEDIA_TYPES = {
    "midi": ("audio/midi", "mid"),
    "wav": ("audio/wav", "wav"),
    "flac": ("audio/flac", "flac"),  # audio through the server's soundfont, reverb, loudness
    "ogg": ("audio/ogg", "ogg"),
    "mp3": ("audio/mpeg", "mp3"),
    "musicxml": ("application/vnd.recordare.musicxml+xml", "musicxml"),
    "svg": ("image/svg+xml", "svg"),  # sheet music, all pages as one tall page
    "abc": ("text/vnd.abc; charset=utf-8", "abc"),
}
MULTIPART_OVERHEAD = 64 * 1024  # form fields and boundaries around an upload


class InternalError(Exception):
    """An unexpected failure, already logged; the client sees only 'internal error'."""


# -- turning a Piece into a response -------------------------------------------------------
def piece_json(piece: Piece, seed: int, elapsed_s: float) -> dict:
    """The piece as plain JSON: flat notes (seconds), tracks, conditions and the MIDI."""
    from ..render.notation import export_json_notes

    data = export_json_notes(piece.score, piece.chord_spans())
    tracks, notes = [], []
    for i, t in enumerate(data["tracks"]):
        program = -1 if t["is_drum"] else t["program"]
        tracks.append(
            {
                "index": i,
                "name": t["name"],
                "program": program,
                "instrument": t["instrument"],
                "is_drum": t["is_drum"],
                "num_notes": len(t["notes"]),
            }
        )
        for n in t["notes"]:
            notes.append(
                {
                    "track": i,
                    "program": program,
                    "pitch": n["pitch"],
                    "start": n["start_s"],
                    "duration": round(n["end_s"] - n["start_s"], 4),
                    "velocity": n["velocity"],
                }
            )
    notes.sort(key=lambda n: (n["start"], n["track"], n["pitch"]))
    return {
        "prompt": piece.prompt,
        "seed": seed,
        "controls": piece.controls.to_dict(),
        "duration_s": data["duration_s"],
        "tempo": data["tempo"],
        "time_signature": data["time_signature"],
        "num_notes": len(notes),
        "tracks": tracks,
        "notes": notes,
        "chords": data["chords"],
        "scores": {k: float(v) for k, v in (piece.scores or {}).items()},
        "elapsed_s": round(elapsed_s, 3),
        "midi_base64": base64.b64encode(piece.midi_bytes()).decode("ascii"),
    }


def _silence_wav(sample_rate: int, seconds: float = 1.0, ext: str = ".wav") -> bytes:
    import numpy as np

    from ..render.audio import encode

    silence = np.zeros((int(sample_rate * seconds), 2), dtype=np.float32)
    return encode(silence, sample_rate, ext)


def render(
    piece: Piece, fmt: str, seed: int, elapsed_s: float, settings: ServeSettings, stem: str
) -> tuple[Any, str | None, dict]:
    """(body, media type, headers) for `piece` in `fmt`; JSON bodies are dicts."""
    if fmt == "json":
        return piece_json(piece, seed, elapsed_s), None, {}
    media_type, ext = MEDIA_TYPES[fmt]
    if fmt == "midi":
        body = piece.midi_bytes()
    elif fmt in ("wav", "flac", "ogg", "mp3"):
        if piece.duration_s > settings.max_audio_seconds:
            raise BadInputError(
                f"the piece lasts {piece.duration_s:.0f} s, longer than the server renders "
                f"to audio ({settings.max_audio_seconds:g} s); ask for format 'midi'"
            )
        if piece.num_notes == 0:
            body = _silence_wav(settings.wav_sample_rate, ext="." + ext)
        else:
            from ..render.isolated import audio_bytes_bounded

            # a long render runs in a child process that a timed-out job kills at once
            body = audio_bytes_bounded(piece.score, settings.audio(), "." + ext, piece.duration_s)
    elif fmt in ("svg", "abc"):  # written through MusicXML's quantiser: its caps apply
        _check_notation(piece, settings)
        body = notation_bytes(piece, fmt)
    else:
        from ..render.isolated import musicxml_bytes_bounded

        measures = _check_notation(piece, settings)
        # a large score is written in a child process that a timed-out job kills at once
        body = musicxml_bytes_bounded(
            piece.score,
            title=piece.prompt or "tunesmith",
            key=piece.controls.key,
            chords=piece.chord_spans(),
            measures=measures,
        )
    headers = {
        "Content-Disposition": f'attachment; filename="{stem}.{ext}"',
        "X-Tunesmith-Seed": str(seed),
        "X-Tunesmith-Notes": str(piece.num_notes),
        "X-Tunesmith-Duration": f"{piece.duration_s:.3f}",
    }
    return body, media_type, headers


def notation_bytes(piece: Piece, fmt: str) -> bytes:
    """The piece as written (not as performed) in SVG sheet music (one tall page) or ABC,
    with its chord symbols."""
    notation = piece.written if piece.written is not None else piece.score
    title, key, chords = piece.prompt or "tunesmith", piece.controls.key, piece.chord_spans()
    if fmt == "svg":
        from ..render.engrave import score_svgs

        return score_svgs(notation, title, key, chords, pages="single")[0].encode()
    from ..render.abc import abc_text

    return abc_text(notation, title, key, chords).encode()


def _check_notation(piece: Piece, settings: ServeSettings) -> int:
    """MusicXML is the slowest format to write (its cost grows with notes and with bars x
    parts): the server's caps keep the largest one inside the timeout (docs/HARDENING.md)."""
    if piece.num_notes > settings.max_notation_notes:
        raise BadInputError(
            f"the piece has {piece.num_notes:,} notes; this server writes MusicXML for at most "
            f"{settings.max_notation_notes:,} (ask for format 'midi')"
        )
    bars = _bars_of(piece.score) if piece.num_notes else 0
    measures = bars * _parts_of(piece.score)
    if measures > settings.max_notation_measures:
        raise BadInputError(
            f"the piece is {bars:,} bars of {_parts_of(piece.score)} part(s); this server writes "
            f"MusicXML for at most {settings.max_notation_measures:,} bars x parts "
            "(ask for format 'midi')"
        )
    return measures


def _respond(result: tuple[Any, str | None, dict]) -> Response:
    body, media_type, headers = result
    if media_type is None:
        return JSONResponse(body, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


# -- checks the pydantic models cannot make (they depend on the settings) ------------------
def _check_caps(settings: ServeSettings, prompt: str, candidates: int) -> None:
    if len(prompt) > settings.max_prompt_chars:
        raise BadInputError(
            f"prompt is {len(prompt)} characters; the limit is {settings.max_prompt_chars}"
        )
    if candidates > settings.max_candidates:
        raise BadInputError(
            f"candidates must be between 1 and {settings.max_candidates} on this server"
        )


def _check_bars(settings: ServeSettings, bars: int | None) -> None:
    if bars is not None and bars > settings.max_bars:
        raise BadInputError(
            f"the requested length is {bars} bars; this server writes at most "
            f"{settings.max_bars} bars (ask for fewer bars or seconds)"
        )


UNKNOWN_PARTS = 4  # parts assumed when a request names no instruments (the model chooses)


def _check_work(settings: ServeSettings, bars: int, candidates: int, parts: int) -> None:
    """A request's decoding work is about bars x candidates x parts (every part of every
    candidate is decoded bar by bar); the budget keeps the largest request inside the
    timeout on the 2-core machine (measured: docs/HARDENING.md)."""
    parts = max(1, parts)
    work = bars * candidates * parts
    if work > settings.max_work:
        raise BadInputError(
            f"this request asks for {bars} bars x {candidates} candidate(s) x {parts} part(s) "
            f"= {work:,} bar-parts; this server writes at most {settings.max_work:,} per "
            "request (ask for fewer bars, candidates or instruments)"
        )


def _parts_of(score: symusic.Score) -> int:
    return sum(1 for t in score.tracks if len(t.notes))


def _stem(prompt: str, seed: int) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", prompt.lower()).strip("-")[:40].strip("-")
    return f"tunesmith-{words or 'piece'}-{seed}"


def _new_seed(seed: int | None) -> int:
    return seed if seed is not None else secrets.randbelow(2**31)


def _model_card(composer: Composer) -> dict:
    """What is known about the loaded model, without its file-system location."""
    import json

    from ..model.folder import default_model_path

    cfg = composer.model.cfg
    meta: dict = {}
    path = composer.path
    if path is not None and (Path(path) / "config.json").is_file():
        try:
            meta = json.loads((Path(path) / "config.json").read_text())
        except (OSError, ValueError):
            meta = {}
    default = path is not None and Path(path).resolve() == default_model_path().resolve()
    params = sum(p.numel() for p in composer.model.parameters())
    return {
        "name": meta.get("run") or (Path(path).name if path else "model"),
        "default_model": default,
        "description": (
            "the shipped default model: trained on the corpus bundled with music21 "
            "(folk tunes, chorales, renaissance polyphony, quartets); see MODEL_CARD.md"
            if default
            else "a user-trained tunesmith model"
        ),
        "architecture": (
            f"decoder-only transformer, {cfg.n_layer} layers, {cfg.n_head} heads, "
            f"d_model {cfg.d_model}, {cfg.conditioning} text conditioning"
        ),
        "parameters": int(params),
        "context_tokens": cfg.block_size,
        "tokenization": meta.get("tokenization", "REMI"),
        "vocab_size": cfg.vocab_size,
        "training_step": meta.get("step"),
        "config": asdict(cfg),
    }


# -- the app ------------------------------------------------------------------------------
def create_app(
    composer: Composer | None = None,
    settings: ServeSettings | None = None,
    routers: Iterable[APIRouter] = (),
) -> FastAPI:
    """The FastAPI app. Without `composer`, `settings.model` is loaded at start-up.

    `routers` are included as they are (the streaming endpoints plug in here); they find
    the model at `request.app.state.composer` and the settings at `.state.settings`.
    """
    settings = (settings or ServeSettings()).validated()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if settings.torch_threads and importlib.util.find_spec("torch") is not None:
            import torch  # PyTorch is optional: the ONNX backend takes its threads at load

            torch.set_num_threads(settings.torch_threads)
        if app.state.composer is None:
            log.info("loading model %s", settings.model or "(shipped default)")
            app.state.composer = await anyio.to_thread.run_sync(
                functools.partial(Composer.load, settings.model, threads=settings.torch_threads)
            )
        if settings.warmup:
            await anyio.to_thread.run_sync(_warm_up, app.state.composer)
        if app.state.limiter is None:
            app.state.limiter = Limiter(settings.max_concurrent, settings.max_queue)
        try:
            yield
        finally:
            app.state.limiter.shutdown()
            app.state.limiter = None

    app = FastAPI(
        title="tunesmith",
        summary="Text in, music out: MIDI, WAV, MusicXML or notes as JSON.",
        version=_version(),
        lifespan=lifespan,
        docs_url=None,  # served below from the swagger-ui-bundle package: works offline
        redoc_url=None,
    )
    app.state.composer = composer
    app.state.settings = settings
    app.state.limiter = Limiter(settings.max_concurrent, settings.max_queue)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_upload_bytes + MULTIPART_OVERHEAD,
        message=_too_large_message(settings.max_upload_bytes),
        read_timeout_s=settings.read_timeout_s,
    )
    app.add_middleware(ContainErrorsMiddleware)  # outermost of ours: a 500, no reset
    _install_error_handlers(app)

    def get_composer(request: Request) -> Composer:
        c = request.app.state.composer
        if c is None:
            raise _Unavailable()
        return c

    async def run_job(request: Request, job: Callable[[threading.Event], Any]) -> Any:
        limiter: Limiter | None = request.app.state.limiter
        if limiter is None:
            raise _Unavailable()
        try:
            return await limiter.run(job, settings.timeout_s)
        except (TunesmithError, QueueFullError, JobTimeoutError, JobCancelledError):
            raise
        except Exception as e:
            log.exception("request %s %s failed", request.method, request.url.path)
            raise InternalError() from e

    # -- meta ---------------------------------------------------------------------------
    @app.get("/health", response_model=Health, tags=["meta"])
    async def health(request: Request) -> dict:
        """Liveness, whether the model is loaded, and the queue's state."""
        limiter = request.app.state.limiter
        return {
            "status": "ok",
            "model_loaded": request.app.state.composer is not None,
            "queue": limiter.snapshot() if limiter else {},
        }

    @app.get("/v1/info", tags=["meta"])
    async def info(request: Request) -> dict:
        """The model card, the sampling presets, valid attribute values and the limits."""
        c = get_composer(request)
        return {
            "model": _model_card(c),
            "version": _version(),
            "presets": PRESETS,
            "keys": list(KEYS),
            "meters": list(METERS),
            "styles": list(STYLES),
            "model_styles": dict(c.styles),  # a fine-tuned model's own words -> style
            "arrangements": style_names(),
            "instruments": {
                "words": sorted(INSTRUMENT_WORDS),
                "programs": [{"program": i, "name": n} for i, n in enumerate(GM_PROGRAM_NAMES)],
                "drums": -1,
            },
            "tempo": {"min": float(TEMPO.low), "max": float(TEMPO.high)},
            "sampling": {
                "temperature": TEMPERATURE.to_dict(),
                "top_k": TOP_K.to_dict(),
                "top_p": TOP_P.to_dict(),
                "repetition_penalty": REPETITION_PENALTY.to_dict(),
                "cfg": CFG.to_dict(),
                "key_guidance": KEY_GUIDANCE.to_dict(),
                "candidates": {"min": 1, "max": settings.max_candidates},
            },
            "formats": ["json", "midi", "wav", "flac", "ogg", "mp3", "musicxml", "svg", "abc"],
            "limits": settings.limits(),
        }

    # -- generation ---------------------------------------------------------------------
    @app.post(
        "/v1/generate",
        tags=["music"],
        responses={
            200: {
                "description": "notes as JSON, or the file",
                "model": PieceJSON,
                "content": {m: {} for m, _ in MEDIA_TYPES.values()},
            },
            422: {"description": "invalid request (one-line `detail`)"},
            429: {"description": "the queue is full"},
            504: {"description": "the request took longer than the server's timeout"},
        },
    )
    async def generate(body: GenerateRequest, request: Request) -> Response:
        """Write a piece for a prompt and attributes; `format` picks JSON or a file."""
        c = get_composer(request)
        s = body.sampling
        _check_caps(settings, body.prompt, s.candidates)
        attrs = body.attributes.model_dump(exclude_none=True)
        if attrs.get("seconds") is not None and attrs["seconds"] > settings.max_seconds:
            raise BadInputError(f"seconds must be at most {settings.max_seconds:g} on this server")
        controls = c.controls_for(body.prompt, **attrs)
        seed = _new_seed(body.seed)
        sampling = Composer.sampling_for(
            s.preset, s.temperature, s.top_k, s.top_p, s.repetition_penalty, s.cfg, seed,
            key_guidance=s.key_guidance,
        )  # fmt: skip
        _check_bars(settings, controls.bars or sampling.max_bars)
        controls, progression = c.progression_for(controls, body.chords)
        controls, plan = c.arrangement_for(controls, body.prompt, body.arrangement, progression)
        parts = len(controls.instruments) if controls.instruments else UNKNOWN_PARTS
        if parts > settings.max_parts:
            raise BadInputError(
                f"{parts} instruments asked for; this server writes at most "
                f"{settings.max_parts} parts"
            )
        _check_work(settings, controls.bars or sampling.max_bars, s.candidates, parts)

        def job(stop: threading.Event):
            t0 = time.perf_counter()
            piece = c.generate_with(
                controls, sampling, body.prompt, s.candidates, progress=stop_checker(stop),
                chords=progression,
            )  # fmt: skip
            piece = c.performed(
                c.arranged(piece, plan), plan, body.performance, body.humanize, seed
            )
            elapsed = time.perf_counter() - t0
            return render(piece, body.format, seed, elapsed, settings, _stem(body.prompt, seed))

        return _respond(await run_job(request, job))

    @app.post("/v1/continue", tags=["music"], responses={422: {}, 413: {}, 429: {}, 504: {}})
    async def continue_(
        request: Request,
        file: UploadFile = File(..., description="a standard MIDI file (at most the upload cap)"),
        bars: int = Form(
            ..., **BARS.pydantic(), description="total length in bars, input included"
        ),
        prompt: str = Form("", max_length=10_000),
        seed: int | None = Form(None, **SEED.pydantic()),
        format: Format = Form("json"),
        preset: Preset | None = Form(None),
        temperature: float | None = Form(None, **TEMPERATURE.pydantic()),
        top_k: int | None = Form(None, **TOP_K.pydantic()),
        top_p: float | None = Form(None, **TOP_P.pydantic()),
        repetition_penalty: float | None = Form(None, **REPETITION_PENALTY.pydantic()),
        cfg: float | None = Form(None, **CFG.pydantic()),
        key_guidance: float | None = Form(None, **KEY_GUIDANCE.pydantic()),
        candidates: int = Form(1, **CANDIDATES.pydantic()),
        chords: str | None = Form(None, max_length=MAX_PROGRESSION_CHARS),
    ) -> Response:
        """Continue an uploaded MIDI to `bars` bars in its meter, tempo and instruments."""
        c = get_composer(request)
        _check_caps(settings, prompt, candidates)
        _check_bars(settings, bars)
        score = await _read_midi(file, settings)
        _check_work(settings, bars, candidates, _parts_of(score))
        seed = _new_seed(seed)

        def job(stop: threading.Event):
            t0 = time.perf_counter()
            piece = c.continue_midi(
                score, bars, prompt, candidates=candidates, preset=preset,
                temperature=temperature, top_k=top_k, top_p=top_p,
                repetition_penalty=repetition_penalty, cfg=cfg, seed=seed,
                key_guidance=key_guidance, chords=chords, progress=stop_checker(stop),
            )  # fmt: skip
            elapsed = time.perf_counter() - t0
            return render(piece, format, seed, elapsed, settings, _stem(prompt, seed))

        return _respond(await run_job(request, job))

    # -- parts: harmonize, add a part, rewrite a part -------------------------------------
    async def parts_job(
        request: Request,
        file: UploadFile,
        form: PartsForm,
        method: str,
        **arguments: Any,
    ) -> Response:
        """Run a parts method of the Composer on an upload and render the result."""
        c = get_composer(request)
        _check_caps(settings, form.prompt, form.candidates)
        score = await _read_midi(file, settings)
        bars = _bars_of(score)
        _check_bars(settings, bars)
        parts = _parts_of(score) + (1 if method == "add_part" else 0)
        if method == "harmonize":
            parts = max(parts, int(arguments.get("voices", 4)))
        _check_work(settings, bars, form.candidates, parts)
        seed = _new_seed(form.seed)

        def job(stop: threading.Event):
            t0 = time.perf_counter()
            piece = getattr(c, method)(
                score, **arguments, key=form.key, chords=form.chords, prompt=form.prompt,
                candidates=form.candidates, seed=seed, **form.sampling,
            )  # fmt: skip
            elapsed = time.perf_counter() - t0
            return render(piece, form.format, seed, elapsed, settings, _stem(method, seed))

        return _respond(await run_job(request, job))

    @app.post("/v1/harmonize", tags=["parts"], responses={422: {}, 413: {}, 429: {}, 504: {}})
    async def harmonize(
        request: Request,
        file: UploadFile = File(..., description="a MIDI file whose first part is the melody"),
        voices: int = Form(4, ge=2, le=4, description="voices in all, the melody included"),
        style: str = Form("chorale", max_length=40, description="chorale, hymn, quartet, ..."),
        form: PartsForm = Depends(parts_form),
    ) -> Response:
        """Voices under a melody kept exactly as the top voice."""
        return await parts_job(request, file, form, "harmonize", voices=voices, style=style)

    @app.post("/v1/add-part", tags=["parts"], responses={422: {}, 413: {}, 429: {}, 504: {}})
    async def add_part(
        request: Request,
        file: UploadFile = File(..., description="a MIDI file whose parts are all kept"),
        instrument: str = Form(..., max_length=60, description="e.g. cello, 'acoustic bass', 32"),
        form: PartsForm = Depends(parts_form),
    ) -> Response:
        """A new part written against every part of the upload, which are kept exactly."""
        return await parts_job(request, file, form, "add_part", instrument=instrument)

    @app.post("/v1/infill", tags=["parts"], responses={422: {}, 413: {}, 429: {}, 504: {}})
    async def infill(
        request: Request,
        file: UploadFile = File(
            ..., description="a MIDI file; all but `part` or `bars` is kept exactly"
        ),
        part: int | None = Form(None, ge=1, le=16, description="the part to write anew"),
        bars: str | None = Form(
            None,
            max_length=20,
            pattern=r"^\s*\d+\s*(-\s*\d+\s*)?$",
            description="bars to write anew, e.g. 5-8 (a v2 model)",
        ),
        form: PartsForm = Depends(parts_form),
    ) -> Response:
        """One part, or a span of bars, of the upload written anew; the rest is kept."""
        return await parts_job(request, file, form, "infill", part=part, bars=bars)

    @app.post("/v1/chords", tags=["parts"], responses={422: {}, 413: {}, 429: {}, 504: {}})
    async def chords_(
        request: Request,
        file: UploadFile = File(..., description="a standard MIDI file"),
        per: str = Form("bar", pattern="^(bar|beat)$", description="bar or beat"),
    ) -> Response:
        """The chord of every bar (or beat) of an uploaded MIDI: root, quality, bass."""
        score = await _read_midi(file, settings)

        def job(stop: threading.Event):
            return [s.to_dict() for s in Composer.chords(score, per)]

        return JSONResponse(await run_job(request, job))

    @app.post("/v1/render", tags=["music"], responses={422: {}, 413: {}, 429: {}, 504: {}})
    async def render_(
        request: Request,
        file: UploadFile = File(..., description="a standard MIDI file or an ABC tune"),
        format: Format = Form("wav"),
        key: str | None = Form(None, max_length=40, description="key for MusicXML spelling"),
        title: str = Form("tunesmith", max_length=200),
        chords: str | None = Form(
            None,
            max_length=MAX_PROGRESSION_CHARS,
            description="chord symbols for MusicXML, SVG and ABC, bars separated by '|' "
            "(default: one chord per bar by analysis)",
        ),
    ) -> Response:
        """Render an uploaded MIDI (or ABC) as WAV, MusicXML, SVG sheet music, ABC, MIDI or
        JSON notes (no generation).

        The web page uses this to play and export the piece it was sent as JSON."""
        score = await _read_midi(file, settings)
        controls_key = None
        if key:
            from ..conditioning.controls import normalize_key

            controls_key = normalize_key(key)

        def job(stop: threading.Event):
            from ..conditioning.controls import Controls

            progression = Composer.progression(chords, controls_key) if chords else None
            piece = Piece(
                score=score, controls=Controls(key=controls_key), prompt=title, chords=progression
            )
            return render(piece, format, 0, 0.0, settings, _stem(title, 0))

        return _respond(await run_job(request, job))

    # -- the page -----------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        assert app.openapi_url is not None  # FastAPI's default "/openapi.json", never turned off
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title="tunesmith API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )

    for router in routers:
        app.include_router(router)
    return app


class PartsForm:
    """The form fields the parts routes share (harmonize, add-part, infill)."""

    def __init__(self, **fields: Any) -> None:
        self.key: str | None = fields.pop("key")
        self.chords: str | None = fields.pop("chords")
        self.prompt: str = fields.pop("prompt")
        self.seed: int | None = fields.pop("seed")
        self.format: str = fields.pop("format")
        self.candidates: int = fields.pop("candidates")
        self.sampling: dict[str, Any] = fields  # the sampling options, by their API names


def parts_form(
    key: str | None = Form(None, max_length=40, description="default: the piece's own"),
    chords: str | None = Form(None, max_length=MAX_PROGRESSION_CHARS),
    prompt: str = Form("", max_length=10_000),
    seed: int | None = Form(None, **SEED.pydantic()),
    format: Format = Form("json"),
    candidates: int = Form(1, **CANDIDATES.pydantic()),
    preset: Preset | None = Form(None),
    temperature: float | None = Form(None, **TEMPERATURE.pydantic()),
    top_k: int | None = Form(None, **TOP_K.pydantic()),
    top_p: float | None = Form(None, **TOP_P.pydantic()),
    repetition_penalty: float | None = Form(None, **REPETITION_PENALTY.pydantic()),
    cfg: float | None = Form(None, **CFG.pydantic()),
    key_guidance: float | None = Form(None, **KEY_GUIDANCE.pydantic()),
) -> PartsForm:
    return PartsForm(**locals())


def _bars_of(score: symusic.Score) -> int:
    """Bars of an upload (its length, counted as the metrics count them)."""
    from ..music.metrics import bar_grid

    end = max((n.time + n.duration for t in score.tracks for n in t.notes), default=1)
    return len(bar_grid(score, end)[0])


async def _read_midi(file: UploadFile, settings: ServeSettings) -> symusic.Score:
    """The upload parsed as MIDI: 413 over the size cap, 422 when it is not MIDI."""
    data = await file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise _TooLarge(settings.max_upload_bytes)
    if not data:
        raise BadInputError("the uploaded file is empty")
    from ..music.abc import ABC_SUFFIXES, looks_like_abc, read_abc

    if Path(file.filename or "").suffix.lower() in ABC_SUFFIXES or looks_like_abc(data):
        from ..music.gate import check_score

        # An ABC file with several tunes: the first is read (the notice goes to the log).
        abc = await anyio.to_thread.run_sync(read_abc, data, "the uploaded ABC file")
        if abc.notice:
            log.info("%s", abc.notice)
        return check_score(abc.score, "the uploaded ABC file")
    try:
        score = await anyio.to_thread.run_sync(symusic.Score.from_midi, data)
    except Exception:
        raise BadInputError("the uploaded file is not a valid MIDI file") from None
    if not any(len(t.notes) for t in score.tracks):
        raise BadInputError("the uploaded MIDI file has no notes")
    from ..music.gate import check_score

    return check_score(score, "the uploaded MIDI file")


def _warm_up(composer: Composer) -> None:
    """Load the text encoder now so the first request does not pay for it."""
    t0 = time.perf_counter()
    try:
        composer.engine.text_embedding("warm up")
    except Exception:  # the first request will report it; start-up goes on
        log.exception("warm-up failed")
        return
    log.info("warm-up done in %.1f s", time.perf_counter() - t0)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tunesmith")
    except PackageNotFoundError:
        return "0+unknown"


# -- errors: one line for the client, the traceback only in the server's log ---------------
class _Unavailable(Exception):
    pass


class _TooLarge(Exception):
    def __init__(self, limit: int):
        self.limit = limit


def _too_large_message(limit: int) -> str:
    return (
        f"the upload is larger than this server's limit of {limit:,} bytes ({limit / 2**20:g} MiB)"
    )


def _one_line(text: str, limit: int) -> str:
    text = " ".join(text.split()) or repr(text)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _validation_message(exc: RequestValidationError) -> tuple[str, list[dict]]:
    parts, errors = [], []
    for e in exc.errors():
        # a client's own field names are echoed: one line each, and not too long
        loc = [_one_line(str(x), 40) for x in e.get("loc", ())]
        if loc and loc[0] in ("body", "query", "path", "form", "header", "cookie"):
            loc = loc[1:]
        where = ".".join(loc) or "request"
        msg = str(e.get("msg", "invalid value"))
        if e.get("type") == "json_invalid":
            where, msg = "body", "is not valid JSON"
        elif e.get("type") == "extra_forbidden":
            msg = "is not a known field"
        elif e.get("type") == "missing":
            msg = "is required"
        parts.append(f"{where}: {msg}")
        errors.append({"loc": loc, "msg": msg, "type": str(e.get("type", ""))})
    return "; ".join(dict.fromkeys(parts)) or "invalid request", errors


def _install_error_handlers(app: FastAPI) -> None:
    def detail(status: int, message: str, headers: dict | None = None, **extra) -> JSONResponse:
        return JSONResponse({"detail": message, **extra}, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError):
        message, errors = _validation_message(exc)
        return detail(422, message, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException):
        message = " ".join(str(exc.detail).split()) or "invalid request"
        if exc.status_code == 400:  # a body that cannot be parsed: 422, as for bad JSON
            return detail(422, f"body: cannot be read ({message})")
        return detail(exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(TunesmithError)
    async def _user_error(_request: Request, exc: TunesmithError):
        return detail(422, " ".join(str(exc).split()) or "invalid request")

    @app.exception_handler(QueueFullError)
    async def _full(_request: Request, _exc: QueueFullError):
        return detail(
            429, "the server is busy (queue full); retry shortly", headers={"Retry-After": "2"}
        )

    @app.exception_handler(JobTimeoutError)
    async def _timeout(request: Request, _exc: JobTimeoutError):
        limit = request.app.state.settings.timeout_s
        return detail(
            504, f"generation took longer than the server's limit of {limit:g} s; ask for less"
        )

    @app.exception_handler(JobCancelledError)
    async def _cancelled(request: Request, _exc: JobCancelledError):
        return detail(504, "the request was stopped before it finished")

    @app.exception_handler(_TooLarge)
    async def _too_large(_request: Request, exc: _TooLarge):
        return detail(413, _too_large_message(exc.limit))

    @app.exception_handler(_Unavailable)
    async def _unavailable(_request: Request, _exc: _Unavailable):
        return detail(503, "the model is not loaded yet; retry shortly")

    @app.exception_handler(InternalError)
    async def _internal(_request: Request, _exc: InternalError):
        return detail(500, "internal error")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return detail(500, "internal error")


# -- for `uvicorn --factory` and `tunesmith serve --workers N` ---------------------------------
def app_from_env() -> FastAPI:
    """An app built from the settings in $TUNESMITH_SERVE_SETTINGS (one per worker process)."""
    from . import default_routers

    return create_app(None, ServeSettings.from_env(), default_routers())
