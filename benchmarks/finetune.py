"""Fine-tuning on a style the base model never heard: what 5, 15 and 30 CPU minutes buy.

The style folder's files are split (stable hash of the file's path) into a part to
fine-tune on and held-out test pieces (`--test-fraction`). For every adapter in `--adapters`
(full: every weight; lora: low-rank adapters) and every budget in `--minutes` the base
model is fine-tuned afresh on the first part (`tunesmith finetune`: its own validation
hold-out, early stopping), into a temporary TUNESMITH_HOME.
Then, for the base model and each fine-tuned one:

- loss: the fine-tune's validation loss before/after, and the loss on the held-out test
  pieces (token-weighted mean over their first block, the same inputs for every model);
- style: `--pieces` pieces generated for "a <style word>, <bars> bars" (seeds 1..N) against
  the held-out pieces, by the evaluate suite's Frechet distance and real-vs-generated
  classifier accuracy (50 % = indistinguishable; needs 5 pieces on each side);
- no collapse: attribute accuracy on the public prompt set (`--prompts`, `--prompt-limit`
  prompts, seed 1), so a fine-tune that forgets how to follow requests shows.

The style must be one the base never trained on (the shipped model trained on the whole
music21 corpus): a folder of MIDI the project may redistribute that is not in that corpus,
or a collection left out of a base model retrained without it (benchmarks/hold_out.py and
configs/study_no_bach.yaml: the Bach chorales):

    python benchmarks/finetune.py --style data/style_bach --style-name chorale \
        --model runs/study_no_bach/model --adapters full,lora --minutes 5,15 \
        --out benchmarks/results/finetune.json

Smoke test (seconds, a tiny model):

    python benchmarks/finetune.py --style DIR --model RUN --minutes 0.05 --pieces 2 \
        --prompt-limit 2 --bars 4 --out /tmp/finetune_smoke.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import SHIPPED, machine, write_json  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


# -- the style's files ------------------------------------------------------------------------
def split_folder(style: Path, work: Path, test_fraction: float) -> tuple[Path, Path]:
    """Copies of the style folder's MIDI files in work/train and work/test (by path hash)."""
    from tunesmith.data.midi_folder import list_midi_files

    files, _ = list_midi_files(style)
    train, test = work / "train", work / "test"
    for folder in (train, test):
        folder.mkdir(parents=True)
    for path in files:
        rel = path.relative_to(style).as_posix()
        bucket = int(hashlib.sha1(f"test:{rel}".encode()).hexdigest()[:8], 16) % 1000
        target = test if bucket < test_fraction * 1000 else train
        shutil.copy2(path, target / rel.replace("/", "__"))
    return train, test


# -- loss on the held-out pieces --------------------------------------------------------------
def test_corpus(test: Path, work: Path, style: str, style_name: str, tokenizer):
    """The held-out pieces as a tokenized corpus (labelled and captioned as the fine-tune
    labels its own pieces, unusable files skipped), in the base model's tokenization, and
    the pieces measured for the realism figures."""
    from tunesmith.data.dataset import build_token_dataset
    from tunesmith.data.records import load_records
    from tunesmith.data.style_corpus import prepare_style_corpus
    from tunesmith.evaluate.suite import measure
    from tunesmith.music.metrics import load_midi

    corpus = work / "test_corpus"
    prepare_style_corpus(test, corpus, style, style_name, workers=1)
    tokens = build_token_dataset(corpus, tokenizer.name, workers=1, extensions=tokenizer.extensions)
    reference = [measure(r.id, load_midi(corpus / r.midi_path)) for r in load_records(corpus)]
    return tokens, reference


def held_out_loss(model_dir: Path, tokens: Path, batch_size: int = 8) -> dict:
    """Token-weighted mean loss of a model on every held-out piece's first block."""
    import torch

    from tunesmith.data.batches import IGNORE, BatchSampler
    from tunesmith.data.dataset import load_token_dataset
    from tunesmith.model.transformer import MusicTransformer
    from tunesmith.tokens.tokenizer import MusicTokenizer
    from tunesmith.training.trainer import loss_fn

    ds = load_token_dataset(tokens)
    ds.tokenizer = MusicTokenizer.load(model_dir)  # the model's layout (infill order)
    model = MusicTransformer.load(model_dir)
    total, count = 0.0, 0
    for split in ("train", "val"):
        if not len(ds.split_indexes(split)):
            continue
        sampler = BatchSampler(ds, split, model.cfg.block_size, None, seed=0)
        n = len(sampler.indexes)
        with torch.no_grad():
            for batch in sampler.fixed_batches(batch_size, -(-n // batch_size)):
                k = int((batch["targets"] != IGNORE).sum())
                total += float(loss_fn(model, batch, torch.device("cpu"), _null)) * k
                count += k
    return {"loss": round(total / max(1, count), 4), "tokens": count, "pieces": len(ds.pieces)}


def _null():
    from contextlib import nullcontext

    return nullcontext()


# -- generated pieces ---------------------------------------------------------------------------
def style_realism(composer, style_name: str, bars: int, pieces: int, reference, out: Path) -> dict:
    """Pieces for "a <word>, <bars> bars" against the held-out pieces."""
    import numpy as np

    from tunesmith.evaluate.prompts import EvalPrompt
    from tunesmith.evaluate.realism import classifier_accuracy, frechet_distance
    from tunesmith.evaluate.suite import generate_for_prompts

    article = "an" if style_name[:1] in "aeiou" else "a"
    prompt = EvalPrompt("style", f"{article} {style_name}, {bars} bars", {"bars": bars})
    generated = generate_for_prompts(composer, [prompt], list(range(1, pieces + 1)), out)
    g = np.stack([e.features for e in generated])
    r = np.stack([e.features for e in reference])
    return {
        "prompt": prompt.prompt,
        "pieces": len(generated),
        "reference_pieces": len(reference),
        "frechet_distance": round(frechet_distance(g, r), 4) if min(len(g), len(r)) >= 2 else None,
        "classifier_accuracy": (
            round(classifier_accuracy(g, r), 4) if min(len(g), len(r)) >= 5 else None
        ),
        "style_control": composer.controls_for(prompt.prompt).style,
    }


def prompt_set(composer, prompts, out: Path) -> dict:
    """Attribute accuracy on the public prompt set (seed 1)."""
    from tunesmith.evaluate.suite import compare, generate_for_prompts

    if not prompts:
        return {}
    generated = generate_for_prompts(composer, prompts, [1], out)
    report = compare(generated, None)
    return {
        "prompts": len(prompts),
        "attribute_accuracy": {
            k: round(v["accuracy"], 4) for k, v in report["attribute_accuracy"].items()
        },
    }


def measure_model(label, folder, style_name, args, reference, tokens, work, prompts) -> dict:
    from tunesmith import Composer

    composer = Composer.load(folder)
    row: dict = {"model": label, "seconds": {}}
    t0 = time.perf_counter()
    row["test_loss"] = held_out_loss(Path(composer.path), tokens)
    t1 = time.perf_counter()
    row["style"] = style_realism(
        composer, style_name, args.bars, args.pieces, reference, work / f"gen_{label}"
    )
    t2 = time.perf_counter()
    row["prompt_set"] = prompt_set(composer, prompts, work / f"prompts_{label}")
    row["seconds"] = {
        "test_loss": round(t1 - t0, 1),
        "style_pieces": round(t2 - t1, 1),
        "prompt_set": round(time.perf_counter() - t2, 1),
    }
    log(label, json.dumps(row))
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--style", type=Path, required=True, help="Folder of MIDI files: the style.")
    ap.add_argument("--style-name", default=None, help="The style's word (default: folder name).")
    ap.add_argument("--model", default=None, help="Base model (default: the shipped one).")
    ap.add_argument("--minutes", default="5,15,30", help="Training budgets, comma-separated.")
    ap.add_argument("--adapters", default="full,lora", help="full and/or lora, comma-separated.")
    ap.add_argument("--test-fraction", type=float, default=0.2)
    ap.add_argument("--pieces", type=int, default=20, help="Generated pieces per model.")
    ap.add_argument("--bars", type=int, default=16)
    ap.add_argument("--prompts", type=Path, default=REPO / "prompts" / "eval.jsonl")
    ap.add_argument("--prompt-limit", type=int, default=None, help="First N prompts (all).")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--out", default="benchmarks/results/finetune.json")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="tunesmith-finetune-bench-"))
    os.environ["TUNESMITH_HOME"] = str(work / "home")  # the user's own models stay untouched
    try:
        run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args, work: Path) -> None:
    from tunesmith.evaluate.prompts import load_prompts
    from tunesmith.evaluate.suite import MIN_REFERENCE_PIECES
    from tunesmith.model.folder import model_styles, resolve_model_dir
    from tunesmith.tokens.tokenizer import MusicTokenizer
    from tunesmith.training.finetune import LORA, finetune, style_for

    t_start = time.perf_counter()
    base = resolve_model_dir(args.model)
    word = args.style_name or args.style.resolve().name.replace("_", " ")
    style_name, style = style_for(word, model_styles(base))
    train, test = split_folder(args.style, work, args.test_fraction)
    log(f"{len(list(train.iterdir()))} files to fine-tune on, {len(list(test.iterdir()))} held out")
    tokens, reference = test_corpus(test, work, style, style_name, MusicTokenizer.load(base))
    prompts = load_prompts(args.prompts)[: args.prompt_limit] if args.prompt_limit != 0 else []

    rows = [measure_model("base", base, style_name, args, reference, tokens, work, prompts)]
    models: dict[str, str | Path | None] = {"base": args.model or SHIPPED}
    runs = [
        (adapter, float(m)) for m in args.minutes.split(",") for adapter in args.adapters.split(",")
    ]  # the adapters interleaved at each budget: the machine's load drifts
    for adapter, minutes in runs:
        label = f"{adapter}-{minutes:g}min"
        t0 = time.perf_counter()
        res = finetune(
            train, f"bench-{label}", base, minutes=minutes, style_name=style_name,
            overwrite=True, workers=args.workers, adapter=adapter,
        )  # fmt: skip
        row = measure_model(label, res.path, style_name, args, reference, tokens, work, prompts)
        row["finetune"] = {
            "adapter": adapter,
            "minutes": minutes,
            "val_loss_before": round(res.val_loss_before or 0.0, 4),
            "val_loss_after": round(res.val_loss_after or 0.0, 4) if res.saved else None,
            "steps": res.steps,
            "train_minutes": res.train_minutes,
            "stopped_early": res.stopped_early,
            "wall_s": round(time.perf_counter() - t0, 1),
            "corpus": {
                "train": res.corpus.train,
                "val": res.corpus.val,
                "skipped": res.corpus.skipped,
            },
        }
        rows.append(row)
        models[label] = res.path
    payload = {
        "benchmark": "finetune",
        "machine": machine(),
        "method": "fine-tune of every weight (full) and low-rank adapters (lora: rank "
        f"{LORA['rank']}, alpha {LORA['alpha']}, embeddings trained, merged when saved)",
        "style": {
            "folder": str(args.style),
            "word": style_name,
            "style_control": style,
            "files_to_fine_tune": len(list(train.iterdir())),
            "files_held_out": len(list(test.iterdir())),
            "held_out_pieces": len(reference),
        },
        "settings": {
            "pieces": args.pieces,
            "bars": args.bars,
            "prompts": str(args.prompts),
            "prompt_limit": args.prompt_limit,
        },
        "models": rows,
        "wall_s": round(time.perf_counter() - t_start, 1),
    }
    if len(reference) < MIN_REFERENCE_PIECES:
        payload["warnings"] = [
            f"only {len(reference)} held-out pieces: the Frechet distance and the classifier "
            f"mean little below {MIN_REFERENCE_PIECES} (a bigger style folder, or a larger "
            "test fraction)"
        ]
    write_json(args.out, payload, model=models)


if __name__ == "__main__":
    main()
