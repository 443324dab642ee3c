"""Long-form composition: chained chunks, best of N candidates each, stitched seamlessly.

Chunk 1 is generated from the prompt; every later chunk continues the last bars of the
piece so far (by default as many whole bars as fit in half the model's context), as N
candidates in one batch. Each candidate is scored (every component is reported):

- voice_leading: parallel fifths/octaves, voice crossings, ranges (music/voice_leading);
- fit: H4, GS and notes per bar of the new bars against real music of the style
  (the test split's reference values, shipped in evaluate/reference_values.json);
- seam: across the chunk boundary, voices that played go on playing, the first new bar
  stays in the key, and no voice leaps wildly (not scored for the first chunk);
- continuity: the model's own per-token probability of the first new bar, given the
  context (one batched forward pass);
- attributes: key and number of voices as requested;
- cadence (last chunk only): the piece closes on the tonic, in the bass and in the chord
  (music/cadence).

Form (`AABA`, `ABAB`, `sonata`, ...): one chunk per section, each generated under
its Section control (A: the theme or its return, B: the contrast; training labels come
from the repeat structure of the pieces, data/sections.py; docs/LONGFORM.md measures how
far the model follows them). Sections are generated with a reference for the reprise gate
(reprise.py: at each step the reference's token at the same place is offered, with a
weight learned per label from the corpus: high for "the same again", low for "a
contrast"): a letter heard before restates its first occurrence, moved into the section's
key (so a sonata's recapitulation brings the second theme back in the tonic), and a first
B is a contrast to the first A. A returning A after a B is generated after the theme as
context and may restate its opening bars verbatim first (`recall_bars`, 0 by default).
`sonata` is exposition (A in the tonic, B in the dominant or relative), development (a
middle section in another key) and recapitulation (A and B in the tonic).

Stitching is done on tokens: a chunk continues the exact tokens of its context, and only
its new bars (which start at a Bar token) are appended. Notes carry their durations, so a
note held across a seam stays one note, time is monotonic and the bar grid unbroken.
Progress is saved after every chunk (atomically), so an interrupted job resumes.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import cast

import numpy as np

from ..conditioning.controls import MAX_BARS, Controls
from ..conditioning.limits import CANDIDATES, CHUNK_BARS, CHUNKS, FORM_SECTIONS
from ..errors import BadInputError
from ..fileio import atomic_write_json
from ..music.cadence import cadence_fit
from ..music.keys import key_name, key_pitch_class
from ..music.metrics import as_tick_score, bar_grid, compute_metrics
from ..music.voice_leading import voice_leading
from ..render.piece import Piece
from .reprise import key_shift, transpose_theme
from .sampling import SamplingConfig, log_softmax
from .scorer import _attribute_match

# mode: what a "chorale" or a "quartet" means, unless the prompt says otherwise.
MODES: dict[str, dict] = {
    "chorale": {"style": "chorale", "instruments": [52, 52, 52, 52], "meter": "4/4"},
    "quartet": {"style": "quartet movement", "instruments": [40, 40, 41, 42]},
    "invention": {"style": "invention", "instruments": [6, 6]},
    "fugue": {"style": "fugue", "instruments": [19, 19, 19, 19]},
    "folk": {"style": "reel", "instruments": [110]},
}
# form "sonata": (section control, key area, name)
SONATA = [
    ("A", "tonic", "exposition: first theme"),
    ("B", "second", "exposition: second theme"),
    ("middle", "development", "development"),
    ("A", "tonic", "recapitulation: first theme"),
    ("B", "tonic", "recapitulation: second theme"),
]
MAX_FORM_SECTIONS = FORM_SECTIONS
WEIGHTS = {
    "voice_leading": 1.0, "fit": 1.0, "seam": 1.0, "continuity": 1.0, "attributes": 1.0,
    "cadence": 1.0,
}  # fmt: skip
MAX_CHUNKS = int(CHUNKS.high)  # the bounds of conditioning/limits.py
MAX_CANDIDATES = int(CANDIDATES.high)


@dataclass
class LongFormSettings:
    chunks: int = 8
    chunk_bars: int = 16  # new bars per chunk
    overlap_bars: int | None = None  # context bars; None: as many as fit in half the context
    candidates: int = 4
    form: str | None = None  # "AABA", "ABAB", "sonata", ...: one chunk per section
    # A returning A may first restate this many opening bars of the first A verbatim; by
    # default the reprise gate brings the theme back (docs/LONGFORM.md measures both).
    recall_bars: int = 0

    @property
    def plan(self) -> list[tuple[str, str, str]] | None:
        """(section control, key area, name) per chunk for a form; None without."""
        return parse_form(self.form) if self.form else None

    def validated(self) -> LongFormSettings:
        """Self, with every setting inside its bound (conditioning/limits.py)."""
        if self.form:
            self.chunks = len(parse_form(self.form))
            if not 0 <= self.recall_bars < self.chunk_bars:
                raise BadInputError(
                    f"recall bars must be between 0 and {self.chunk_bars - 1} "
                    "(fewer than the bars of a chunk)",
                    field="recall_bars",
                )
        CHUNKS.check(self.chunks, field="chunks")
        CHUNK_BARS.check(self.chunk_bars, field="chunk_bars")
        if self.overlap_bars is not None and not 1 <= self.overlap_bars < self.chunk_bars:
            raise BadInputError(
                f"overlap must be at least 1 bar and shorter than a chunk ({self.chunk_bars} bars)",
                field="overlap",
            )
        CANDIDATES.check(self.candidates, field="candidates")
        return self


@dataclass
class ChunkReport:
    index: int
    new_bars: int
    context_bars: int
    chosen: int
    seconds: float
    candidates: list[dict] = field(default_factory=list)  # components + total per candidate


def parse_form(text: str) -> list[tuple[str, str, str]]:
    """'AABA' -> one (section, key area, name) per letter; 'sonata' -> SONATA."""
    t = text.strip()
    if t.lower() == "sonata":
        return list(SONATA)
    letters = t.upper().replace("-", "").replace(" ", "")
    if not letters or set(letters) - {"A", "B"} or len(letters) > MAX_FORM_SECTIONS:
        raise BadInputError(
            f"unknown form {text!r}: give 'sonata' or up to {MAX_FORM_SECTIONS} letters A and B "
            "(e.g. AABA, ABAB, AABB)",
            field="form",
        )
    return [(c, "tonic", f"section {c}") for c in letters]


def section_key(key: str | None, area: str) -> str | None:
    """The key of a key area: the tonic; 'second' = the dominant of a major key or the
    relative major of a minor one; 'development' = the relative minor of a major key or
    the dominant minor of a minor one."""
    if key is None or area == "tonic":
        return key
    pc, mode = key_pitch_class(key)
    if area == "second":
        return key_name(pc + 7, "major") if mode == "major" else key_name(pc + 3, "major")
    if area == "development":
        return key_name(pc + 9, "minor") if mode == "major" else key_name(pc + 7, "minor")
    raise ValueError(f"unknown key area {area!r}")


@lru_cache(maxsize=1)
def reference_values() -> dict:
    """Real-music metric means per form (test split), shipped with the package."""
    text = resources.files("tunesmith.evaluate").joinpath("reference_values.json").read_text()
    return json.loads(text)["forms"]


def apply_mode(controls: Controls, mode: str | None) -> Controls:
    """The mode's style, instruments and meter, where the prompt left them open."""
    if mode is None:
        return controls
    if mode not in MODES:
        raise BadInputError(
            f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}", field="mode"
        )
    base = Controls(**MODES[mode])
    values = {k: v for k, v in controls.to_dict().items() if v is not None}
    return Controls(**{**base.to_dict(), **values}).validated()


# -- scoring ----------------------------------------------------------------------------------
def statistical_fit(metrics: dict, style: str | None) -> float:
    """1 - mean relative deviation of H4, GS, notes/bar from real music of the style."""
    refs = reference_values()
    ref = refs.get(style or "", refs["all"])
    devs = [
        abs(metrics[k] - ref[k]) / ref[k]
        for k in ("H4", "GS", "notes_per_bar")
        if metrics.get(k) is not None and ref.get(k)
    ]
    return float(max(0.0, 1.0 - np.mean(devs))) if devs else 0.0


def seam_fit(piece: Piece, seam_bar: int, key: str | None) -> float:
    """Do voices continue across the seam, in key, without wild leaps? In [0, 1]."""
    ticks = as_tick_score(piece.score)
    end = int(max((n.end for t in ticks.tracks for n in t.notes), default=1))
    starts, lengths = bar_grid(ticks, end)
    if seam_bar >= len(starts):
        return 0.0
    seam = int(starts[seam_bar])
    before = seam - int(lengths[seam_bar - 1]) if seam_bar > 0 else 0
    after = seam + int(lengths[seam_bar])
    scale = None
    if key:
        pc, mode = key_pitch_class(key)
        steps = (0, 2, 4, 5, 7, 9, 11) if mode == "major" else (0, 2, 3, 5, 7, 8, 10, 11)
        scale = {(pc + s) % 12 for s in steps}
    went_on, played, in_key, new_notes, leaps = 0, 0, 0, 0, []
    for t in ticks.tracks:
        if t.is_drum:
            continue
        last = [n for n in t.notes if before <= n.time < seam]
        nxt = [n for n in t.notes if seam <= n.time < after]
        if last:
            played += 1
            went_on += bool(nxt)
            if nxt:
                leaps.append(abs(nxt[0].pitch - max(last, key=lambda n: n.time).pitch))
        new_notes += len(nxt)
        if scale is not None:
            in_key += sum(1 for n in nxt if n.pitch % 12 in scale)
    parts = [went_on / played if played else 1.0]
    if scale is not None and new_notes:
        parts.append(in_key / new_notes)
    if leaps:
        parts.append(max(0.0, 1.0 - max(0.0, float(np.mean(leaps)) - 5.0) / 12.0))
    return float(np.mean(parts))


def seam_likelihood(backend, tok, prefix, context, news, text_emb) -> list[float]:
    """exp(mean log-prob) of each candidate's first new bar, given prefix + context."""
    bar = tok.bar_id
    firsts = []
    for new in news:
        nxt = [i for i, t in enumerate(new) if t == bar and i > 0]
        firsts.append(new[: nxt[0]] if nxt else new)
    room = backend.cfg.block_size - len(prefix) - max(len(f) for f in firsts)
    ctx = context[-room:] if room > 0 else []
    seqs = [prefix + ctx + f for f in firsts]
    width = max(len(s) for s in seqs)
    idx = np.full((len(seqs), width), tok.pad_id, dtype=np.int64)
    for i, s in enumerate(seqs):
        idx[i, : len(s)] = s
    te = None if text_emb is None else np.repeat(text_emb.reshape(1, -1), len(seqs), axis=0)
    logp = log_softmax(backend.logits(idx, te))
    out = []
    for i, (s, f) in enumerate(zip(seqs, firsts, strict=True)):
        start = len(s) - len(f)
        lp = logp[i, np.arange(start - 1, len(s) - 1), f]
        out.append(float(math.exp(lp.mean())) if len(f) else 0.0)
    return out


# -- the composer -----------------------------------------------------------------------------
def _context(music: list[int], bar_id: int, overlap: int | None, budget: int):
    """The trailing whole bars of `music` to continue from: (bars, tokens)."""
    starts = [i for i, t in enumerate(music) if t == bar_id]
    if not starts:
        return 0, []
    if overlap is not None:
        k = min(overlap, len(starts))
        return k, music[starts[-k] :]
    k = 1
    while k < len(starts) and len(music) - starts[-(k + 1)] <= budget:
        k += 1
    return k, music[starts[-k] :]


def _chunk_music(reports, music, bar_id, chunk: int) -> list[int]:
    """The tokens of chunk `chunk` of `music`, from its first bar to the next chunk."""
    starts = [i for i, t in enumerate(music) if t == bar_id]
    first = sum(r.new_bars for r in reports[:chunk])
    last = first + reports[chunk].new_bars
    return music[starts[first] : starts[last] if last < len(starts) else len(music)]


def _reference_section(plan, i: int) -> tuple[int | None, str | None]:
    """(earlier chunk, gate label) for section `i` of a form: a letter heard before
    restates its first occurrence (the gate's "A": the same again); a first B is a contrast
    to the first A (the gate's "B"); anything else has no reference."""
    letter = plan[i][0]
    if letter not in ("A", "B"):
        return None, None
    same = next((j for j in range(i) if plan[j][0] == letter), None)
    if same is not None:
        return same, "A"
    first_a = next((j for j in range(i) if plan[j][0] == "A"), None)
    if letter == "B" and first_a is not None:
        return first_a, "B"
    return None, None


def _opening(theme: list[int], bar_id: int, bars: int) -> tuple[int, list[int]]:
    """(bars, tokens): the first `bars` bars of `theme`."""
    starts = [i for i, t in enumerate(theme) if t == bar_id]
    k = min(bars, len(starts))
    if k <= 0:
        return 0, []
    return k, theme[: starts[k] if k < len(starts) else len(theme)]


def _state_key(prompt: str, controls: Controls, sampling: SamplingConfig, s: LongFormSettings):
    blob = json.dumps(
        [prompt, controls.to_dict(), sampling.to_dict(), asdict(s)], sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def compose_long(
    composer,
    prompt: str,
    controls: Controls,
    sampling: SamplingConfig,
    settings: LongFormSettings,
    progress: Callable[[int, int, str], None] | None = None,
    state_path: str | Path | None = None,
) -> tuple[Piece, list[ChunkReport]]:
    """Compose `settings.chunks` chunks; returns the stitched piece and per-chunk reports."""
    settings = settings.validated()
    sampling = sampling.validated()
    controls = controls.validated()
    seed = sampling.seed
    if seed is None:
        seed = int(cast(int, np.random.SeedSequence().entropy) % (2**31))
        sampling = sampling.with_(seed=seed)
    engine, tok = composer.engine, composer.tokenizer
    if tok.bar_id is None:
        raise BadInputError("long-form generation needs a bar-based tokenization (REMI, REMI+)")
    text_emb = engine.text_embedding(prompt)
    key = _state_key(prompt, controls, sampling, settings)
    music: list[int] = []
    reports: list[ChunkReport] = []
    state_path = Path(state_path) if state_path else None
    if state_path and state_path.is_file():
        saved = json.loads(state_path.read_text())
        if saved.get("key") == key:
            music = saved["music"]
            reports = [ChunkReport(**r) for r in saved["reports"]]
    budget = engine.cfg.block_size // 2
    plan = settings.plan
    for i in range(len(reports), settings.chunks):
        t0 = time.perf_counter()
        if progress:
            name = f" ({plan[i][2]})" if plan else ""
            progress(i, settings.chunks, f"chunk {i + 1}/{settings.chunks}{name}")
        ctx_bars, context = _context(music, tok.bar_id, settings.overlap_bars, budget)
        new_bars = settings.chunk_bars
        chunk_key = controls.key
        recalled: list[int] = []
        theme: list[int] | None = None  # the first A, once there is one
        reference: list[int] | None = None  # what the reprise gate follows (reprise.py)
        gate_label = None
        if plan:
            section, area, _ = plan[i]
            chunk_key = section_key(controls.key, area)
            if i == 0:
                section = "start"  # a Section label names what follows its context
            first_a = next((j for j, p in enumerate(plan) if p[0] == "A"), None)
            if first_a is not None and first_a < i:
                theme = _chunk_music(reports, music, tok.bar_id, first_a)
            source, gate_label = _reference_section(plan, i)
            if source is not None:
                # Moved into this section's key: a sonata's recapitulation brings the
                # second theme back in the tonic.
                shift = key_shift(section_key(controls.key, plan[source][1]), chunk_key)
                reference = transpose_theme(
                    _chunk_music(reports, music, tok.bar_id, source), tok, shift
                )
            if section == "A" and theme and plan[i - 1][0] != "A":
                # A return: the model hears the theme (the first A) and is asked for an A
                # after it, as in training (data/sections.py); `recall_bars` of the theme's
                # opening may be restated verbatim first, for a literal reprise.
                ctx_bars, context = _context(theme, tok.bar_id, None, budget)
                recall_n, recalled = _opening(theme, tok.bar_id, settings.recall_bars)
                if recall_n:
                    context = context + recalled
                    ctx_bars += recall_n
                    new_bars -= recall_n
        else:
            section = "start" if i == 0 else ("end" if i == settings.chunks - 1 else "middle")
        c = Controls(
            **{
                **controls.to_dict(),
                "bars": ctx_bars + new_bars,
                "section": section,
                "key": chunk_key,
            }
        )
        results = engine.generate(
            c,
            prompt,
            settings.candidates,
            # only the last chunk ends the piece (and may close it with a cadence)
            sampling.with_(
                seed=seed + i,
                cadence=sampling.cadence if i == settings.chunks - 1 else "none",
            ),
            prompt_music=context,
            text_emb=text_emb,
            theme=reference,
            theme_label=gate_label,
            section_start=len(context) - len(recalled),
        )
        prefix = tok.prefix_ids(c)
        news = []
        for r in results:
            body = r.ids[r.music_start + len(context) :]
            news.append(body[:-1] if body and body[-1] == tok.eos_id else body)
        likes = seam_likelihood(engine.backend, tok, prefix, context, news, text_emb)
        scored: list[dict[str, float | None]] = []
        totals: list[float] = []
        for new, like in zip(news, likes, strict=True):
            whole = Piece.from_tokens(tok, prefix + context + new + [tok.eos_id], c, prompt)
            only_new = Piece.from_tokens(tok, prefix + new + [tok.eos_id], c, prompt)
            parts: dict[str, float | None] = {
                "voice_leading": 0.0,
                "fit": 0.0,
                "seam": None,
                "continuity": like,
            }
            parts["attributes"] = 0.0
            parts["cadence"] = None
            if only_new.num_notes:
                m = compute_metrics(only_new.score)
                tracks = sum(1 for t in only_new.score.tracks if t.note_num())
                parts["voice_leading"] = voice_leading(whole.score)["score"]
                parts["fit"] = statistical_fit(m, controls.style)
                parts["attributes"] = _attribute_match(m, controls, tracks)
                if ctx_bars:
                    parts["seam"] = seam_fit(whole, ctx_bars, controls.key or m.get("key"))
                if i == settings.chunks - 1 and (final_key := chunk_key or m.get("key")):
                    parts["cadence"] = cadence_fit(only_new.score, final_key)
            used = {k: v for k, v in parts.items() if v is not None}
            total = sum(WEIGHTS[k] * v for k, v in used.items()) / sum(WEIGHTS[k] for k in used)
            parts["total"] = total
            scored.append(parts)
            totals.append(total)
        best = int(np.argmax(totals))
        music = music + recalled + news[best]
        reports.append(
            ChunkReport(
                index=i,
                new_bars=sum(1 for t in recalled + news[best] if t == tok.bar_id),
                context_bars=ctx_bars,
                chosen=best,
                seconds=time.perf_counter() - t0,
                candidates=scored,
            )
        )
        if state_path:
            atomic_write_json(
                state_path, {"key": key, "music": music, "reports": [asdict(r) for r in reports]}
            )
    if progress:
        progress(settings.chunks, settings.chunks, "stitching")
    total_bars = sum(1 for t in music if t == tok.bar_id)
    stitched = Controls(
        **{**controls.to_dict(), "bars": min(total_bars, MAX_BARS), "section": None}
    )
    piece = Piece.from_tokens(
        tok, tok.prefix_ids(stitched) + music + [tok.eos_id], controls, prompt
    )
    return piece, reports
