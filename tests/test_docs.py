"""The docs describe the present and every published number can be traced to its run.

- README.md's measured table is what the results JSONs say (benchmarks/readme_table.py).
- Every results JSON records the command, the commit and the model hash that made it.
- Reference docs and README do not narrate history; histories live in docs/experiments/.
- Run logs are not part of the repository.

JSON and text only: no model is loaded.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RESULTS = sorted((REPO / "benchmarks" / "results").glob("*.json")) + [
    REPO / "docs" / "eval_shipped" / "metrics.json"
]
REFERENCE_DOCS = sorted((REPO / "docs").glob("*.md")) + [REPO / "README.md"]


def _readme_table():
    spec = importlib.util.spec_from_file_location(
        "readme_table", REPO / "benchmarks" / "readme_table.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_table_matches_the_results_jsons():
    problems = _readme_table().check()
    assert not problems, "\n".join(problems)


def test_readme_table_check_sees_a_changed_number(tmp_path):
    table = _readme_table()
    readme = tmp_path / "README.md"
    text = (REPO / "README.md").read_text()
    fd = json.loads((REPO / "docs" / "eval_shipped" / "metrics.json").read_text())["realism"]
    shown = f"{fd['frechet_distance']:.2f} (real vs real"
    assert shown in text
    readme.write_text(text.replace(shown, f"{fd['frechet_distance'] + 1:.2f} (real vs real"))
    assert table.check(readme)
    assert table.write(readme) and not table.check(readme)


@pytest.mark.parametrize("path", RESULTS, ids=lambda p: p.name)
def test_results_json_records_its_provenance(path):
    data = json.loads(path.read_text())
    command = data.get("command")
    assert isinstance(command, str) and command.strip(), f"{path.name}: no command"
    assert re.fullmatch(r"[0-9a-f]{40}", str(data.get("commit"))), f"{path.name}: no commit"
    assert "model_sha256" in data, f"{path.name}: no model_sha256"
    shas = data["model_sha256"]
    for sha in shas.values() if isinstance(shas, dict) else [shas]:
        assert sha is None or re.fullmatch(r"[0-9a-f]{64}", sha), f"{path.name}: bad hash"
    if shas is None or (isinstance(shas, dict) and None in shas.values()):
        # a missing hash must say why (no model used, or a run folder that was not kept)
        assert data.get("provenance"), f"{path.name}: a null model hash without a reason"


HISTORY = re.compile(
    r"this session|the seed study|seed's roadmap|\bform[5-8]\b|logs/[\w.-]+\.log"
    r"|\bin (?:an|the) earlier run\b|\bbefore this\b",
    re.IGNORECASE,
)


@pytest.mark.parametrize("path", REFERENCE_DOCS, ids=lambda p: p.name)
def test_reference_docs_describe_the_present(path):
    hits = [
        f"{path.name}:{n}: {line.strip()}"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if HISTORY.search(line)
    ]
    assert not hits, "history belongs in docs/experiments/:\n" + "\n".join(hits)


def test_experiment_records_are_dated():
    records = sorted((REPO / "docs" / "experiments").glob("*.md"))
    assert records
    for record in records:
        assert re.fullmatch(r"\d{4}-\d{2}-[a-z0-9-]+\.md", record.name), record.name


def test_docs_links_resolve():
    for path in REFERENCE_DOCS + sorted((REPO / "docs" / "experiments").glob("*.md")):
        for target in re.findall(r"\]\(([^)#]+)\)", path.read_text()):
            if "://" in target:
                continue
            assert (path.parent / target).exists(), f"{path.name}: broken link {target}"


def test_run_logs_are_not_tracked():
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "ls-files", "logs"], capture_output=True, text=True
        )
    except OSError:
        pytest.skip("git is not available")
    if out.returncode != 0:
        pytest.skip("not a git checkout")
    tracked = [f for f in out.stdout.split() if f.endswith(".log")]
    assert not tracked, f"run logs are committed: {tracked}"
