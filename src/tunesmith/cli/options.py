"""The options several commands share, defined once, and the checks that go with them.

Every command that samples (generate, continue, generate-long, stream) takes the same
sampling options under the same names, which are the Python API's keywords and the
server's request fields with dashes (`--top-k` is `top_k`): `SAMPLING`, in the order of
`limits.SAMPLING_OPTIONS`. Outputs: `-o/--output` is always a file, `--out-dir` always a
folder. Old spellings stay as hidden aliases (`--num-candidates`, `--out`), so commands
written against earlier versions keep working while the help shows one name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, overload

import typer

from ..conditioning.limits import (
    CANDIDATES,
    CFG,
    KEY_GUIDANCE,
    REPETITION_PENALTY,
    SAMPLING_OPTIONS,
    TEMPERATURE,
    TEMPO,
    TOP_K,
)
from ..errors import BadInputError
from ..render.mastering import DEFAULT_REVERB, check_loudness, check_reverb
from ..render.performance import HUMANIZE, check_options

SAMPLING_PANEL = "Sampling"
ATTRIBUTES_PANEL = "Musical attributes (override the prompt)"

# -- sampling -------------------------------------------------------------------------------
Preset = Annotated[
    str | None,
    typer.Option(
        "--preset",
        help="default, balanced, creative or conservative (the options below override it).",
        rich_help_panel=SAMPLING_PANEL,
    ),
]
Temperature = Annotated[
    float | None,
    typer.Option(
        "--temperature",
        help=f"Sampling temperature, in (0, {TEMPERATURE.high:g}].",
        rich_help_panel=SAMPLING_PANEL,
    ),
]
TopK = Annotated[
    int | None,
    typer.Option(
        "--top-k",
        help=f"Keep the k likeliest tokens, 0-{TOP_K.high:g} (0: off).",
        rich_help_panel=SAMPLING_PANEL,
    ),
]
TopP = Annotated[
    float | None,
    typer.Option("--top-p", help="Nucleus mass in (0, 1].", rich_help_panel=SAMPLING_PANEL),
]
RepetitionPenalty = Annotated[
    float | None,
    typer.Option(
        "--repetition-penalty",
        help=f"Penalty on repeated notes, {REPETITION_PENALTY.low:g}-"
        f"{REPETITION_PENALTY.high:g} (1: off).",
        rich_help_panel=SAMPLING_PANEL,
    ),
]
Cfg = Annotated[
    float | None,
    typer.Option(
        "--cfg",
        help=f"Classifier-free guidance scale, 0-{CFG.high:g} (1: off).",
        rich_help_panel=SAMPLING_PANEL,
    ),
]
Seed = Annotated[
    int | None,
    typer.Option("--seed", help="Random seed for reproducibility.", rich_help_panel=SAMPLING_PANEL),
]
KeyGuidance = Annotated[
    float | None,
    typer.Option(
        "--key-guidance",
        help=f"Pull toward the requested key, 0-{KEY_GUIDANCE.high:g} (default 0.5; 0: off).",
        rich_help_panel=SAMPLING_PANEL,
    ),
]
Candidates = Annotated[
    int | None,
    typer.Option(
        "--candidates",
        help=f"Generate N, keep the best by the scorer (1-{CANDIDATES.high:g}).",
        rich_help_panel=SAMPLING_PANEL,
    ),
]
NumCandidates = Annotated[int | None, typer.Option("--num-candidates", hidden=True)]

# -- musical attributes ---------------------------------------------------------------------
Key = Annotated[
    str | None,
    typer.Option("--key", help="Key, e.g. 'D minor', 'F#m'.", rich_help_panel=ATTRIBUTES_PANEL),
]
Meter = Annotated[
    str | None,
    typer.Option("--meter", help="Meter, e.g. 6/8.", rich_help_panel=ATTRIBUTES_PANEL),
]
Tempo = Annotated[
    str | None,
    typer.Option(
        "--tempo",
        help=f"Tempo in bpm ({TEMPO.low:g}-{TEMPO.high:g}) or a word (allegro, slow).",
        rich_help_panel=ATTRIBUTES_PANEL,
    ),
]
Instruments = Annotated[
    str | None,
    typer.Option(
        "--instruments",
        help="Comma-separated, e.g. 'fiddle' or 'violin,cello'.",
        rich_help_panel=ATTRIBUTES_PANEL,
    ),
]
Bars = Annotated[
    int | None, typer.Option("--bars", help="Length in bars.", rich_help_panel=ATTRIBUTES_PANEL)
]
Seconds = Annotated[
    float | None,
    typer.Option(
        "--seconds",
        help="Length in seconds (converted with the tempo).",
        rich_help_panel=ATTRIBUTES_PANEL,
    ),
]
Style = Annotated[
    str | None,
    typer.Option(
        "--style", help="Style or form, e.g. reel, chorale.", rich_help_panel=ATTRIBUTES_PANEL
    ),
]

# -- performance ----------------------------------------------------------------------------
PERFORMANCE_PANEL = "Performance"
Performance = Annotated[
    str,
    typer.Option(
        "--performance",
        help="auto: dynamics, accents, ghost notes, swing, articulation and piano pedal in "
        "the piece's style; none: the notes as written.",
        rich_help_panel=PERFORMANCE_PANEL,
    ),
]
Humanize = Annotated[
    float,
    typer.Option(
        "--humanize",
        metavar="MS",
        help=f"Move onsets by up to MS milliseconds (seeded, 0-{HUMANIZE.high:g}; "
        "default 0: the written grid).",
        rich_help_panel=PERFORMANCE_PANEL,
    ),
]


def performance(mode: str = "auto", humanize: float = 0.0) -> dict:
    """--performance and --humanize as the API's keywords, checked (one error line)."""
    return {"performance": check_options(mode, humanize), "humanize": humanize}


# -- audio ----------------------------------------------------------------------------------
AUDIO_PANEL = "Audio (.wav, .flac, .ogg, .mp3 output)"
Soundfont = Annotated[
    Path | None,
    typer.Option(
        "--soundfont",
        help="General MIDI .sf2 file to play the piece with (default: the best installed: "
        "MuseScore_General_Full.sf2 or FluidR3_GM.sf2 from the system, else the shipped "
        "TimGM6mb).",
        rich_help_panel=AUDIO_PANEL,
    ),
]
Reverb = Annotated[
    float,
    typer.Option(
        "--reverb",
        help="Room reverb level, 0 (off) to 1 (wet as loud as dry); default 0.25: light.",
        rich_help_panel=AUDIO_PANEL,
    ),
]
Loudness = Annotated[
    str,
    typer.Option(
        "--loudness",
        metavar="LUFS|off",
        help="Loudness target in LUFS (-40 to -6; default -16) with a -1 dBTP true-peak "
        "ceiling, or off: peak-normalise to -1 dBFS.",
        rich_help_panel=AUDIO_PANEL,
    ),
]


def audio(
    soundfont: Path | None = None,
    reverb: float | None = None,
    loudness: str = "-16",
    output: Path | None = None,
):
    """--soundfont, --reverb and --loudness as `AudioOptions`, checked before the model
    loads (a missing or corrupt soundfont is one error line) when `output` is audio or a
    soundfont was given."""
    from ..render.audio import AudioOptions
    from ..render.piece import AUDIO_EXTS

    text = loudness.strip().lower()
    if text in ("off", "none"):
        target = None
    else:
        try:
            target = float(text)
        except ValueError:
            raise BadInputError(
                f"loudness must be a number of LUFS (e.g. -16) or off, not {loudness!r}",
                field="loudness",
            ) from None
    options = AudioOptions(soundfont, DEFAULT_REVERB if reverb is None else reverb, target)
    check_reverb(options.reverb)
    check_loudness(options.loudness)
    if soundfont is not None or (output is not None and output.suffix.lower() in AUDIO_EXTS):
        options.checked()  # reads the soundfont
    return options


def audio_settings(soundfont: Path | None, reverb: float, loudness: str) -> dict:
    """--soundfont, --reverb and --loudness of `serve` as `ServeSettings` fields, checked."""
    options = audio(soundfont, reverb, loudness)
    chosen = str(soundfont.expanduser().resolve()) if soundfont else None
    return {"soundfont": chosen, "reverb": options.reverb, "loudness": options.loudness}


# -- model and files ------------------------------------------------------------------------
Model = Annotated[
    Path | None,
    typer.Option(
        "--model",
        help="Model or run folder, or your model's name (tunesmith models); default: the shipped model.",
    ),
]
Output = Annotated[
    Path | None,
    typer.Option(
        "-o", "--output", help="Output file: .mid, .wav/.flac/.ogg/.mp3, .musicxml, .svg or .abc."
    ),
]
OldOut = Annotated[Path | None, typer.Option("--out", hidden=True)]  # the former spelling


# -- what the command prints (cli/ui.py) ------------------------------------------------------
def _quiet(value: bool) -> bool:
    from .ui import set_quiet

    return set_quiet(value)


def _json(value: bool) -> bool:
    from .ui import set_json

    return set_json(value)


Quiet = Annotated[
    bool,
    typer.Option(
        "--quiet", "-q", callback=_quiet, help="No progress display and no notes on stderr."
    ),
]
Json = Annotated[
    bool,
    typer.Option("--json", callback=_json, help="Print the result as one JSON object a line."),
]

# -- sheet music and ABC ----------------------------------------------------------------------
SHEET_PANEL = "Sheet music (.svg, .abc, .musicxml output)"
SvgPages = Annotated[
    str,
    typer.Option(
        "--svg-pages",
        metavar="split|single",
        help="SVG output: split (one file per page, NAME-1.svg, NAME-2.svg, ...; a one-page "
        "score keeps NAME.svg) or single (one tall page).",
        rich_help_panel=SHEET_PANEL,
    ),
]
LeadSheet = Annotated[
    bool,
    typer.Option(
        "--lead-sheet",
        help="Notation output (.svg, .abc, .musicxml): the melody alone under its chord symbols.",
        rich_help_panel=SHEET_PANEL,
    ),
]
Tune = Annotated[
    int | None,
    typer.Option(
        "--tune",
        help="ABC input with several tunes: the one with this X: number (default: the first).",
    ),
]


def sheet(svg_pages: str = "split", lead_sheet: bool = False) -> dict:
    """--svg-pages and --lead-sheet as `Piece.save`'s keywords, checked before the model loads."""
    from ..render.engrave import check_pages

    return {"svg_pages": check_pages(svg_pages), "lead_sheet": lead_sheet}


def pages_line(piece) -> str | None:
    """A line naming the pages when the last save wrote several SVG files, else None."""
    files = getattr(piece, "files", [])
    if len(files) < 2:
        return None
    return f"{len(files)} pages: {', '.join(str(f) for f in files)}"


def music_input(path: Path, tune: int | None = None, what: str = "input MIDI"):
    """The input file for the API: the path of a MIDI file (read by the API), or an ABC
    file's tune as a Score (`tune`: its X: number; which tune was read goes to stderr)."""
    from ..music.abc import ABC_SUFFIXES, looks_like_abc
    from ..music.metrics import read_music
    from .ui import err

    if not path.is_file():
        raise BadInputError(f"{what} {str(path)!r} does not exist")
    with path.open("rb") as f:
        head = f.read(65536)
    if path.suffix.lower() not in ABC_SUFFIXES and not looks_like_abc(head):
        if tune is not None:
            raise BadInputError(
                f"{str(path)!r} is not an ABC file; a tune number picks a tune of one",
                field="tune",
            )
        return path
    score, notice = read_music(path, tune)
    if notice:
        err.print(
            f"note: {notice}; pick another with --tune N",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    return score


# -- turning options into API arguments ------------------------------------------------------
def sampling(
    preset=None,
    temperature=None,
    top_k=None,
    top_p=None,
    repetition_penalty=None,
    cfg=None,
    seed=None,
    key_guidance=None,
) -> dict:
    """The sampling options as the API's keywords (`limits.SAMPLING_OPTIONS`)."""
    values = dict(locals())
    assert tuple(values) == SAMPLING_OPTIONS
    return values


def one_of(value, alias, name: str, alias_name: str, default=None):
    """An option given under its name or its hidden old spelling (not both)."""
    if alias is not None:
        if value is not None:
            raise BadInputError(f"{alias_name} is the old spelling of {name}; give only {name}")
        return alias
    return default if value is None else value


def output_file(path: Path | None, alias: Path | None = None) -> Path:
    """The -o/--output file (or its old spelling --out), with a format the piece can take."""
    from ..extras import NOTATION_FORMATS, require_notation
    from ..render.piece import FORMATS

    path = one_of(path, alias, "-o/--output", "--out")
    if path is None:
        raise BadInputError("give an output file with -o OUT.mid (or .wav, .musicxml)")
    if path.suffix.lower() not in FORMATS:
        raise BadInputError(
            f"unknown output format {path.suffix or '(none)'!r}; use one of: {', '.join(FORMATS)}"
        )
    if path.suffix.lower() in NOTATION_FORMATS:  # before the model runs, not after
        require_notation(f"{path.suffix} output")
    return path


@overload
def out_folder(
    path: Path | None, alias: Path | None = None, required: Literal[True] = True
) -> Path: ...
@overload
def out_folder(path: Path | None, alias: Path | None, required: bool) -> Path | None: ...
@overload
def out_folder(path: Path | None, alias: Path | None = None, *, required: bool) -> Path | None: ...


def out_folder(path: Path | None, alias: Path | None = None, required: bool = True) -> Path | None:
    """The --out-dir folder (or its old spelling --out); it must not be a file."""
    path = one_of(path, alias, "--out-dir", "--out")
    if path is None:
        if required:
            raise BadInputError("give an output folder with --out-dir FOLDER")
        return None
    if path.exists() and not path.is_dir():
        raise BadInputError(f"--out-dir {str(path)!r} is a file")
    return path
