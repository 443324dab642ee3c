"""Hypothesis strategies for what an attacker sends: MIDI bytes and request bodies.

Shared by the fuzz tests (tests/serve/test_fuzz.py, tests/cli/test_fuzz_cli.py: a few
examples each, so CI stays quick) and `benchmarks/fuzz.py` (many more, against a real
server). Inputs mix three kinds: garbage, structurally valid files and bodies with hostile
values (a division of 0, notes 2^28 ticks long, tempos of 0 or 60 million bpm, booleans
where numbers go, "-200" as a tempo, huge and negative numbers, unknown fields), and
small valid ones mutated by a few bytes.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import symusic
from hypothesis import strategies as st

# -- MIDI --------------------------------------------------------------------------------


def _varlen(n: int) -> bytes:
    n = max(0, min(n, 0x0FFFFFFF))
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


_deltas = st.one_of(st.integers(0, 960), st.sampled_from([0, 1, 2**14, 2**21, 2**28 - 1]))
_events = st.one_of(
    st.tuples(st.just("on"), _deltas, st.integers(0, 15), st.integers(0, 127), st.integers(0, 127)),
    st.tuples(
        st.just("off"), _deltas, st.integers(0, 15), st.integers(0, 127), st.integers(0, 127)
    ),
    st.tuples(st.just("tempo"), _deltas, st.integers(0, 2**24 - 1)),
    st.tuples(st.just("meter"), _deltas, st.integers(0, 255), st.integers(0, 255)),
    st.tuples(st.just("program"), _deltas, st.integers(0, 15), st.integers(0, 127)),
    st.tuples(st.just("raw"), _deltas, st.binary(max_size=6)),
)


def _event_bytes(ev: tuple) -> bytes:
    kind, delta = ev[0], _varlen(ev[1])
    if kind == "on":
        return delta + bytes([0x90 | ev[2], ev[3], ev[4]])
    if kind == "off":
        return delta + bytes([0x80 | ev[2], ev[3], ev[4]])
    if kind == "tempo":
        return delta + b"\xff\x51\x03" + ev[2].to_bytes(3, "big")
    if kind == "meter":
        return delta + b"\xff\x58\x04" + bytes([ev[2], ev[3], 24, 8])
    if kind == "program":
        return delta + bytes([0xC0 | ev[2], ev[3]])
    return delta + ev[2]


@st.composite
def structured_midi(draw) -> bytes:
    """A MIDI file whose header and events are hostile but well formed (mostly)."""
    division = draw(st.one_of(st.integers(0, 0x7FFF), st.sampled_from([0, 1, 0x7FFF, 0xE728])))
    tracks = draw(st.lists(st.lists(_events, max_size=24), min_size=0, max_size=6))
    declared = draw(st.one_of(st.just(len(tracks)), st.integers(0, 0xFFFF)))
    fmt = draw(st.integers(0, 3))
    out = b"MThd" + struct.pack(">IHHH", 6, fmt, declared, division)
    for events in tracks:
        body = b"".join(_event_bytes(e) for e in events)
        if draw(st.booleans()):
            body += b"\x00\xff\x2f\x00"
        length = draw(st.one_of(st.just(len(body)), st.integers(0, 2**32 - 1)))
        out += b"MTrk" + struct.pack(">I", length) + body
    return out


def valid_midi(bars: int = 2, seed: int = 1) -> bytes:
    """A small, ordinary MIDI file (one melody)."""
    s = symusic.Score(480)
    s.tempos.append(symusic.Tempo(0, 110.0))
    s.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    t = symusic.Track(program=40)
    for i in range(bars * 4):
        t.notes.append(symusic.Note(i * 480, 480, 60 + (i * (seed + 2)) % 12, 80))
    s.tracks.append(t)
    return s.dumps_midi()


@st.composite
def mutated_midi(draw) -> bytes:
    """A valid file with a few bytes changed, cut short or extended."""
    data = bytearray(valid_midi(draw(st.integers(1, 4)), draw(st.integers(0, 5))))
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(data) - 1))
        data[i] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data) + draw(st.binary(max_size=8))


def midi_files() -> st.SearchStrategy[bytes]:
    """MIDI bytes: garbage, hostile structures, mutated valid files and valid ones."""
    return st.one_of(
        st.binary(max_size=64),
        structured_midi(),
        mutated_midi(),
        st.builds(valid_midi, st.integers(1, 4), st.integers(0, 5)),
    )


# -- request bodies -------------------------------------------------------------------------
hostile_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, -1, 1, 2**31, 2**63, 2**64, -(2**63)]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["-200", "yes", "no", "true", "1e999", "NaN", "", " ", "0x10", "allegro"]),
    st.text(max_size=30),
)
json_values = st.recursive(
    hostile_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)


def _maybe(values: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(values, json_values)


GOOD = {
    "key": st.sampled_from(["D major", "A minor", "Bb", "H major"]),
    "meter": st.sampled_from(["4/4", "6/8", "3/4", "11/9", "0/4"]),
    "tempo": st.one_of(st.integers(1, 500), st.sampled_from(["allegro", "-200", "96 bpm"])),
    "instruments": st.sampled_from([["fiddle"], ["violin", "cello"], "piano,bass", [40, -1]]),
    "bars": st.integers(-2, 80),
    "seconds": st.floats(-1, 200),
    "style": st.sampled_from(["reel", "jig", "waltz", "nonsense"]),
}
SAMPLING = {
    "preset": st.sampled_from(["default", "creative", "wild"]),
    "temperature": st.floats(-1, 3),
    "top_k": st.integers(-5, 2000),
    "top_p": st.floats(-0.5, 1.5),
    "repetition_penalty": st.floats(0, 6),
    "cfg": st.floats(-1, 25),
    "key_guidance": st.floats(-1, 6),
    "candidates": st.integers(-1, 10),
}


def _partial(fields: dict[str, st.SearchStrategy]) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries({}, optional={k: _maybe(v) for k, v in fields.items()})


@st.composite
def generate_bodies(draw) -> bytes:
    """Bodies for POST /v1/generate: hostile JSON (mostly near the schema) or not JSON."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.binary(max_size=40))
    if kind == 1:
        return json.dumps(draw(json_values)).encode()
    body: dict[str, Any] = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "prompt": st.one_of(st.text(max_size=60), st.sampled_from(["a jig", "a reel"])),
                "attributes": st.one_of(_partial(GOOD), json_values),
                "sampling": st.one_of(_partial(SAMPLING), json_values),
                "seed": _maybe(st.integers(-5, 2**64)),
                "chords": _maybe(st.sampled_from(["C Am F G7", "I IV V I", "X Y", "|||"])),
                "arrangement": _maybe(st.sampled_from(["none", "auto", "bossa-nova", "polka?"])),
                "performance": _maybe(st.sampled_from(["auto", "none"])),
                "humanize": _maybe(st.floats(-10, 60)),
                "format": _maybe(st.sampled_from(["json", "midi", "wav", "musicxml", "mp3"])),
                "model": json_values,
            },
        )
    )
    if draw(st.booleans()):  # keep the work small enough for a CI run
        body.setdefault("attributes", {})
        if isinstance(body["attributes"], dict):
            body["attributes"].setdefault("bars", 2)
    return json.dumps(body).encode()


def form_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=20),
        st.integers(-(2**66), 2**66).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(str),
        st.sampled_from(["", "yes", "true", "-200", "1-3", "2", "4", "0", "chorale", "cello"]),
    )


FORM_FIELDS = {
    "/v1/continue": ["bars", "prompt", "seed", "format", "temperature", "top_k", "candidates",
                     "chords", "preset"],
    "/v1/harmonize": ["voices", "style", "key", "chords", "seed", "format", "candidates"],
    "/v1/add-part": ["instrument", "key", "seed", "format", "top_p", "cfg"],
    "/v1/infill": ["part", "bars", "key", "seed", "format", "key_guidance"],
    "/v1/chords": ["per"],
    "/v1/render": ["format", "key", "title", "chords"],
}  # fmt: skip
UPLOAD_ROUTES = tuple(FORM_FIELDS)


VALID_FORMS = {
    "/v1/continue": {"bars": "4", "format": "midi", "seed": "1"},
    "/v1/harmonize": {"voices": "2", "format": "midi", "seed": "1"},
    "/v1/add-part": {"instrument": "cello", "format": "midi", "seed": "1"},
    "/v1/infill": {"part": "1", "format": "midi", "seed": "1"},
    "/v1/chords": {"per": "bar"},
    "/v1/render": {"format": "midi"},
}


@st.composite
def upload_requests(draw, route: str) -> tuple[bytes | None, dict[str, str]]:
    """(file bytes or None for no file, form fields) for a multipart route: half the time
    a valid form with one field changed, so the file reaches the gate and the job."""
    names = FORM_FIELDS[route]
    if draw(st.booleans()):
        fields = dict(VALID_FORMS[route])
        if draw(st.booleans()):
            fields[draw(st.sampled_from(names))] = draw(form_text())
    else:
        fields = draw(st.dictionaries(st.sampled_from(names), form_text(), max_size=len(names)))
    if draw(st.integers(0, 3)) == 0:
        fields[draw(st.text(min_size=1, max_size=8))] = draw(form_text())  # unknown field
    if route in ("/v1/continue",) and draw(st.booleans()):
        fields["bars"] = str(draw(st.integers(1, 8)))
    if route in ("/v1/render",) and draw(st.booleans()):
        fields["format"] = draw(st.sampled_from(["midi", "json", "wav", "musicxml"]))
    file = None if draw(st.integers(0, 9)) == 0 else draw(midi_files())
    return file, fields


def stream_queries() -> st.SearchStrategy[dict[str, str]]:
    names = ["prompt", "tempo", "key", "style", "temperature", "top_k", "seed", "duration", "x"]
    return st.dictionaries(st.sampled_from(names), form_text(), max_size=5)


def control_bodies() -> st.SearchStrategy[bytes]:
    fields = {
        "temperature": st.floats(-1, 3),
        "key": st.sampled_from(["D minor", "Q"]),
        "style": st.sampled_from(["reel", "??"]),
        "tempo": st.integers(0, 500),
        "panic": st.booleans(),
    }
    return st.one_of(st.binary(max_size=20), _partial(fields).map(lambda d: json.dumps(d).encode()))
