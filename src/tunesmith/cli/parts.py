"""Working on the parts of a piece and its harmony: `harmonize`, `add-part`, `infill`,
`chords`.

`harmonize` keeps a melody exactly as the top voice and writes the voices under it;
`add-part` writes one more part against all the parts of a piece; `infill --part N`
writes part N anew against the others, `infill --bars 5-8` bars 5 to 8 with the music on
both sides in view. `chords` prints the chord chart of any MIDI.
Each command checks its options before the model loads and calls the Python API.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import BadInputError
from . import options as opt
from .ui import note, out, result, task

if TYPE_CHECKING:  # the model and torch load only when a command runs
    from ..api import Composer
    from ..render.audio import AudioOptions
    from ..render.piece import Piece

Chords = Annotated[
    str | None,
    typer.Option(
        "--chords",
        help="A progression to follow: symbols ('Am F C G') or Roman numerals in the key "
        "('i VI III VII'); bars separated by '|' hold several chords ('C G | Am F').",
        rich_help_panel=opt.ATTRIBUTES_PANEL,
    ),
]
Prompt = Annotated[str, typer.Option("--prompt", help="Optional text to steer the music.")]
ChordTrack = Annotated[
    bool,
    typer.Option(
        "--chord-track",
        help="MIDI output: add the chords as a track of their own (block chords).",
    ),
]


def _input(path: Path, what: str = "input MIDI") -> Path:
    if not path.is_file():
        raise BadInputError(f"{what} {str(path)!r} does not exist")
    return path


def _run(
    model: Path | None,
    path: Path,
    what: str,
    sampling: dict,
    candidates: int | None,
    description: str,
    output: Path,
    chord_track: bool,
    call: Callable[[Composer, int], Piece],
    sound: AudioOptions | None = None,
    sheet: dict | None = None,
) -> None:
    """Check what can be checked before the model loads, load it, run `call(composer,
    candidates)` under a progress line, and save the piece."""
    from ..api import Composer
    from ..conditioning.limits import CANDIDATES

    n = candidates or 1
    Composer.sampling_for(**sampling)  # a typo costs no model load
    CANDIDATES.check(n, field="candidates")
    _input(path, what)
    composer = Composer.load(model)
    t0 = time.time()
    with task(description if n == 1 else f"{description}, best of {n}"):
        piece = call(composer, n)
    _finish(piece, output, t0, chord_track, sound, sheet)


def _finish(
    piece: Piece,
    output: Path,
    t0: float,
    chord_track: bool = False,
    sound: AudioOptions | None = None,
    sheet: dict | None = None,
) -> None:
    output = piece.save(output, chord_track=chord_track, audio=sound, **(sheet or {}))
    if (pages := opt.pages_line(piece)) is not None:  # several SVG pages
        out.print(pages, markup=False, highlight=False)
    if piece.notice:
        note(f"note: {piece.notice}")
    result(
        f"wrote {output} ({piece.num_notes} notes, {piece.duration_s:.1f} s) "
        f"in {time.time() - t0:.1f} s",
        {
            "output": str(output),
            "notes": piece.num_notes,
            "seconds": round(piece.duration_s, 2),
            "notice": piece.notice or None,
            "elapsed_s": round(time.time() - t0, 2),
        },
    )


def harmonize_cmd(
    melody: Path = typer.Argument(..., help="MIDI or ABC file whose first part is the melody."),
    tune: opt.Tune = None,
    output: opt.Output = None,
    voices: int = typer.Option(4, "--voices", help="Voices in all, the melody included (2-4)."),
    style: str = typer.Option(
        "chorale", "--style", help="chorale, hymn, quartet, strings, madrigal or brass."
    ),
    key: opt.Key = None,
    chords: Chords = None,
    prompt: Prompt = "",
    model: opt.Model = None,
    preset: opt.Preset = None,
    temperature: opt.Temperature = None,
    top_k: opt.TopK = None,
    top_p: opt.TopP = None,
    repetition_penalty: opt.RepetitionPenalty = None,
    cfg: opt.Cfg = None,
    seed: opt.Seed = None,
    key_guidance: opt.KeyGuidance = None,
    chord_track: ChordTrack = False,
    candidates: opt.Candidates = None,
    svg_pages: opt.SvgPages = "split",
    lead_sheet: opt.LeadSheet = False,
    soundfont: opt.Soundfont = None,
    reverb: opt.Reverb = opt.DEFAULT_REVERB,
    loudness: opt.Loudness = "-16",
    quiet: opt.Quiet = False,
    as_json: opt.Json = False,
) -> None:
    """Harmonize a melody: it is kept exactly as the top voice, the model writes the rest."""
    from ..generate.parts import HARMONY_STYLES

    output = opt.output_file(output)
    sound = opt.audio(soundfont, reverb, loudness, output)
    sheet = opt.sheet(svg_pages, lead_sheet)
    if style not in HARMONY_STYLES:
        raise BadInputError(
            f"unknown style {style!r}; choose one of: {', '.join(HARMONY_STYLES)}", field="style"
        )
    if not 2 <= voices <= 4:
        raise BadInputError("voices must be between 2 and 4", field="voices")
    sampling = opt.sampling(
        preset, temperature, top_k, top_p, repetition_penalty, cfg, seed, key_guidance
    )
    music = opt.music_input(melody, tune, "melody")
    _run(
        model, melody, "melody", sampling, candidates, "harmonizing", output, chord_track,
        lambda c, n: c.harmonize(
            music, voices=voices, style=style, key=key, chords=chords, prompt=prompt,
            candidates=n, **sampling,
        ),
        sound,
        sheet,
    )  # fmt: skip


def add_part_cmd(
    midi: Path = typer.Argument(..., help="MIDI or ABC file whose parts are all kept."),
    tune: opt.Tune = None,
    output: opt.Output = None,
    instrument: str = typer.Option(
        ..., "--instrument", help="The new part's instrument, e.g. cello, 'acoustic bass', 32."
    ),
    key: opt.Key = None,
    chords: Chords = None,
    prompt: Prompt = "",
    model: opt.Model = None,
    preset: opt.Preset = None,
    temperature: opt.Temperature = None,
    top_k: opt.TopK = None,
    top_p: opt.TopP = None,
    repetition_penalty: opt.RepetitionPenalty = None,
    cfg: opt.Cfg = None,
    seed: opt.Seed = None,
    key_guidance: opt.KeyGuidance = None,
    chord_track: ChordTrack = False,
    candidates: opt.Candidates = None,
    svg_pages: opt.SvgPages = "split",
    lead_sheet: opt.LeadSheet = False,
    soundfont: opt.Soundfont = None,
    reverb: opt.Reverb = opt.DEFAULT_REVERB,
    loudness: opt.Loudness = "-16",
    quiet: opt.Quiet = False,
    as_json: opt.Json = False,
) -> None:
    """Add a part (a bass under a melody, a counter-melody, ...) to a piece."""
    from ..conditioning.instruments import one_program

    output = opt.output_file(output)
    sound = opt.audio(soundfont, reverb, loudness, output)
    sheet = opt.sheet(svg_pages, lead_sheet)
    one_program(instrument)  # an unknown instrument costs no model load
    sampling = opt.sampling(
        preset, temperature, top_k, top_p, repetition_penalty, cfg, seed, key_guidance
    )
    music = opt.music_input(midi, tune)
    _run(
        model, midi, "input MIDI", sampling, candidates, "adding a part", output, chord_track,
        lambda c, n: c.add_part(
            music, instrument, key=key, chords=chords, prompt=prompt, candidates=n, **sampling
        ),
        sound,
        sheet,
    )  # fmt: skip


def infill_cmd(
    midi: Path = typer.Argument(
        ..., help="MIDI or ABC file; everything but --part or --bars is kept exactly."
    ),
    tune: opt.Tune = None,
    output: opt.Output = None,
    part: int = typer.Option(None, "--part", help="The part to write anew (1 = the first)."),
    bars: str = typer.Option(
        None,
        "--bars",
        help="Bars to write anew, e.g. 5-8 or 5 (1 = the first bar), with the music "
        "before and after them in view (a v2 model).",
    ),
    key: opt.Key = None,
    chords: Chords = None,
    prompt: Prompt = "",
    model: opt.Model = None,
    preset: opt.Preset = None,
    temperature: opt.Temperature = None,
    top_k: opt.TopK = None,
    top_p: opt.TopP = None,
    repetition_penalty: opt.RepetitionPenalty = None,
    cfg: opt.Cfg = None,
    seed: opt.Seed = None,
    key_guidance: opt.KeyGuidance = None,
    chord_track: ChordTrack = False,
    candidates: opt.Candidates = None,
    svg_pages: opt.SvgPages = "split",
    lead_sheet: opt.LeadSheet = False,
    soundfont: opt.Soundfont = None,
    reverb: opt.Reverb = opt.DEFAULT_REVERB,
    loudness: opt.Loudness = "-16",
    quiet: opt.Quiet = False,
    as_json: opt.Json = False,
) -> None:
    """Write one part (--part N) or some bars (--bars 5-8) of a piece anew; everything
    else is kept exactly."""
    from ..api import parse_bars

    output = opt.output_file(output)
    sound = opt.audio(soundfont, reverb, loudness, output)
    sheet = opt.sheet(svg_pages, lead_sheet)
    if (part is None) == (bars is None):
        raise BadInputError("give --part N or --bars I-J (one of them)", field="part")
    if part is not None and part < 1:
        raise BadInputError("part must be 1 or more (1 = the first part)", field="part")
    span = parse_bars(bars) if bars is not None else None
    what = f"rewriting part {part}" if span is None else f"writing bars {span[0]}-{span[1]}"
    sampling = opt.sampling(
        preset, temperature, top_k, top_p, repetition_penalty, cfg, seed, key_guidance
    )
    music = opt.music_input(midi, tune)
    _run(
        model, midi, "input MIDI", sampling, candidates, what, output, chord_track,
        lambda c, n: c.infill(
            music, part=part, bars=span, key=key, chords=chords, prompt=prompt, candidates=n,
            **sampling,
        ),
        sound,
        sheet,
    )  # fmt: skip


def chords_cmd(
    midi: Path = typer.Argument(..., help="MIDI or ABC file to analyse."),
    tune: opt.Tune = None,
    per: str = typer.Option("bar", "--per", help="bar: one chord per bar; beat: per beat."),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """The chord chart of a MIDI file: root, quality (sevenths too) and bass per bar or beat."""
    from ..api import Composer

    if per not in ("bar", "beat"):
        raise BadInputError(f"per must be 'bar' or 'beat', not {per!r}", field="per")
    spans = Composer.chords(opt.music_input(midi, tune), per)
    if as_json:
        out.print_json(json.dumps([s.to_dict() for s in spans]))
        return
    from ..music.chords import chord_chart

    out.print(chord_chart(spans) if spans else "no pitched notes", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("harmonize")(harmonize_cmd)
    app.command("add-part")(add_part_cmd)
    app.command("infill")(infill_cmd)
    app.command("chords")(chords_cmd)
