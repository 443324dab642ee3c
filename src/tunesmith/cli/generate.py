"""Writing music: `explain`, `generate` (one piece or a batch), `continue`, `generate-long`.

Each command parses its options, checks what can be checked before the model loads (so a
typo costs no waiting), and calls the Python API (`tunesmith.api.Composer`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..errors import BadInputError
from . import options as opt
from .parts import Chords, ChordTrack
from .ui import out, result, task


def explain_cmd(
    prompt: str = typer.Argument(..., help="A prompt to analyse."),
    arrangement: str = typer.Option(
        "auto", "--arrangement", help="auto, none or a style (tunesmith styles)."
    ),
    key: opt.Key = None,
    meter: opt.Meter = None,
    tempo: opt.Tempo = None,
    instruments: opt.Instruments = None,
    bars: opt.Bars = None,
    seconds: opt.Seconds = None,
    soundfont: opt.Soundfont = None,
    model: opt.Model = None,
    as_json: opt.Json = False,
) -> None:
    """Show which attributes the prompt parser understood, the arrangement plan and the
    soundfont audio output would use (with --model: the model's own style words too).
    Attributes given as flags (as to generate) win over the prompt's words, and the table
    says which words they overrode."""
    from ..arrange.plan import plan_for
    from ..conditioning.prompt import apply_overrides, explain, parse_prompt
    from ..model.folder import model_styles, resolve_model_dir

    sound = opt.audio(soundfont)  # a bad --soundfont is the only output
    styles = model_styles(resolve_model_dir(model)) if model is not None else None
    parsed = parse_prompt(prompt, styles)
    given = {"key": key, "meter": meter, "tempo": tempo, "instruments": instruments,
             "bars": bars, "seconds": seconds}  # fmt: skip
    flags = {name: f"--{name}" for name, value in given.items() if value is not None}
    controls = apply_overrides(
        parsed.controls, key, meter, tempo, instruments, bars, seconds, styles=styles
    )
    table = Table("attribute", "value", "from the text")
    rows = explain(parsed, controls, flags)
    plan = plan_for(controls, prompt, arrangement)
    if as_json:
        result(
            "",
            {
                "attributes": [{"attribute": a, "value": v, "from_text": s} for a, v, s in rows],
                "language": parsed.language_notice or None,
                "soundfont": str(sound.soundfont_used()),
                "arrangement": dict(plan.rows()) if plan is not None else None,
            },
        )
        return
    for attribute, value, source in rows:
        table.add_row(attribute, value, source)
    if parsed.language_notice:
        out.print(f"language: {parsed.language_notice}", markup=False, highlight=False)
    if not rows:
        out.print("no explicit attributes found; the whole prompt goes to the text encoder")
    else:
        out.print(table)
    out.print(
        f"audio: soundfont {sound.soundfont_used()}", markup=False, highlight=False, soft_wrap=True
    )
    if plan is None:
        out.print("arrangement: none (the model writes every part)")
        return
    band = Table("arrangement", "")
    for label, value in plan.rows():
        band.add_row(label, value)
    out.print(band)


BatchDir = Annotated[Path | None, typer.Option("--out-dir", help="Batch mode: output folder.")]
ARRANGEMENT_HELP = (
    "A band from the groove library under the model's melody: auto (when the prompt asks "
    "for one), none, or a style (tunesmith styles)."
)


def _check_arrangement(arrangement: str) -> None:
    """An unknown style is one error line before the model loads."""
    if arrangement.strip().lower() not in ("auto", "none"):
        from ..arrange.library import find_style

        find_style(arrangement)


def generate_cmd(
    prompt: str = typer.Argument("", help="What to write (empty: unconditional)."),
    output: opt.Output = None,
    model: opt.Model = None,
    key: opt.Key = None,
    meter: opt.Meter = None,
    tempo: opt.Tempo = None,
    instruments: opt.Instruments = None,
    bars: opt.Bars = None,
    seconds: opt.Seconds = None,
    style: opt.Style = None,
    chords: Chords = None,
    chord_track: ChordTrack = False,
    arrangement: str = typer.Option("auto", "--arrangement", help=ARRANGEMENT_HELP),
    performance: opt.Performance = "auto",
    humanize: opt.Humanize = 0.0,
    svg_pages: opt.SvgPages = "split",
    lead_sheet: opt.LeadSheet = False,
    soundfont: opt.Soundfont = None,
    reverb: opt.Reverb = opt.DEFAULT_REVERB,
    loudness: opt.Loudness = "-16",
    preset: opt.Preset = None,
    temperature: opt.Temperature = None,
    top_k: opt.TopK = None,
    top_p: opt.TopP = None,
    repetition_penalty: opt.RepetitionPenalty = None,
    cfg: opt.Cfg = None,
    seed: opt.Seed = None,
    key_guidance: opt.KeyGuidance = None,
    candidates: opt.Candidates = None,
    config: Path | None = typer.Option(None, "--config", help="Batch mode: YAML with prompts."),
    num_clips: int | None = typer.Option(None, "--num-clips", help="Batch mode: number of clips."),
    out_dir: BatchDir = None,
    num_candidates: opt.NumCandidates = None,
    quiet: opt.Quiet = False,
    as_json: opt.Json = False,
) -> None:
    """Generate music from a prompt (or a batch of clips from --config)."""
    from ..api import Composer

    candidates = opt.one_of(candidates, num_candidates, "--candidates", "--num-candidates", 1)
    sampling = opt.sampling(
        preset, temperature, top_k, top_p, repetition_penalty, cfg, seed, key_guidance
    )
    attributes = {
        "key": key,
        "meter": meter,
        "tempo": tempo,
        "instruments": instruments,
        "bars": bars,
        "seconds": seconds,
        "style": style,
    }
    played = opt.performance(performance, humanize)
    if config is not None or num_clips is not None or out_dir is not None:
        from ..generate.batch import run_batch

        if config is None or out_dir is None:
            raise BadInputError("batch mode needs --config and --out-dir")
        folder = opt.out_folder(out_dir)
        sound = opt.audio(soundfont, reverb, loudness)
        composer = Composer.load(model)
        with task("generating clips") as update:
            written = run_batch(
                composer, config, folder, num_clips, sampling, {**attributes, **played}, update,
                sound,
            )  # fmt: skip
        result(
            f"wrote {len(written)} clips to {folder}",
            {"out_dir": str(folder), "clips": [str(p) for p in written]},
        )
        return
    output = opt.output_file(output)
    sound = opt.audio(soundfont, reverb, loudness, output)
    sheet = opt.sheet(svg_pages, lead_sheet)
    from ..conditioning.limits import CANDIDATES

    CANDIDATES.check(candidates, field="candidates")
    settings = Composer.sampling_for(**sampling)  # checked before the model loads
    _check_arrangement(arrangement)
    composer = Composer.load(model)
    # Validate everything before the progress bar starts, so an error is one clean line.
    controls = composer.controls_for(prompt, **attributes)
    controls, progression = composer.progression_for(controls, chords)
    controls, plan = composer.arrangement_for(controls, prompt, arrangement, progression)
    t0 = time.time()
    what = "generating" if candidates == 1 else f"generating {candidates} candidates"
    with task(what, controls.bars) as update:
        piece = composer.generate_with(
            controls,
            settings,
            prompt,
            candidates,
            progress=lambda done, total: update(done, total, "bars"),
            chords=progression,
        )
    piece = composer.arranged(piece, plan)
    piece = composer.performed(piece, plan, seed=seed, **played)
    output = piece.save(output, chord_track=chord_track, audio=sound, **sheet)
    if (pages := opt.pages_line(piece)) is not None:  # several SVG pages
        out.print(pages, markup=False, highlight=False)
    band = f", arranged as {plan.style}" if plan is not None else ""
    result(
        f"wrote {output} ({piece.num_notes} notes, {piece.duration_s:.1f} s{band}) "
        f"in {time.time() - t0:.1f} s",
        _piece_json(output, piece, t0, arrangement=plan.style if plan is not None else None),
    )


def continue_cmd(
    midi: Path = typer.Argument(
        ..., help="MIDI or ABC file to continue (its bars are kept exactly)."
    ),
    tune: opt.Tune = None,
    output: opt.Output = None,
    bars: int = typer.Option(..., "--bars", help="Total length in bars, input included."),
    prompt: str = typer.Option("", "--prompt", help="Optional text to steer the continuation."),
    model: opt.Model = None,
    section: str | None = typer.Option(
        None,
        "--section",
        help="A: bring the input back (the reprise gate); B: a contrast to it.",
    ),
    chords: Chords = None,
    chord_track: ChordTrack = False,
    arrangement: str = typer.Option("none", "--arrangement", help=ARRANGEMENT_HELP),
    performance: opt.Performance = "auto",
    humanize: opt.Humanize = 0.0,
    svg_pages: opt.SvgPages = "split",
    lead_sheet: opt.LeadSheet = False,
    soundfont: opt.Soundfont = None,
    reverb: opt.Reverb = opt.DEFAULT_REVERB,
    loudness: opt.Loudness = "-16",
    preset: opt.Preset = None,
    temperature: opt.Temperature = None,
    top_k: opt.TopK = None,
    top_p: opt.TopP = None,
    repetition_penalty: opt.RepetitionPenalty = None,
    cfg: opt.Cfg = None,
    seed: opt.Seed = None,
    key_guidance: opt.KeyGuidance = None,
    candidates: opt.Candidates = None,
    num_candidates: opt.NumCandidates = None,
    quiet: opt.Quiet = False,
    as_json: opt.Json = False,
) -> None:
    """Continue a MIDI file in its key, meter, tempo and instruments."""
    from ..api import Composer
    from ..conditioning.limits import BARS, CANDIDATES

    output = opt.output_file(output)
    sound = opt.audio(soundfont, reverb, loudness, output)
    sheet = opt.sheet(svg_pages, lead_sheet)
    candidates = opt.one_of(candidates, num_candidates, "--candidates", "--num-candidates", 1)
    BARS.check(bars, field="bars")
    CANDIDATES.check(candidates, field="candidates")
    sampling = opt.sampling(
        preset, temperature, top_k, top_p, repetition_penalty, cfg, seed, key_guidance
    )
    Composer.sampling_for(**sampling)  # checked before the model loads
    _check_arrangement(arrangement)
    played = opt.performance(performance, humanize)
    music = opt.music_input(midi, tune)  # an ABC tune is read here, before the model loads
    composer = Composer.load(model)
    t0 = time.time()
    with task("continuing", bars) as update:
        piece = composer.continue_midi(
            music, bars, prompt, candidates=candidates, section=section, chords=chords,
            arrangement=arrangement, **sampling, **played,
            progress=lambda done, total: update(done, total, "bars"),
        )  # fmt: skip
    output = piece.save(output, chord_track=chord_track, audio=sound, **sheet)
    if (pages := opt.pages_line(piece)) is not None:  # several SVG pages
        out.print(pages, markup=False, highlight=False)
    result(
        f"wrote {output} ({piece.num_notes} notes, {piece.duration_s:.1f} s)",
        _piece_json(output, piece, t0),
    )


def generate_long_cmd(
    prompt: str = typer.Argument("", help="What to write."),
    output: opt.Output = None,
    chunks: int = typer.Option(8, "--chunks", help="Number of chunks to chain."),
    chunk_bars: int = typer.Option(16, "--chunk-bars", help="New bars per chunk."),
    overlap: int | None = typer.Option(
        None, "--overlap", help="Bars of context per chunk (default: half the model's context)."
    ),
    mode: str | None = typer.Option(
        None, "--mode", help="chorale, quartet, invention, fugue or folk (sets defaults)."
    ),
    form: str | None = typer.Option(
        None,
        "--form",
        help="Large-scale form, one chunk per section: letters A/B (AABA, ABAB, AABB) or "
        "'sonata' (exposition, development, recapitulation). Overrides --chunks.",
    ),
    recall_bars: int = typer.Option(
        0,
        "--recall-bars",
        help="With --form: a returning A first restates this many bars of the theme verbatim "
        "(default 0: the model's reprise gate brings the theme back).",
    ),
    key: opt.Key = None,
    meter: opt.Meter = None,
    tempo: opt.Tempo = None,
    instruments: opt.Instruments = None,
    style: opt.Style = None,
    preset: opt.Preset = None,
    temperature: opt.Temperature = None,
    top_k: opt.TopK = None,
    top_p: opt.TopP = None,
    repetition_penalty: opt.RepetitionPenalty = None,
    cfg: opt.Cfg = None,
    seed: opt.Seed = None,
    key_guidance: opt.KeyGuidance = None,
    chord_track: ChordTrack = False,
    arrangement: str = typer.Option("none", "--arrangement", help=ARRANGEMENT_HELP),
    performance: opt.Performance = "auto",
    humanize: opt.Humanize = 0.0,
    svg_pages: opt.SvgPages = "split",
    lead_sheet: opt.LeadSheet = False,
    soundfont: opt.Soundfont = None,
    reverb: opt.Reverb = opt.DEFAULT_REVERB,
    loudness: opt.Loudness = "-16",
    candidates: opt.Candidates = None,
    report: Path | None = typer.Option(None, "--report", help="Write per-chunk scores (JSON)."),
    model: opt.Model = None,
    num_candidates: opt.NumCandidates = None,
    quiet: opt.Quiet = False,
    as_json: opt.Json = False,
) -> None:
    """Compose a long piece: chained chunks, best of N candidates each (default 4), stitched."""
    from dataclasses import asdict

    from ..api import Composer
    from ..generate.longform import LongFormSettings

    output = opt.output_file(output)
    sound = opt.audio(soundfont, reverb, loudness, output)
    sheet = opt.sheet(svg_pages, lead_sheet)
    candidates = opt.one_of(candidates, num_candidates, "--candidates", "--num-candidates", 4)
    sampling = opt.sampling(
        preset, temperature, top_k, top_p, repetition_penalty, cfg, seed, key_guidance
    )
    # Checked before the model loads, so a typo costs no waiting.
    LongFormSettings(chunks, chunk_bars, overlap, candidates, form, recall_bars).validated()
    Composer.sampling_for(**sampling)
    _check_arrangement(arrangement)
    played = opt.performance(performance, humanize)
    composer = Composer.load(model)
    state = output.with_name(output.name + ".progress.json")
    t0 = time.time()
    with task("composing") as update:
        piece, reports = composer.generate_long(
            prompt, chunks=chunks, chunk_bars=chunk_bars, overlap=overlap,
            candidates=candidates, mode=mode, form=form, recall_bars=recall_bars, **sampling,
            **played, key=key, meter=meter, tempo=tempo, instruments=instruments, style=style,
            arrangement=arrangement,
            progress=lambda done, total, info: update(done, total, info), state_path=state,
        )  # fmt: skip
    output = piece.save(output, chord_track=chord_track, audio=sound, **sheet)
    if (pages := opt.pages_line(piece)) is not None:  # several SVG pages
        out.print(pages, markup=False, highlight=False)
    if report is not None:
        from ..fileio import atomic_write_json

        atomic_write_json(report, {"chunks": [asdict(r) for r in reports]})
    state.unlink(missing_ok=True)
    total_bars = sum(r.new_bars for r in reports)
    result(
        f"wrote {output} ({total_bars} bars, {piece.num_notes} notes, {piece.duration_s:.0f} s "
        f"of music) in {time.time() - t0:.1f} s",
        _piece_json(output, piece, t0, bars=total_bars, chunks=len(reports)),
    )


def _piece_json(output, piece, t0: float, **extra) -> dict:
    """What --json prints for a written piece."""
    return {
        "output": str(output),
        "notes": piece.num_notes,
        "seconds": round(piece.duration_s, 2),
        **extra,
        "elapsed_s": round(time.time() - t0, 2),
    }


def register(app: typer.Typer) -> None:
    app.command("explain")(explain_cmd)
    app.command("generate")(generate_cmd)
    app.command("continue")(continue_cmd)
    app.command("generate-long")(generate_long_cmd)
