"""The layer rule: packages import only downward, never private names of another package.

Order, lowest first (see docs/ARCHITECTURE.md). Imports inside functions count too: a
lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import tunesmith

PACKAGE = Path(tunesmith.__file__).parent
LAYERS = [
    {"errors", "fileio", "deadline", "extras"},
    {"music"},
    {"conditioning"},
    {"tokens"},
    {"model"},
    {"render"},
    {"arrange"},
    {"generate"},
    {"data"},
    {"training"},
    {"evaluate"},
    {"api", "__init__"},
    {"stream"},
    {"serve"},
    {"cli"},
]
RANK = {name: i for i, group in enumerate(LAYERS) for name in group}


def _module_of(path: Path) -> tuple[str, str]:
    """(dotted module, package for relative imports) of a source file."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), ".".join(parts[:-1])
    return ".".join(parts), ".".join(parts[:-1])


def _unit(module: str) -> str:
    """The layer unit of a dotted module: tunesmith.<unit>..."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports() -> list[tuple[str, str, list[str], int]]:
    """(importer, imported module, names, line) for every tunesmith import in the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module, pkg = _module_of(path)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                names = [a.name for a in node.names]
                if target.startswith("tunesmith"):
                    found.append((module, target, names, node.lineno))
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("tunesmith"):
                        found.append((module, a.name, [], node.lineno))
    return found


def test_layers_import_only_downward():
    bad = []
    for importer, target, names, line in imports():
        src, dst = _unit(importer), _unit(target)
        if dst == "__init__" and names:  # `from .. import x`: x is the unit
            dst = names[0] if names[0] in RANK else dst
        if src == dst:
            continue
        assert src in RANK and dst in RANK, (importer, target)
        if RANK[dst] > RANK[src]:
            bad.append(f"{importer}:{line} imports {target} (a higher layer)")
    assert not bad, "\n".join(bad)


def test_no_private_names_across_packages():
    bad = [
        f"{importer}:{line} imports {n} from {target}"
        for importer, target, names, line in imports()
        for n in names
        if n.startswith("_") and _unit(importer) != _unit(target)
    ]
    assert not bad, "\n".join(bad)


def test_no_import_cycles_between_modules():
    graph: dict[str, set[str]] = {}
    for importer, target, names, _ in imports():
        targets = {target} | {f"{target}.{n}" for n in names}
        graph.setdefault(importer, set()).update(t for t in targets if t != importer)
    modules = set(graph)
    graph = {m: {t for t in ts if t in modules} for m, ts in graph.items()}
    # Tarjan-free check: depth-first search for a back edge.
    state: dict[str, int] = {}
    cycles = []

    def visit(m: str, trail: list[str]) -> None:
        state[m] = 1
        for t in sorted(graph.get(m, ())):
            # a package's __init__ re-exporting its own modules is not a cycle of logic
            if m == t.rsplit(".", 1)[0] or t == m.rsplit(".", 1)[0]:
                continue
            if state.get(t) == 1:
                cycles.append(" -> ".join(trail[trail.index(t) :] + [t]) if t in trail else t)
            elif t not in state:
                visit(t, trail + [t])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, "\n".join(cycles)


def test_the_rule_sees_a_violation(tmp_path):
    """The checker itself: an upward import is reported (this test can fail)."""
    assert RANK["music"] < RANK["generate"] < RANK["cli"]
    assert _unit("tunesmith.generate.engine") == "generate"
    assert _unit("tunesmith") == "__init__"
