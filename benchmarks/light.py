"""The light install (issue 20) measured side by side in one run: ONNX Runtime vs PyTorch.

1. Fresh-venv size: two virtual environments made with `python -m venv` under a temporary
   folder (or --venv-dir), one with `pip install <repo>` (light: no PyTorch), one with
   CPU torch from the local wheel and then `pip install "<repo>[train]"`; their size (du),
   the install wall time, and whether `import torch` fails in the light one. The repo is
   installed from a copy of its working tree (tracked and untracked, not ignored, files),
   so pip's in-tree build leaves the checkout alone.
2. A cold `tunesmith generate` of an 8-bar piece: wall time from process start to exit and
   peak RSS, each run a fresh process writing a temporary .mid, median of 3: the light
   venv's own `tunesmith` (backend auto, which is ONNX there) and the train venv's with
   `--backend torch` (with --skip-venvs and no venvs to reuse: this environment's
   `tunesmith`, `--backend onnx` and `--backend torch`).
3. Decode tokens/s at batch 1 and 8 with the product's loop (`composer.engine.generate`,
   as benchmarks/generate.py's `ours`): ONNX (default threads and threads=1), PyTorch, and
   Hugging Face `GPT2LMHeadModel.generate()` on the same weights, alternating over --runs
   seeds (the order rotating from seed to seed); medians and ratios.
4. Streaming: a short live stream (4 voices, 120 bpm, benchmarks/stream.py's prompt) on
   each backend loaded as `tunesmith stream` loads it (threads=1): time to first note and
   headroom (tokens/s produced / tokens/s the tempo needs).
5. The issue's targets, each with met: true/false.

This machine has 2 cores shared with other people's jobs: every section records
`os.getloadavg()` before and after it, and the numbers are only comparable within a run.

    python benchmarks/light.py --out benchmarks/results/light.json
    python benchmarks/light.py --skip-venvs --runs 1 --stream-seconds 5 --out /tmp/light.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import REPO, git_commit, machine, write_json  # noqa: E402

from generate import (  # noqa: E402
    PROMPT,
    hf_generate,  # noqa: E402
    logits_match,
    ours,
)

TORCH_PIN = "torch==2.13.0"  # the CPU wheel on this machine's disk (/opt/wheels)
COLD_BARS = 8
STREAM_TEMPO = 120.0
TARGETS = {
    "light_venv_mb_max": 400,
    "cold_generate_8_bars_s_max": 2.0,
    "onnx_batch1_vs_torch_batch1_min": 1.0,
    "onnx_batch8_tokens_per_s_min": 8000,
}


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


class Section:
    """Records the load average before and after a section of the run, and its wall time."""

    def __init__(self, name: str, log: dict) -> None:
        self.name, self.log = name, log

    def __enter__(self) -> Section:
        print(f"== {self.name} (load {loadavg()})", file=sys.stderr, flush=True)
        self.t0 = time.perf_counter()
        self.log[self.name] = {"loadavg_before": loadavg()}
        return self

    def __exit__(self, *exc) -> None:
        self.log[self.name]["loadavg_after"] = loadavg()
        self.log[self.name]["wall_s"] = round(time.perf_counter() - self.t0, 1)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return proc


# ---------------------------------------------------------------- 1. fresh venvs


def clean_env() -> dict:
    """This environment without TUNESMITH_BACKEND, so "auto" means auto."""
    return {k: v for k, v in os.environ.items() if k != "TUNESMITH_BACKEND"}


def du_mb(path: Path) -> float:
    """Disk usage of a folder in MB (du -sk)."""
    out = run(["du", "-sk", str(path)]).stdout.split()[0]
    return round(int(out) / 1024, 1)


def largest_packages(venv: Path, n: int = 8) -> list[list]:
    site = next(venv.glob("lib/python*/site-packages"))
    sizes = []
    for p in site.iterdir():
        if p.is_dir() and not p.name.endswith((".dist-info", "__pycache__")):
            sizes.append([p.name, du_mb(p)])
    return sorted(sizes, key=lambda x: -x[1])[:n]


def source_copy(dest: Path) -> Path:
    """The working tree (tracked and untracked files that git does not ignore) in `dest`."""
    files = run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    ).stdout.split("\0")
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file():  # a tracked file deleted in the working tree is left out
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def make_venv(venv: Path, installs: list[list[str]]) -> dict:
    """`python -m venv` then each pip install in turn; the wall time of each step."""
    times = {}
    t0 = time.perf_counter()
    run([sys.executable, "-m", "venv", str(venv)])
    times["venv_s"] = round(time.perf_counter() - t0, 1)
    pip = str(venv / "bin" / "pip")
    for label, *args in installs:
        t = time.perf_counter()
        print(f"   pip install {' '.join(args)}", file=sys.stderr, flush=True)
        run([pip, "install", "--no-cache-dir", *args])
        times[f"{label}_s"] = round(time.perf_counter() - t, 1)
    times["total_s"] = round(time.perf_counter() - t0, 1)
    return times


def venv_facts(venv: Path) -> dict:
    py = str(venv / "bin" / "python")
    torch_import = subprocess.run([py, "-c", "import torch"], capture_output=True, text=True)
    versions = subprocess.run(
        [py, "-c", "import importlib.metadata as m, json; print(json.dumps("
         "{d.metadata['Name'].lower(): d.version for d in m.distributions()}))"],
        capture_output=True, text=True,
    )  # fmt: skip
    dists = json.loads(versions.stdout) if versions.returncode == 0 else {}
    auto = subprocess.run(
        [py, "-c", "from tunesmith import Composer; print(Composer.load().engine.backend.name)"],
        capture_output=True, text=True, cwd=tempfile.gettempdir(), env=clean_env(),
    )  # fmt: skip
    return {
        "path": str(venv),
        "size_mb": du_mb(venv),
        "import_torch_fails": torch_import.returncode != 0,
        "backend_auto_picks": auto.stdout.strip() if auto.returncode == 0 else auto.stderr[-500:],
        "packages": len(dists),
        "torch": dists.get("torch"),
        "onnxruntime": dists.get("onnxruntime"),
        "largest_packages_mb": largest_packages(venv),
    }


def venvs_section(args, root: Path) -> dict:
    light, train = root / "light", root / "train"
    have = (light / "bin" / "tunesmith").is_file() and (train / "bin" / "tunesmith").is_file()
    if args.skip_venvs:
        if not have:
            return {"skipped": True}
        return {
            "reused": True,
            "light": {**venv_facts(light), "install_s": None},
            "train": {**venv_facts(train), "install_s": None},
        }
    for v in (light, train):
        if v.exists():
            shutil.rmtree(v)
    with tempfile.TemporaryDirectory() as tmp:
        src = source_copy(Path(tmp) / "tunesmith")
        t_light = make_venv(light, [["pip_install", str(src)]])
        t_train = make_venv(train, [["torch", TORCH_PIN], ["pip_install", f"{src}[train]"]])
    return {
        "source": "a copy of the working tree (git ls-files --cached --others --exclude-standard)",
        "pip_flags": "--no-cache-dir; this machine's pip config (local wheels and index)",
        "light": {**venv_facts(light), "install_s": t_light,
                  "install": "pip install <repo>"},
        "train": {**venv_facts(train), "install_s": t_train,
                  "install": f"pip install {TORCH_PIN}; pip install '<repo>[train]'"},
    }  # fmt: skip


# ---------------------------------------------------------------- 2. cold generate


TIME_V = Path("/usr/bin/time")


def cold_generate(exe: Path, backend: str | None, seed: int, cwd: Path) -> dict:
    """One `tunesmith generate` of COLD_BARS bars in a fresh process: wall time from
    process start to exit, peak RSS, and what the command says of itself (--json)."""
    out = cwd / f"cold_{backend or 'auto'}_{seed}.mid"
    cmd = [str(exe), *(["--backend", backend] if backend else []), "generate", PROMPT,
           "--bars", str(COLD_BARS), "--seed", str(seed), "-o", str(out), "--json", "-q"]  # fmt: skip
    env = clean_env()
    use_time = TIME_V.is_file()
    full = [str(TIME_V), "-v", *cmd] if use_time else cmd
    t0 = time.perf_counter()
    proc = subprocess.run(full, capture_output=True, text=True, cwd=cwd, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    if use_time:
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
        rss = int(m.group(1)) / 1024 if m else None
    else:  # the largest child so far: exact when this child is the largest
        import resource

        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    said = json.loads(proc.stdout.strip().splitlines()[-1])
    out.unlink(missing_ok=True)
    return {
        "wall_s": round(wall, 3),
        "peak_rss_mb": round(rss, 1) if rss is not None else None,
        "command_elapsed_s": said.get("elapsed_s"),
        "notes": said.get("notes"),
    }


def cold_section(args, venvs: dict, root: Path) -> dict:
    here = Path(sys.executable).parent / "tunesmith"
    if not here.is_file():
        here = Path(shutil.which("tunesmith") or "tunesmith")
    if venvs.get("skipped"):
        setups = {
            "onnx_current_env": (here, "onnx"),
            "torch_current_env": (here, "torch"),
        }
    else:
        setups = {
            "light_venv_auto": (root / "light" / "bin" / "tunesmith", None),
            "train_venv_torch": (root / "train" / "bin" / "tunesmith", "torch"),
        }
    runs: dict[str, list[dict]] = {k: [] for k in setups}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.cold_runs):  # interleaved, the order alternating
            order = list(setups) if i % 2 == 0 else list(setups)[::-1]
            for name in order:
                exe, backend = setups[name]
                runs[name].append(cold_generate(exe, backend, 0, Path(tmp)))
                print(f"   {name}: {runs[name][-1]}", file=sys.stderr, flush=True)
    out = {
        "prompt": PROMPT,
        "bars": COLD_BARS,
        "seed": 0,
        "peak_rss_from": "/usr/bin/time -v" if TIME_V.is_file() else "getrusage(RUSAGE_CHILDREN)",
        "command_elapsed_s": "what the command reports itself (--json elapsed_s): after "
        "its imports, from loading the model to the written file",
    }
    for name, (exe, backend) in setups.items():
        rs = runs[name]
        out[name] = {
            "command": f"{exe} {'--backend ' + backend + ' ' if backend else ''}generate "
            f"{PROMPT!r} --bars {COLD_BARS} --seed 0 -o <tmp>.mid --json -q",
            "wall_s_median": statistics.median(r["wall_s"] for r in rs),
            "peak_rss_mb_median": statistics.median(r["peak_rss_mb"] or 0 for r in rs),
            "runs": rs,
        }
    return out


# ---------------------------------------------------------------- 3. decode speed


def torch_one_thread(composer, batch: int, new_tokens: int, seed: int) -> float:
    """`ours` on the PyTorch backend with torch's intra-op threads set to 1 for the call
    (torch's setting is process-wide, so it is put back after)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return ours(composer, batch, new_tokens, seed)
    finally:
        torch.set_num_threads(before)


def backend_logits_diff(onnx_c, torch_c) -> float:
    """Max |logit difference| between the two backends on random windows and text."""
    import numpy as np

    rng = np.random.default_rng(0)
    cfg = torch_c.engine.backend.cfg
    idx = rng.integers(5, cfg.vocab_size, (2, 64)).astype(np.int64)
    text = rng.standard_normal((2, 384)).astype(np.float32)
    a = onnx_c.engine.backend.logits(idx, text)
    b = torch_c.engine.backend.logits(idx, text)
    return float(np.abs(np.asarray(a) - np.asarray(b)).max())


def decode_section(args) -> dict:
    import torch

    from tunesmith import Composer
    from tunesmith.model.hf_export import to_hf_gpt2

    composers = {
        "onnx": Composer.load(backend="onnx"),
        "onnx_threads1": Composer.load(backend="onnx", threads=1),
        "torch": Composer.load(backend="torch"),
    }
    for name, c in composers.items():
        assert c.engine.backend.name in name, (name, c.engine.backend.name)
    torch_c = composers["torch"]
    cfg = torch_c.engine.backend.cfg
    prefix = cfg.n_prefix + len(torch_c.tokenizer.prefix_ids(torch_c.controls_for(PROMPT)))
    if prefix + args.tokens > cfg.block_size:
        raise SystemExit(
            f"--tokens {args.tokens}: HF generate() has {cfg.block_size} positions and the "
            f"prompt takes {prefix}; use --tokens {cfg.block_size - prefix} or fewer"
        )
    hf = to_hf_gpt2(torch_c.model)
    contestants = {
        name: (lambda b, s, c=c: ours(c, b, args.tokens, s)) for name, c in composers.items()
    }
    contestants["torch_threads1"] = lambda b, s: torch_one_thread(torch_c, b, args.tokens, s)
    contestants["hf_generate"] = lambda b, s: hf_generate(torch_c, hf, b, args.tokens, s)
    for fn in contestants.values():  # warm-up: every cache length once
        fn(1, 0)
    out: dict = {
        "prompt": PROMPT,
        "new_tokens": args.tokens,
        "prefix_positions": prefix,
        "window": cfg.block_size,
        "runs": args.runs,
        "threads": {
            "onnx": "ONNX Runtime's default (intra_op_num_threads=0: one per physical core)",
            "onnx_threads1": 1,
            "torch": torch.get_num_threads(),
            "torch_threads1": 1,
            "hf_generate": torch.get_num_threads(),
        },
        "loop": "composer.engine.generate (benchmarks/generate.py's ours): grammar, sampling,"
        " KV cache; hf_generate: GPT2LMHeadModel.generate() on the same weights",
        "logits_max_abs_diff_onnx_vs_torch": backend_logits_diff(composers["onnx"], torch_c),
        "logits_max_abs_diff_torch_vs_hf": logits_match(torch_c, hf),
    }
    names = list(contestants)
    for batch in (1, 8):
        got: dict[str, list[float]] = {n: [] for n in names}
        for seed in range(args.runs):
            k = seed % len(names)  # the order rotates, so no one always goes first
            for name in names[k:] + names[:k]:
                got[name].append(contestants[name](batch, seed))
            print(f"   batch {batch} seed {seed}: "
                  + ", ".join(f"{n} {got[n][-1]:.0f}" for n in names), file=sys.stderr, flush=True)  # fmt: skip
        med = {n: statistics.median(v) for n, v in got.items()}
        out[f"batch{batch}"] = {
            **{f"{n}_tokens_per_s": round(med[n], 1) for n in names},
            "onnx_vs_torch": round(med["onnx"] / med["torch"], 3),
            "onnx_vs_hf": round(med["onnx"] / med["hf_generate"], 3),
            "onnx_threads1_vs_torch": round(med["onnx_threads1"] / med["torch"], 3),
            "onnx_threads1_vs_onnx": round(med["onnx_threads1"] / med["onnx"], 3),
            "onnx_threads1_vs_torch_threads1": round(
                med["onnx_threads1"] / med["torch_threads1"], 3
            ),
            "torch_vs_hf": round(med["torch"] / med["hf_generate"], 3),
            "all": {n: [round(x, 1) for x in v] for n, v in got.items()},
        }
    return out


# ---------------------------------------------------------------- 4. streaming


def stream_constants() -> tuple[str, str, str]:
    """benchmarks/stream.py's prompt and voices (its own constants where it imports)."""
    try:
        import stream as stream_bench

        return stream_bench.PROMPT, stream_bench.INSTRUMENTS, "benchmarks/stream.py"
    except Exception:  # noqa: BLE001 - being edited elsewhere: the same values, copied
        return (
            "a four-part chorale for string quartet in C major",
            "violin,violin,viola,cello",
            "copied from benchmarks/stream.py (it did not import)",
        )


def one_stream(composer, prompt: str, instruments: str, seconds: float, seed: int) -> dict:
    from tunesmith.stream import MemoryOutput, StreamSession, StreamSettings

    mem = MemoryOutput()
    t_create = time.monotonic()
    session = StreamSession(
        composer,
        prompt,
        [mem],
        StreamSettings(tempo=STREAM_TEMPO, duration=seconds),
        composer.sampling_for(seed=seed).with_(speculative=False),
        composer.controls_for(prompt, tempo=STREAM_TEMPO, instruments=instruments),
    )
    t_run = time.monotonic()
    r = session.run().to_dict()
    first = r["first_note_s"]
    need = r["needed_tokens_per_s"]
    return {
        "first_note_s_from_session_creation": round(first + (t_run - t_create), 3)
        if first is not None
        else None,
        "first_note_s_from_loop_start": round(first, 3) if first is not None else None,
        "tokens_per_s_produced": round(r["tokens_per_s"], 1),
        "tokens_per_s_needed": round(need, 1),
        "headroom": round(r["tokens_per_s"] / need, 2) if need else None,
        "seconds": round(r["seconds"], 1),
        "notes": r["notes"],
        "underruns": r["underruns"],
        "holds": r["holds"],
        "max_late_ms": r["max_late_ms"],
        "warnings": r["warnings"],
    }


def stream_section(args) -> dict:
    from tunesmith import Composer

    prompt, instruments, source = stream_constants()
    composers = {b: Composer.load(backend=b, threads=1) for b in ("onnx", "torch")}
    for c in composers.values():
        c.engine.text_embedding("warm up the text encoder")
    runs: dict[str, list[dict]] = {b: [] for b in composers}
    for i in range(args.stream_runs):
        order = list(composers) if i % 2 == 0 else list(composers)[::-1]
        for b in order:
            runs[b].append(one_stream(composers[b], prompt, instruments, args.stream_seconds, i))
            print(f"   stream {b}: {runs[b][-1]}", file=sys.stderr, flush=True)
    out: dict = {
        "prompt": prompt,
        "instruments": instruments,
        "constants_from": source,
        "tempo": STREAM_TEMPO,
        "seconds": args.stream_seconds,
        "threads": "1 (as `tunesmith stream` loads the model by default)",
        "settings": "StreamSettings(live=True) defaults; StreamSession as benchmarks/stream.py",
    }
    for b, rs in runs.items():
        med = {
            k: statistics.median(r[k] for r in rs)
            for k in ("first_note_s_from_session_creation", "first_note_s_from_loop_start",
                      "tokens_per_s_produced", "tokens_per_s_needed", "headroom")
            if all(r[k] is not None for r in rs)
        }  # fmt: skip
        out[b] = {**{f"{k}_median": v for k, v in med.items()}, "runs": rs}
    return out


# ---------------------------------------------------------------- 5. targets


def targets(result: dict) -> dict:
    out = {}
    venvs = result["venvs"]
    if "light" in venvs:
        mb = venvs["light"]["size_mb"]
        out["light_venv_le_400_mb"] = {
            "target": TARGETS["light_venv_mb_max"], "value": mb,
            "met": mb <= TARGETS["light_venv_mb_max"],
        }  # fmt: skip
    cold = result["cold_generate"]
    light_key = "light_venv_auto" if "light_venv_auto" in cold else "onnx_current_env"
    s = cold[light_key]["wall_s_median"]
    out["cold_generate_8_bars_le_2_s"] = {
        "target": TARGETS["cold_generate_8_bars_s_max"], "value": s, "measured_on": light_key,
        "met": s <= TARGETS["cold_generate_8_bars_s_max"],
    }  # fmt: skip
    d = result["decode"]
    r1 = d["batch1"]["onnx_vs_torch"]
    out["onnx_batch1_ge_torch_batch1"] = {
        "target": "onnx/torch >= 1", "value": r1,
        "met": r1 >= TARGETS["onnx_batch1_vs_torch_batch1_min"],
        "onnx_threads1_value": d["batch1"]["onnx_threads1_vs_torch"],
        "like_for_like_threads1": d["batch1"]["onnx_threads1_vs_torch_threads1"],
        "met_like_for_like_threads1": d["batch1"]["onnx_threads1_vs_torch_threads1"]
        >= TARGETS["onnx_batch1_vs_torch_batch1_min"],
        "note": "value: both backends at their default threads, where torch's 2 threads "
        "suffer most from the other jobs on this machine; like_for_like_threads1: both at 1",
    }  # fmt: skip
    t8 = max(d["batch8"]["onnx_tokens_per_s"], d["batch8"]["onnx_threads1_tokens_per_s"])
    out["onnx_batch8_ge_8000_tokens_per_s"] = {
        "target": TARGETS["onnx_batch8_tokens_per_s_min"], "value": t8,
        "value_is": "the better of ONNX default threads and threads=1",
        "met": t8 >= TARGETS["onnx_batch8_tokens_per_s_min"],
    }  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="benchmarks/results/light.json")
    ap.add_argument("--runs", type=int, default=5, help="seeds per batch size (medians)")
    ap.add_argument(
        "--tokens",
        type=int,
        default=480,
        help="new tokens per sequence (480: with the prompt's prefix, one 512-position window,"
        " which HF generate() cannot go past)",
    )
    ap.add_argument("--cold-runs", type=int, default=3, help="cold generate runs per setup")
    ap.add_argument("--stream-seconds", type=float, default=20.0)
    ap.add_argument("--stream-runs", type=int, default=2, help="streams per backend")
    ap.add_argument("--skip-venvs", action="store_true",
                    help="no new venvs: reuse those in --venv-dir if there, else skip part 1 "
                    "and run the cold generate in this environment")  # fmt: skip
    ap.add_argument("--venv-dir", default=None, help="make (or reuse) the venvs here and keep them")
    args = ap.parse_args()
    if args.runs < 1 or args.cold_runs < 1 or args.stream_runs < 1 or args.tokens < 1:
        ap.error("--runs, --cold-runs, --stream-runs and --tokens must be >= 1")

    sections: dict = {}
    result: dict = {
        "benchmark": "light",
        "machine": {**machine(), "onnxruntime": _version("onnxruntime"),
                    "transformers": _version("transformers")},
        "shared_machine": "2 CPU cores shared with other engineers' jobs while this ran: "
        "each section's os.getloadavg() before and after is in `sections`; compare numbers "
        "within this run, not across runs",
        "sections": sections,
        # write_json records HEAD when the run ends; others commit while it runs
        "commit_at_start": git_commit(),
    }  # fmt: skip
    tmp_root = None
    if args.venv_dir:
        root = Path(args.venv_dir).resolve()
        root.mkdir(parents=True, exist_ok=True)
    else:
        tmp_root = tempfile.mkdtemp(prefix="tunesmith-light-")
        root = Path(tmp_root)
    try:
        with Section("venvs", sections):
            result["venvs"] = venvs_section(args, root)
        with Section("cold_generate", sections):
            result["cold_generate"] = cold_section(args, result["venvs"], root)
    finally:
        if tmp_root:
            shutil.rmtree(tmp_root, ignore_errors=True)
    with Section("decode", sections):
        result["decode"] = decode_section(args)
    with Section("stream", sections):
        result["stream"] = stream_section(args)
    result["targets"] = targets(result)
    write_json(args.out, result)


def _version(dist: str) -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


if __name__ == "__main__":
    main()
