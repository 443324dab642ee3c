"""docs/ERRORS.md is generated from the tests' error lines and is not stale.

- ERRORS.md is exactly what benchmarks/error_catalog.py renders from docs/errors.json;
- every fragment a test asserts with `assert_one_line_error(..., "literal")` appears in a
  catalogued message (a new error test means: run `python benchmarks/error_catalog.py`).
JSON and text only: nothing runs.
"""

from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _catalog_module():
    spec = importlib.util.spec_from_file_location(
        "error_catalog", REPO / "benchmarks" / "error_catalog.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def asserted_fragments() -> list[tuple[str, str]]:
    """(file, fragment) for every literal fragment given to assert_one_line_error."""
    found = []
    for path in sorted((REPO / "tests").rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "assert_one_line_error"
                and len(node.args) == 2
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
            ):
                found.append((str(path.relative_to(REPO)), node.args[1].value))
    return found


def test_errors_doc_is_rendered_from_the_catalog():
    module = _catalog_module()
    catalog = json.loads((REPO / "docs" / "errors.json").read_text())
    assert catalog["messages"], "an empty catalog"
    assert (REPO / "docs" / "ERRORS.md").read_text() == module.render_markdown(catalog)


def test_every_asserted_error_is_in_the_catalog():
    catalog = json.loads((REPO / "docs" / "errors.json").read_text())
    messages = [e["message"] for e in catalog["messages"]]
    fragments = asserted_fragments()
    assert len(fragments) > 20
    missing = [f"{f}: {frag!r}" for f, frag in fragments if not any(frag in m for m in messages)]
    assert not missing, (
        "docs/ERRORS.md is stale; run python benchmarks/error_catalog.py\n" + "\n".join(missing)
    )
