"""Your own style: `tunesmith finetune DIR --out NAME` and `tunesmith models`.

`finetune` shows a progress bar for each stage (prepare, tokenize, train with its ETA), the
validation loss before and after, and where the model went; `--model NAME` then finds it in
every command. Ctrl-C during training keeps the best weights so far (`--resume` goes on).
"""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import BadInputError
from .options import Json, Model, Quiet
from .ui import note, out, result, task, warn


def finetune_cmd(
    folder: Path = typer.Argument(..., help="Folder of MIDI files in one style (10-200 files)."),
    out_name: str = typer.Option(
        ..., "--out", help="Name of the new model (then: --model NAME in every command)."
    ),
    captions: Path | None = typer.Option(
        None, "--captions", help="MidiCaps-style captions (JSON lines or CSV)."
    ),
    minutes: float | None = typer.Option(
        None, "--minutes", help="Minutes of training (default 15; stops early when done)."
    ),
    style_name: str | None = typer.Option(
        None, "--style-name", help="The style's prompt word (default: the model name)."
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted fine-tune."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace a model of that name (once the new one is complete)."
    ),
    adapter: str | None = typer.Option(
        None,
        "--adapter",
        help="full: train every weight (default); lora: low-rank adapters, merged when saved.",
    ),
    model: Model = None,
    workers: int | None = typer.Option(None, help="Worker processes (default: all cores)."),
    quiet: Quiet = False,
    as_json: Json = False,
) -> None:
    """Fine-tune the model on a folder of MIDI files: your own style in minutes."""
    from ..model.folder import check_model_name, user_model_path
    from ..training.finetune import StyleFinetune, default_style_name, run_folder

    name = check_model_name(out_name)
    if (run_folder(name) / "finetune.json").is_file() and not (overwrite or resume):
        raise BadInputError(
            f"an unfinished fine-tune named {name!r} exists; give --resume to continue it, or "
            "--overwrite to start again"
        )
    if (user_model_path(name) / "model.safetensors").is_file() and not (overwrite or resume):
        raise BadInputError(
            f"a model named {name!r} exists already; give --overwrite to replace it, or "
            "another --out NAME"
        )
    if style_name is None and not resume:
        try:
            default_style_name(name)
        except BadInputError as e:
            raise BadInputError(f"{e}; give --style-name WORD") from None
    job = StyleFinetune(
        folder, name, model, captions, minutes, style_name, resume, overwrite, workers, adapter
    )
    if job.resuming:
        note(f"resuming the fine-tune {name!r} ({job.run_dir})")
    with task("preparing MIDI files") as update:
        report = job.prepare(update)
    note(report.summary())
    with task("tokenizing") as update:
        job.tokenize(lambda stage, done, total: update(done, total, stage))
    with task("measuring the model before") as update:
        before = job.validation_loss_before()
    note(
        f"style word {job.style_name!r} (style control: {job.style}); validation loss "
        f"before: {before:.3f}; training ({job.adapter}) for up to {job.minutes:g} minutes"
    )
    with task(f"fine-tuning {name}") as update:
        job.train(update)
    res = job.publish()
    data = res.to_dict()
    if not res.saved:
        warn("interrupted before the first validation: nothing was saved; --resume continues")
        raise typer.Exit(130)
    after = f"{res.val_loss_after:.3f}" if res.val_loss_after is not None else "?"
    why = " (stopped early: no longer improving)" if res.stopped_early else ""
    if res.interrupted:
        warn(
            f"interrupted: the best model so far is saved as {name!r}; --resume continues "
            "the fine-tune"
        )
    if res.val_loss_after is not None and res.val_loss_after > before:
        warn(
            "the validation loss did not improve on the base model's: the base may know this "
            "style already, or it needs more minutes (--minutes)"
        )
    result(
        f"validation loss {before:.3f} -> {after} after {res.steps} step{'' if res.steps == 1 else 's'} "
        f"({res.train_minutes:.1f} min){why}\n"
        f"model {name!r} in {res.path}: use --model {name} and the word "
        f"{res.style_name!r} in prompts (samples in {res.path / 'samples'})",
        data,
    )
    if res.interrupted:
        raise typer.Exit(130)


def models_cmd(
    as_json: bool = typer.Option(False, "--json", help="One JSON object per model."),
) -> None:
    """List your models (fine-tuned styles): style words, sizes, validation losses."""
    import json

    from ..model.folder import list_user_models, user_models_dir

    models = list_user_models()
    if as_json:
        for m in models:
            out.print(json.dumps(m), markup=False, highlight=False, soft_wrap=True)
        return
    if not models:
        out.print(
            f"no models in {user_models_dir()} yet; make one with "
            "'tunesmith finetune FOLDER --out NAME'",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return
    for m in models:
        words = ", ".join(f"{word} ({style})" for word, style in m["styles"].items())
        params = f"{m['parameters'] / 1e6:.1f} M parameters" if m["parameters"] else "?"
        before, after = m["val_loss_before"], m["val_loss_after"]
        parts = [f"style words: {words or '-'}", f"{params}, {m['bytes'] / 2**20:.1f} MB"]
        if before is not None and after is not None:
            parts.append(f"validation loss {before:.3f} -> {after:.3f}")
        if m["minutes"] is not None and m["pieces"]:
            how = f" ({m['adapter']})" if m.get("adapter") else ""
            parts.append(f"{m['minutes']:.1f} min{how} on {sum(m['pieces'].values())} pieces")
        if not m["complete"]:
            parts.append("interrupted: --resume goes on")
        out.print(
            f"[bold]{m['name']}[/bold]  " + " · ".join(parts), highlight=False, soft_wrap=True
        )
    out.print(f"in {user_models_dir()}", markup=False, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("finetune")(finetune_cmd)
    app.command("models")(models_cmd)
