"""The evaluation prompt file: one JSON object per line with a prompt and what it asks for.

    {"id": "p001", "prompt": "a brisk reel in D for fiddle, 16 bars",
     "attributes": {"key": "D major", "instruments": [40], "bars": 16}}

`attributes` lists only what the prompt explicitly requests; attribute accuracy is
measured on those. A malformed line is an error naming the line: nothing is skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BadInputError

ATTRIBUTES = ("key", "meter", "tempo", "instruments", "bars", "seconds", "style")


@dataclass
class EvalPrompt:
    id: str
    prompt: str
    attributes: dict = field(default_factory=dict)


def load_prompts(path: str | Path) -> list[EvalPrompt]:
    """Read and check a prompts JSONL file (see the module doc)."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"prompts file {str(path)!r} does not exist")
    prompts: list[EvalPrompt] = []
    seen: set[str] = set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise BadInputError(f"{where}: not valid JSON ({e.msg})") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("prompt"), str):
            raise BadInputError(f"{where}: needs an object with a string 'prompt'")
        attrs = obj.get("attributes", {})
        if not isinstance(attrs, dict):
            raise BadInputError(f"{where}: 'attributes' must be an object")
        unknown = set(attrs) - set(ATTRIBUTES)
        if unknown:
            raise BadInputError(
                f"{where}: unknown attribute(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(ATTRIBUTES)}"
            )
        pid = str(obj.get("id", f"line{n}"))
        if pid in seen:
            raise BadInputError(f"{where}: duplicate id {pid!r}")
        seen.add(pid)
        prompts.append(EvalPrompt(pid, obj["prompt"], attrs))
    if not prompts:
        raise BadInputError(f"prompts file {str(path)!r} has no prompts")
    return prompts
