"""Golden tokens: fixed seeds give the same tokens through every decoding path.

The fixture is recorded with the shipped model on PyTorch; the ONNX Runtime backend must
give the very same tokens (the two backends' logits agree within about 2e-5, far inside any
sampling boundary at these seeds). The paths cover batch 1 (speculative drafts, the row
sampler), a batch of candidates (the batched sampler), classifier-free guidance,
repetition penalty, continuation, a reprise theme, long-form chunks and the endless
stream with a window shift, a rewind and a key change.

Re-recorded when sampling moved from torch's random generator to NumPy's (the decoding
session became NumPy end to end, so generation needs no PyTorch): the same seeds now draw
other, equally distributed, tokens. Re-record deliberately with
`TUNESMITH_RECORD_GOLDEN=1 pytest this file` and say in the commit which tokens changed
and why.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

FIXTURE = Path(__file__).parent.parent / "fixtures" / "golden_tokens.json"


@pytest.fixture(scope="module", params=["torch", "onnx"])
def composer(request):
    """The shipped model on each backend: both must give the recorded tokens."""
    from tunesmith import Composer

    if request.param == "onnx":
        pytest.importorskip("onnxruntime")
    if request.param == "torch":
        pytest.importorskip("torch")
    return Composer.load(backend=request.param)


def _generate_cases(c) -> dict[str, list[list[int]]]:
    from tunesmith.conditioning.controls import Controls
    from tunesmith.generate.sampling import SamplingConfig

    out: dict[str, list[list[int]]] = {}
    reel = c.controls_for("a reel in D major for fiddle", bars=4)
    chorale = c.controls_for("a chorale in G major for four voices", bars=3)
    plain = SamplingConfig(seed=1)
    cases = {
        "batch1": (reel, "a reel in D major for fiddle", 1, plain),
        "batch1_nospec": (reel, "a reel", 1, plain.with_(speculative=False)),
        "batch3": (reel, "a reel in D major for fiddle", 3, plain.with_(seed=2)),
        "cfg_penalty": (
            chorale,
            "a chorale",
            2,
            plain.with_(cfg_scale=1.5, repetition_penalty=1.2, seed=3),
        ),
        "cfg_batch1": (chorale, "a chorale", 1, plain.with_(cfg_scale=2.0, seed=4)),
        "unconditional": (Controls(bars=2), "", 1, plain.with_(seed=5, top_k=0, top_p=1.0)),
    }
    for name, (controls, text, n, sampling) in cases.items():
        out[name] = [r.ids for r in c.engine.generate(controls, text, n, sampling)]
    res = c.engine.generate(reel, "a reel", 1, plain, text_emb=None)
    start = res[0].music_start
    prompt_music = res[0].ids[start:-1]
    cont = reel.__class__(**{**reel.to_dict(), "bars": 6})
    out["continue"] = [
        r.ids
        for r in c.engine.generate(
            cont, "a reel", 2, plain.with_(seed=6), prompt_music=prompt_music
        )
    ]
    out["continue_theme"] = [
        r.ids
        for r in c.engine.generate(
            cont.__class__(**{**cont.to_dict(), "section": "A"}),
            "a reel",
            1,
            plain.with_(seed=7),
            prompt_music=prompt_music,
            theme=prompt_music,
        )
    ]
    return out


def _longform_case(c) -> list[int]:
    piece, _ = c.generate_long(
        "a reel in D for fiddle", chunks=2, chunk_bars=4, candidates=2, mode="folk", seed=8
    )
    return [int(i) for i in piece.tokens]


def _stream_case(c) -> list[int]:
    from tunesmith.generate.sampling import SamplingConfig
    from tunesmith.stream.generator import TokenStream

    controls = c.controls_for("a chorale for string quartet in C major")
    ts = TokenStream(c.engine, controls, "a chorale for string quartet", SamplingConfig(seed=9))
    out: list[int] = []
    while ts.tokens_out < 700:  # beyond the 512-token block: at least one window shift
        out += ts.advance()
    marks = ts.bar_marks()
    ts.rewind_to_bar(marks[-2])
    out.append(-1)
    for _ in range(40):
        out += ts.advance()
    ts.set_key("A minor")
    out.append(-2)
    for _ in range(60):
        out += ts.advance()
    assert ts.prefills >= 3
    return out


def _all_cases(c) -> dict:
    return {
        "generate": _generate_cases(c),
        "longform": _longform_case(c),
        "stream": _stream_case(c),
    }


def test_golden_tokens(composer):
    got = json.loads(json.dumps(_all_cases(composer)))
    if os.environ.get("TUNESMITH_RECORD_GOLDEN") and composer.backend.name == "torch":
        FIXTURE.write_text(json.dumps(got) + "\n")
    want = json.loads(FIXTURE.read_text())
    for path in want["generate"]:
        assert got["generate"][path] == want["generate"][path], path
    assert got["longform"] == want["longform"]
    assert got["stream"] == want["stream"]
