"""The groove library on the command line: `tunesmith styles`."""

from __future__ import annotations

import typer

from .ui import out


def styles_cmd(
    as_json: bool = typer.Option(False, "--json", help="One JSON object per style."),
) -> None:
    """List the arrangement styles of the groove library (for --arrangement)."""
    from ..arrange.library import load_library
    from ..conditioning.instruments import program_name

    def programs(roles: dict[str, int]) -> dict[str, str]:
        return {r: "drum kit" if p < 0 else program_name(p) for r, p in roles.items()}

    library = load_library()
    if as_json:
        import json

        for style in library.values():
            row = {
                "name": style.name,
                "title": style.title,
                "meters": list(style.meters),
                "feel": style.feel,
                "swing": style.swing,
                "tempo": {"min": style.tempo[0], "default": style.tempo[1], "max": style.tempo[2]},
                "instruments": programs(style.instruments),
                "aliases": list(style.aliases),
                "description": style.description,
            }
            out.print(json.dumps(row), markup=False, highlight=False, soft_wrap=True)
        return
    for style in library.values():
        roles = programs({r: p for r, p in style.instruments.items() if r != "melody"})
        lo, default, hi = style.tempo
        band = ", ".join(f"{r}: {p}" if r != "drums" else "drums" for r, p in roles.items())
        out.print(
            f"[bold]{style.name}[/bold]  {' '.join(style.meters)} · {style.feel_text} · "
            f"{lo:g}-{hi:g} bpm (default {default:g})",
            highlight=False,
        )
        out.print(f"    {style.description}", markup=False, highlight=False)
        out.print(f"    {band}", markup=False, highlight=False)
    out.print(
        f"{len(library)} styles; the model writes the melody, the drums, bass and comping "
        "are patterns from the library (docs/ARRANGE.md)"
    )


def register(app: typer.Typer) -> None:
    app.command("styles")(styles_cmd)
