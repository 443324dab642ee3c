"""The `tunesmith` command: a thin layer that parses arguments, calls the API and prints.

Commands live in modules by topic (data, train, generate, evaluate, live); the options
several of them share are defined once in `options.py`. Every user-facing error is one
line on stderr and a non-zero exit, never a traceback. Library errors name a setting in
plain words; when the user gave that setting as a flag, the flag is added to the line.
"""

from __future__ import annotations

import logging
import os
import sys

import typer

from ..errors import BadInputError, TunesmithError
from . import arrange, data, evaluate, finetune, generate, live, parts, train
from .ui import err, out

app = typer.Typer(
    help="tunesmith: text (and optional attributes or a MIDI to continue) in, music out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            out.print(f"tunesmith {version('tunesmith')}", markup=False, highlight=False)
        except PackageNotFoundError:  # a source tree that was never installed
            out.print("tunesmith (not installed)", markup=False, highlight=False)
        raise typer.Exit()


def _set_backend(value: str | None) -> str | None:
    if value is not None:
        from ..generate.backends import BACKENDS

        if value not in BACKENDS:
            raise typer.BadParameter(f"{value!r} is not one of: {', '.join(BACKENDS)}")
        os.environ["TUNESMITH_BACKEND"] = value  # read by every model load, server workers too
    return value


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        help="Show the version and exit.",
        is_eager=True,
        callback=_show_version,
    ),
    backend: str = typer.Option(
        None,
        "--backend",
        metavar="auto|onnx|onnx-int8|torch",
        help="Where the model runs: onnx (ONNX Runtime, no PyTorch needed; the same music as "
        "torch), onnx-int8 (int8 weights: faster, other notes for a seed), torch, or auto "
        "(onnx when installed and the model has model.onnx) [env TUNESMITH_BACKEND; default auto]",
        callback=_set_backend,
    ),
) -> None:
    """tunesmith: text (and optional attributes or a MIDI to continue) in, music out."""


data.register(app)
evaluate.register(app)  # metrics, evaluate
train.register(app)
finetune.register(app)  # finetune, models
generate.register(app)
parts.register(app)  # harmonize, add-part, infill, chords
arrange.register(app)  # styles
live.register(app)

# The flags (and old spellings) under which a setting named in an error can be given.
FLAG_SPELLINGS: dict[str, tuple[str, ...]] = {
    "candidates": ("--candidates", "--num-candidates"),
    "out_dir": ("--out-dir", "--out"),
    "name": ("--out",),  # finetune's model name
    "output": ("-o", "--output", "--out"),
}


def flag_for(field: str | None, argv: list[str]) -> str | None:
    """The flag the user typed for the setting `field` (None: not given as a flag)."""
    if not field:
        return None
    spellings = FLAG_SPELLINGS.get(field, ("--" + field.replace("_", "-"),))
    for arg in argv:
        for flag in spellings:
            if arg == flag or arg.startswith(flag + "="):
                return flag
    return None


def error_line(e: TunesmithError, argv: list[str]) -> str:
    """The one line shown for a user error, with the flag at fault when there is one."""
    message = " ".join(str(e).split())
    flag = flag_for(getattr(e, "field", None), argv) if isinstance(e, BadInputError) else None
    if flag and flag not in message:
        message = f"{message} ({flag})"
    return f"error: {message}"


def os_error_line(e: OSError) -> str:
    """One line for a failed file operation: the path and the reason, in plain words."""
    reason = (e.strerror or "cannot be used").lower()
    path = e.filename if e.filename is not None else None
    if path is None:
        return f"system error: {reason}"
    if e.filename2 is not None:
        return f"{str(path)!r} -> {str(e.filename2)!r}: {reason}"
    return f"{str(path)!r}: {reason}"


def main() -> None:
    """Entry point: run the app, turning user errors into one line and an exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    os.environ.setdefault("TQDM_DISABLE", "1")  # our progress display, not the libraries'
    if len(sys.argv) == 1:  # `tunesmith` alone: the help, and success
        sys.argv.append("--help")
    try:
        code = app(standalone_mode=False)  # a command's typer.Exit(n) comes back as n
        if isinstance(code, int) and not isinstance(code, bool) and code:
            sys.exit(code)
    except TunesmithError as e:
        err.print(error_line(e, sys.argv[1:]), markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        sys.exit(130)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        sys.exit(1)
    except BrokenPipeError:  # the output was piped into a command that stopped reading
        sys.exit(1)
    except OSError as e:  # a file or folder the user named: missing, unreadable, a full disk
        if os.environ.get("TUNESMITH_DEBUG"):
            raise
        err.print(f"error: {os_error_line(e)}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(1)
    except MemoryError:
        err.print(
            "error: out of memory; ask for less (fewer bars, candidates or clips)", markup=False
        )
        sys.exit(1)
    except Exception as e:  # usage errors, and bugs: one line, no traceback
        # A usage error (click's, or the copy of click that typer ships) formats itself.
        exit_code = getattr(e, "exit_code", None)
        if hasattr(e, "format_message") and isinstance(exit_code, int):
            err.print(f"error: {e.format_message()}", markup=False, highlight=False, soft_wrap=True)
            sys.exit(exit_code)
        if os.environ.get("TUNESMITH_DEBUG"):
            raise
        from ..extras import missing_extra_line

        if isinstance(e, ModuleNotFoundError) and (line := missing_extra_line(e.name)):
            err.print(f"error: {line}", markup=False, highlight=False, soft_wrap=True)
            sys.exit(2)
        # Nothing a user gives should end here (the gate and the checks catch bad input):
        # this is a bug, so say so rather than showing internals.
        err.print(
            f"error: internal error ({type(e).__name__}); this is a bug in tunesmith, not in "
            "your input: rerun with TUNESMITH_DEBUG=1 for the traceback and report it",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(70)
