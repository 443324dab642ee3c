"""Did a generated piece do what its prompt asked? One yes/no per requested attribute.

- key: the Krumhansl-Kessler estimate on the generated notes equals the requested key;
- meter: the file's first time signature;
- tempo: the file's tempo falls in the requested tempo's bin (the control vocabulary's
  bins, like text2midi's tempo-bin match);
- instruments: the set of GM programs that play equals the requested set, and every
  requested instrument plays a real part (music/parts.py: at least 8 notes, or one a bar
  in a shorter piece, sounding in at least half the bars), not a single note;
- voices: the number of tracks with notes equals the number of requested instruments;
- length: the bar count equals the requested bars (for a length in seconds, the duration
  is within 10 % of it).
Style is not measured: no objective test tells a jig from a slide.
"""

from __future__ import annotations

import symusic

from ..conditioning.controls import normalize_key, normalize_meter, tempo_bin
from ..music.parts import part_facts


def attribute_hits(score: symusic.Score, metrics: dict, requested: dict) -> dict[str, bool]:
    hits: dict[str, bool] = {}
    if requested.get("key"):
        hits["key"] = metrics.get("key") == normalize_key(requested["key"])
    if requested.get("meter"):
        ts = score.time_signatures
        got = f"{ts[0].numerator}/{ts[0].denominator}" if len(ts) else "4/4"
        hits["meter"] = got == normalize_meter(requested["meter"])
    if requested.get("tempo"):
        qpm = float(score.tempos[0].qpm) if len(score.tempos) else 120.0
        hits["tempo"] = tempo_bin(qpm) == tempo_bin(float(requested["tempo"]))
    if requested.get("instruments"):
        want = [int(p) for p in requested["instruments"]]
        parts = part_facts(score)
        playing = [f.program for f in parts]
        real = {f.program for f in parts if f.real}
        hits["instruments"] = set(playing) == set(want) and set(want) <= real
        hits["voices"] = len(playing) == len(want)
    if requested.get("bars"):
        hits["length"] = metrics.get("bars") == int(requested["bars"])
    elif requested.get("seconds"):
        want_s = float(requested["seconds"])
        hits["length"] = abs(metrics.get("duration_s", 0.0) - want_s) <= 0.1 * want_s
    return hits
