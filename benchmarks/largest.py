"""The largest requests the server's caps accept, timed against its timeout.

Runs the app in process (FastAPI TestClient, the default `ServeSettings`: 60 s timeout,
2 jobs at once) with the shipped model and sends, one at a time, the biggest requests the
caps accept: generation at the work budget (`max_work`: bars x candidates x parts = 128)
in several shapes, and uploads at the render caps (MusicXML: 4,000 notes, 512 bars x parts;
WAV: 150 s). With `--pairs` each request is also sent twice at once (both slots busy),
the worst case for one request. Reports each request's status and seconds, and whether it
finished inside the timeout. docs/HARDENING.md quotes the results.

    python benchmarks/largest.py --out benchmarks/results/largest.json
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import symusic

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_json  # noqa: E402

QUARTET = ["violin", "violin", "viola", "cello"]
SIXTEEN = ["violin", "viola", "cello", "contrabass", "flute", "oboe", "clarinet", "bassoon",
           "horn", "trumpet", "trombone", "tuba", "piano", "harp", "guitar", "marimba"]  # fmt: skip


def upload(bars: int, tracks: int, notes_per_bar: int, tempo: float = 120.0) -> bytes:
    """`tracks` parts of even notes in 4/4 (an upload at a render cap)."""
    s = symusic.Score(480)
    s.tempos.append(symusic.Tempo(0, tempo))
    s.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    step = 4 * 480 // notes_per_bar
    for k in range(tracks):
        t = symusic.Track(program=(k * 8) % 100)
        for i in range(bars * notes_per_bar):
            t.notes.append(symusic.Note(i * step, step, 48 + (i * (k + 5)) % 36, 80))
        s.tracks.append(t)
    return s.dumps_midi()


def cases() -> list[tuple[str, str, dict]]:
    """Requests at the server's work budget (bars x candidates x parts = 128) and caps."""

    def gen(bars, candidates, instruments, fmt):
        attributes = {"bars": bars, **({"instruments": instruments} if instruments else {})}
        body = {
            "prompt": "a chamber piece",
            "seed": 1,
            "attributes": attributes,
            "sampling": {"candidates": candidates},
            "format": fmt,
        }
        return body

    out = [
        ("generate 64 bars x 2 candidates, solo violin, wav", "generate",
         gen(64, 2, ["violin"], "wav")),
        ("generate 32 bars x 1 candidate, instruments unnamed (4 assumed), wav", "generate",
         gen(32, 1, None, "wav")),
        ("generate 16 bars x 2 candidates, string quartet, wav", "generate",
         gen(16, 2, QUARTET, "wav")),
        ("generate 16 bars x 2 candidates, string quartet, musicxml", "generate",
         gen(16, 2, QUARTET, "musicxml")),
        ("generate 16 bars x 1 candidate, 8 instruments, wav", "generate",
         gen(16, 1, SIXTEEN[:8], "wav")),
        ("harmonize 16 bars, 4 voices x 2 candidates, wav", "harmonize",
         {"file": upload(16, 1, 4), "voices": "4", "candidates": "2", "format": "wav"}),
        ("render MusicXML 4,000 notes, 500 bars x parts (4 parts, 125 bars)", "render",
         {"file": upload(125, 4, 8), "format": "musicxml"}),
        ("render MusicXML 512 bars x parts (2 parts of 256 bars of whole notes)", "render",
         {"file": upload(256, 2, 1), "format": "musicxml"}),
        ("render WAV 150 s (75 bars, 4 parts)", "render",
         {"file": upload(75, 4, 8), "format": "wav"}),
    ]  # fmt: skip
    return out


def send(client, kind: str, body: dict) -> tuple[int, float, str]:
    t0 = time.perf_counter()
    if kind == "generate":
        r = client.post("/v1/generate", json=body)
    else:
        files = {"file": ("x.mid", body["file"], "audio/midi")}
        fields = {k: v for k, v in body.items() if k != "file"}
        r = client.post(f"/v1/{kind}", files=files, data=fields)
    detail = r.json().get("detail", "") if r.status_code >= 400 else ""
    return r.status_code, time.perf_counter() - t0, detail


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default=None, help="model or run folder (default: shipped)")
    ap.add_argument("--pairs", action="store_true", help="also send each request twice at once")
    ap.add_argument("--only", default=None, help="run the cases whose name contains this")
    ap.add_argument("--out", default="benchmarks/results/largest.json")
    args = ap.parse_args()

    import torch
    from fastapi.testclient import TestClient

    from tunesmith.api import Composer
    from tunesmith.serve import ServeSettings, create_app

    torch.set_num_threads(1)  # as `tunesmith serve` runs
    settings = ServeSettings(warmup=True)
    app = create_app(Composer.load(args.model), settings)
    results = []
    with TestClient(app) as client:
        client.post("/v1/generate", json={"prompt": "a jig", "attributes": {"bars": 2}})
        for name, kind, body in cases():
            if args.only and args.only not in name:
                continue
            status, seconds, detail = send(client, kind, body)
            row = {"request": name, "status": status, "seconds": round(seconds, 2)}
            if detail:
                row["detail"] = detail
            if args.pairs:
                pair: list = []
                threads = [
                    threading.Thread(
                        target=lambda k=kind, b=body, p=pair: p.append(send(client, k, b))
                    )
                    for _ in range(2)
                ]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                row["two_at_once"] = [{"status": s, "seconds": round(x, 2)} for s, x, _ in pair]
            row["inside_timeout"] = status == 200 and seconds < settings.timeout_s
            print(row, file=sys.stderr, flush=True)
            results.append(row)
    payload = {
        "benchmark": "largest",
        "machine": machine(),
        "config": {"model": args.model or "shipped default", "timeout_s": settings.timeout_s,
                   "max_concurrent": settings.max_concurrent, "torch_threads": 1},
        "requests": results,
        "summary": {"all_inside_timeout": all(r["inside_timeout"] for r in results),
                    "slowest_s": max((r["seconds"] for r in results), default=None)},
    }  # fmt: skip
    write_json(args.out, payload, model=args.model)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
