"""Check an evaluation prompt set against tunesmith's own prompt parser.

Usage: python prompts/check_prompts.py [FILE]   (default: prompts/eval.jsonl)

Each line is {"id": ..., "prompt": ..., "attributes": {...}} where attributes lists what
the prompt explicitly asks for: key, meter, tempo (bpm), instruments (GM programs),
bars, seconds, style. An attribute left out must be one the parser finds nothing for,
except a meter the parser only infers from a form word ("jig" -> 6/8). Lengths are kept
affordable (at most 32 bars or 60 seconds). Prints a one-line summary; exits 1 naming
the line of every problem.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from tunesmith.music.keys import KEYS
from tunesmith.conditioning.prompt import IMPLIED_METERS, parse_prompt

ATTRIBUTES = ("key", "meter", "tempo", "instruments", "bars", "seconds", "style")
MAX_BARS, MAX_SECONDS = 32, 60.0
DEFAULT_FILE = Path(__file__).with_name("eval.jsonl")


def parsed_attributes(prompt: str) -> dict[str, Any]:
    """The attributes the parser reads from `prompt`, leaving out a form word's meter."""
    parsed = parse_prompt(prompt)
    c = parsed.controls
    values: dict[str, Any] = {
        "key": c.key, "meter": c.meter, "tempo": c.tempo, "instruments": c.instruments,
        "bars": c.bars, "seconds": c.extra.get("seconds"), "style": c.style,
    }  # fmt: skip
    meter_words = parsed.found.get("meter", "").lower().replace("-", " ")
    if any(meter_words in (w, w + "s", w + "es") for w in IMPLIED_METERS):
        values["meter"] = None  # a form word's meter is not an explicit request
    return {k: v for k, v in values.items() if v is not None}


def check_line(lineno: int, line: str, ids: set[str]) -> tuple[dict[str, Any] | None, list[str]]:
    """The recorded attributes of one line (None if unreadable), and its problems."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as e:
        return None, [f"line {lineno}: invalid JSON ({e})"]
    if not isinstance(row, dict) or set(row) != {"id", "prompt", "attributes"}:
        return None, [f"line {lineno}: need exactly the keys id, prompt, attributes"]
    rid, prompt, attrs = row["id"], row["prompt"], row["attributes"]
    problems: list[str] = []
    if not isinstance(rid, str) or not isinstance(prompt, str) or not isinstance(attrs, dict):
        return None, [f"line {lineno}: id and prompt must be strings, attributes an object"]
    if rid in ids:
        problems.append(f"line {lineno}: duplicate id {rid!r}")
    ids.add(rid)
    unknown = set(attrs) - set(ATTRIBUTES)
    if unknown:
        problems.append(f"line {lineno} ({rid}): unknown attributes {sorted(unknown)}")
    lengths = (attrs.get("bars", 0), MAX_BARS), (attrs.get("seconds", 0), MAX_SECONDS)
    if any(not isinstance(v, int | float) or v > limit for v, limit in lengths):
        problems.append(f"line {lineno} ({rid}): longer than {MAX_BARS} bars / {MAX_SECONDS:g} s")
    try:
        got = parsed_attributes(prompt)
    except Exception as e:  # noqa: BLE001 - a parser error is a problem of this line
        return attrs, [*problems, f"line {lineno} ({rid}): parser raised {e!r}"]
    for name in ATTRIBUTES:
        want, have = attrs.get(name), got.get(name)
        same = want == have if name != "tempo" or None in (want, have) else abs(want - have) < 1e-9
        if not same:
            problems.append(f"line {lineno} ({rid}): {name} recorded {want!r}, parser {have!r}")
    return attrs, problems


def main(argv: list[str]) -> int:
    """Check the file named in argv (or the default) and print the summary."""
    path = Path(argv[1]) if len(argv) > 1 else DEFAULT_FILE
    ids: set[str] = set()
    problems: list[str] = []
    counts: Counter[str] = Counter()
    keys: Counter[str] = Counter()
    meters: Counter[str] = Counter()
    styles: Counter[str] = Counter()
    programs: set[int] = set()
    n = bare = 0
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            problems.append(f"line {lineno}: blank line")
            continue
        attrs, line_problems = check_line(lineno, line, ids)
        problems += line_problems
        if attrs is None:
            continue
        n += 1
        bare += not attrs
        counts.update(a for a in attrs if a in ATTRIBUTES)
        keys.update([attrs["key"]] if "key" in attrs else [])
        meters.update([attrs["meter"]] if "meter" in attrs else [])
        styles.update([attrs["style"]] if "style" in attrs else [])
        programs.update(attrs.get("instruments") or [])
    for p in problems:
        print(p, file=sys.stderr)
    missing = [k for k in KEYS if k not in keys]
    print(
        f"{'FAIL' if problems else 'OK'} {path.name}: {n} prompts ({bare} with no attributes)"
        f" | {', '.join(f'{a} {counts[a]}' for a in ATTRIBUTES)}"
        f" | keys {len(KEYS) - len(missing)}/{len(KEYS)}"
        + (f" (missing {', '.join(missing)})" if missing else "")
        + f" | meters {dict(sorted(meters.items()))} | {len(programs)} distinct programs"
        f" | forms {len(styles)}: {dict(styles.most_common())}"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
