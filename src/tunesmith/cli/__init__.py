"""The `tunesmith` command: a thin layer that parses arguments, calls the API and prints.

Every user-facing error is one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ..errors import BadInputError, TunesmithError

app = typer.Typer(
    help="tunesmith: text (and optional attributes or a MIDI to continue) in, music out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
prepare_app = typer.Typer(
    help="Build a training corpus (MIDI + captions + attributes).", no_args_is_help=True
)
data_app = typer.Typer(help="Inspect a prepared corpus.", no_args_is_help=True)
app.add_typer(prepare_app, name="prepare")
app.add_typer(data_app, name="data")

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
def _task(description: str, total: int | None = None):
    """A progress bar on a terminal (nothing when stderr is piped); yields update()."""
    if not err.is_terminal:
        yield lambda *args, **kwargs: None
        return
    with _progress() as bar:
        task = bar.add_task(description, total=total, info="")

        def update(done: int, total_: int | None = None, info: str = "") -> None:
            bar.update(
                task, completed=done, total=total_ if total_ is not None else total, info=info
            )

        yield update


# -- corpus ------------------------------------------------------------------------------
@prepare_app.command("music21")
def prepare_music21_cmd(
    out_dir: Path = typer.Option(..., "--out", help="Folder for the prepared corpus."),
    limit: int | None = typer.Option(None, help="Take a small deterministic sample of N pieces."),
    workers: int | None = typer.Option(None, help="Worker processes (default: all cores)."),
    expand_repeats: bool = typer.Option(
        False, help="Play repeat signs out (|: A :| -> A A), as performed; default: as notated."
    ),
) -> None:
    """Convert the corpus bundled with music21 (chorales, folk tunes, quartets, ...)."""
    from ..data.music21_corpus import prepare_music21

    if limit is not None and limit < 1:
        raise BadInputError("--limit must be >= 1")
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInputError(f"--out {str(out_dir)!r} is a file")
    with _task("preparing music21 corpus") as update:
        report = prepare_music21(
            out_dir, limit=limit, workers=workers, progress=update, expand_repeats=expand_repeats
        )
    _print_report(report)


@prepare_app.command("midi")
def prepare_midi_cmd(
    folder: Path = typer.Argument(..., help="Folder of MIDI files (searched recursively)."),
    out_dir: Path = typer.Option(..., "--out", help="Folder for the prepared corpus."),
    captions: Path | None = typer.Option(None, help="MidiCaps-style captions (JSON lines or CSV)."),
    workers: int | None = typer.Option(None, help="Worker processes (default: all cores)."),
) -> None:
    """Prepare your own MIDI collection (attributes from captions or from analysis)."""
    from ..data.midi_folder import prepare_midi_folder

    if out_dir.exists() and not out_dir.is_dir():
        raise BadInputError(f"--out {str(out_dir)!r} is a file")
    with _task("preparing MIDI folder") as update:
        report = prepare_midi_folder(
            folder, out_dir, captions=captions, workers=workers, progress=update
        )
    _print_report(report)


def _print_report(report) -> None:
    d = report if isinstance(report, dict) else getattr(report, "__dict__", {})
    out.print_json(json.dumps(d, default=str))


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


@app.command("metrics")
def metrics_cmd(
    files: list[Path] = typer.Argument(..., help="MIDI files."),
    as_json: bool = typer.Option(False, "--json", help="JSON output (one object for one file)."),
) -> None:
    """Music metrics: H1, H4, GS, pitch range, polyphony, notes per bar, key, ..."""
    from ..music.metrics import metrics_for_file

    results = {str(f): metrics_for_file(f) for f in files}
    if as_json:
        payload = next(iter(results.values())) if len(results) == 1 else results
        print(json.dumps(payload, indent=1))
        return
    keys = list(next(iter(results.values())).keys())
    table = Table("metric", *[Path(f).name for f in results])
    for k in keys:
        table.add_row(k, *[_fmt(results[f][k]) for f in results])
    out.print(table)


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


# -- training -----------------------------------------------------------------------------
@app.command("train")
def train_cmd(
    config: Path = typer.Option(..., "--config", help="YAML run config (configs/tiny.yaml, ...)."),
    out_dir: Path = typer.Option(..., "--out", help="Run folder (checkpoints, logs, samples)."),
    data: Path | None = typer.Option(
        None, "--data", help="Prepared corpus (default: the config's)."
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out exactly."),
    max_steps: int | None = typer.Option(None, "--max-steps", help="Override the config's steps."),
) -> None:
    """Train a model (also under `torchrun --nproc_per_node N`)."""
    from ..training.trainer import RunConfig, Trainer

    cfg = RunConfig.load(config)
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInputError(f"--out {str(out_dir)!r} is a file")
    rank = int(os.environ.get("RANK", "0"))
    trainer = Trainer(cfg, out_dir, data, resume, max_steps)
    total = cfg.optim.max_steps
    if rank != 0:
        trainer.run()
        return
    with _task(f"training {cfg.name}", total) as update:
        update(trainer.step, total)

        def on_step(info: dict) -> None:
            update(
                info["step"],
                total,
                f"loss {info['loss']:.3f}  {info['tokens_per_s']:.0f} tok/s",
            )

        trainer.on_step = on_step
        last = trainer.run()
    out.print(
        f"done: step {trainer.step}, val loss {last.get('val_loss', float('nan')):.4f}; model in {out_dir / 'model'}"
    )


@app.command("train-reprise")
def train_reprise_cmd(
    data: Path = typer.Option(
        ..., "--data", help="Prepared corpus (tokenized first if it is not yet)."
    ),
    model: Path | None = typer.Option(None, "--model", help="Model folder (default: shipped)."),
    out_dir: Path | None = typer.Option(
        None,
        "--out",
        help="Folder for the model with its gate (default: the --model folder itself).",
    ),
    sections: int = typer.Option(3000, "--sections", help="Labelled sections to fit on."),
) -> None:
    """Fit the reprise gate that lets Section_A bring the theme back (docs/LONGFORM.md)."""
    from ..training.reprise import train_reprise

    with _task("reading sections") as update:
        _, report, path = train_reprise(
            model, data, out_dir, sections, lambda s, d, t: update(d, t, s)
        )
    for split in ("train", "val"):
        for label, r in report.get(split, {}).items():
            out.print(
                f"{split} {label}: loss {r['loss_model_alone']:.3f} alone, "
                f"{r['loss_true_label']:.3f} with the gate, "
                f"{r['loss_other_label']:.3f} under the other label ({r['tokens']} tokens)"
            )
    out.print(f"saved {path}")


# -- generation -----------------------------------------------------------------------------
def _sampling_options(
    preset, temperature, top_k, top_p, repetition_penalty, cfg, seed, key_guidance=None
) -> dict:
    return {
        "key_guidance": key_guidance,
        "preset": preset,
        "temperature": temperature,
        "top_k": top_k,
        "top_p": top_p,
        "repetition_penalty": repetition_penalty,
        "cfg": cfg,
        "seed": seed,
    }


@app.command("explain")
def explain_cmd(prompt: str = typer.Argument(..., help="A prompt to analyse.")) -> None:
    """Show which attributes the prompt parser understood."""
    from ..conditioning.prompt import explain, parse_prompt

    parsed = parse_prompt(prompt)
    table = Table("attribute", "value", "from the text")
    rows = explain(parsed)
    for attribute, value, source in rows:
        table.add_row(attribute, value, source)
    if not rows:
        out.print("no explicit attributes found; the whole prompt goes to the text encoder")
    else:
        out.print(table)


@app.command("generate")
def generate_cmd(
    prompt: str = typer.Argument("", help="What to write (empty: unconditional)."),
    output: Path | None = typer.Option(
        None, "-o", "--output", help="Output .mid, .wav or .musicxml."
    ),
    model: Path | None = typer.Option(
        None, "--model", help="Model or run folder (default: shipped)."
    ),
    key: str | None = typer.Option(None, help="Key, e.g. 'D minor', 'F#m'."),
    meter: str | None = typer.Option(None, help="Meter, e.g. 6/8."),
    tempo: str | None = typer.Option(None, help="Tempo in bpm or a word (allegro, slow)."),
    instruments: str | None = typer.Option(
        None, help="Comma-separated, e.g. 'fiddle' or 'violin,cello'."
    ),
    bars: int | None = typer.Option(None, help="Length in bars."),
    seconds: float | None = typer.Option(
        None, help="Length in seconds (converted with the tempo)."
    ),
    style: str | None = typer.Option(None, help="Style or form, e.g. reel, chorale."),
    preset: str | None = typer.Option(None, help="default, balanced, creative or conservative."),
    temperature: float | None = typer.Option(None, help="Sampling temperature (> 0)."),
    top_k: int | None = typer.Option(None, "--top-k", help="Keep the k likeliest tokens (0: off)."),
    top_p: float | None = typer.Option(None, "--top-p", help="Nucleus mass in (0, 1]."),
    repetition_penalty: float | None = typer.Option(None, "--repetition-penalty", help=">= 1.0"),
    cfg: float | None = typer.Option(
        None, "--cfg", help="Classifier-free guidance scale (1: off)."
    ),
    key_guidance: float | None = typer.Option(
        None, "--key-guidance", help="Pull toward the requested key (default 0.5; 0: off)."
    ),
    candidates: int = typer.Option(
        1, "--candidates", help="Generate N, keep the best by the scorer."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Random seed for reproducibility."),
    config: Path | None = typer.Option(None, "--config", help="Batch mode: YAML with prompts."),
    num_clips: int | None = typer.Option(None, "--num-clips", help="Batch mode: number of clips."),
    out_dir: Path | None = typer.Option(None, "--out-dir", help="Batch mode: output folder."),
) -> None:
    """Generate music from a prompt (or a batch of clips from --config)."""
    from ..api import Composer

    sampling = _sampling_options(
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
    if config is not None or num_clips is not None or out_dir is not None:
        from ..generate.batch import run_batch

        if config is None or out_dir is None:
            raise BadInputError("batch mode needs --config and --out-dir")
        composer = Composer.load(model)
        with _task("generating clips") as update:
            written = run_batch(composer, config, out_dir, num_clips, sampling, attributes, update)
        out.print(f"wrote {len(written)} clips to {out_dir}")
        return
    if output is None:
        raise BadInputError("give an output file with -o OUT.mid (or .wav, .musicxml)")
    from ..render.piece import FORMATS

    if output.suffix.lower() not in FORMATS:
        raise BadInputError(f"unknown output format {output.suffix!r}; use .mid, .wav or .musicxml")
    composer = Composer.load(model)
    # Validate everything before the progress bar starts, so an error is one clean line.
    controls = composer.controls_for(prompt, **attributes)
    settings = Composer.sampling_for(**sampling)
    t0 = time.time()
    with _task("generating", controls.bars) as update:
        piece = composer.generate_with(
            controls,
            settings,
            prompt,
            candidates,
            progress=lambda done, total: update(done, total, "bars"),
        )
    piece.save(output)
    out.print(
        f"wrote {output} ({piece.num_notes} notes, {piece.duration_s:.1f} s) in {time.time() - t0:.1f} s"
    )


@app.command("continue")
def continue_cmd(
    midi: Path = typer.Argument(..., help="MIDI file to continue (its bars are kept exactly)."),
    output: Path = typer.Option(..., "-o", "--output", help="Output .mid, .wav or .musicxml."),
    bars: int = typer.Option(..., "--bars", help="Total length in bars, input included."),
    prompt: str = typer.Option("", "--prompt", help="Optional text to steer the continuation."),
    model: Path | None = typer.Option(
        None, "--model", help="Model or run folder (default: shipped)."
    ),
    preset: str | None = typer.Option(None, help="default, balanced, creative or conservative."),
    temperature: float | None = typer.Option(None, help="Sampling temperature (> 0)."),
    top_k: int | None = typer.Option(None, "--top-k", help="Keep the k likeliest tokens (0: off)."),
    top_p: float | None = typer.Option(None, "--top-p", help="Nucleus mass in (0, 1]."),
    cfg: float | None = typer.Option(None, "--cfg", help="Classifier-free guidance scale."),
    candidates: int = typer.Option(1, "--candidates", help="Generate N, keep the best."),
    seed: int | None = typer.Option(None, "--seed", help="Random seed."),
    section: str | None = typer.Option(
        None,
        "--section",
        help="A: bring the input back (the reprise gate); B: a contrast to it.",
    ),
) -> None:
    """Continue a MIDI file in its key, meter, tempo and instruments."""
    from ..api import Composer
    from ..conditioning.controls import MAX_BARS

    if not 1 <= bars <= MAX_BARS:
        raise BadInputError(f"--bars must be between 1 and {MAX_BARS}")
    if not midi.is_file():
        raise BadInputError(f"input MIDI {str(midi)!r} does not exist")
    composer = Composer.load(model)
    with _task("continuing", bars) as update:
        piece = composer.continue_midi(
            midi, bars, prompt, seed=seed, candidates=candidates, preset=preset,
            temperature=temperature, top_k=top_k, top_p=top_p, cfg=cfg, section=section,
            progress=lambda done, total: update(done, total, "bars"),
        )  # fmt: skip
    piece.save(output)
    out.print(f"wrote {output} ({piece.num_notes} notes, {piece.duration_s:.1f} s)")


@app.command("generate-long")
def generate_long_cmd(
    prompt: str = typer.Argument("", help="What to write."),
    output: Path = typer.Option(..., "-o", "--output", help="Output .mid, .wav or .musicxml."),
    chunks: int = typer.Option(8, "--chunks", help="Number of chunks to chain."),
    chunk_bars: int = typer.Option(16, "--chunk-bars", help="New bars per chunk."),
    overlap: int | None = typer.Option(
        None, "--overlap", help="Bars of context per chunk (default: half the model's context)."
    ),
    num_candidates: int = typer.Option(4, "--num-candidates", help="Candidates per chunk."),
    mode: str | None = typer.Option(
        None, "--mode", help="chorale, quartet, invention, fugue or folk (sets defaults)."
    ),
    key: str | None = typer.Option(None, help="Key, e.g. 'D minor'."),
    style: str | None = typer.Option(None, help="Style or form."),
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
    temperature: float | None = typer.Option(None, help="Sampling temperature (> 0)."),
    seed: int | None = typer.Option(None, "--seed", help="Random seed."),
    report: Path | None = typer.Option(None, "--report", help="Write per-chunk scores (JSON)."),
    model: Path | None = typer.Option(
        None, "--model", help="Model or run folder (default: shipped)."
    ),
) -> None:
    """Compose a long piece: chained chunks, best of N candidates each, stitched."""
    from dataclasses import asdict

    from ..api import Composer
    from ..generate.longform import LongFormSettings
    from ..render.piece import FORMATS

    if output.suffix.lower() not in FORMATS:
        raise BadInputError(f"unknown output format {output.suffix!r}; use .mid, .wav or .musicxml")
    # Checked before the model loads, so a typo costs no waiting.
    LongFormSettings(chunks, chunk_bars, overlap, num_candidates, form, recall_bars).validated()
    composer = Composer.load(model)
    state = output.with_name(output.name + ".progress.json")
    t0 = time.time()
    with _task("composing") as update:
        piece, reports = composer.generate_long(
            prompt, chunks=chunks, chunk_bars=chunk_bars, overlap=overlap,
            candidates=num_candidates, mode=mode, form=form, recall_bars=recall_bars,
            temperature=temperature, seed=seed, key=key, style=style,
            progress=lambda done, total, info: update(done, total, info), state_path=state,
        )  # fmt: skip
    piece.save(output)
    if report is not None:
        from ..fileio import atomic_write_json

        atomic_write_json(report, {"chunks": [asdict(r) for r in reports]})
    state.unlink(missing_ok=True)
    bars = sum(r.new_bars for r in reports)
    out.print(
        f"wrote {output} ({bars} bars, {piece.num_notes} notes, {piece.duration_s:.0f} s of "
        f"music) in {time.time() - t0:.1f} s"
    )


DEFAULT_REFERENCE = Path("data/music21")


@app.command("ports")
def ports_cmd() -> None:
    """List the MIDI output ports this system offers (for stream --midi-port)."""
    from ..stream.outputs import list_output_ports

    names = list_output_ports()
    if not names:
        out.print(
            "no MIDI output ports (create one with: tunesmith stream ... --virtual-port NAME)"
        )
    for name in names:
        out.print(name)


@app.command("stream")
def stream_cmd(
    prompt: str = typer.Argument(..., help="What to play, e.g. 'a chorale for strings'."),
    midi_port: str | None = typer.Option(
        None, "--midi-port", help="Play to this MIDI output port (see 'tunesmith ports')."
    ),
    virtual_port: str | None = typer.Option(
        None, "--virtual-port", help="Create a virtual MIDI port with this name and play to it."
    ),
    record: Path | None = typer.Option(
        None, "--out", help="Also record what is played to this .mid file."
    ),
    web: bool = typer.Option(
        False, "--web", help="Serve a page that plays the stream in the browser."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="With --web: address to listen on."),
    port: int = typer.Option(8000, "--port", help="With --web: port to listen on."),
    tempo: float | None = typer.Option(None, "--tempo", help="Beats per minute (default 120)."),
    temperature: float | None = typer.Option(None, "--temperature", help="Sampling temperature."),
    key: str | None = typer.Option(None, "--key", help="Key to start in, e.g. 'D minor'."),
    duration: float | None = typer.Option(
        None, "--duration", help="Stop after this many seconds (default: until Ctrl-C)."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Random seed."),
    model: Path | None = typer.Option(
        None, "--model", help="Model or run folder (default: shipped)."
    ),
    report_json: Path | None = typer.Option(
        None, "--report", help="Write the end-of-stream figures to this JSON file."
    ),
) -> None:
    """Play endless music live (Ctrl-C or --duration to stop), with live key controls."""
    from ..api import Composer
    from ..stream import FileRecorder, StreamSession, StreamSettings, open_output_port
    from ..stream.terminal import TerminalControls

    if not prompt.strip():
        raise BadInputError("the prompt is empty; describe the music to stream")
    if midi_port and virtual_port:
        raise BadInputError("use either --midi-port or --virtual-port, not both")
    if not (midi_port or virtual_port or record or web):
        raise BadInputError("nowhere to play: give --midi-port, --virtual-port, --out or --web")
    settings = StreamSettings(duration=duration).validated()
    outputs = []
    if record is not None:
        outputs.append(FileRecorder(record))
    composer = Composer.load(model)
    controls = composer.controls_for(prompt, key=key, tempo=tempo)
    sampling = Composer.sampling_for(temperature=temperature, seed=seed).with_(speculative=False)
    if midi_port or virtual_port:
        outputs.append(open_output_port(midi_port or virtual_port, virtual=bool(virtual_port)))
    session = StreamSession(composer, prompt, outputs, settings, sampling, controls)
    if web:
        from ..serve.streams import serve_shared_stream

        err.print(f"streaming to the browser: open http://{host}:{port}/ (Ctrl-C to stop)")
        report = serve_shared_stream(composer, session, host, port)
    elif TerminalControls.available():
        with TerminalControls(session):
            report = session.run()
    else:
        report = session.run()
    _print_stream_report(report)
    if record is not None:
        out.print(f"recorded to {record}")
    if report_json is not None:
        from ..fileio import atomic_write_json

        atomic_write_json(report_json, report.to_dict())


def _print_stream_report(report) -> None:
    r = report
    first = "no note played" if r.first_note_s is None else f"{r.first_note_s:.2f} s"
    table = Table("", "", title="stream")
    table.add_row("played for", f"{r.seconds:.1f} s ({r.bars} bars decoded)")
    table.add_row("time to first note", first)
    table.add_row(
        "tokens/s produced vs needed", f"{r.tokens_per_s:.0f} vs {r.needed_tokens_per_s:.0f}"
    )
    table.add_row("underruns", str(r.underruns))
    table.add_row("notes played", str(r.notes))
    table.add_row("latest message", f"{r.max_late_ms:.1f} ms after its time")
    table.add_row(
        "window shifts",
        f"{r.window_shifts} (mean {r.shift_ms_mean:.0f} ms, max {r.shift_ms_max:.0f} ms)",
    )
    for c in r.controls:
        lat = "not reached" if c["latency_bars"] is None else f"{c['latency_bars']:.2f} bars"
        table.add_row(f"control {c['name']} -> {c['value']}", lat)
    out.print(table)


@app.command("evaluate")
def evaluate_cmd(
    out_dir: Path = typer.Option(..., "--out", help="Folder for report.md, metrics.json, plots."),
    prompts: Path | None = typer.Option(
        None, "--prompts", help="Prompt set (JSONL) to generate for, e.g. prompts/eval.jsonl."
    ),
    model: Path | None = typer.Option(
        None, "--model", help="Model or run folder (default: shipped)."
    ),
    seeds: str = typer.Option("1", "--seeds", help="Comma-separated seeds, e.g. 1,2,3."),
    generated: Path | None = typer.Option(
        None, "--generated", help="Evaluate existing MIDI files in this folder instead."
    ),
    reference: Path | None = typer.Option(
        None,
        "--reference",
        help="Real music: a folder of MIDI files or a prepared corpus (its test split). "
        "Default: data/music21 when it exists.",
    ),
) -> None:
    """Generate for a prompt set (or take existing files) and measure the music."""
    from ..evaluate.prompts import load_prompts
    from ..evaluate.report import write_report
    from ..evaluate.suite import evaluate_folder, generate_for_prompts, reference_pieces

    if (prompts is None) == (generated is None):
        raise BadInputError("give either --prompts FILE (to generate) or --generated DIR")
    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        raise BadInputError(f"--seeds must be comma-separated integers, not {seeds!r}") from None
    if not seed_list:
        raise BadInputError("--seeds names no seed")
    if reference is None and DEFAULT_REFERENCE.is_dir():
        reference = DEFAULT_REFERENCE
    ref = None
    if reference is not None:
        with _task("measuring the reference"):
            ref = reference_pieces(reference)
    if prompts is not None:
        from ..api import Composer

        prompt_list = load_prompts(prompts)
        composer = Composer.load(model)
        with _task("generating", len(prompt_list) * len(seed_list)) as update:
            pieces = generate_for_prompts(
                composer, prompt_list, seed_list, out_dir,
                progress=lambda done, total: update(done, total, "pieces"),
            )  # fmt: skip
    else:
        pieces = evaluate_folder(generated)
    from ..evaluate.suite import compare

    result = compare(pieces, ref)
    write_report(result, pieces, ref, out_dir)
    out.print(f"evaluated {len(pieces)} pieces; report in {out_dir / 'report.md'}")


@app.command("serve")
def serve_cmd(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (loopback by default)."),
    port: int = typer.Option(8000, help="TCP port."),
    model: Path | None = typer.Option(
        None, "--model", help="Model or run folder (default: shipped)."
    ),
    workers: int = typer.Option(1, help="Server processes; each loads the model once."),
    concurrency: int = typer.Option(2, help="Generations running at once in each process."),
    queue: int = typer.Option(8, help="Requests waiting per process before 429."),
    timeout: float = typer.Option(60.0, help="Per-request time limit in seconds (then 504)."),
    threads: int | None = typer.Option(
        None, help="Torch threads per process (default 1: fastest for the small model)."
    ),
) -> None:
    """Serve the HTTP API and the web page (open http://HOST:PORT/)."""
    import uvicorn

    from ..serve import ServeSettings, uvicorn_target

    if not 1 <= port <= 65535:
        raise BadInputError(f"--port must be 1-65535, not {port}")
    for flag, value, low in (("--concurrency", concurrency, 1), ("--queue", queue, 0)):
        if value < low:
            raise BadInputError(f"{flag} must be >= {low}, not {value}")
    if timeout <= 0 or (threads is not None and threads < 1):
        raise BadInputError("--timeout must be > 0 and --threads >= 1")
    settings = ServeSettings(
        model=str(model) if model else None,
        max_concurrent=concurrency,
        max_queue=queue,
        timeout_s=timeout,
        torch_threads=threads,
    )
    target, options = uvicorn_target(settings, workers)
    err.print(f"tunesmith serving on http://{host}:{port}/ (API docs at /docs)", markup=False)
    uvicorn.run(target, host=host, port=port, log_level="info", **options)


def main() -> None:
    """Entry point: run the app, turning user errors into one line and an exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        app(standalone_mode=False)
    except TunesmithError as e:
        err.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        sys.exit(130)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        sys.exit(1)
    except Exception as e:  # click usage errors and anything unforeseen: one line, no traceback
        import click

        if isinstance(e, click.ClickException):
            err.print(f"error: {e.format_message()}", markup=False, highlight=False, soft_wrap=True)
            sys.exit(e.exit_code)
        if os.environ.get("TUNESMITH_DEBUG"):
            raise
        err.print(f"error: {type(e).__name__}: {e}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(1)
