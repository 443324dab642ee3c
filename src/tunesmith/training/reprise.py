"""Fit the reprise gate (generate/reprise.py) on the corpus's own labelled sections.

For each piece whose repeat structure data/sections.py recognises, and each labelled
phrase after the first, the frozen model reads what a training crop gives it (batches.py:
the opening phrase, then the section under its Section label) and we record, at each
token of the labelled phrase, the model's log-probability of the true token, the theme
token at the same place (ThemeAligner) and the gate's features. The gate's weights for
each label then maximise the likelihood of the mixture

    (1 - g) p_model(y) + g [y == reference]

over those tokens. Only a few dozen numbers are learned, so a few thousand sections fit
in minutes on a CPU; the transformer's weights are not touched.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..conditioning.controls import MAX_BARS, Controls
from ..data.dataset import TokenDataset
from ..data.sections import context_first_bar, phrase_length, section_of_bar
from ..generate.reprise import N_FEATURES, CopyGate, ThemeAligner, features, token_kinds
from ..model.transformer import MusicTransformer

LABELS = ("A", "B")


def section_examples(ds: TokenDataset, split: str, block_size: int, limit: int | None = None):
    """(prefix ids, context ids, theme ids, section ids, label) per labelled later phrase.

    The context is the opening phrase (its last whole bars within half the block, as in
    training crops); the theme the aligner follows is the whole opening phrase.
    """
    tok = ds.tokenizer
    found = 0
    for i in ds.split_indexes(split):
        ids, bars = ds.piece_ids(int(i)), ds.piece_bars(int(i))
        labels = section_of_bar(tok, ids, bars)
        if not labels:
            continue
        length = phrase_length(len(bars))
        ends = [*bars.tolist(), len(ids)]
        theme = [int(t) for t in ids[: ends[length]]]
        first = context_first_bar(ends, length, block_size // 2)  # as batches.py crops it
        context = theme[ends[first] :]
        c = ds.pieces[int(i)]["controls"]
        total = int(ds.pieces[int(i)].get("bars") or len(bars))
        for start, label in sorted(labels.items()):
            if start == 0 or label not in LABELS:
                continue
            section = [int(t) for t in ids[ends[start] : ends[min(start + length, len(bars))]]]
            controls = Controls(
                style=c.get("style"), key=c.get("key"), meter=c.get("meter"),
                tempo=c.get("tempo"), instruments=c.get("instruments") or None,
                bars=max(1, min(MAX_BARS, total - start + length - first)), section=label,
            )  # fmt: skip
            prefix = tok.prefix_ids(controls)
            room = block_size + 1 - len(prefix) - len(context)
            if room < 8:
                continue
            yield prefix, context, theme, section[:room], label
            found += 1
            if limit is not None and found >= limit:
                return


@torch.inference_mode()
def collect(
    model: MusicTransformer,
    ds: TokenDataset,
    split: str,
    limit: int | None = None,
    batch_size: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, np.ndarray]:
    """Per token of every labelled phrase: label, features, log p(true), reference hit."""
    tok = ds.tokenizer
    kinds = token_kinds(tok)
    examples = list(section_examples(ds, split, model.cfg.block_size, limit))
    rows: dict[str, list] = {"label": [], "features": [], "lp_true": [], "hit": [], "has_ref": []}
    for s in range(0, len(examples), batch_size):
        chunk = examples[s : s + batch_size]
        seqs = [p + c + sec for p, c, _, sec, _ in chunk]
        width = max(len(q) for q in seqs) - 1
        idx = torch.full((len(seqs), width), tok.pad_id, dtype=torch.long)
        for b, q in enumerate(seqs):
            idx[b, : len(q) - 1] = torch.tensor(q[:-1])
        logp = torch.log_softmax(model(idx).float(), dim=-1).numpy()
        for b, (prefix, context, theme, section, label) in enumerate(chunk):
            aligner = ThemeAligner(theme, tok.bar_id)
            first = len(prefix) + len(context) - 1  # the logits row that predicts section[0]
            for j, y in enumerate(section):
                row = logp[b, first + j]
                ref = aligner.reference
                rows["label"].append(LABELS.index(label))
                rows["lp_true"].append(float(row[y]))
                rows["has_ref"].append(ref is not None)
                rows["hit"].append(ref == y)
                rows["features"].append(
                    features(aligner, float(row[ref]), int(kinds[ref]))
                    if ref is not None
                    else np.zeros(N_FEATURES)
                )
                aligner.observe(y)
        if progress:
            progress(min(s + batch_size, len(examples)), len(examples))
    out = {k: np.asarray(v) for k, v in rows.items()}
    out["sections"] = np.asarray(
        [LABELS.index(e[4]) for e in examples], dtype=np.int64
    )  # one per example, for the record
    return out


def _mixture_nll(w: torch.Tensor, data: dict[str, torch.Tensor], label_rows: torch.Tensor):
    """Mean negative log-likelihood of the mixture over all tokens (those without a
    reference keep the model's own probability). label_rows picks each token's weights."""
    z = (w[label_rows] * data["features"]).sum(-1)
    g = torch.sigmoid(z).clamp(1e-6, 1 - 1e-6)
    p = torch.exp(data["lp_true"])
    mixed = torch.log((1 - g) * p + g * data["hit"])
    nll = torch.where(data["has_ref"], -mixed, -data["lp_true"])
    return nll.mean()


def _tensors(data: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {
        "features": torch.as_tensor(data["features"], dtype=torch.float64),
        "lp_true": torch.as_tensor(data["lp_true"], dtype=torch.float64),
        "hit": torch.as_tensor(data["hit"], dtype=torch.float64),
        "has_ref": torch.as_tensor(data["has_ref"], dtype=torch.bool),
        "label": torch.as_tensor(data["label"], dtype=torch.long),
    }


def fit_gate(data: dict[str, np.ndarray], steps: int = 300, fitted_on: dict | None = None):
    """Weights per label maximising the mixture likelihood (L-BFGS, full batch)."""
    t = _tensors(data)
    w = torch.zeros(len(LABELS), t["features"].shape[1], dtype=torch.float64)
    w[:, 0] = -2.0  # start from a gate that rarely copies
    w.requires_grad_(True)
    opt = torch.optim.LBFGS([w], lr=0.5, max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = _mixture_nll(w, t, t["label"]) + 1e-4 * (w**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return CopyGate(list(LABELS), w.detach().numpy().copy(), fitted_on)


def gate_losses(gate: CopyGate, data: dict[str, np.ndarray]) -> dict:
    """Mean token loss of each label's phrases: the model alone, the gate under the true
    label, and under the other label (a gate that learned the labels does best on the
    true one)."""
    t = _tensors(data)
    w = torch.as_tensor(gate.weights, dtype=torch.float64)
    order = [gate.labels.index(x) for x in LABELS]
    w = w[order]
    result = {}
    for k, label in enumerate(LABELS):
        sel = t["label"] == k
        if not bool(sel.any()):
            continue
        part = {name: v[sel] for name, v in t.items()}
        own = torch.full((int(sel.sum()),), k, dtype=torch.long)
        other = torch.full_like(own, 1 - k)
        result[label] = {
            "tokens": int(sel.sum()),
            "reference_hit_rate": round(float(part["hit"][part["has_ref"]].mean()), 4),
            "loss_model_alone": round(float(-part["lp_true"].mean()), 4),
            "loss_true_label": round(float(_mixture_nll(w, part, own)), 4),
            "loss_other_label": round(float(_mixture_nll(w, part, other)), 4),
        }
    return result


def train_reprise(
    model_path: str | Path | None,
    corpus: str | Path,
    out: str | Path | None = None,
    sections: int = 3000,
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[CopyGate, dict, Path]:
    """Fit the gate for a model on a prepared corpus; saves reprise.json into `out` (default:
    the model's folder) and returns (gate, report, path). The report gives the token losses
    of the validation split's labelled phrases with and without the gate."""
    from ..data.dataset import build_token_dataset, load_token_dataset
    from ..errors import BadInputError
    from ..model.folder import resolve_model_dir
    from ..tokens.tokenizer import MusicTokenizer

    if sections < 1:
        raise BadInputError("the number of sections must be at least 1", field="sections")
    if model_path is None and out is None:  # never rewrite the installed package quietly
        raise BadInputError(
            "give an output folder for the shipped model with the new gate", field="out_dir"
        )
    folder = resolve_model_dir(model_path)
    out = Path(out) if out is not None else folder
    if out.exists() and not out.is_dir():
        raise BadInputError(f"the output folder {str(out)!r} is a file", field="out_dir")
    tokenizer = MusicTokenizer.load(folder)
    tokens_dir = Path(corpus) / "tokens" / tokenizer.dir_name
    if not (tokens_dir / "index.json").is_file():
        if not (Path(corpus) / "pieces.jsonl").is_file():
            raise BadInputError(
                f"{str(corpus)!r} is not a prepared corpus (no pieces.jsonl); "
                "make one with 'tunesmith prepare'"
            )
        build_token_dataset(
            corpus, tokenizer.name, progress=progress, extensions=tokenizer.extensions
        )  # as 'train' does
    ds = load_token_dataset(tokens_dir)
    if ds.tokenizer.vocab_size != tokenizer.vocab_size:
        raise BadInputError("the corpus was tokenized with another vocabulary than the model's")
    model = MusicTransformer.load(folder)
    if tokenizer.bar_id is None:
        raise BadInputError("the reprise gate needs a bar-based tokenization (REMI, REMI+)")
    seen = {}
    for split, limit in (("train", sections), ("val", max(1, sections // 5))):
        step = (lambda d, t, s=split: progress(s, d, t)) if progress else None
        seen[split] = collect(model, ds, split, limit, progress=step)
    if not len(seen["train"]["lp_true"]):
        raise BadInputError(f"no labelled sections (A/B) in the train split of {str(corpus)!r}")
    report = {
        "corpus": str(corpus),
        "sections": {s: int(len(d["sections"])) for s, d in seen.items()},
        "tokens": {s: int(len(d["lp_true"])) for s, d in seen.items()},
    }
    gate = fit_gate(seen["train"], fitted_on=report)
    report["train"] = gate_losses(gate, seen["train"])
    report["val"] = gate_losses(gate, seen["val"]) if len(seen["val"]["lp_true"]) else {}
    gate.fitted_on = report
    out.mkdir(parents=True, exist_ok=True)
    if out.resolve() != folder.resolve():  # a complete model folder: the model, then the gate
        from ..fileio import atomic_write_bytes

        for name in ("model.safetensors", "config.json", "tokenizer.json"):
            atomic_write_bytes(out / name, (folder / name).read_bytes())
    path = gate.save(out)
    return gate, report, path
