"""Measuring music: `metrics` for files, `evaluate` for a prompt set or a folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..errors import BadInputError
from .options import Json, Model, OldOut, Quiet, out_folder
from .ui import out, result, task, warn

DEFAULT_REFERENCE = Path("data/music21")
ReportDir = Annotated[
    Path | None, typer.Option("--out-dir", help="Folder for report.md, metrics.json, plots.")
]


def metrics_cmd(
    files: list[Path] = typer.Argument(..., help="MIDI or ABC files."),
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


def evaluate_cmd(
    out_dir: ReportDir = None,
    prompts: Path | None = typer.Option(
        None, "--prompts", help="Prompt set (JSONL) to generate for, e.g. prompts/eval.jsonl."
    ),
    model: Model = None,
    seeds: str = typer.Option("1", "--seeds", help="Comma-separated seeds, e.g. 1,2,3."),
    limit: int | None = typer.Option(
        None, "--limit", help="Only the first N prompts of the set (a quick look)."
    ),
    generated: Path | None = typer.Option(
        None, "--generated", help="Evaluate existing MIDI files in this folder instead."
    ),
    reference: Path | None = typer.Option(
        None,
        "--reference",
        help="Real music: a folder of MIDI files or a prepared corpus (its test split). "
        "Default: data/music21 when it exists.",
    ),
    old_out: OldOut = None,
    quiet: Quiet = False,
    as_json: Json = False,
) -> None:
    """Generate for a prompt set (or take existing files) and measure the music."""
    from ..evaluate.prompts import load_prompts
    from ..evaluate.report import write_report
    from ..evaluate.suite import evaluate_folder, generate_for_prompts, reference_pieces

    report_dir = out_folder(out_dir, old_out)
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
        with task("measuring the reference"):
            ref = reference_pieces(reference)
    if prompts is not None:
        from ..api import Composer

        prompt_list = load_prompts(prompts)
        if limit is not None:
            if limit < 1:
                raise BadInputError(f"--limit must be 1 or more, not {limit}")
            prompt_list = prompt_list[:limit]
        composer = Composer.load(model)
        with task("generating", len(prompt_list) * len(seed_list)) as update:
            pieces = generate_for_prompts(
                composer, prompt_list, seed_list, report_dir,
                progress=lambda done, total: update(done, total, "pieces"),
            )  # fmt: skip
    else:
        assert generated is not None  # one of the two, checked above
        pieces = evaluate_folder(generated)
    from ..evaluate.suite import compare

    report = compare(pieces, ref)
    write_report(report, pieces, ref, report_dir)
    for warning in report.get("warnings", []):
        warn(warning)
    result(
        f"evaluated {len(pieces)} pieces; report in {report_dir / 'report.md'}",
        {
            "pieces": len(pieces),
            "report": str(report_dir / "report.md"),
            "metrics": str(report_dir / "metrics.json"),
            "attribute_accuracy": {
                k: v["accuracy"] for k, v in report.get("attribute_accuracy", {}).items()
            },
            "warnings": report.get("warnings", []),
        },
    )


def register(app: typer.Typer) -> None:
    app.command("metrics")(metrics_cmd)
    app.command("evaluate")(evaluate_cmd)
