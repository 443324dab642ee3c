"""Corpus commands: `prepare music21`, `prepare midi`, `data stats`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..errors import BadInputError
from .options import Json, OldOut, Quiet, out_folder
from .ui import out, print_report, task

CorpusDir = Annotated[
    Path | None, typer.Option("--out-dir", help="Folder for the prepared corpus.")
]

prepare_app = typer.Typer(
    help="Build a training corpus (MIDI + captions + attributes).", no_args_is_help=True
)
data_app = typer.Typer(help="Inspect a prepared corpus.", no_args_is_help=True)


@prepare_app.command("music21")
def prepare_music21_cmd(
    out_dir: CorpusDir = None,
    limit: int | None = typer.Option(None, help="Take a small deterministic sample of N pieces."),
    workers: int | None = typer.Option(None, help="Worker processes (default: all cores)."),
    expand_repeats: bool = typer.Option(
        False, help="Play repeat signs out (|: A :| -> A A), as performed; default: as notated."
    ),
    old_out: OldOut = None,
    quiet: Quiet = False,
    as_json: Json = False,
) -> None:
    """Convert the corpus bundled with music21 (chorales, folk tunes, quartets, ...)."""
    from ..data.sources.music21 import prepare_music21

    folder = out_folder(out_dir, old_out)
    if limit is not None and limit < 1:
        raise BadInputError("--limit must be >= 1")
    with task("preparing music21 corpus") as update:
        report = prepare_music21(
            folder, limit=limit, workers=workers, progress=update, expand_repeats=expand_repeats
        )
    print_report(report)


@prepare_app.command("midi")
def prepare_midi_cmd(
    folder: Path = typer.Argument(..., help="Folder of MIDI files (searched recursively)."),
    out_dir: CorpusDir = None,
    captions: Path | None = typer.Option(None, help="MidiCaps-style captions (JSON lines or CSV)."),
    workers: int | None = typer.Option(None, help="Worker processes (default: all cores)."),
    old_out: OldOut = None,
    quiet: Quiet = False,
    as_json: Json = False,
) -> None:
    """Prepare your own MIDI collection (attributes from captions or from analysis)."""
    from ..data.midi_folder import prepare_midi_folder

    target = out_folder(out_dir, old_out)
    with task("preparing MIDI folder") as update:
        report = prepare_midi_folder(
            folder, target, captions=captions, workers=workers, progress=update
        )
    print_report(report)


@data_app.command("stats")
def data_stats_cmd(
    corpus: Path = typer.Argument(..., help="A prepared corpus folder."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Counts by source, form, key, meter, instrument; bars histogram; token counts."""
    from ..data.stats import corpus_stats, render_stats

    stats = corpus_stats(corpus)
    if as_json:
        print(json.dumps(stats, indent=1))
    else:
        render_stats(stats, out)


def register(app: typer.Typer) -> None:
    app.add_typer(prepare_app, name="prepare")
    app.add_typer(data_app, name="data")
