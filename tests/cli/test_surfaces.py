"""One surface: the same sampling options, under the same names, on every command, the
Python API and the server; outputs spelled one way; library messages free of CLI flags.

These tests fail when a surface drifts away from the others again.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest
import typer.main
from tests.conftest import assert_one_line_error, run_cli

import tunesmith
from tunesmith.api import Composer
from tunesmith.cli import app, error_line, flag_for
from tunesmith.conditioning.limits import ATTRIBUTES, SAMPLING_OPTIONS
from tunesmith.errors import BadInputError

SAMPLING_FLAGS = {"--" + name.replace("_", "-") for name in SAMPLING_OPTIONS}
SAMPLING_COMMANDS = ("generate", "continue", "generate-long", "stream")
PIECE_COMMANDS = ("generate", "continue", "generate-long")  # these also take --candidates


def command(*path: str):
    cmd = typer.main.get_command(app)
    for name in path:
        cmd = cmd.commands[name]  # type: ignore[attr-defined]
    return cmd


def options(cmd) -> list:
    """The command's options (typer ships its own click: no isinstance check)."""
    return [p for p in cmd.params if getattr(p, "param_type_name", "") == "option"]


def visible_flags(cmd) -> set[str]:
    return {opt for p in options(cmd) if not p.hidden for opt in p.opts}


def hidden_flags(cmd) -> set[str]:
    return {opt for p in options(cmd) if p.hidden for opt in p.opts}


def sampling_panel(cmd) -> dict[str, str]:
    """flag -> Python parameter name, for the options shown under "Sampling"."""
    return {
        p.opts[0]: p.name for p in options(cmd) if getattr(p, "rich_help_panel", None) == "Sampling"
    }


# -- the CLI ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SAMPLING_COMMANDS)
def test_every_sampling_command_has_the_same_sampling_options(name):
    panel = sampling_panel(command(name))
    expected = SAMPLING_FLAGS | ({"--candidates"} if name in PIECE_COMMANDS else set())
    assert set(panel) == expected
    # the flag is the API keyword with dashes: --top-k is top_k
    assert all(param == flag[2:].replace("-", "_") for flag, param in panel.items())


def test_the_sampling_commands_agree_with_each_other():
    sets = {
        name: set(sampling_panel(command(name))) - {"--candidates"} for name in SAMPLING_COMMANDS
    }
    assert len({frozenset(s) for s in sets.values()}) == 1, sets


def test_attribute_options_are_spelled_like_the_api():
    for name in ("generate", "generate-long", "stream"):
        flags = visible_flags(command(name))
        given = {a for a in ATTRIBUTES if "--" + a in flags}
        assert {"key", "style"} <= given, name
    assert {"--" + a for a in ATTRIBUTES} <= visible_flags(command("generate"))


def test_old_spellings_are_hidden_aliases():
    for name in PIECE_COMMANDS:
        cmd = command(name)
        assert "--num-candidates" in hidden_flags(cmd)
        assert "--num-candidates" not in visible_flags(cmd)
    assert "--out" in hidden_flags(command("stream"))


def test_output_is_a_file_and_out_dir_a_folder():
    for name in (*PIECE_COMMANDS, "stream"):
        flags = visible_flags(command(name))
        assert {"-o", "--output"} <= flags, name
        assert "--out" not in flags
    folders = [("prepare", "music21"), ("prepare", "midi"), ("train",), ("train-reprise",),
               ("evaluate",), ("generate",)]  # fmt: skip
    for path in folders:
        flags = visible_flags(command(*path))
        assert "--out-dir" in flags and "--out" not in flags, path
    for path in folders[:-1]:
        assert "--out" in hidden_flags(command(*path)), path  # README commands keep working


def test_help_shows_one_name_per_option():
    res = run_cli("generate-long", "--help")
    assert res.returncode == 0
    text = " ".join(res.stdout.split())
    assert "--candidates" in text and "--num-candidates" not in text
    assert "--top-k" in text and "--repetition-penalty" in text and "--key-guidance" in text


def test_the_cli_names_the_flag_the_user_typed():
    e = BadInputError("candidates must be between 1 and 64", field="candidates")
    assert flag_for("candidates", ["x", "--num-candidates", "0"]) == "--num-candidates"
    assert flag_for("top_k", ["--top-k=5000"]) == "--top-k"
    assert flag_for("top_k", ["a prompt"]) is None  # not given as a flag: no flag named
    assert error_line(e, ["--candidates", "0"]).endswith("(--candidates)")
    assert error_line(e, []) == "error: candidates must be between 1 and 64"


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["generate-long", "x", "-o", "o.mid", "--candidates", "0"], "(--candidates)"),
        (["generate-long", "x", "-o", "o.mid", "--temperature", "9"], "temperature must be"),
        (["generate-long", "x", "-o", "o.mid", "--cfg", "30"], "(--cfg)"),
        (["continue", "in.mid", "-o", "o.mid", "--bars", "0"], "bars must be between 1 and 256"),
        (["continue", "in.mid", "-o", "o.mid", "--bars", "8", "--key-guidance", "9"], "key guid"),
        (["stream", "a reel", "-o", "x.mid", "--top-p", "2"], "top-p"),
        (["generate", "x", "-o", "o.mid", "--candidates", "2", "--num-candidates", "2"], "old"),
        (["generate", "x", "-o", "o.mid", "--seed", "-1"], "seed must be"),
    ],
)
def test_sampling_errors_come_before_the_model_loads(args, fragment, tmp_path):
    res = run_cli(*args, "--model", tmp_path / "no-model-here", cwd=tmp_path)
    assert_one_line_error(res, fragment)


# -- the Python API -------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["generate", "continue_midi", "generate_long"])
def test_api_methods_take_the_same_sampling_keywords(method):
    params = inspect.signature(getattr(Composer, method)).parameters
    keywords = {n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert set(SAMPLING_OPTIONS) | {"candidates"} <= keywords


def test_sampling_for_takes_the_sampling_options():
    params = inspect.signature(Composer.sampling_for).parameters
    assert set(SAMPLING_OPTIONS) <= set(params)


# -- the server -----------------------------------------------------------------------------
def test_the_server_takes_the_same_sampling_fields():
    from tunesmith.serve import create_app, default_routers
    from tunesmith.serve.schemas import GenerateRequest, Sampling

    fields = set(Sampling.model_fields) | ({"seed"} & set(GenerateRequest.model_fields))
    assert fields == set(SAMPLING_OPTIONS) | {"candidates"}
    schema = create_app(routers=default_routers()).openapi()
    ref = schema["paths"]["/v1/continue"]["post"]["requestBody"]["content"]
    form = next(iter(ref.values()))["schema"]["$ref"].rsplit("/", 1)[-1]
    continue_fields = set(schema["components"]["schemas"][form]["properties"])
    assert set(SAMPLING_OPTIONS) | {"candidates"} <= continue_fields
    stream = {p["name"] for p in schema["paths"]["/v1/stream"]["get"]["parameters"]}
    assert set(SAMPLING_OPTIONS) <= stream


# -- library messages -------------------------------------------------------------------------
PACKAGE = Path(tunesmith.__file__).parent
FLAG = re.compile(r"(?<![\w-])--[a-z]")


def _raised_texts(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            for sub in ast.walk(node.exc):
                if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                    yield node.lineno, sub.value


def test_no_library_message_names_a_cli_flag():
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith("cli/"):
            continue
        for line, text in _raised_texts(ast.parse(path.read_text(), rel)):
            if FLAG.search(text):
                bad.append(f"{rel}:{line}: {text!r}")
    assert not bad, "\n".join(bad)


def test_the_message_check_sees_a_flag():
    tree = ast.parse('raise BadInputError(f"--bars must be between 1 and {n}")')
    assert any(FLAG.search(t) for _, t in _raised_texts(tree))
    assert not FLAG.search("bars must be between 1 and 256 (0--1 is not a flag)")


def test_every_lazy_import_of_the_cli_resolves():
    """Commands import the library inside their bodies; a moved module must not go unseen."""
    import importlib
    import importlib.util

    for path in sorted((PACKAGE / "cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = "tunesmith" if node.level == 2 else "tunesmith.cli"
                module = importlib.import_module(f"{base}.{node.module}" if node.module else base)
                for alias in node.names:
                    assert hasattr(module, alias.name) or importlib.util.find_spec(
                        f"{module.__name__}.{alias.name}"
                    ), f"{path.name}: {node.module}.{alias.name}"
