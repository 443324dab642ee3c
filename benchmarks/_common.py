"""Helpers shared by the benchmark scripts: machine facts, provenance and JSON output.

Every results JSON records what made it (`provenance`): the command line, the git commit of
the working tree it ran from (and whether that tree had uncommitted changes), and the
SHA-256 of each `model.safetensors` it loaded. `write_json` adds these fields, so a number
quoted in README.md or docs/ can always be traced to one run of one model.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: ``model=NO_MODEL``: the benchmark loads no model (corpus preparation, training from scratch).
NO_MODEL = "no model"
#: ``model=SHIPPED`` (or ``None``): the model shipped inside the package.
SHIPPED = "shipped"


def machine() -> dict:
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def command_line(argv: list[str] | None = None) -> str:
    """The command that is running, as typed from the repository root."""
    argv = list(sys.argv if argv is None else argv)
    if argv:
        script = Path(argv[0])
        try:
            argv[0] = str(script.resolve().relative_to(REPO))
        except ValueError:
            pass
    return " ".join(["python", *(shlex.quote(a) for a in argv)])


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), *args], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_commit() -> dict:
    """HEAD's commit and whether tracked files differ from it (None outside a git checkout)."""
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "commit_dirty": bool(status) if status is not None else None}


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def model_sha256(model: str | Path | None) -> str | None:
    """SHA-256 of the model.safetensors that `Composer.load(model)` reads (None: no model)."""
    if model == NO_MODEL:
        return None
    from tunesmith.model.folder import resolve_model_dir

    folder = resolve_model_dir(None if model in (None, SHIPPED) else model)
    return sha256_file(folder / "model.safetensors")


def provenance(
    model: str | Path | None | Mapping[str, str | Path | None] = SHIPPED,
    argv: list[str] | None = None,
) -> dict:
    """{"command", "commit", "commit_dirty", "model_sha256"} for the run in progress.

    `model` is what the benchmark loaded: a model or run folder, None or SHIPPED for the
    shipped model, NO_MODEL, or a mapping of labels to such values when it loaded several
    (then model_sha256 is a mapping of the same labels).
    """
    if isinstance(model, Mapping):
        sha = {label: model_sha256(m) for label, m in model.items()}
    else:
        sha = model_sha256(model)
    out = {"command": command_line(argv), **git_commit(), "model_sha256": sha}
    if model == NO_MODEL:
        out["provenance"] = "this benchmark loads no model"
    return out


def write_json(
    path: str | Path,
    payload: dict,
    *,
    model: str | Path | None | Mapping[str, str | Path | None] = SHIPPED,
) -> None:
    """Write a results JSON with its provenance fields first (see `provenance`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    stale = ("command", "commit", "commit_dirty", "model_sha256", "provenance")
    payload = {
        **provenance(model),
        **{k: v for k, v in payload.items() if k not in stale},
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(json.dumps(payload, indent=2))


@contextmanager
def checkout(rev: str) -> Iterator[Path]:
    """A temporary git worktree of commit `rev` (its root), removed afterwards: an earlier
    version of the code to run beside this one in the same benchmark."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "base"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(tree), rev],
            cwd=REPO, check=True, capture_output=True,
        )  # fmt: skip
        try:
            yield tree
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO)
