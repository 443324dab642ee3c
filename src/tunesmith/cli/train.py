"""Training commands: `train`, `train-reprise`, and `export-onnx` for a model trained elsewhere."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from ..errors import BadInputError
from .options import Json, Model, OldOut, Quiet, out_folder
from .ui import result, task

RunDir = Annotated[
    Path | None, typer.Option("--out-dir", help="Run folder (checkpoints, logs, samples).")
]
GateDir = Annotated[
    Path | None,
    typer.Option(
        "--out-dir", help="Folder for the model with its gate (default: the --model folder)."
    ),
]


def train_cmd(
    config: Path = typer.Option(..., "--config", help="YAML run config (configs/tiny.yaml, ...)."),
    out_dir: RunDir = None,
    data: Path | None = typer.Option(
        None, "--data", help="Prepared corpus (default: the config's)."
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out-dir exactly."),
    max_steps: int | None = typer.Option(None, "--max-steps", help="Override the config's steps."),
    old_out: OldOut = None,
    quiet: Quiet = False,
    as_json: Json = False,
) -> None:
    """Train a model (also under `torchrun --nproc_per_node N`)."""
    from ..training.trainer import RunConfig, Trainer

    cfg = RunConfig.load(config)
    run_dir = out_folder(out_dir, old_out)
    rank = int(os.environ.get("RANK", "0"))
    trainer = Trainer(cfg, run_dir, data, resume, max_steps)
    total = max_steps or cfg.optim.max_steps
    if rank != 0:
        trainer.run()
        _leave_process_group()
        return
    with task(f"training {cfg.name}", total) as update:
        update(trainer.step, total)

        def on_step(info: dict) -> None:
            update(
                info["step"],
                total,
                f"loss {info['loss']:.3f}  {info['tokens_per_s']:.0f} tok/s",
            )

        trainer.on_step = on_step
        last = trainer.run()
    _leave_process_group()
    result(
        f"done: step {trainer.step}, val loss {last.get('val_loss', float('nan')):.4f}; "
        f"model in {run_dir / 'model'}",
        {"step": trainer.step, "val_loss": last.get("val_loss"), "model": str(run_dir / "model")},
    )


def _leave_process_group() -> None:
    """Under torchrun, leave the process group before exit: gloo's threads torn down at
    interpreter exit can abort a process that finished its work."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def train_reprise_cmd(
    data: Path = typer.Option(
        ..., "--data", help="Prepared corpus (tokenized first if it is not yet)."
    ),
    model: Model = None,
    out_dir: GateDir = None,
    sections: int = typer.Option(3000, "--sections", help="Labelled sections to fit on."),
    old_out: OldOut = None,
    quiet: Quiet = False,
    as_json: Json = False,
) -> None:
    """Fit the reprise gate that lets Section_A bring the theme back (docs/LONGFORM.md)."""
    from ..training.reprise import train_reprise

    target = out_folder(out_dir, old_out, required=False)
    if model is None and target is None:  # the library never rewrites the installed package
        raise BadInputError("give --out-dir FOLDER for the shipped model with the new gate")
    with task("reading sections") as update:
        _, report, path = train_reprise(
            model, data, target, sections, lambda s, d, t: update(d, t, s)
        )
    lines = [
        f"{split} {label}: loss {r['loss_model_alone']:.3f} alone, "
        f"{r['loss_true_label']:.3f} with the gate, "
        f"{r['loss_other_label']:.3f} under the other label ({r['tokens']} tokens)"
        for split in ("train", "val")
        for label, r in report.get(split, {}).items()
    ]
    result("\n".join([*lines, f"saved {path}"]), {"report": report, "saved": str(path)})


def export_onnx_cmd(
    model: Path = typer.Argument(..., help="Model folder (config.json + model.safetensors)."),
    quiet: Quiet = False,
    as_json: Json = False,
) -> None:
    """Write model.onnx beside a model's weights, so it runs without PyTorch (--backend onnx).

    Models saved by `tunesmith train` and `finetune` get it already when the onnx package
    is installed; this is for folders saved without it. The graph reads the weights from
    model.safetensors, so it adds about 25 kB. Needs `pip install onnx`.
    """
    import importlib.util

    from ..model.folder import resolve_model_dir

    if importlib.util.find_spec("onnx") is None:
        raise BadInputError("export-onnx needs the onnx package: pip install onnx")
    from ..model.onnx_export import export_onnx

    folder = resolve_model_dir(model)
    path = export_onnx(folder)
    result(f"saved {path}", {"saved": str(path)})


def register(app: typer.Typer) -> None:
    app.command("train")(train_cmd)
    app.command("train-reprise")(train_reprise_cmd)
    app.command("export-onnx")(export_onnx_cmd)
