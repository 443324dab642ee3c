"""A model folder is checked before anything is allocated: absurd or inconsistent configs."""

from __future__ import annotations

import json
import shutil

import pytest
from tests.conftest import assert_one_line_error, run_cli

from tunesmith.errors import CheckpointError
from tunesmith.model.folder import default_model_path
from tunesmith.model.transformer import MusicTransformer


@pytest.fixture
def folder(tmp_path):
    dst = tmp_path / "model"
    shutil.copytree(default_model_path(), dst)
    return dst


def set_model(folder, **values) -> None:
    path = folder / "config.json"
    cfg = json.loads(path.read_text())
    cfg["model"].update(values)
    path.write_text(json.dumps(cfg))


@pytest.mark.parametrize(
    "values, fragment",
    [
        ({"n_layer": 1e9}, "whole number"),
        ({"n_layer": 10**9}, "between 1 and 256"),
        ({"d_model": True}, "whole number"),
        ({"n_layer": 7}, "config says 7 layers, weights hold 6"),
        ({"vocab_size": 700}, "tok_emb.weight"),
        ({"block_size": 256}, "pos_emb.weight"),
        ({"dropout": 3}, "dropout"),
    ],
)
def test_bad_configs_are_refused_before_loading(folder, values, fragment):
    set_model(folder, **values)
    for check in (MusicTransformer.check_folder, MusicTransformer.load):
        with pytest.raises(CheckpointError, match=fragment):
            check(folder)


def test_the_shipped_model_passes(folder):
    assert MusicTransformer.check_folder(folder).n_layer == 6


def test_serve_refuses_a_bad_model_before_it_says_it_is_serving(folder):
    set_model(folder, n_layer=7)
    res = run_cli("serve", "--model", folder, "--port", "8799", timeout=60)
    assert_one_line_error(res, "config says 7 layers")
    assert "serving on" not in res.stdout
