"""User-facing errors.

Anything a user can cause (bad file, unknown key, absurd number) raises `TunesmithError`
with a one-line message; the CLI prints that line to stderr and exits non-zero, never a
traceback. Messages name the setting in plain words ("bars must be between 1 and 256"),
never a command-line flag: the CLI adds the flag itself (from `BadInputError.field`).

`BadInputError` is only for what a user sent. A broken internal invariant is a bug and
raises ValueError, RuntimeError or fails an assert, so it is never reported as the user's
fault (the server answers it with a 500, not a 422).
"""

from __future__ import annotations


class TunesmithError(Exception):
    """An error caused by input the user gave; its message is shown as one line."""


class BadInputError(TunesmithError, ValueError):
    """A value, file or option the user gave cannot be used.

    `field`: the setting at fault, under its Python API name ("bars", "top_k"), when the
    value came from that setting; front ends use it to name their own spelling of it.
    """

    def __init__(self, message: str = "", *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class CheckpointError(TunesmithError):
    """A checkpoint folder is missing, incomplete or corrupt."""
