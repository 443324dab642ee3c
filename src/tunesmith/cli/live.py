"""Live commands: `ports`, `stream` (endless music, live controls) and `serve` (HTTP)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ..errors import BadInputError
from . import options as opt
from .ui import Mode, err, note, out, result

LIVE_THREADS = (
    1  # the model's threads in a stream: measured in docs/STREAMING.md, "On a busy computer"
)


def ports_cmd() -> None:
    """List the MIDI output ports this system offers (for stream --midi-port)."""
    from ..errors import TunesmithError
    from ..stream.outputs import list_output_ports

    try:
        names = list_output_ports()
    except TunesmithError as e:  # no MIDI system at all: no ports, and why (not a failure)
        out.print(f"no MIDI output ports: {e}", markup=False, highlight=False, soft_wrap=True)
        return
    if not names:
        out.print(
            "no MIDI output ports (create one with: tunesmith stream ... --virtual-port NAME)"
        )
    for name in names:
        out.print(name)


def stream_cmd(
    prompt: str = typer.Argument(..., help="What to play, e.g. 'a chorale for strings'."),
    midi_port: str | None = typer.Option(
        None, "--midi-port", help="Play to this MIDI output port (see 'tunesmith ports')."
    ),
    virtual_port: str | None = typer.Option(
        None, "--virtual-port", help="Create a virtual MIDI port with this name and play to it."
    ),
    output: Path | None = typer.Option(
        None, "-o", "--output", help="Also record what is played to this .mid file."
    ),
    web: bool = typer.Option(
        False, "--web", help="Serve a page that plays the stream in the browser."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="With --web: address to listen on."),
    port: int = typer.Option(8000, "--port", help="With --web: port to listen on."),
    duration: float | None = typer.Option(
        None, "--duration", help="Stop after this many seconds (default: until Ctrl-C)."
    ),
    key: opt.Key = None,
    meter: opt.Meter = None,
    tempo: opt.Tempo = None,
    instruments: opt.Instruments = None,
    style: opt.Style = None,
    arrangement: str = typer.Option(
        "auto",
        "--arrangement",
        help="A band from the groove library under the model's melody, bar by bar: auto "
        "(when the prompt asks for one), none, or a style (tunesmith styles).",
    ),
    preset: opt.Preset = None,
    temperature: opt.Temperature = None,
    top_k: opt.TopK = None,
    top_p: opt.TopP = None,
    repetition_penalty: opt.RepetitionPenalty = None,
    cfg: opt.Cfg = None,
    seed: opt.Seed = None,
    key_guidance: opt.KeyGuidance = None,
    model: opt.Model = None,
    threads: int = typer.Option(
        LIVE_THREADS,
        "--threads",
        help="Threads the model decodes with (1 keeps time best next to other busy "
        "programs: docs/STREAMING.md).",
    ),
    report_json: Path | None = typer.Option(
        None, "--report", help="Write the end-of-stream figures to this JSON file."
    ),
    old_out: opt.OldOut = None,
    quiet: opt.Quiet = False,
    as_json: opt.Json = False,
) -> None:
    """Play endless music live (Ctrl-C or --duration to stop), with live key controls."""
    from ..api import Composer
    from ..stream import FileRecorder, Output, StreamSession, StreamSettings, open_output_port
    from ..stream.terminal import TerminalControls
    from .generate import _check_arrangement

    record = opt.one_of(output, old_out, "-o/--output", "--out")
    if not prompt.strip():
        raise BadInputError("the prompt is empty; describe the music to stream")
    if midi_port and virtual_port:
        raise BadInputError("use either --midi-port or --virtual-port, not both")
    if not (midi_port or virtual_port or record or web):
        raise BadInputError("nowhere to play: give --midi-port, --virtual-port, -o FILE or --web")
    if record is not None and record.suffix.lower() != ".mid":
        raise BadInputError(f"-o/--output must end in .mid, not {record.name!r}")
    _check_arrangement(arrangement)  # an unknown style: one line before the model loads
    if not 1 <= threads <= 64:
        raise BadInputError(f"--threads must be 1-64, not {threads}")
    settings = StreamSettings(duration=duration).validated()
    sampling_options = opt.sampling(
        preset, temperature, top_k, top_p, repetition_penalty, cfg, seed, key_guidance
    )
    sampling = Composer.sampling_for(**sampling_options).with_(speculative=False)
    outputs: list[Output] = [_notices()]
    if record is not None:
        outputs.append(FileRecorder(record))
    composer = Composer.load(model, threads=threads)
    controls = composer.controls_for(
        prompt, key=key, meter=meter, tempo=tempo, instruments=instruments, style=style
    )
    if midi_port or virtual_port:
        outputs.append(open_output_port(midi_port or virtual_port, virtual=bool(virtual_port)))
    session = StreamSession(
        composer, prompt, outputs, settings, sampling, controls, arrangement=arrangement
    )
    if session.band is not None:
        parts = ", ".join(
            f"{role}: {name} (channel {ch})" for role, name, ch in session.band.parts()
        )
        note(f"band: {session.band.style} from the groove library: {parts or 'no parts'}")
    if web:
        from ..serve.streams import serve_shared_stream

        note(
            f"streaming to the browser: open http://{host}:{port}/ (Stop on the page ends "
            "the stream; Quit on the page or Ctrl-C ends the server)"
        )
        report = serve_shared_stream(composer, session, host, port)
    elif TerminalControls.available():
        with TerminalControls(session):
            report = session.run()
    else:
        report = session.run()
    if Mode.json:
        result("", {**report.to_dict(), "recorded": str(record) if record else None})
    else:
        _print_stream_report(report)
    if record is not None:
        out.print(f"recorded to {record}")
    if report_json is not None:
        from ..fileio import atomic_write_json

        atomic_write_json(report_json, report.to_dict())


def _notices():
    """An output that prints the stream's warnings (the start-up calibration's) as they
    come (the stream package is imported only when a stream starts)."""
    from ..stream import Output

    class Notices(Output):
        def event(self, name: str, data: dict) -> None:
            if name == "warning":
                note(f"warning: {data['text']}")

    return Notices()


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
    if r.notes_dropped_late or r.notes_late:
        table.add_row(
            "late notes",
            f"{r.notes_late} kept their length, {r.notes_dropped_late} dropped (too late)",
        )
    if r.holds:
        table.add_row(
            "held at barlines", f"{r.holds} bars ({r.hold_s:.1f} s): decoding fell behind"
        )
    if r.economy_s:
        table.add_row("catching up (cheaper tokens)", f"{r.economy_s:.1f} s")
    if r.arrangement:
        table.add_row("band", f"{r.arrangement} ({r.band_notes} notes written)")
    table.add_row("latest message", f"{r.max_late_ms:.1f} ms after its time")
    table.add_row(
        "window shifts",
        f"{r.window_shifts} (mean {r.shift_ms_mean:.0f} ms, max {r.shift_ms_max:.0f} ms)",
    )
    for c in r.controls:
        lat = "not reached" if c["latency_bars"] is None else f"{c['latency_bars']:.2f} bars"
        table.add_row(f"control {c['name']} -> {c['value']}", lat)
    out.print(table)


def serve_cmd(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (loopback by default)."),
    port: int = typer.Option(8000, help="TCP port."),
    model: opt.Model = None,
    workers: int = typer.Option(1, help="Server processes; each loads the model once."),
    concurrency: int = typer.Option(2, help="Generations running at once in each process."),
    queue: int = typer.Option(8, help="Requests waiting per process before 429."),
    timeout: float = typer.Option(60.0, help="Per-request time limit in seconds (then 504)."),
    threads: int | None = typer.Option(
        None, help="Torch threads per process (default 1: fastest for the small model)."
    ),
    soundfont: opt.Soundfont = None,
    reverb: opt.Reverb = opt.DEFAULT_REVERB,
    loudness: opt.Loudness = "-16",
) -> None:
    """Serve the HTTP API and the web page (open http://HOST:PORT/)."""
    import uvicorn

    from ..serve import ServeSettings, uvicorn_target

    if not 1 <= port <= 65535:
        raise BadInputError(f"--port must be 1-65535, not {port}")
    for flag, value, low in (
        ("--workers", workers, 1),
        ("--concurrency", concurrency, 1),
        ("--queue", queue, 0),
    ):
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
        **opt.audio_settings(soundfont, reverb, loudness),
    )
    target, options = uvicorn_target(settings, workers)
    err.print(f"tunesmith serving on http://{host}:{port}/ (API docs at /docs)", markup=False)
    uvicorn.run(target, host=host, port=port, log_level="info", **options)


def register(app: typer.Typer) -> None:
    app.command("ports")(ports_cmd)
    app.command("stream")(stream_cmd)
    app.command("serve")(serve_cmd)
