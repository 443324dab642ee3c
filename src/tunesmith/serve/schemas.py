"""Request and response models of the HTTP API (pydantic; FastAPI turns them into OpenAPI).

The static bounds here are the hard ones (what the model can do at all), taken from the one
table in `conditioning/limits.py`; the server's own, configurable caps (`ServeSettings`)
are checked by the routes on top, with the same 422. The sampling fields are the same, by
name and bound, as the CLI's options and the Python API's keywords.
Unknown fields are refused, so a typo in a field name is an error rather than ignored.
"""

from __future__ import annotations

from typing import Annotated, Literal

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
)

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
        None,
        description=f"bpm ({TEMPO.low:g}-{TEMPO.high:g}) or a word such as 'allegro'",
        examples=[120],
    )
    instruments: Annotated[list[ShortText | int], Field(max_length=32)] | ListText | None = Field(
        None,
        description="everyday words, GM names or programs (-1: drums), a list or comma-separated",
        examples=[["violin", "cello"]],
    )
    bars: int | None = Field(None, **BARS.pydantic())
    seconds: float | None = Field(None, **SECONDS.pydantic())
    style: str | None = Field(None, max_length=40, examples=["reel"])


class Sampling(_Strict):
    """How tokens are drawn; a preset fills what is not given."""

    preset: Preset | None = None
    temperature: float | None = Field(None, **TEMPERATURE.pydantic())
    top_k: int | None = Field(None, **TOP_K.pydantic(), description="0 turns it off")
    top_p: float | None = Field(None, **TOP_P.pydantic())
    repetition_penalty: float | None = Field(
        None, **REPETITION_PENALTY.pydantic(), description="on note tokens; 1: off"
    )
    cfg: float | None = Field(
        None, **CFG.pydantic(), description="classifier-free guidance; 1: off"
    )
    key_guidance: float | None = Field(
        None, **KEY_GUIDANCE.pydantic(), description="pull toward the requested key; 0: off"
    )
    candidates: int = Field(1, **CANDIDATES.pydantic(), description="generate N, return the best")


class GenerateRequest(_Strict):
    prompt: str = Field("", max_length=10_000, examples=["a lively reel in D major for fiddle"])
    attributes: Attributes = Field(default_factory=Attributes)
    sampling: Sampling = Field(default_factory=Sampling)
    seed: int | None = Field(None, **SEED.pydantic(), description="None: the server picks one")
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
