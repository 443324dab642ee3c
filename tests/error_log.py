"""The error messages a user can meet on the command line, recorded from the tests.

`conftest.run_cli` hands every finished `tunesmith` run to `record`; a run that failed
with an `error: ...` line on stderr is kept as (command, message, test). With the
environment variable TUNESMITH_ERROR_LOG=FILE each record is appended to FILE (JSON
lines) as it is met. `benchmarks/error_catalog.py` runs the tests that way and turns
the log into docs/errors.json and docs/ERRORS.md; tests/test_error_catalog.py fails when
the catalog misses a message the tests assert.

Paths are shown by their last part (the tests run in temporary folders) and a model
folder as MODEL, so the catalog does not change from run to run.
"""

from __future__ import annotations

import json
import os
import re
import shlex

_ABS_PATH = re.compile(r"(?<![\w.])/(?:[^\s'\"():,]+/)+")
_RECORDS: list[dict] = []


def normalize(text: str) -> str:
    """A path shown by its last part; the rest of the text as it is."""
    return _ABS_PATH.sub("", text)


def command_of(args: list[str]) -> str:
    shown = []
    after_model = False
    for a in args:
        shown.append("MODEL" if after_model else normalize(a))
        after_model = a == "--model"
    return shlex.join(["tunesmith", *shown])


def error_line(stderr: str) -> str | None:
    """The `error: ...` line of a failed run (the last one), or None."""
    lines = [line.strip() for line in stderr.splitlines() if line.startswith("error: ")]
    return normalize(lines[-1]) if lines else None


def record(args: list[str], returncode: int, stderr: str) -> None:
    if returncode == 0 or not os.environ.get("TUNESMITH_ERROR_LOG"):
        return
    line = error_line(stderr)
    if line is None:
        return
    test = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
    row = {"command": command_of(args), "message": line, "exit": returncode, "test": test}
    _RECORDS.append(row)
    with open(os.environ["TUNESMITH_ERROR_LOG"], "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")  # at once: an interrupted run keeps what it met


def flush() -> None:
    """The end of a session: nothing is left to write (each record was written at once)."""
    _RECORDS.clear()
