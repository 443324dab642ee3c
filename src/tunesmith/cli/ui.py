"""What the commands print: the two consoles and a progress bar for long work."""

from __future__ import annotations

import json
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


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,  # a finished or failed bar leaves no line behind; a summary follows
    )


@contextmanager
def task(description: str, total: int | None = None):
    """A progress bar on a terminal (nothing when stderr is piped); yields update()."""
    if not err.is_terminal:
        yield lambda *args, **kwargs: None
        return
    with _progress() as bar:
        handle = bar.add_task(description, total=total, info="")

        def update(done: int, total_: int | None = None, info: str = "") -> None:
            bar.update(
                handle, completed=done, total=total_ if total_ is not None else total, info=info
            )

        yield update


def print_report(report) -> None:
    """A preparation report (a dict or a dataclass) as JSON."""
    d = report if isinstance(report, dict) else getattr(report, "__dict__", {})
    out.print_json(json.dumps(d, default=str))
