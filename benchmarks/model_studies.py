"""The tokenization and conditioning studies (docs/EVALUATION.md), on trained study runs.

Train the runs first (same model size and token budget; only the studied choice differs):

    for c in configs/study/*.yaml; do
      tunesmith train --config $c --out runs/study/$(basename $c .yaml); done
    python benchmarks/model_studies.py --out benchmarks/results/studies.json

For every run: best validation loss (from its log), H1/H4/GS of unconditional and
conditional samples next to real music (the test split), and attribute accuracy on the
public prompt set with the key guide off, so the model's own adherence shows. The
conditioning study sweeps the classifier-free guidance scale on the prefix and the
cross-attention model, and on the shipped model.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, provenance, write_json  # noqa: E402

TOKENIZATION_RUNS = {
    "REMI": "runs/study/tok_remi",
    "REMI+": "runs/study/tok_remip",
    "MIDILike": "runs/study/tok_midilike",
}
CONDITIONING_RUNS = {
    "prefix": "runs/study/tok_remi",
    "cross-attention": "runs/study/cond_cross",
    "shipped (prefix, 6 layers)": None,
}
# The design notes' tokenization study (H4 / GS of their REMI, REMI+ and MIDILike models).
SEED_REPORTED = {"REMI": (2.483, 0.895), "REMI+": (2.476, 0.882), "MIDILike": (2.494, 0.861)}
CFG_SCALES = (1.0, 2.0, 3.0)


def best_val_loss(run: Path) -> float | None:
    log = run / "log.jsonl"
    if not log.is_file():
        return None
    vals = [json.loads(line).get("val_loss") for line in log.read_text().splitlines() if line]
    vals = [v for v in vals if v is not None]
    return min(vals) if vals else None


def summary(pieces, compare_fn, reference) -> dict:
    r = compare_fn(pieces, reference)
    return {
        "pieces": r["pieces"],
        **{k: r["metrics"][k]["mean"] for k in ("H1", "H4", "GS") if r["metrics"].get(k)},
        "attribute_accuracy": {k: v["accuracy"] for k, v in r["attribute_accuracy"].items()},
        "token_error_rate": r["token_error_rate"],
        "frechet_distance": r["realism"]["frechet_distance"] if reference else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", default="prompts/eval.jsonl")
    ap.add_argument("--n-prompts", type=int, default=16, help="first N prompts of the set")
    ap.add_argument("--unconditional", type=int, default=12, help="unconditional pieces per run")
    ap.add_argument("--reference", default="data/music21")
    ap.add_argument("--work", default="runs/study/samples", help="generated MIDI (resumable)")
    ap.add_argument("--out", default="benchmarks/results/studies.json")
    ap.add_argument(
        "--part", choices=("all", "tokenization", "conditioning"), default="all",
        help="run one study; its results are merged into --out",
    )  # fmt: skip
    args = ap.parse_args()

    from tunesmith import Composer
    from tunesmith.evaluate.prompts import EvalPrompt, load_prompts
    from tunesmith.evaluate.suite import compare, generate_for_prompts, reference_pieces

    prompts = load_prompts(args.prompts)[: args.n_prompts]
    reference = reference_pieces(args.reference)
    real = compare(reference, None)["metrics"]
    work = Path(args.work)
    out_path = Path(args.out)
    result = json.loads(out_path.read_text()) if out_path.is_file() else {}
    result.update({
        "benchmark": "model_studies",
        "machine": machine(),
        "prompts": len(prompts),
        "real_test_split": {k: real[k]["mean"] for k in ("H1", "H4", "GS")},
        "seed_reported_H4_GS": SEED_REPORTED,
    })  # fmt: skip
    off = {"key_guidance": 0.0}

    def run_set(composer, name, plist, seeds, changes):
        pieces = generate_for_prompts(composer, plist, seeds, work / name, sampling_changes=changes)
        return summary(pieces, compare, reference)

    tok = {}
    for label, run in TOKENIZATION_RUNS.items() if args.part != "conditioning" else ():
        composer = Composer.load(run)
        uncond = [EvalPrompt("uncond", "", {})]
        tok[label] = {
            "best_val_loss": best_val_loss(Path(run)),
            "unconditional": run_set(
                composer, f"tok_{label}_uncond", uncond, list(range(args.unconditional)), off
            ),
            "conditional": run_set(composer, f"tok_{label}_cond", prompts, [1], off),
        }
        print(label, json.dumps(tok[label]), flush=True)
    if tok:
        result["tokenization"] = tok
        result["tokenization_provenance"] = provenance(dict(TOKENIZATION_RUNS))

    cond = {}
    for label, run in CONDITIONING_RUNS.items() if args.part != "tokenization" else ():
        composer = Composer.load(run)
        cond[label] = {"best_val_loss": best_val_loss(Path(run)) if run else None}
        for w in CFG_SCALES:
            name = f"cond_{label.split()[0]}_cfg{w:g}"
            if run == TOKENIZATION_RUNS["REMI"] and w == 1.0:
                name = "tok_REMI_cond"  # the same model and settings: reuse those pieces
            cond[label][f"cfg_{w:g}"] = run_set(
                composer, name, prompts, [1], {**off, "cfg_scale": w}
            )
            print(label, w, json.dumps(cond[label][f"cfg_{w:g}"]), flush=True)
    if cond:
        result["conditioning"] = cond
        result["conditioning_provenance"] = provenance(dict(CONDITIONING_RUNS))
    runs = {**TOKENIZATION_RUNS, **CONDITIONING_RUNS}
    write_json(args.out, result, model={k: runs[k] for k in runs if k in tok or k in cond})
    plots(result)


def plots(result: dict) -> None:
    from tunesmith.evaluate.report import plot_heatmap

    real = result["real_test_split"]
    rows, matrix = [], []
    for label, r in result.get("tokenization", {}).items():
        for kind in ("unconditional", "conditional"):
            rows.append(f"{label} {kind}")
            matrix.append([r[kind].get(k, float("nan")) / real[k] for k in ("H1", "H4", "GS")])
    if rows:
        title = "Tokenization: metric / real value (1 = real)"
        plot_heatmap(matrix, rows, ["H1", "H4", "GS"], title, "docs/images/study_tokenization.png")
    rows, matrix = [], []
    for label, r in result.get("conditioning", {}).items():
        rows.append(label)
        matrix.append(
            [r[f"cfg_{w:g}"]["attribute_accuracy"].get("key", float("nan")) for w in CFG_SCALES]
        )
    if rows:
        cols = [f"cfg {w:g}" for w in CFG_SCALES]
        title = "Key accuracy without the key guide, by guidance scale"
        plot_heatmap(matrix, rows, cols, title, "docs/images/study_conditioning.png")


if __name__ == "__main__":
    main()
