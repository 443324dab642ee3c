"""Request and response models of the HTTP API (pydantic; FastAPI turns them into OpenAPI).

The static bounds here are the hard ones (what the model can do at all); the server's own,
configurable caps (`ServeSettings`) are checked by the routes on top, with the same 422.
Unknown fields are refused, so a typo in a field name is an error rather than ignored.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ..conditioning.controls import MAX_BARS

Format = Literal["midi", "wav", "musicxml", "json"]
Preset = Literal["default", "balanced", "creative", "conservative"]
ShortText = Annotated[str, StringConstraints(max_length=60)]
ListText = Annotated[str, StringConstraints(max_length=300)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Attributes(_Strict):
    """Explicit musical attributes; each one overrides what the prompt says."""

    key: str | None = Field(None, max_length=40, examples=["D major"])
    meter: str | None = Field(None, max_length=16, examples=["6/8"])
    tempo: float | ShortText | None = Field(
        None, description="bpm (20-400) or a word such as 'allegro'", examples=[120]
    )
    instruments: Annotated[list[ShortText | int], Field(max_length=32)] | ListText | None = Field(
        None,
        description="everyday words, GM names or programs (-1: drums), a list or comma-separated",
        examples=[["violin", "cello"]],
    )
    bars: int | None = Field(None, ge=1, le=MAX_BARS)
    seconds: float | None = Field(None, gt=0, le=3600)
    style: str | None = Field(None, max_length=40, examples=["reel"])


class Sampling(_Strict):
    """How tokens are drawn; a preset fills what is not given."""

    preset: Preset | None = None
    temperature: float | None = Field(None, gt=0, le=2)
    top_k: int | None = Field(None, ge=0, le=1000, description="0 turns it off")
    top_p: float | None = Field(None, gt=0, le=1)
    cfg: float | None = Field(None, ge=0, le=20, description="classifier-free guidance; 1: off")
    candidates: int = Field(1, ge=1, le=64, description="generate N, return the best")


class GenerateRequest(_Strict):
    prompt: str = Field("", max_length=10_000, examples=["a lively reel in D major for fiddle"])
    attributes: Attributes = Field(default_factory=Attributes)
    sampling: Sampling = Field(default_factory=Sampling)
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description="None: the server picks one")
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
