"""What the commands print: the two consoles and a progress bar for long work.

stdout carries results only; progress, notes and errors go to stderr. `--quiet` (any
command with long work) turns off the progress display and the notes; `--json` (any
command that prints results) prints each result as one JSON object on a line of its own.
The progress display shows on a terminal; `TUNESMITH_PROGRESS=1` shows it on any stderr
(a log file, a test), `TUNESMITH_PROGRESS=0` never.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

out = Console()
err = Console(stderr=True)


class Mode:
    """The output mode of the running command, set by the --quiet and --json options."""

    quiet = False
    json = False


def set_quiet(value: bool) -> bool:
    Mode.quiet = bool(value)
    return value


def set_json(value: bool) -> bool:
    """With --json, stdout holds the JSON lines alone: other prints to `out` are dropped."""
    Mode.json = bool(value)
    out.quiet = Mode.json
    return value


def _progress_console() -> Console | None:
    """Where the progress display goes, or None when it is off."""
    setting = os.environ.get("TUNESMITH_PROGRESS", "")
    if Mode.quiet or setting == "0":
        return None
    if setting == "1" and not err.is_terminal:
        return Console(stderr=True, force_terminal=True, width=100)
    return err if err.is_terminal else None


def result(text: str, data: dict) -> None:
    """A command's result: `text` for people, or `data` as one JSON line with --json."""
    if Mode.json:
        print(json.dumps(data, default=str), flush=True)
    else:
        out.print(text, markup=False, highlight=False, soft_wrap=True)


def note(text: str) -> None:
    """A line about the work (not a result, not a warning) on stderr; none with --quiet."""
    if not Mode.quiet:
        err.print(text, markup=False, highlight=False, soft_wrap=True)


def warn(text: str) -> None:
    """A warning on stderr, also with --quiet."""
    err.print(f"warning: {text}", markup=False, highlight=False, soft_wrap=True)


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,  # a finished or failed bar leaves no line behind; a summary follows
    )


@contextmanager
def task(description: str, total: int | None = None):
    """A progress bar on stderr (see the module doc for when); yields update()."""
    console = _progress_console()
    if console is None:
        yield lambda *args, **kwargs: None
        return
    with _progress(console) as bar:
        handle = bar.add_task(description, total=total, info="")

        def update(done: int, total_: int | None = None, info: str = "") -> None:
            bar.update(
                handle, completed=done, total=total_ if total_ is not None else total, info=info
            )

        yield update


def print_report(report) -> None:
    """A preparation report (a dict or a dataclass) as JSON."""
    d = report if isinstance(report, dict) else getattr(report, "__dict__", {})
    if Mode.json:
        print(json.dumps(d, default=str), flush=True)
    else:
        out.print_json(json.dumps(d, default=str))
