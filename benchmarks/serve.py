"""Load on `tunesmith serve`: concurrent clients on loopback for a bounded time.

Starts the server (`python -m tunesmith.cli serve`) in a subprocess on 127.0.0.1 with a
free port, then runs three phases against POST /v1/generate (MIDI, a few bars each):

1. baseline: one client, the latency of a request with the server to itself;
2. load: N clients, within the server's capacity (running + queued slots): no errors;
3. overload: M clients, more than the capacity: the surplus must get 429, nothing else.

Each phase is bounded in time (and in requests). It reports requests/s, p50/p95 latency,
responses by status, and the server's resident memory (VmRSS from /proc) after warm-up
and at the end (growth should stay under 10 %). Writes benchmarks/results/serve.json.

    python benchmarks/serve.py                        # shipped model, 20 s phases
    python benchmarks/serve.py --duration 5 --bars 2  # a quick check
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_json  # noqa: E402

HOST = "127.0.0.1"  # loopback only
PROMPTS = [
    "a lively reel in D major for fiddle",
    "a gentle waltz in G major",
    "a chorale in A minor for four voices",
    "a jig in E minor for tin whistle",
    "a march in Bb major for brass",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            pass
    return kids


def rss_mb(pid: int) -> float:
    """Resident memory (VmRSS) in MiB of a process and its children (worker processes)."""
    total = 0.0
    for p in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def request(conn: http.client.HTTPConnection, method: str, path: str, body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data else {}
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    payload = resp.read()
    return resp.status, payload


def wait_ready(port: int, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=5)
            status, payload = request(conn, "GET", "/health")
            conn.close()
            if status == 200 and json.loads(payload).get("model_loaded"):
                return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError("the server did not become ready in time")


def run_phase(
    port: int, clients: int, duration: float, bars: int, max_requests: int, backoff: float
) -> dict:
    """`clients` threads, each sending requests back to back until `duration` is up."""
    stop_at = time.perf_counter() + duration
    lock = threading.Lock()
    latencies: list[float] = []  # successful requests only
    statuses: Counter = Counter()
    sent = [0]

    def client(index: int) -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=120)
        i = 0
        while time.perf_counter() < stop_at:
            with lock:
                if sent[0] >= max_requests:
                    break
                sent[0] += 1
            body = {
                "prompt": PROMPTS[(index + i) % len(PROMPTS)],
                "attributes": {"bars": bars},
                "seed": index * 100_000 + i,
                "format": "midi",
            }
            i += 1
            t0 = time.perf_counter()
            try:
                status, _ = request(conn, "POST", "/v1/generate", body)
            except (OSError, http.client.HTTPException) as e:
                status = f"connection error: {type(e).__name__}"
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=120)
            elapsed = time.perf_counter() - t0
            with lock:
                statuses[str(status)] += 1
                if status == 200:
                    latencies.append(elapsed)
            if status == 429:
                time.sleep(backoff)  # a polite client: wait a little before retrying
        conn.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    ok = len(latencies)
    lat = sorted(latencies)

    def pct(q: float) -> float | None:
        if not lat:
            return None
        return round(lat[min(len(lat) - 1, int(q * len(lat)))], 4)

    other = sum(n for s, n in statuses.items() if s not in ("200", "429"))
    return {
        "clients": clients,
        "wall_s": round(wall, 2),
        "requests": sum(statuses.values()),
        "ok": ok,
        "requests_per_s": round(ok / wall, 3) if wall else 0.0,
        "latency_p50_s": pct(0.50),
        "latency_p95_s": pct(0.95),
        "latency_mean_s": round(statistics.fmean(lat), 4) if lat else None,
        "latency_max_s": round(lat[-1], 4) if lat else None,
        "statuses": dict(sorted(statuses.items())),
        "rejected_429": statuses.get("429", 0),
        "errors_other_than_429": other,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default=None, help="model or run folder (default: shipped)")
    ap.add_argument("--clients", type=int, default=4, help="clients in the load phase")
    ap.add_argument("--overload-clients", type=int, default=16, help="clients beyond capacity")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per phase (max 120)")
    ap.add_argument("--bars", type=int, default=4, help="bars per generated piece")
    ap.add_argument("--concurrency", type=int, default=2, help="server: generations at once")
    ap.add_argument("--queue", type=int, default=4, help="server: waiting requests before 429")
    ap.add_argument("--timeout", type=float, default=60.0, help="server: per-request timeout")
    ap.add_argument("--threads", type=int, default=None, help="server: torch threads (auto)")
    ap.add_argument("--workers", type=int, default=1, help="server: processes")
    ap.add_argument("--backoff", type=float, default=0.5, help="client pause after a 429 (s)")
    ap.add_argument("--max-requests", type=int, default=5000, help="cap per phase")
    ap.add_argument("--out", default="benchmarks/results/serve.json")
    args = ap.parse_args()
    duration = min(max(args.duration, 1.0), 120.0)

    port = free_port()
    cmd = [
        sys.executable, "-m", "tunesmith.cli", "serve", "--host", HOST, "--port", str(port),
        "--concurrency", str(args.concurrency), "--queue", str(args.queue),
        "--timeout", str(args.timeout),
    ]  # fmt: skip
    if args.model:
        cmd += ["--model", args.model]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    if args.workers > 1:
        cmd += ["--workers", str(args.workers)]
    server_log = tempfile.NamedTemporaryFile(prefix="tunesmith-serve-", suffix=".log", delete=False)
    proc = subprocess.Popen(cmd, stdout=server_log, stderr=subprocess.STDOUT)
    try:
        t_start = time.perf_counter()
        wait_ready(port, proc, timeout=180)
        startup_s = time.perf_counter() - t_start
        warm = run_phase(port, 1, 3.0, args.bars, 10, 0.1)  # first requests, not measured
        if warm["ok"] == 0:
            raise RuntimeError(f"warm-up requests failed: {warm['statuses']}")
        rss_before = rss_mb(proc.pid)
        phases = {}
        rss = {"after_warmup_mb": round(rss_before, 1)}
        plan = [
            ("baseline_1_client", 1),
            (f"load_{args.clients}_clients", args.clients),
            (f"overload_{args.overload_clients}_clients", args.overload_clients),
        ]
        for name, clients in plan:
            print(f"{name}: {clients} clients for {duration:g} s", file=sys.stderr)
            phases[name] = run_phase(
                port, clients, duration, args.bars, args.max_requests, args.backoff
            )
            rss[f"after_{name}_mb"] = round(rss_mb(proc.pid), 1)
        rss_after = rss_mb(proc.pid)
        conn = http.client.HTTPConnection(HOST, port, timeout=10)
        _, health = request(conn, "GET", "/health")
        conn.close()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        server_log.close()

    base = phases["baseline_1_client"]
    load = phases[f"load_{args.clients}_clients"]
    over = phases[f"overload_{args.overload_clients}_clients"]
    growth = (rss_after - rss_before) / rss_before * 100
    capacity = args.workers * (args.concurrency + args.queue)
    payload = {
        "benchmark": "serve",
        "command": " ".join(["python", "benchmarks/serve.py", *sys.argv[1:]]),
        "machine": machine(),
        "config": {
            "model": args.model or "shipped default",
            "bars": args.bars,
            "duration_s_per_phase": duration,
            "server_concurrency": args.concurrency,
            "server_queue": args.queue,
            "server_capacity": capacity,
            "server_timeout_s": args.timeout,
            "server_torch_threads": args.threads or "server default (1)",
            "server_workers": args.workers,
            "client_backoff_after_429_s": args.backoff,
            "host": HOST,
        },
        "startup_s": round(startup_s, 2),
        "phases": phases,
        "rss_mb": {**rss, "growth_pct": round(growth, 2)},
        "server_queue_stats": json.loads(health).get("queue", {}),
        "summary": {
            "baseline_rps": base["requests_per_s"],
            "load_rps": load["requests_per_s"],
            "load_speedup_vs_baseline": (
                round(load["requests_per_s"] / base["requests_per_s"], 2)
                if base["requests_per_s"]
                else None
            ),
            "baseline_p50_s": base["latency_p50_s"],
            "load_p50_s": load["latency_p50_s"],
            "load_p95_s": load["latency_p95_s"],
            "overload_rps": over["requests_per_s"],
            "overload_429": over["rejected_429"],
            "errors_other_than_429": sum(p["errors_other_than_429"] for p in phases.values()),
            "load_phase_429": load["rejected_429"],
            "rss_growth_pct": round(growth, 2),
            "rss_growth_under_10pct": growth < 10.0,
        },
    }
    write_json(args.out, payload, model=args.model)
    Path(server_log.name).unlink(missing_ok=True)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
