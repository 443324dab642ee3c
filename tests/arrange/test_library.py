"""The groove library: every style file loads and validates, broken files fail in one
line naming the file and the field, and the plan picks styles from the request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tunesmith.arrange.library import (
    GROOVES,
    find_style,
    load_library,
    load_style,
    nearest_styles,
    style_names,
)
from tunesmith.arrange.plan import plan_for
from tunesmith.conditioning.prompt import parse_prompt
from tunesmith.errors import BadInputError

REPO = Path(__file__).resolve().parents[2]
COVERED = {
    "rock", "pop", "ballad", "funk", "disco", "hip-hop", "lo-fi", "jazz-swing", "bossa-nova",
    "salsa", "reggae", "country", "blues-shuffle", "waltz", "march", "reel", "jig", "hymn",
    "cinematic", "classical",
}  # fmt: skip
FILES = sorted(GROOVES.glob("*.yaml"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_style_file_loads_and_validates(path):
    style = load_style(path)
    assert style.name == path.stem
    assert style.meters and style.tempo[0] <= style.tempo[1] <= style.tempo[2]
    assert style.bass is not None and style.comping is not None
    for part in (style.drums, style.bass, style.comping):
        if part is not None:
            assert part.variations, f"{path.name}: a variation is needed"
    if style.drums is not None:
        assert style.drums.fill is not None, f"{path.name}: drums need a fill"
        assert style.fill_every in (4, 8)
        assert len(style.drums.main) >= 2  # at least two drum sounds


def test_the_library_covers_the_styles_people_ask_for():
    names = set(style_names())
    assert COVERED <= names
    assert len(load_library()) == len(FILES)


def test_unknown_names_point_to_the_nearest_styles():
    assert find_style("swing").name == "jazz-swing"
    assert find_style("Bossa Nova").name == "bossa-nova"
    assert "bossa-nova" in nearest_styles("bosa-nova")
    with pytest.raises(BadInputError) as e:
        find_style("bosa-nova")
    message = str(e.value)
    assert "\n" not in message and "nearest: bossa-nova" in message
    assert e.value.field == "arrangement"


def _broken(tmp_path: Path, change) -> Path:
    data = yaml.safe_load((GROOVES / "rock.yaml").read_text())
    change(data)
    path = tmp_path / "rock.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _set(path: str, value):
    def change(data):
        *head, last = path.split(".")
        d = data
        for k in head:
            d = d[k]
        if value is None:
            del d[last]
        else:
            d[last] = value

    return change


@pytest.mark.parametrize(
    "change, fragment",
    [
        (_set("drums.main.kick", "X... ...."), "drums.main.kick: has 8 steps, expected 16"),
        (_set("drums.main.cowbel", "x" * 16), "drums.main.cowbel: unknown drum"),
        (_set("bass.main.pattern", "R-Z- " * 4), "bass.main.pattern: unknown symbol 'Z'"),
        (_set("comping.kind", "harp"), "comping.kind"),
        (_set("feel", "lazy"), "feel:"),
        (_set("meters", ["4/5"]), "meters:"),
        (_set("tempo.default", 400), "tempo.default"),
        (_set("instruments.bass", 300), "instruments.bass"),
        (_set("meters", None), "meters: is missing"),
        (_set("name", "rok"), "name:"),
    ],
)
def test_a_broken_style_file_is_one_line_naming_file_and_field(tmp_path, change, fragment):
    path = _broken(tmp_path, change)
    with pytest.raises(BadInputError) as e:
        load_style(path)
    message = str(e.value)
    assert "\n" not in message
    assert message.startswith("groove file rock.yaml: ")
    assert fragment in message


def test_invalid_yaml_is_one_line_too(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nmeters: [4/4\n")
    with pytest.raises(BadInputError) as e:
        load_style(path)
    assert "bad.yaml" in str(e.value) and "\n" not in str(e.value)


# -- the plan ---------------------------------------------------------------------------------
def plan(prompt: str, style: str | None = None):
    return plan_for(parse_prompt(prompt).controls, prompt, style)


@pytest.mark.parametrize(
    "prompt, style, meter",
    [
        ("a bossa nova", "bossa-nova", "4/4"),
        ("some swing for a quartet", "jazz-swing", "4/4"),
        ("a jazz tune", "jazz-swing", "4/4"),
        ("a waltz band", "waltz", "3/4"),
        ("a moody waltz for jazz trio", "jazz-waltz", "3/4"),
        ("a pop song", "pop", "4/4"),
        ("a band playing something cheerful", "pop", "4/4"),
        ("a lo-fi beat to study to", "lo-fi", "4/4"),
        ("a reel with a ceili band", "reel", "4/4"),
    ],
)
def test_auto_picks_a_style_from_the_words(prompt, style, meter):
    p = plan(prompt)
    assert p is not None and p.style == style and p.meter == meter


@pytest.mark.parametrize(
    "prompt",
    [
        "a four-part chorale for choir",
        "a hymn with a band",
        "a reel for fiddle",
        "a lively jig",
        "a waltz for piano",
        "up-tempo latin jazz, piano solo",
        "something wistful",
    ],
)
def test_auto_leaves_textures_and_solo_tunes_alone(prompt):
    assert plan(prompt) is None


def test_roles_come_from_the_named_instruments():
    p = plan("a pop band with organ, guitars, bass and drums")
    assert p is not None and p.style == "pop"
    roles = [part.role for part in p.parts]
    assert roles[0] == "melody" and p.parts[0].source == "model"
    assert {"bass", "comping", "drums"} <= set(roles)
    assert p.model_instruments == [p.parts[0].program]
    # a named instrument alone: it plays the bass and the chords, no drums are added
    solo = plan("a waltz for piano", "waltz")
    assert solo is not None
    assert {(part.role, part.program) for part in solo.parts} == {
        ("melody", 0), ("bass", 0), ("comping", 0),
    }  # fmt: skip
    assert plan("a waltz for piano", "none") is None
    with pytest.raises(BadInputError):
        plan("a tune", "polka-dots")


def test_the_public_prompt_set_is_arranged_only_where_it_asks_for_a_band():
    """`generate`'s default (auto) leaves prompts/eval.jsonl as the model writes it, but
    for the prompts whose words ask for a band; this list says which."""
    arranged = {}
    for line in (REPO / "prompts" / "eval.jsonl").read_text().splitlines():
        row = json.loads(line)
        p = plan(row["prompt"])
        if p is not None:
            arranged[row["id"]] = p.style
    assert arranged == {
        "p005": "march",  # "for brass band"
        "p033": "jazz-waltz",  # "waltz for jazz trio"
        "p047": "rock",  # "rock instrumental -- electric guitar, bass and drums"
        "p048": "blues-shuffle",  # "Blues in Bb"
        "p051": "ballad",  # "Pop ballad"
    }
