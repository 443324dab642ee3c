"""Low-rank adapters: training starts from the base model exactly, only the adapters (and
the token embeddings) move, the change to each adapted weight has at most the adapter's
rank, and the merged weights are the model: a plain model loaded with them computes the
same logits. A LoRA fine-tune through the trainer saves a plain model that generates."""

from __future__ import annotations

import pytest
import torch
from tests.conftest import TINY_RUN

from tunesmith.errors import BadInputError
from tunesmith.model.transformer import ModelConfig, MusicTransformer
from tunesmith.training.lora import TARGETS, LoraConfig, add_lora, has_lora, merged_state
from tunesmith.training.trainer import RunConfig, Trainer

CFG = ModelConfig(vocab_size=50, n_layer=2, n_head=2, d_model=32, block_size=32, n_prefix=2)


def _pair(seed=0):
    torch.manual_seed(seed)
    base = MusicTransformer(CFG)
    tuned = MusicTransformer(CFG)
    tuned.load_state_dict(base.state_dict())
    return base, tuned


def _logits(model, idx):
    model.eval()
    with torch.no_grad():
        return model(idx)


def _train(model, params, steps=20):
    opt = torch.optim.AdamW(params, lr=1e-2)
    idx = torch.randint(0, CFG.vocab_size, (4, 16))
    for _ in range(steps):
        model.train()
        logits = model(idx)
        loss = torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, CFG.vocab_size), idx[:, 1:].reshape(-1)
        )
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_adapters_start_from_the_base_and_only_they_train():
    base, tuned = _pair()
    params = add_lora(tuned, LoraConfig(rank=4, alpha=8))
    assert has_lora(tuned) and not has_lora(base)
    idx = torch.randint(0, CFG.vocab_size, (2, 12))
    assert torch.allclose(_logits(base, idx), _logits(tuned, idx))  # B starts at zero
    trainable = {id(p) for p in tuned.parameters() if p.requires_grad}
    assert trainable == {id(p) for p in params}
    n_adapted = len(tuned.blocks) * len(TARGETS)
    assert len(params) == 2 * n_adapted + 1  # A and B per layer, the embeddings
    _train(tuned, params)
    before, after = base.state_dict(), merged_state(tuned)
    assert set(after) == set(before)
    for name, w in before.items():
        delta = after[name] - w
        adapted = name.endswith(".weight") and any(f".{t}.weight" in f".{name}" for t in TARGETS)
        if adapted:
            assert delta.abs().max() > 0
            assert torch.linalg.matrix_rank(delta) <= 4  # a rank-4 change, no more
        elif name in ("tok_emb.weight", "lm_head.weight"):
            assert delta.abs().max() > 0  # the embeddings train (tied to the output)
        else:
            assert torch.equal(delta, torch.zeros_like(delta)), name  # frozen


def test_the_merged_weights_are_the_model():
    _, tuned = _pair(1)
    params = add_lora(tuned, LoraConfig(rank=2, alpha=4, train_embeddings=False))
    _train(tuned, params)
    plain = MusicTransformer(CFG)
    plain.load_state_dict(merged_state(tuned))
    idx = torch.randint(0, CFG.vocab_size, (2, 12))
    assert torch.allclose(_logits(plain, idx), _logits(tuned, idx), atol=1e-5)


@pytest.mark.parametrize(
    "adapter, fragment",
    [
        ({"kind": "adalora"}, "kind: lora"),
        ({"kind": "lora", "rank": 0}, "rank"),
        ({"kind": "lora", "alpha": -1}, "alpha"),
        ({"kind": "lora", "dropout": 0.1}, "unknown adapter keys: dropout"),
    ],
)
def test_a_bad_adapter_config_is_one_clear_error(adapter, fragment):
    with pytest.raises(BadInputError, match=fragment):
        RunConfig.from_dict({**TINY_RUN, "adapter": adapter})


def test_a_lora_run_saves_a_plain_model_with_frozen_norms(tiny_run, tiny_corpus, tmp_path):
    cfg = dict(TINY_RUN, name="tiny-lora", init_from=str(tiny_run / "model"), samples=False)
    cfg["adapter"] = {"kind": "lora", "rank": 4, "alpha": 8}
    cfg["optim"] = {**TINY_RUN["optim"], "max_steps": 6}
    cfg["eval_every"] = 3
    trainer = Trainer(RunConfig.from_dict(cfg), tmp_path / "run", data_dir=tiny_corpus)
    trainer.run()
    saved = MusicTransformer.load(tmp_path / "run" / "model")
    base = MusicTransformer.load(tiny_run / "model")
    assert not has_lora(saved)
    s, b = saved.state_dict(), base.state_dict()
    assert torch.equal(s["blocks.0.ln_1.weight"], b["blocks.0.ln_1.weight"])  # frozen
    assert torch.equal(s["blocks.0.attn.qkv.bias"], b["blocks.0.attn.qkv.bias"])
    # adapted (the EMA averages several rank-4 changes, so their sum may have more rank)
    assert (s["blocks.0.attn.qkv.weight"] - b["blocks.0.attn.qkv.weight"]).abs().max() > 0
    # a resume picks the adapters up from the checkpoint and goes on
    cfg["optim"] = {**cfg["optim"], "max_steps": 9}
    again = Trainer(RunConfig.from_dict(cfg), tmp_path / "run", data_dir=tiny_corpus, resume=True)
    assert again.step == 6 and has_lora(again.model)
    again.run()
    assert again.step == 9
