"""README's tour of the command line runs as written, top to bottom.

Every line of the tour's code block runs in order in an empty folder that holds only what a
checkout has beside README (`configs/`, `prompts/`), with the shipped model; the files a
line reads were written by the lines before it. A line fails the test when it exits
non-zero. The two servers run until a user would stop them: `stream --web` through the
page's Quit request, `serve` with Ctrl-C (SIGINT, exit status 130). The one substitution: when port 8000 is
taken on this machine, the servers get `--port` with a free one.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def tour_block(readme: Path = REPO / "README.md") -> list[str]:
    """The lines of the tour's code block, as written."""
    text = readme.read_text(encoding="utf-8")
    block = re.search(r"## A tour of the command line\s*```bash\n(.*?)```", text, re.S)
    assert block, "README has no tour block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def tour_lines(readme: Path = REPO / "README.md") -> list[list[str]]:
    """The commands of the tour's code block, as argument lists (comments dropped)."""
    return [shlex.split(line, comments=True) for line in tour_block(readme)]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the server exited: {proc.communicate()[1][-2000:]}"
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer in {timeout:.0f} s")


def _run_server(args: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    """A server line: start it, wait for its page, stop it as a user would."""
    import httpx

    port = 8000
    if not _port_free(port):
        port = _free_port()
        args = [*args, "--port", str(port)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tunesmith.cli", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(base + "/health", proc)
        assert httpx.get(base + "/", timeout=10).status_code == 200
        if "--web" in args:
            assert httpx.post(base + "/v1/server/quit", timeout=10).json() == {"quit": True}
        else:
            proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return subprocess.CompletedProcess(args, proc.returncode, stdout, stderr)


def test_the_tour_lines_are_tunesmith_commands():
    lines = tour_lines()
    assert len(lines) >= 20 and all(line[0] == "tunesmith" for line in lines)


def test_readme_tour_runs_as_written(tmp_path):
    for folder in ("configs", "prompts"):
        (tmp_path / folder).symlink_to(REPO / folder)
    env = {**os.environ, "TUNESMITH_PROGRESS": "0"}
    for n, (raw, line) in enumerate(zip(tour_block(), tour_lines(), strict=True), 1):
        args = line[1:]
        if args[:1] == ["serve"] or (args[:1] == ["stream"] and "--web" in args):
            res = _run_server(args, tmp_path, env)
        else:
            res = subprocess.run(
                [sys.executable, "-m", "tunesmith.cli", *args],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
            )
        shown = shlex.join(line)
        ok = (0, 130) if args[:1] == ["serve"] else (0,)  # 130: the exit status of Ctrl-C
        assert res.returncode in ok, f"tour line {n} failed: {shown}\n{res.stderr[-2000:]}"
        assert "Traceback" not in res.stderr, f"tour line {n}: {shown}\n{res.stderr[-2000:]}"
        # a length the comment quotes is the length the command reports
        if quoted := re.search(r"#\s*(\d+) bars\b", raw):
            assert f"({quoted.group(1)} bars" in res.stdout, f"tour line {n}: {res.stdout}"
    for made in ("chorale.mid", "jig.wav", "theme.mid", "again.mid", "w-cello3.mid", "live.mid"):
        assert (tmp_path / made).stat().st_size > 0, made
    assert len(list((tmp_path / "my_midis").glob("*.mid"))) == 4
    assert (tmp_path / "eval_mine" / "report.md").is_file()
