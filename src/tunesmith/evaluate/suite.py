"""`tunesmith evaluate`: generate for a prompt set (or take existing files) and measure.

Per piece: the music metrics, attribute hits for what its prompt requested, the token
error rate of the sampled sequence, and a tension curve. Against a reference set of real
music: every summary metric beside the real values (overall and per form), note-density
ratio and velocity similarity, the Frechet distance and the real-vs-generated classifier.
Writes metrics.json, report.md and PNG plots. Generated files are written one by one
(atomically) next to a small JSON of their facts, so an interrupted run resumes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import symusic

from ..errors import BadInputError
from ..fileio import atomic_write_json
from ..music.metrics import compute_metrics, load_midi, note_density_ratio, velocity_similarity
from ..music.tension import climax_position, tension_curve
from .attributes import attribute_hits
from .realism import FEATURES, classifier_accuracy, frechet_distance, piece_features
from .reference import SUMMARY_KEYS

MIDI_SUFFIXES = (".mid", ".midi")


@dataclass
class Evaluated:
    """One piece, measured."""

    name: str
    metrics: dict
    features: np.ndarray
    velocities: np.ndarray
    tension: np.ndarray
    form: str | None = None
    hits: dict = field(default_factory=dict)
    token_error_rate: float | None = None


def measure(
    name: str,
    score: symusic.Score,
    requested: dict | None = None,
    form: str | None = None,
    token_error_rate: float | None = None,
) -> Evaluated:
    m = compute_metrics(score)
    velocities = np.concatenate(
        [t.notes.numpy()["velocity"] for t in score.tracks if t.note_num()] or [np.zeros(0)]
    )
    return Evaluated(
        name=name,
        metrics=m,
        features=piece_features(score, m),
        velocities=velocities,
        tension=tension_curve(score),
        form=form,
        hits=attribute_hits(score, m, requested) if requested else {},
        token_error_rate=token_error_rate,
    )


# -- reading sets of files ----------------------------------------------------------------
def midi_files(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInputError(f"{str(folder)!r} is not a folder")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES)
    if not files:
        raise BadInputError(f"no MIDI files (.mid, .midi) in {str(folder)!r}")
    return files


def reference_pieces(path: str | Path, split: str = "test") -> list[Evaluated]:
    """Real music to compare with: a prepared corpus (its `split`) or a folder of MIDI."""
    path = Path(path)
    if (path / "pieces.jsonl").is_file():
        from ..data.records import load_records

        recs = [r for r in load_records(path) if r.split == split]
        if not recs:
            raise BadInputError(f"the corpus {str(path)!r} has no {split!r} pieces")
        return [measure(r.id, load_midi(path / r.midi_path), form=r.form) for r in recs]
    return [measure(p.stem, load_midi(p)) for p in midi_files(path)]


# -- the comparison -------------------------------------------------------------------------
def _stats(values: Iterable) -> dict | None:
    v = np.array([x for x in values if x is not None], dtype=float)
    return {"mean": float(v.mean()), "std": float(v.std()), "n": len(v)} if len(v) else None


# Below this many real pieces the reference statistics are noise: the Frechet distance
# needs a covariance of 12 features (at least twice as many pieces as features) and the
# classifier a few pieces per fold.
MIN_REFERENCE_PIECES = 30


def compare(generated: list[Evaluated], reference: list[Evaluated] | None) -> dict:
    """The aggregate report (JSON-ready) of generated pieces against a reference set."""
    if not generated:
        raise BadInputError("nothing to evaluate: no generated pieces")
    out: dict = {"pieces": len(generated)}
    out["metrics"] = {k: _stats(e.metrics.get(k) for e in generated) for k in SUMMARY_KEYS}
    ters = [e.token_error_rate for e in generated if e.token_error_rate is not None]
    out["token_error_rate"] = float(np.mean(ters)) if ters else None
    per_attr: dict[str, list[bool]] = defaultdict(list)
    for e in generated:
        for k, v in e.hits.items():
            per_attr[k].append(v)
    out["attribute_accuracy"] = {
        k: {"accuracy": float(np.mean(v)), "requested": len(v)} for k, v in per_attr.items()
    }
    climax = [climax_position(e.tension) for e in generated if len(e.tension) >= 4]
    out["tension_climax"] = _stats(climax)
    if not reference:
        return out
    out["reference_pieces"] = len(reference)
    if len(reference) < MIN_REFERENCE_PIECES:
        out["warnings"] = [
            f"only {len(reference)} reference pieces: the comparison with real music (and the "
            f"realism figures) mean little below {MIN_REFERENCE_PIECES}"
        ]
    ref: dict[str, Any] = {k: _stats(e.metrics.get(k) for e in reference) for k in SUMMARY_KEYS}
    out["reference_metrics"] = ref
    out["relative_difference"] = {
        k: (out["metrics"][k]["mean"] - ref[k]["mean"]) / ref[k]["mean"]
        for k in SUMMARY_KEYS
        if out["metrics"][k] and ref[k] and ref[k]["mean"]
    }
    out["same_form"] = _same_form(generated, reference)
    real_density = {"notes_per_bar": ref["notes_per_bar"]["mean"]}
    out["note_density_ratio"] = float(
        np.mean([note_density_ratio(e.metrics, real_density) for e in generated])
    )
    out["velocity_similarity"] = velocity_similarity(
        np.concatenate([e.velocities for e in generated]),
        np.concatenate([e.velocities for e in reference]),
    )
    g = np.stack([e.features for e in generated])
    r = np.stack([e.features for e in reference])
    out["realism"] = {
        "features": list(FEATURES),
        "frechet_distance": frechet_distance(g, r),
        "frechet_distance_real_vs_real": _split_half_fd(r),
        "classifier_accuracy": classifier_accuracy(g, r) if min(len(g), len(r)) >= 5 else None,
    }
    ref_climax = [climax_position(e.tension) for e in reference if len(e.tension) >= 4]
    out["reference_tension_climax"] = _stats(ref_climax)
    return out


def _split_half_fd(r: np.ndarray) -> float | None:
    """FD between two random halves of the real set: the floor that sampling noise sets."""
    if len(r) < 8:
        return None
    idx = np.random.default_rng(0).permutation(len(r))
    return frechet_distance(r[idx[: len(r) // 2]], r[idx[len(r) // 2 :]])


def _same_form(generated: list[Evaluated], reference: list[Evaluated]) -> dict:
    """Per form present on both sides: generated vs real means of H1, H4, GS."""
    real_by_form: dict[str, list[Evaluated]] = defaultdict(list)
    for e in reference:
        if e.form:
            real_by_form[e.form].append(e)
    gen_by_form: dict[str, list[Evaluated]] = defaultdict(list)
    for e in generated:
        if e.form in real_by_form:
            gen_by_form[e.form].append(e)
    forms = {}
    for form, gens in sorted(gen_by_form.items()):
        entry: dict[str, Any] = {"generated": len(gens), "real": len(real_by_form[form])}
        for k in ("H1", "H4", "GS"):
            gm = _stats(e.metrics.get(k) for e in gens)
            rm = _stats(e.metrics.get(k) for e in real_by_form[form])
            if gm and rm:
                entry[k] = {
                    "generated": gm["mean"],
                    "real": rm["mean"],
                    "relative_difference": (gm["mean"] - rm["mean"]) / rm["mean"],
                }
        forms[form] = entry
    weighted = {}
    for k in ("H1", "H4", "GS"):
        pairs = [
            (f["generated"], abs(f[k]["relative_difference"])) for f in forms.values() if k in f
        ]
        if pairs:
            n = sum(p[0] for p in pairs)
            weighted[k] = sum(a * b for a, b in pairs) / n
    return {"forms": forms, "mean_abs_relative_difference": weighted}


# -- generation for a prompt set ----------------------------------------------------------
def token_error_rate(grammar, ids: list[int], music_start: int) -> float:
    """Share of music tokens the tokenization's grammar would not allow where they stand."""
    from ..conditioning.controls import MAX_BARS

    state = grammar.new_state(None, None, None, MAX_BARS)
    music = ids[music_start:]
    bad = 0
    for i, t in enumerate(music):
        if t == grammar.eos_id and i == len(music) - 1:
            # The end is valid once every note is closed (the replay knows no length).
            bad += int(bool(state.open_notes) or state.notes == 0)
        elif not bool(state.allowed()[t]):
            bad += 1
        state.update(t)
    return bad / max(1, len(music))


def generate_for_prompts(
    composer,
    prompts,
    seeds: list[int],
    out_dir: str | Path,
    progress: Callable[[int, int], None] | None = None,
    sampling_changes: dict | None = None,
) -> list[Evaluated]:
    """Generate every prompt x seed into out_dir/midi (skipping pieces already there)."""
    import json

    from ..conditioning.prompt import parse_prompt
    from ..render.piece import Piece

    midi_dir = Path(out_dir) / "midi"
    midi_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(p, s) for p in prompts for s in seeds]
    results = []
    for i, (p, seed) in enumerate(jobs):
        name = f"{p.id}_s{seed}"
        path, facts_path = midi_dir / f"{name}.mid", midi_dir / f"{name}.json"
        if not (path.is_file() and facts_path.is_file()):
            controls = composer.controls_for(p.prompt)
            sampling = composer.sampling_for(seed=seed).with_(**(sampling_changes or {}))
            res = composer.engine.generate(controls, p.prompt, 1, sampling)[0]
            piece = Piece.from_tokens(composer.tokenizer, res.ids, controls, p.prompt)
            ter = token_error_rate(composer.engine.grammar, res.ids, res.music_start)
            piece.save(path)
            atomic_write_json(
                facts_path,
                {"prompt": p.prompt, "seed": seed, "token_error_rate": ter,
                 "style": controls.style, "requested": p.attributes},
            )  # fmt: skip
        facts = json.loads(facts_path.read_text())
        style = facts.get("style") or parse_prompt(p.prompt).controls.style
        results.append(
            measure(name, load_midi(path), p.attributes, style, facts["token_error_rate"])
        )
        if progress:
            progress(i + 1, len(jobs))
    return results


def evaluate_folder(folder: str | Path) -> list[Evaluated]:
    """Measure existing files; a sidecar NAME.json (as written above) adds what was asked."""
    import json

    pieces = []
    for p in midi_files(folder):
        facts_path = p.with_suffix(".json")
        facts = json.loads(facts_path.read_text()) if facts_path.is_file() else {}
        pieces.append(
            measure(
                p.stem,
                load_midi(p),
                facts.get("requested"),
                facts.get("style"),
                facts.get("token_error_rate"),
            )
        )
    return pieces
