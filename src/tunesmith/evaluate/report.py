"""Writing an evaluation: metrics.json, report.md and PNG plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..fileio import atomic_write_json, atomic_write_text
from ..music.tension import resample
from .reference import SUMMARY_KEYS


def _plt():
    from ..extras import require

    require("matplotlib", "train", "the evaluation report's figures")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_metrics_vs_real(result: dict, path: Path) -> None:
    """Each summary metric's generated mean / real mean (1 = same), with spreads."""
    plt = _plt()
    keys = [
        k for k in SUMMARY_KEYS if result["metrics"].get(k) and result["reference_metrics"].get(k)
    ]
    gen = result["metrics"]
    ref = result["reference_metrics"]
    x = np.arange(len(keys))
    fig, ax = plt.subplots(figsize=(8, 3.5))
    for off, src, label in ((-0.2, gen, "generated"), (0.2, ref, "real")):
        means = [src[k]["mean"] / ref[k]["mean"] for k in keys]
        stds = [src[k]["std"] / ref[k]["mean"] for k in keys]
        ax.bar(x + off, means, 0.4, yerr=stds, capsize=3, label=label)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xticks(x, keys)
    ax.set_ylabel("relative to the real mean")
    ax.legend()
    ax.set_title("Generated vs real music (mean ± sd)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_tension(generated, reference, path: Path) -> None:
    """Mean tension curve over the piece (0-100 %), generated and real, climax marked."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    grid = np.linspace(0, 100, 50)
    for pieces, label in ((generated, "generated"), (reference or [], "real")):
        curves = [resample(e.tension) for e in pieces if len(e.tension) >= 4]
        if not curves:
            continue
        mean = np.mean(curves, axis=0)
        (line,) = ax.plot(grid, mean, label=f"{label} ({len(curves)} pieces)")
        ax.axvline(grid[int(np.argmax(mean))], color=line.get_color(), ls="--", lw=0.8)
    ax.set_xlabel("position in the piece (%)")
    ax.set_ylabel("tension (z)")
    ax.set_title("Tension curve (density + register + tonal distance)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_heatmap(matrix, rows, cols, title: str, path: str | Path, fmt: str = "{:.2f}") -> None:
    """A labelled heatmap (used by the studies: settings x measures)."""
    plt = _plt()
    m = np.asarray(matrix, dtype=float)
    fig, ax = plt.subplots(figsize=(max(6.5, 1.2 + 1.1 * len(cols)), 1.2 + 0.45 * len(rows)))
    im = ax.imshow(m, aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if np.isfinite(m[i, j]):
                ax.text(j, i, fmt.format(m[i, j]), ha="center", va="center", color="w", fontsize=8)
    fig.colorbar(im, ax=ax)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _fmt(x, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def report_markdown(result: dict, title: str = "tunesmith evaluation") -> str:
    lines = [f"# {title}", "", f"Generated pieces: {result['pieces']}"]
    if result.get("reference_pieces"):
        lines.append(f"Reference (real) pieces: {result['reference_pieces']}")
    lines += ["", "## Music metrics", ""]
    ref = result.get("reference_metrics")
    head = "| metric | generated | real | difference |" if ref else "| metric | generated |"
    lines += [head, "|---|---:|---:|---:|" if ref else "|---|---:|"]
    for k in SUMMARY_KEYS:
        g = result["metrics"].get(k)
        if not g:
            continue
        cell = f"{g['mean']:.3f} ± {g['std']:.3f}"
        if ref and ref.get(k):
            r = ref[k]
            diff = result["relative_difference"].get(k)
            lines.append(f"| {k} | {cell} | {r['mean']:.3f} ± {r['std']:.3f} | {diff:+.1%} |")
        else:
            lines.append(f"| {k} | {cell} |")
    if result.get("attribute_accuracy"):
        lines += ["", "## Attribute accuracy (prompts that state the attribute)", ""]
        lines += ["| attribute | accuracy | requested |", "|---|---:|---:|"]
        for k, v in result["attribute_accuracy"].items():
            lines.append(f"| {k} | {v['accuracy']:.1%} | {v['requested']} |")
    for warning in result.get("warnings", []):
        lines += ["", f"**Warning:** {warning}."]
    lines += ["", "## Other measures", ""]
    lines.append(f"- token error rate: {_fmt(result.get('token_error_rate'), 4)}")
    tc = result.get("tension_climax")
    if tc:
        real_tc = result.get("reference_tension_climax")
        real = f" (real: {real_tc['mean']:.0%})" if real_tc else ""
        lines.append(f"- tension climax at {tc['mean']:.0%} of the piece on average{real}")
    if ref:
        lines.append(f"- note density ratio vs real: {result['note_density_ratio']:.3f}")
        lines.append(f"- velocity similarity vs real: {result['velocity_similarity']:.3f}")
        rz = result["realism"]
        lines.append(
            f"- Frechet distance: {rz['frechet_distance']:.3f} "
            f"(two halves of the real set: {_fmt(rz['frechet_distance_real_vs_real'])})"
        )
        lines.append(
            f"- real-vs-generated classifier accuracy: {_fmt(rz['classifier_accuracy'])} "
            "(0.5 = indistinguishable)"
        )
        lines.append(f"- features: {', '.join(rz['features'])}")
        forms = result.get("same_form", {}).get("forms", {})
        if forms:
            lines += ["", "## Same form, generated vs real", ""]
            lines += [
                "| form | generated | real | H1 | H4 | GS |",
                "|---|---:|---:|---:|---:|---:|",
            ]
            for f, e in forms.items():
                cells = [
                    f"{e[k]['generated']:.2f} vs {e[k]['real']:.2f}" if k in e else "–"
                    for k in ("H1", "H4", "GS")
                ]
                lines.append(
                    f"| {f} | {e['generated']} | {e['real']} | " + " | ".join(cells) + " |"
                )
    lines += ["", "Plots: metrics_vs_real.png, tension.png", ""]
    return "\n".join(lines)


def write_report(result: dict, generated, reference, out_dir: str | Path) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "metrics.json", result)
    per_piece = [
        {"name": e.name, "form": e.form, "hits": e.hits, "token_error_rate": e.token_error_rate,
         **{k: e.metrics.get(k) for k in (*SUMMARY_KEYS, "key", "bars", "duration_s")}}
        for e in generated
    ]  # fmt: skip
    atomic_write_json(out / "pieces.json", per_piece)
    from ..extras import has

    text = report_markdown(result)
    if not has("matplotlib"):  # the light install: the numbers without the figures
        text = text.replace(
            "Plots: metrics_vs_real.png, tension.png",
            "Plots: not drawn (they need matplotlib: pip install 'tunesmith[train]')",
        )
    atomic_write_text(out / "report.md", text)
    if not has("matplotlib"):
        return
    if reference:
        plot_metrics_vs_real(result, out / "metrics_vs_real.png")
    plot_tension(generated, reference, out / "tension.png")
