"""Do the Section controls steer form? A/B continuations of real openings, and --form AABA.

1. For pieces of the test split whose repeat structure the labeller recognises
   (data/sections.py), the model is given the piece's first phrase (4 or 8 bars, as the
   labeller counts them) and asked for the next phrase under Section_A ("the theme again")
   or Section_B ("the contrast"), with the piece's other controls. The new phrase is
   compared with the given one bar by bar (mean Jaccard similarity of (voice, onset, pitch)
   sets, the labeller's own measure): a model that follows the controls makes
   A-continuations more like the opening than B-continuations.
2. Whole `--form AABA` and `ABAB` pieces (no verbatim recall): each later section is
   compared bar by bar with the first occurrence of its letter (a return should resemble
   it) or, for the first B, with the first A (a contrast should not).
3. `--form sonata`: is each section heard in its planned key, and does the
   recapitulation bring the second theme back (moved into the tonic)? And the time of a
   72-bar AABA chorale (18-bar sections, 16 candidates each).
4. Position controls (Section_start / middle / end, learned from where a training crop
   lies in its piece): after a test piece's first phrase, the next phrase is asked for
   under Section_end ("the piece closes here") and Section_middle, with the same bar count;
   does the last onset's lowest note land on the tonic? Real pieces' last bars and the
   ends of their second phrases are the reference.
5. With a reprise gate (generate/reprise.py), every continuation above is generated with
   the opening as its theme, and the test split's labelled phrases are scored with the
   gate under their true and the other label. The user's path, `continue OPENING.mid
   --section A|B`, is measured the same way on 30 openings written to MIDI.
6. Why, as a diagnosis: the model's loss on an exact second copy of a test piece's opening
   phrase vs on the first (a model that copies from its context is near zero on the
   second), and its loss on the real phrase after the opening under Section_A vs
   Section_B (a model that uses the labels scores the right one lower).

Run for the shipped model and, with --baseline, another one in the same run:

    python benchmarks/form.py --baseline shipped-without-gate --out benchmarks/results/form_reprise.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, write_json  # noqa: E402


def next_phrase(composer, c: dict, opening: list[int], length: int, section: str, seed: int):
    """The model's continuation of a piece's opening phrase by one more phrase, under the
    piece's own controls (c: the corpus record's) and the given Section control."""
    from tunesmith.conditioning.controls import Controls
    from tunesmith.generate.sampling import SamplingConfig

    controls = Controls(
        style=c.get("style"), key=c.get("key"), meter=c.get("meter"), tempo=c.get("tempo"),
        instruments=c.get("instruments") or None, bars=2 * length, section=section,
    )  # fmt: skip
    return composer.engine.generate(
        controls, None, 1, SamplingConfig(seed=seed), prompt_music=opening, theme=opening
    )[0]


def continuations(composer, ds, pieces, seeds, section):
    from tunesmith.data.sections import MATCH, _similarity, bar_contents, phrase_length

    tok = composer.tokenizer
    sims = []
    for i in pieces:
        ids, bars = ds.piece_ids(i), ds.piece_bars(i)
        length = phrase_length(len(bars))
        opening = [int(t) for t in ids[bars[0] : bars[length]]]
        for seed in seeds:
            res = next_phrase(composer, ds.pieces[i]["controls"], opening, length, section, seed)
            music = np.asarray(res.ids[res.music_start :], dtype=np.int64)
            starts = np.flatnonzero(music == tok.bar_id)
            if len(starts) < 2 * length:
                continue
            contents = bar_contents(tok, music, starts)
            sims.append(_similarity(contents[length : 2 * length], contents[:length]))
    sims = np.asarray(sims)
    return {
        "n": int(len(sims)),
        "mean_similarity_to_opening": round(float(sims.mean()), 4),
        "share_heard_as_A": round(float((sims >= MATCH).mean()), 4),
    }


def continue_sections(composer, ds, pieces, seed: int = 1, max_pieces: int = 30) -> dict:
    """`tunesmith continue OPENING.mid --section A|B`, the user's path: each test opening
    is written to MIDI, continued by one phrase, and the new phrase compared with it."""
    import tempfile

    from tunesmith.conditioning.controls import Controls
    from tunesmith.data.sections import MATCH, _similarity, bar_contents, phrase_length

    tok = composer.tokenizer
    sims: dict[str, list[float]] = {"A": [], "B": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in pieces[:max_pieces]:
            ids, bars = ds.piece_ids(i), ds.piece_bars(i)
            length = phrase_length(len(bars))
            c = ds.pieces[i]["controls"]
            path = f"{tmp}/opening.mid"
            prefix = tok.prefix_ids(
                Controls(meter=c.get("meter"), instruments=c.get("instruments") or None)
            )
            tok.decode(prefix + [int(t) for t in ids[bars[0] : bars[length]]]).dump_midi(path)
            for label in sims:
                piece = composer.continue_midi(path, 2 * length, seed=seed, section=label)
                music = np.asarray(piece.tokens, dtype=np.int64)
                starts = np.flatnonzero(music == tok.bar_id)
                if len(starts) < 2 * length:
                    continue
                contents = bar_contents(tok, music, starts)
                sims[label].append(_similarity(contents[length : 2 * length], contents[:length]))
    return {
        k: {
            "n": len(v),
            "mean_similarity_to_opening": round(float(np.mean(v)), 4),
            "share_heard_as_A": round(float((np.asarray(v) >= MATCH).mean()), 4),
        }
        for k, v in sims.items()
    }


def real_next_phrases(composer, ds, pieces) -> dict:
    """The reference: how like the opening the real second phrase is, by its label."""
    from tunesmith.data.sections import _similarity, bar_contents, phrase_length, section_of_bar

    tok = composer.tokenizer
    sims: dict[str, list[float]] = {"A": [], "B": []}
    for i in pieces:
        ids, bars = ds.piece_ids(i), ds.piece_bars(i)
        length = phrase_length(len(bars))
        label = section_of_bar(tok, ids, bars).get(length)
        if label in sims and len(bars) >= 2 * length:
            contents = bar_contents(tok, np.asarray(ids), np.asarray(bars))
            sims[label].append(_similarity(contents[length : 2 * length], contents[:length]))
    return {
        k: {"n": len(v), "mean_similarity_to_opening": round(float(np.mean(v)), 4)}
        for k, v in sims.items()
        if v
    }


def copy_and_label_losses(composer, ds, test, max_pieces: int = 150) -> dict:
    """Mean token loss on a repeated opening phrase, and on the next phrase per label."""
    import torch
    import torch.nn.functional as F

    from tunesmith.conditioning.controls import Controls
    from tunesmith.data.sections import phrase_length, section_of_bar

    tok, model = composer.tokenizer, composer.model
    first, second = [], []
    by_label: dict[str, list[float]] = {"A|A": [], "A|B": [], "B|B": [], "B|A": []}

    def losses(seq):
        x = torch.tensor([seq])
        with torch.inference_mode():
            logits = model(x[:, :-1])
        return F.cross_entropy(logits[0].float(), x[0, 1:], reduction="none").numpy()

    for i in test[:max_pieces]:
        ids, bars = ds.piece_ids(i), ds.piece_bars(i)
        length = phrase_length(len(bars))
        if len(bars) < 2 * length + 1:
            continue
        c = ds.pieces[i]["controls"]
        controls = Controls(
            style=c.get("style"), key=c.get("key"), meter=c.get("meter"),
            instruments=c.get("instruments") or None, section="A",
        )  # fmt: skip
        theme = [int(t) for t in ids[bars[0] : bars[length]]]
        prefix = tok.prefix_ids(controls)
        if len(prefix) + 2 * len(theme) <= model.cfg.block_size:
            nll = losses(prefix + theme + theme)[len(prefix) - 1 :]
            first.append(nll[: len(theme)].mean())
            second.append(nll[len(theme) :].mean())
        label = section_of_bar(tok, ids, bars).get(length)
        if label is None:
            continue
        music = [int(t) for t in ids[bars[0] : bars[2 * length]]]
        for given in "AB":
            controls.section = given
            prefix = tok.prefix_ids(controls)
            seq = (prefix + music)[: model.cfg.block_size + 1]
            nll = losses(seq)[len(prefix) - 1 + len(theme) :]
            if len(nll):
                by_label[f"{label}|{given}"].append(nll.mean())
    return {
        "repeat_pieces": len(first),
        "loss_first_copy": round(float(np.mean(first)), 4),
        "loss_second_copy": round(float(np.mean(second)), 4),
        "next_phrase_loss_true_label_given_label": {
            k: {"n": len(v), "loss": round(float(np.mean(v)), 4)} for k, v in by_label.items()
        },
    }


def gate_label_losses(composer, ds) -> dict | None:
    """With a reprise gate: token loss of the test split's labelled phrases after the
    opening, the model alone vs with the gate under the true and the other label."""
    from tunesmith.training.reprise import collect, gate_losses

    gate = composer.engine.gate
    if gate is None:
        return None
    return gate_losses(gate, collect(composer.model, ds, "test"))


def _ends_on_tonic(tok, ids, key: str) -> bool | None:
    from tunesmith.music.cadence import ends_on_tonic

    return ends_on_tonic(tok.decode(ids), key)


def position_controls(composer, ds, test, seeds, max_pieces: int = 40) -> dict:
    """Share of continuations ending on the tonic under Section_end vs Section_middle."""
    from tunesmith.conditioning.controls import Controls
    from tunesmith.data.sections import phrase_length

    tok = composer.tokenizer
    hits: dict[str, list[bool]] = {
        "end": [],
        "middle": [],
        "real_last_bar": [],
        "real_phrase_2": [],
    }
    used = 0
    for i in test:
        c = ds.pieces[i]["controls"]
        ids, bars = ds.piece_ids(i), ds.piece_bars(i)
        length = phrase_length(len(bars))
        if not c.get("key") or len(bars) < 2 * length + 1:
            continue
        used += 1
        if used > max_pieces:
            break
        prefix = tok.prefix_ids(Controls(meter=c.get("meter"), instruments=c.get("instruments")))
        real_end = _ends_on_tonic(tok, prefix + [int(t) for t in ids[bars[-1] :]], c["key"])
        real_mid = _ends_on_tonic(
            tok, prefix + [int(t) for t in ids[bars[2 * length - 1] : bars[2 * length]]], c["key"]
        )
        for name, value in (("real_last_bar", real_end), ("real_phrase_2", real_mid)):
            if value is not None:
                hits[name].append(value)
        opening = [int(t) for t in ids[bars[0] : bars[length]]]
        for section in ("end", "middle"):
            for seed in seeds:
                res = next_phrase(composer, c, opening, length, section, seed)
                value = _ends_on_tonic(tok, res.ids, c["key"])
                if value is not None:
                    hits[section].append(value)
    return {
        "pieces": min(used, max_pieces),
        **{
            f"ends_on_tonic_{k}": {"n": len(v), "share": round(float(np.mean(v)), 4)}
            for k, v in hits.items()
        },
    }


def section_embeddings(composer) -> dict:
    """Can the model tell the labels apart at all? Cosine of the Section_A / Section_B input
    embeddings, and the norms of every Section_* row (unused tokens' tied rows grow long and
    parallel: see reinit_token_rows in training/trainer.py)."""
    import torch

    tok = composer.tokenizer
    w = composer.model.tok_emb.weight.detach().float()
    a, b = w[tok.token_id("Section_A")], w[tok.token_id("Section_B")]
    return {
        "cosine_A_B": round(float(torch.cosine_similarity(a, b, dim=0)), 4),
        "norms": {
            tok.token(i): round(float(w[i].norm()), 3) for i in tok.ids_with_prefix("Section_")
        },
    }


NO_GATE = "shipped-without-gate"
FORM_PROMPTS = ("a reel in D major for fiddle", "a hymn in G major for four voices")


def form_pieces(composer, seeds, form: str, chunk_bars: int = 8, image: str | None = None):
    """--form FORM without recall: each later section compared with the first occurrence of
    its letter (a return: should be alike) or, for a first B, with the first A (a contrast:
    should not). The first piece's piano roll goes to `image`."""
    from tunesmith.api import Composer
    from tunesmith.data.sections import _similarity, bar_contents
    from tunesmith.generate.longform import LongFormSettings, compose_long

    tok = composer.tokenizer
    kinds: dict[str, list[float]] = {"returns": [], "contrasts": []}
    rows = []
    for prompt in FORM_PROMPTS:
        for seed in seeds:
            settings = LongFormSettings(
                chunk_bars=chunk_bars, candidates=4, form=form, recall_bars=0
            )
            piece, _ = compose_long(
                composer, prompt, composer.controls_for(prompt), Composer.sampling_for(seed=seed),
                settings,
            )  # fmt: skip
            if image and not rows:
                from longform import piano_roll

                ts = piece.score.time_signatures[0]
                bar_ticks = piece.score.ticks_per_quarter * 4 * ts.numerator // ts.denominator
                seams = [chunk_bars * k for k in range(1, len(form))]
                piano_roll(piece, seams, bar_ticks, image)
            ids = np.asarray(piece.tokens, dtype=np.int64)
            bars = bar_contents(tok, ids, np.flatnonzero(ids == tok.bar_id))
            section = [bars[k * chunk_bars : (k + 1) * chunk_bars] for k in range(len(form))]
            sims = {}
            for k in range(1, len(form)):
                first = form.index(form[k])
                kind, other = ("returns", first) if first < k else ("contrasts", form.index("A"))
                sim = _similarity(section[k], section[other])
                kinds[kind].append(sim)
                sims[f"{form[k]}{k + 1}_vs_{form[other]}{other + 1}"] = round(sim, 4)
            rows.append({"prompt": prompt, "seed": seed, "similarity": sims})
    return {
        "pieces": rows,
        "returns_mean_similarity_to_first_occurrence": round(float(np.mean(kinds["returns"])), 4),
        "contrasts_mean_similarity_to_first_A": round(float(np.mean(kinds["contrasts"])), 4),
    }


def form_timing(composer) -> dict:
    """Seconds for a 72-bar `--form AABA` chorale, 18-bar sections x 16 candidates (what
    the reprise gate costs shows against the baseline measured in the same run)."""
    import time

    from tunesmith.api import Composer
    from tunesmith.generate.longform import LongFormSettings, apply_mode, compose_long

    prompt = "a four-part chorale in G major"
    controls = apply_mode(composer.controls_for(prompt), "chorale")
    settings = LongFormSettings(chunk_bars=18, candidates=16, form="AABA")
    t0 = time.perf_counter()
    piece, _ = compose_long(composer, prompt, controls, Composer.sampling_for(seed=1), settings)
    return {"seconds": round(time.perf_counter() - t0, 2), "notes": piece.num_notes}


def sonata_key_plan(composer, seeds, chunk_bars: int = 8) -> dict:
    """--form sonata with the given model: is each section heard in its planned key?"""
    from tunesmith.api import Composer
    from tunesmith.data.sections import _similarity, bar_contents
    from tunesmith.generate.longform import LongFormSettings, apply_mode, compose_long
    from tunesmith.generate.reprise import transpose_theme
    from tunesmith.music.keys import estimate_key

    tok = composer.tokenizer
    rows, hits, second = [], 0, []
    for seed in seeds:
        prompt = "a string quartet movement in C major"
        controls = apply_mode(composer.controls_for(prompt), "quartet")
        settings = LongFormSettings(chunk_bars=chunk_bars, candidates=4, form="sonata")
        piece, reports = compose_long(
            composer, prompt, controls, Composer.sampling_for(seed=seed), settings
        )
        tpq = piece.score.ticks_per_quarter
        ts = piece.score.time_signatures[0] if len(piece.score.time_signatures) else None
        bar = int(tpq * 4 * (ts.numerator / ts.denominator if ts else 1))
        keys, first = [], 0
        for r in reports:
            lo, hi = first * bar, (first + r.new_bars) * bar
            hist = np.zeros(12)
            for t in piece.score.tracks:
                for n in t.notes:
                    if lo <= n.time < hi and not t.is_drum:
                        hist[n.pitch % 12] += n.duration
            est = estimate_key(hist)
            keys.append(est[0] if est else None)
            first += r.new_bars
        planned = ["C major", "G major", "A minor", "C major", "C major"]
        hits += sum(k == p for k, p in zip(keys, planned, strict=True))
        # The recapitulation's second theme vs the exposition's, moved from G to C.
        ids = np.asarray(piece.tokens, dtype=np.int64)
        starts = np.flatnonzero(ids == tok.bar_id)
        firsts = np.cumsum([0] + [r.new_bars for r in reports])
        expo = transpose_theme(ids[starts[firsts[1]] : starts[firsts[2]]].tolist(), tok, 5)
        expo = np.asarray(expo, dtype=np.int64)
        recap = bar_contents(tok, ids, starts)[firsts[4] : firsts[5]]
        sim = _similarity(recap, bar_contents(tok, expo, np.flatnonzero(expo == tok.bar_id)))
        second.append(sim)
        rows.append(
            {"seed": seed, "planned": planned, "estimated": keys,
             "recap_second_theme_vs_exposition": round(sim, 4)}
        )  # fmt: skip
    return {
        "pieces": rows,
        "sections_in_planned_key": f"{hits}/{5 * len(seeds)}",
        "recap_second_theme_vs_exposition_mean": round(float(np.mean(second)), 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    ap.add_argument(
        "--baseline",
        default=None,
        help=f"another model to measure in the same run ('{NO_GATE}': the shipped "
        "transformer without its reprise gate)",
    )
    ap.add_argument("--data", default="data/music21/tokens/REMI")
    ap.add_argument("--pieces", type=int, default=60)
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--out", default="benchmarks/results/form.json")
    args = ap.parse_args()

    from tunesmith.api import Composer
    from tunesmith.data.dataset import load_token_dataset
    from tunesmith.data.sections import section_of_bar

    ds = load_token_dataset(args.data)
    test = [int(i) for i in ds.split_indexes("test")]
    labelled = [i for i in test if section_of_bar(ds.tokenizer, ds.piece_ids(i), ds.piece_bars(i))]
    pieces = labelled[: args.pieces]
    seeds = [int(s) for s in args.seeds.split(",")]
    result = {
        "benchmark": "form",
        "machine": machine(),
        "command": "python benchmarks/form.py " + " ".join(sys.argv[1:]),
        "test_pieces_labelled": len(labelled),
        "pieces": len(pieces),
        "seeds": seeds,
        "models": {},
    }
    models = {"model": args.model or "shipped"}
    if args.baseline:
        models["baseline"] = args.baseline
    for name, path in models.items():
        composer = Composer.load(None if path in ("shipped", NO_GATE) else path)
        if path == NO_GATE:  # the same transformer, without its reprise gate
            composer.engine.gate = None
        rows: dict = {"path": path}
        for s in ("A", "B"):
            rows[s] = continuations(composer, ds, pieces, seeds, s)
        rows["real_second_phrases"] = real_next_phrases(composer, ds, pieces)
        rows["continue_section"] = continue_sections(composer, ds, pieces)
        rows["A_minus_B_similarity"] = round(
            rows["A"]["mean_similarity_to_opening"] - rows["B"]["mean_similarity_to_opening"], 4
        )
        rows["section_embeddings"] = section_embeddings(composer)
        rows["position_controls"] = position_controls(composer, ds, test, seeds)
        rows["losses"] = copy_and_label_losses(composer, ds, test)
        rows["reprise_gate_losses"] = gate_label_losses(composer, ds)
        for form in ("AABA", "ABAB"):
            image = f"docs/images/form_{form.lower()}_{name}.png"
            rows[form] = form_pieces(composer, seeds, form, image=image)
        rows["sonata_key_plan"] = sonata_key_plan(composer, seeds)
        rows["aaba_chorale_timing"] = form_timing(composer)
        result["models"][name] = rows
        # after each model: a long run keeps what it measured
        shas = {k: None if p in ("shipped", NO_GATE) else p for k, p in models.items()}
        write_json(args.out, result, model=shas)


if __name__ == "__main__":
    main()
