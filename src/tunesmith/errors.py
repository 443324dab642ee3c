"""User-facing errors.

Anything a user can cause (bad file, unknown key, absurd number) raises `TunesmithError`
with a one-line message; the CLI prints that line to stderr and exits non-zero, never a
traceback.
"""

from __future__ import annotations


class TunesmithError(Exception):
    """An error caused by input the user gave; its message is shown as one line."""


class BadInputError(TunesmithError, ValueError):
    """A value, file or option the user gave cannot be used."""


class CheckpointError(TunesmithError):
    """A checkpoint folder is missing, incomplete or corrupt."""
