"""Request and response models of the HTTP API (pydantic; FastAPI turns them into OpenAPI).

The static bounds here are the hard ones (what the model can do at all), taken from the one
table in `conditioning/limits.py`; the server's own, configurable caps (`ServeSettings`)
are checked by the routes on top, with the same 422. The sampling fields are the same, by
name and bound, as the CLI's options and the Python API's keywords.
Unknown fields are refused, so a typo in a field name is an error rather than ignored.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ..conditioning.limits import (
    BARS,
    CANDIDATES,
    CFG,
    KEY_GUIDANCE,
    REPETITION_PENALTY,
    SECONDS,
    SEED,
    TEMPERATURE,
    TEMPO,
    TOP_K,
    TOP_P,
    Bound,
)

Format = Literal["midi", "wav", "flac", "ogg", "mp3", "musicxml", "svg", "abc", "json"]
Preset = Literal["default", "balanced", "creative", "conservative"]
ShortText = Annotated[str, StringConstraints(max_length=60)]
ListText = Annotated[str, StringConstraints(max_length=300)]


def bounded(bound: Bound, default: Any, **kwargs: Any) -> Any:
    """A pydantic `Field` with `bound`'s limits (gt/ge, le) and `kwargs`.

    Typed `Any` like `Field` itself, so a model's field keeps its declared type.
    """
    return Field(default, **bound.pydantic(), **kwargs)


class _Strict(BaseModel):
    # strict: JSON true is not the number 1, "yes" is not true and "12" is not 12
    model_config = ConfigDict(extra="forbid", strict=True)


class Attributes(_Strict):
    """Explicit musical attributes; each one overrides what the prompt says."""

    key: str | None = Field(default=None, max_length=40, examples=["D major"])
    meter: str | None = Field(default=None, max_length=16, examples=["6/8"])
    tempo: float | ShortText | None = Field(
        default=None,
        description=f"bpm ({TEMPO.low:g}-{TEMPO.high:g}) or a word such as 'allegro'",
        examples=[120],
    )
    instruments: Annotated[list[ShortText | int], Field(max_length=32)] | ListText | None = Field(
        default=None,
        description="everyday words, GM names or programs (-1: drums), a list or comma-separated",
        examples=[["violin", "cello"]],
    )
    bars: int | None = bounded(BARS, None)
    seconds: float | None = bounded(SECONDS, None)
    style: str | None = Field(default=None, max_length=40, examples=["reel"])


class Sampling(_Strict):
    """How tokens are drawn; a preset fills what is not given."""

    preset: Preset | None = None
    temperature: float | None = bounded(TEMPERATURE, None)
    top_k: int | None = bounded(TOP_K, None, description="0 turns it off")
    top_p: float | None = bounded(TOP_P, None)
    repetition_penalty: float | None = bounded(
        REPETITION_PENALTY, None, description="on note tokens; 1: off"
    )
    cfg: float | None = bounded(CFG, None, description="classifier-free guidance; 1: off")
    key_guidance: float | None = bounded(
        KEY_GUIDANCE, None, description="pull toward the requested key; 0: off"
    )
    candidates: int = bounded(CANDIDATES, 1, description="generate N, return the best")


MAX_PROGRESSION_CHARS = 1000


class GenerateRequest(_Strict):
    prompt: str = Field(
        default="", max_length=10_000, examples=["a lively reel in D major for fiddle"]
    )
    attributes: Attributes = Field(default_factory=Attributes)
    sampling: Sampling = Field(default_factory=Sampling)
    seed: int | None = bounded(SEED, None, description="None: the server picks one")
    chords: str | None = Field(
        default=None,
        max_length=MAX_PROGRESSION_CHARS,
        description="a progression to follow: 'Am F C G', 'I IV V I' (in the key), bars by '|'",
        examples=["C Am F G7"],
    )
    arrangement: str = Field(
        default="none",
        max_length=40,
        description="'none', 'auto' (a band when the prompt asks for one) or a style from "
        "the groove library (GET /v1/info 'styles'); docs/ARRANGE.md",
        examples=["bossa-nova"],
    )
    performance: Literal["auto", "none"] = Field(
        default="auto",
        description="'auto': played in its style (dynamics, accents, swing, pedal); 'none': "
        "the written notes at velocity 80 (docs/ARRANGE.md)",
    )
    humanize: float = Field(
        default=0.0, ge=0, le=50, description="onsets move by up to this many ms (seeded)"
    )
    format: Format = "json"


class Note(BaseModel):
    track: int
    program: int
    pitch: int
    start: float = Field(description="seconds")
    duration: float = Field(description="seconds")
    velocity: int


class Track(BaseModel):
    index: int
    name: str
    program: int
    instrument: str
    is_drum: bool
    num_notes: int


class PieceJSON(BaseModel):
    """A generated piece as JSON (format=json)."""

    prompt: str
    seed: int
    controls: dict
    duration_s: float
    tempo: float
    time_signature: str
    num_notes: int
    tracks: list[Track]
    notes: list[Note]
    scores: dict = Field(default_factory=dict, description="scorer parts when candidates > 1")
    elapsed_s: float
    midi_base64: str = Field(description="the same piece as a standard MIDI file")


class Health(BaseModel):
    status: str
    model_loaded: bool
    queue: dict
