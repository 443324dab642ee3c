"""Prompt parser precision and recall per attribute, on prompts written in several voices.

`prompts/parser_captions.jsonl` holds prompts written as dataset captions (long descriptive
sentences), terse tag lists and chatty requests; each lists, under `expected`, exactly the
attributes its text states, in the parser's vocabulary:

- key ("F# minor"), mode (a mode with no tonic, or a church mode: "minor", "dorian"; mood
  words count: "sad" -> minor, "uplifting" -> major, when no key is given), chords
  ("D/F# G A"), meter ("6/8"; a dance word's meter counts: a waltz is in 3/4), style (one
  of the control styles, or a list of acceptable ones when the text names two);
- tempo: bpm, or [low, high] for a tempo word (an Italian mark's range, a vague word's);
- bars (a number, or [low, high] for "short"/"long") and seconds;
- instruments and exclude (negated ones: "no drums"): GM programs, -1 for drums, compared
  as sets of distinct programs (how many voices a section gets is not scored);
- roles ({program: melody | counter-melody | comping | bass | pad}), dynamics
  (soft | loud) and density (sparse | dense).

Each prompt is in a split: "dev" prompts were written with the parser's changes and tuned
on; "held-out" ones were written after them and scored once, so they say how the parser
does on text it was not fitted to. Per attribute, precision is the share of the parser's
claims that are right (a claim on a prompt that states no such attribute is wrong) and
recall the share of stated attributes it gets right. Loads no model (milliseconds a prompt):

    python benchmarks/parser.py --out benchmarks/results/parser.json

The parser measured is the one `tunesmith` imports; the JSON names its file and SHA-256, so
an earlier parser can be measured on the same set with PYTHONPATH=OLD_CHECKOUT/src.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import NO_MODEL, REPO, write_json  # noqa: E402

ATTRIBUTES = ("style", "key", "mode", "chords", "meter", "tempo", "bars", "seconds",
              "instruments", "exclude", "roles", "dynamics", "density")  # fmt: skip
DEFAULT_SET = REPO / "prompts" / "parser_captions.jsonl"


def parsed_attributes(text: str) -> dict[str, Any]:
    """What the parser claims for a prompt, in the set's spelling (unclaimed ones left out)."""
    from tunesmith.conditioning.prompt import parse_prompt

    c = parse_prompt(text).controls
    extra = c.extra
    roles = extra.get("roles")
    values = {
        "style": c.style, "key": c.key, "mode": extra.get("mode"), "chords": extra.get("chords"),
        "meter": c.meter, "tempo": c.tempo, "bars": c.bars, "seconds": extra.get("seconds"),
        "instruments": sorted(set(c.instruments)) if c.instruments else None,
        "exclude": sorted(set(extra["exclude"])) if extra.get("exclude") else None,
        "roles": {str(p): r for p, r in roles.items()} if roles else None,
        "dynamics": extra.get("dynamics"), "density": extra.get("density"),
    }  # fmt: skip
    return {k: v for k, v in values.items() if v is not None}


def matches(attribute: str, expected: Any, got: Any) -> bool:
    """Whether a claimed value is the stated one (ranges for words, sets for instruments)."""
    if attribute in ("tempo", "bars", "seconds"):
        if isinstance(expected, list):
            return expected[0] <= got <= expected[1]
        return abs(float(got) - float(expected)) < 0.5
    if attribute in ("instruments", "exclude"):
        return set(got) == set(expected)
    if attribute == "style" and isinstance(expected, list):
        return got in expected
    return bool(got == expected)


def score_splits(rows: list[dict]) -> dict:
    """`score` over all prompts, and per split."""
    splits = sorted({r.get("split", "dev") for r in rows})
    return {
        "all": score(rows),
        **{s: score([r for r in rows if r.get("split", "dev") == s]) for s in splits},
    }


def score(rows: list[dict]) -> dict:
    """Counts per attribute and voice, and every miss (missed, wrong or not stated)."""
    stated: Counter[str] = Counter()
    claimed: Counter[str] = Counter()
    correct: Counter[str] = Counter()
    by_voice: dict[str, Counter[str]] = {}
    misses: list[dict] = []
    for row in rows:
        want = row["expected"]
        got = parsed_attributes(row["prompt"])
        voice = by_voice.setdefault(row["voice"], Counter())
        for attribute in ATTRIBUTES:
            w, g = want.get(attribute), got.get(attribute)
            stated[attribute] += w is not None
            claimed[attribute] += g is not None
            voice["stated"] += w is not None
            voice["claimed"] += g is not None
            if w is not None and g is not None and matches(attribute, w, g):
                correct[attribute] += 1
                voice["correct"] += 1
            elif w is not None or g is not None:
                kind = "missed" if g is None else "not stated" if w is None else "wrong"
                misses.append({"id": row["id"], "attribute": attribute, "kind": kind,
                               "expected": w, "parsed": g, "prompt": row["prompt"]})  # fmt: skip
    per_attribute = {
        a: _ratios(correct[a], claimed[a], stated[a]) for a in ATTRIBUTES if stated[a] or claimed[a]
    }
    total = _ratios(sum(correct.values()), sum(claimed.values()), sum(stated.values()))
    voices = {v: _ratios(c["correct"], c["claimed"], c["stated"]) for v, c in by_voice.items()}
    return {"overall": total, "per_attribute": per_attribute, "per_voice": voices,
            "misses": misses}  # fmt: skip


def _ratios(correct: int, claimed: int, stated: int) -> dict:
    return {
        "precision": round(correct / claimed, 3) if claimed else None,
        "recall": round(correct / stated, 3) if stated else None,
        "correct": correct, "claimed": claimed, "stated": stated,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", type=Path, default=DEFAULT_SET, help="prompt set (JSONL)")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "parser.json")
    args = ap.parse_args(argv)
    rows = [json.loads(line) for line in args.set.read_text().splitlines() if line.strip()]
    from tunesmith.conditioning import prompt

    parser_file = Path(prompt.__file__).resolve()
    payload = {
        "set": str(args.set.resolve().relative_to(REPO)),
        "prompts": len(rows),
        "voices": dict(Counter(r["voice"] for r in rows)),
        "splits": dict(Counter(r.get("split", "dev") for r in rows)),
        "parser_file": str(parser_file),
        "parser_sha256": hashlib.sha256(parser_file.read_bytes()).hexdigest(),
        "pythonpath": os.environ.get("PYTHONPATH"),
        **score_splits(rows),
    }
    write_json(args.out, payload, model=NO_MODEL)


if __name__ == "__main__":
    main()
