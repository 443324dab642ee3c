"""The optional extras: a module the light install leaves out is one line naming the extra
that brings it, and anything else missing is still a bug."""

from __future__ import annotations

import pytest

from tunesmith.errors import BadInputError
from tunesmith.extras import has, missing_extra_line, require


def test_a_missing_optional_module_names_its_extra():
    assert missing_extra_line("torch.nn") == (
        "this needs torch, which the light install leaves out: pip install 'tunesmith[train]'"
    )
    assert "tunesmith[notation]" in (missing_extra_line("music21.converter") or "")
    assert missing_extra_line("numpy") is None  # a core dependency: missing means a bug
    assert missing_extra_line(None) is None


def test_require_is_silent_when_installed_and_one_line_when_not():
    assert has("numpy")
    require("numpy", "train", "arrays")
    with pytest.raises(BadInputError, match=r"pip install 'tunesmith\[notation\]'"):
        require("no_such_module_tunesmith", "notation", "sheet music")
