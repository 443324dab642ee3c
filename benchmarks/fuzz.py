"""Fuzz `tunesmith serve` with hostile inputs: every route, outcomes by class, memory.

Starts the server (`python -m tunesmith.cli serve`, shipped model unless --model) on a free
loopback port with a short per-request timeout, then sends each route `--examples` inputs
drawn by hypothesis from tests/fuzzing.py (MIDI bytes: garbage, hostile headers and events,
mutated valid files; JSON and form bodies with hostile values), one request at a time.
After every 504 it polls /health until no job runs and records how long the timed-out job
went on ("longest job time after a timeout"). Reports per route: inputs tried, outcomes
by class (2xx, 4xx, 429, 5xx, timeouts = no answer within the server's timeout + 10 s,
connection errors), the slowest answer; the server's RSS (VmRSS) after warm-up and at the
end (after a warm-up of one request of each kind, which imports code lazily). Needs the
dev extras (hypothesis).

    python benchmarks/fuzz.py --examples 60 --out benchmarks/results/fuzz.json
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))
from _common import machine, write_json  # noqa: E402
from tests.fuzzing import (  # noqa: E402
    UPLOAD_ROUTES,
    control_bodies,
    generate_bodies,
    stream_queries,
    upload_requests,
    valid_midi,
)

from serve import HOST, free_port, rss_mb, wait_ready  # noqa: E402


class Fuzzer:
    def __init__(self, base: str, timeout_s: float) -> None:
        self.client = httpx.Client(base_url=base, timeout=timeout_s + 10)
        self.timeout_s = timeout_s
        self.routes: dict[str, dict] = {}
        self.after_timeout_s: list[float] = []

    def send(self, route: str, method: str, path: str, **kwargs) -> None:
        stats = self.routes.setdefault(
            route, {"inputs": 0, "outcomes": Counter(), "slowest_s": 0.0, "tracebacks": 0}
        )
        stats["inputs"] += 1
        t0 = time.perf_counter()
        try:
            r = self.client.request(method, path, **kwargs)
        except httpx.TimeoutException:
            stats["outcomes"]["timeout"] += 1
            return
        except httpx.TransportError:
            stats["outcomes"]["connection_error"] += 1
            return
        elapsed = time.perf_counter() - t0
        stats["slowest_s"] = max(stats["slowest_s"], elapsed)
        status = r.status_code
        cls = "429" if status == 429 else f"{status // 100}xx"
        stats["outcomes"][cls] += 1
        stats["outcomes"][str(status)] += 1
        if "Traceback" in r.text:
            stats["tracebacks"] += 1
        if status == 504:
            self.after_timeout_s.append(self._until_idle())

    def _until_idle(self) -> float:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 120:
            queue = self.client.get("/health").json()["queue"]
            if queue["running"] == 0:
                break
            time.sleep(0.02)
        return time.perf_counter() - t0


def run(fuzzer: Fuzzer, examples: int) -> None:
    fuzz = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    json_headers = {"content-type": "application/json"}

    @fuzz
    @given(body=generate_bodies())
    def generate(body):
        fuzzer.send("POST /v1/generate", "POST", "/v1/generate", content=body, headers=json_headers)

    generate()

    def uploads_to(route: str):
        @fuzz
        @given(request=upload_requests(route))
        def upload(request):
            file, fields = request
            files = {"file": ("x.mid", file, "audio/midi")} if file is not None else None
            fuzzer.send(f"POST {route}", "POST", route, data=fields, files=files)

        return upload

    for route in UPLOAD_ROUTES:
        uploads_to(route)()

    @fuzz
    @given(query=stream_queries(), duration=st.sampled_from(["0.5", "-1", "abc", "1e9"]))
    def stream(query, duration):
        fuzzer.send("GET /v1/stream", "GET", "/v1/stream", params={**query, "duration": duration})

    stream()

    @fuzz
    @given(session=st.text(max_size=12).map(lambda s: quote(s, safe="")), body=control_bodies())
    def controls(session, body):
        fuzzer.send(
            "POST /v1/stream/{id}/control",
            "POST",
            f"/v1/stream/{session}/control",
            content=body,
            headers=json_headers,
        )
        fuzzer.send("POST /v1/stream/{id}/stop", "POST", f"/v1/stream/{session}/stop")
        fuzzer.send("GET /v1/stream/{id}", "GET", f"/v1/stream/{session}")

    controls()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default=None, help="model or run folder (default: shipped)")
    ap.add_argument("--examples", type=int, default=60, help="inputs per route")
    ap.add_argument("--timeout", type=float, default=5.0, help="server: per-request timeout")
    ap.add_argument("--out", default="benchmarks/results/fuzz.json")
    args = ap.parse_args()

    port = free_port()
    cmd = [
        sys.executable, "-m", "tunesmith.cli", "serve", "--host", HOST, "--port", str(port),
        "--concurrency", "2", "--queue", "4", "--timeout", str(args.timeout),
    ]  # fmt: skip
    if args.model:
        cmd += ["--model", args.model]
    log = tempfile.NamedTemporaryFile(prefix="tunesmith-fuzz-", suffix=".log", delete=False)
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    t0 = time.perf_counter()
    try:
        wait_ready(port, proc, timeout=180)
        fuzzer = Fuzzer(f"http://{HOST}:{port}", args.timeout)
        # warm-up: the first request of each kind imports code lazily (music21 for MusicXML
        # alone is over 100 MB), which is not growth; one of each before RSS is taken
        for _ in range(3):
            fuzzer.client.post("/v1/generate", json={"prompt": "a jig", "attributes": {"bars": 2}})
        small = valid_midi(2)
        for fmt in ("json", "midi", "wav", "musicxml"):
            fuzzer.client.post("/v1/render", files={"file": ("w.mid", small)}, data={"format": fmt})
        fuzzer.client.post("/v1/chords", files={"file": ("w.mid", small)})
        fuzzer.client.get("/v1/stream", params={"prompt": "a jig", "duration": "0.5"})
        rss_before = rss_mb(proc.pid)
        run(fuzzer, args.examples)
        fuzzer._until_idle()
        rss_after = rss_mb(proc.pid)
        health = fuzzer.client.get("/health").json()
        server_alive = proc.poll() is None
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    server_log = Path(log.name).read_text(errors="replace")
    Path(log.name).unlink(missing_ok=True)

    routes = {
        name: {**s, "outcomes": dict(s["outcomes"]), "slowest_s": round(s["slowest_s"], 3)}
        for name, s in fuzzer.routes.items()
    }
    totals: Counter = Counter()
    for s in fuzzer.routes.values():
        totals.update({k: v for k, v in s["outcomes"].items() if not k[0].isdigit() or "x" in k})
    growth = (rss_after - rss_before) / rss_before * 100
    payload = {
        "benchmark": "fuzz",
        "machine": machine(),
        "config": {
            "model": args.model or "shipped default",
            "examples_per_route": args.examples,
            "server_timeout_s": args.timeout,
            "server_concurrency": 2,
            "server_queue": 4,
        },
        "seconds": round(time.perf_counter() - t0, 1),
        "routes": routes,
        "totals": dict(totals),
        "inputs": sum(s["inputs"] for s in fuzzer.routes.values()),
        "timeouts_504": len(fuzzer.after_timeout_s),
        "longest_job_after_timeout_s": round(max(fuzzer.after_timeout_s, default=0.0), 3),
        "rss_mb": {
            "after_warmup": round(rss_before, 1),
            "end": round(rss_after, 1),
            "growth_pct": round(growth, 2),
        },
        "server_queue_stats": health.get("queue", {}),
        "server_alive_at_end": server_alive,
        "server_log_tracebacks": server_log.count("Traceback"),
        "summary": {
            "errors_5xx_other_than_504": sum(
                v
                for s in fuzzer.routes.values()
                for k, v in s["outcomes"].items()
                if k.isdigit() and k.startswith("5") and k != "504"
            ),  # fmt: skip
            "unanswered": totals.get("timeout", 0) + totals.get("connection_error", 0),
            "tracebacks_in_responses": sum(s["tracebacks"] for s in fuzzer.routes.values()),
        },
    }
    write_json(args.out, payload, model=args.model)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
