"""The plan honours what the prompt parser read: excluded instruments get no part, roles
named in the prompt decide who plays what, an instrument asked for a role it cannot play
gets another and the plan says why; a prompt that says none of this plans as before."""

from __future__ import annotations

import symusic

from tunesmith.arrange.arranger import arrange
from tunesmith.arrange.plan import plan_for
from tunesmith.conditioning.controls import Controls
from tunesmith.conditioning.instruments import DRUMS
from tunesmith.conditioning.prompt import parse_prompt
from tunesmith.music.chords import ChordSpan, parse_symbol

TPQ = 480


def plan(prompt: str, style: str | None = None):
    p = plan_for(parse_prompt(prompt).controls, prompt, style)
    assert p is not None, prompt
    return p


def roles(p) -> list[tuple[str, int]]:
    return [(part.role, part.program) for part in p.parts]


def rows(p) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for label, value in p.rows():
        out.setdefault(label, []).append(value)
    return out


def four_bars() -> tuple[symusic.Score, list[ChordSpan]]:
    s = symusic.Score(TPQ)
    s.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    t = symusic.Track(name="Melody", program=61)
    for k in range(16):
        t.notes.append(symusic.Note(k * TPQ, TPQ, 72 + k % 5, 80))
    s.tracks.append(t)
    chords = [
        ChordSpan(i, None, i * 4 * TPQ, (i + 1) * 4 * TPQ, parse_symbol(c))
        for i, c in enumerate(["C", "Am", "F", "G"])
    ]
    return s, chords


# -- exclusions -----------------------------------------------------------------------------
def test_an_excluded_drum_kit_gets_no_part_and_explain_says_so():
    p = plan("a funk groove, no drums")
    assert p.style == "funk"
    assert "drums" not in p.library_roles() and {"bass", "comping"} <= set(p.library_roles())
    assert rows(p)["left out"] == ["drums: drum kit (the prompt excludes it)"]
    score, chords = four_bars()
    out = arrange(score, chords, p.style, roles=p.library_roles())
    assert not any(t.is_drum for t in out.tracks)
    assert [t.name for t in out.tracks] == ["Melody", "Bass", "Comping"]
    # the same request without the negation keeps its drums (the default is unchanged)
    assert ("drums", DRUMS) in roles(plan("a funk groove"))
    assert "left out" not in rows(plan("a funk groove"))


def test_an_exclusion_covers_the_instruments_kin():
    # "no piano": the pop style's electric piano comping goes too; "no bass": the
    # style's finger bass; other parts stay
    p = plan("a pop band, no piano")
    assert "comping" not in p.library_roles()
    assert {"bass", "pad", "drums"} <= set(p.library_roles())
    p = plan("a jazz combo without bass")
    assert "bass" not in p.library_roles() and "drums" in p.library_roles()


def test_an_excluded_style_melody_is_replaced_and_named():
    p = plan("a bossa nova, no flute")
    melody = p.parts[0]
    assert melody.role == "melody" and melody.program == 0 and p.model_instruments == [0]
    assert rows(p)["melody"] == [
        "Acoustic Grand Piano (the model; instead of the flute, which the prompt excludes)"
    ]


def test_an_instrument_the_request_names_is_kept_even_if_excluded():
    """An explicit --instruments drums beats the prompt's 'no drums'."""
    controls = Controls(instruments=[73, DRUMS], extra={"exclude": [DRUMS]})
    p = plan_for(controls, "a pop band", None)
    assert p is not None and ("drums", DRUMS) in roles(p) and not p.left_out


# -- roles ----------------------------------------------------------------------------------
def test_roles_in_the_prompt_decide_who_plays_what():
    default = plan("a pop band with guitar and piano")
    assert roles(default)[:2] == [("melody", 24), ("comping", 0)]  # the order named
    asked = plan("a pop band with guitar and piano, the piano plays the lead")
    assert roles(asked)[:2] == [("comping", 24), ("melody", 0)]
    assert asked.model_instruments == [0] and asked.library_roles()["comping"] == [24]
    both = plan("a pop band where the piano plays the lead and guitar chords in the background")
    assert roles(both)[:2] == [("melody", 0), ("comping", 24)]


def test_a_library_role_for_an_instrument_of_many_voices_is_one_part():
    """The organ is four voices; holding the chords it is one pad, and the melody is the
    style's (not a second organ)."""
    p = plan("a pop band, the organ holds long chords")
    organ = [(r, prog) for r, prog in roles(p) if prog == 19]
    assert organ == [("pad", 19)]
    assert p.parts[0].role == "melody" and p.parts[0].program != 19


def test_a_pad_the_prompt_names_holds_the_chords_without_band_words():
    p = plan("write a piece where the guitar plays the lead and the organ holds chords", "pop")
    assert roles(p) == [("melody", 24), ("pad", 19), ("bass", 24)]


def test_an_instrument_asked_for_a_role_it_cannot_play_gets_one_and_explain_says_which():
    p = plan("a pop band where the drums play the melody")
    assert ("drums", DRUMS) in roles(p) and p.parts[0].program != DRUMS
    assert rows(p)["drums"] == [
        "drum kit (groove library; asked for the melody, but a drum kit plays no melody)"
    ]
    p = plan("a pop band, the flute plays chords")
    assert roles(p)[0] == ("melody", 73)
    assert rows(p)["melody"] == [
        "Flute (the model; asked for the comping, but the flute plays no chords)"
    ]
    bass = plan_for(Controls(instruments=[73, 0], extra={"roles": {73: "bass"}}), "a pop band")
    assert bass is not None and roles(bass)[:2] == [("melody", 73), ("comping", 0)]
    assert "does not reach below C3" in bass.parts[0].note
    twice = plan("a rock band, piano lead and violin lead")
    assert roles(twice)[:2] == [("melody", 0), ("counter-melody", 40)]
    assert twice.model_instruments == [0, 40]
    assert "the melody is the acoustic grand piano's" in twice.parts[1].note


def test_the_melody_comes_first_for_the_model_whatever_the_order_named():
    p = plan("a gentle duet for flute and violin where the violin carries the melody", "pop")
    assert roles(p)[:2] == [("counter-melody", 73), ("melody", 40)]
    assert p.model_instruments == [40, 73]


# -- bad input: no sensible role, a beat ---------------------------------------------------
def test_a_second_bass_in_a_band_doubles_the_bass_and_explain_says_so():
    p = plan("a funk band with tuba, contrabass and electric bass")
    assert [r for r in roles(p) if r[0] == "bass"] == [("bass", 58), ("bass", 43), ("bass", 33)]
    assert p.parts[0].role == "melody" and p.parts[0].program not in (43, 33)  # the style's
    assert rows(p)["bass"][1:] == [
        "Contrabass (groove library; the bass is the tuba's: it doubles it)",
        "Electric Bass (finger) (groove library; the bass is the tuba's: it doubles it)",
    ]
    out = arrange(*four_bars(), p.style, roles=p.library_roles())
    assert [t.name for t in out.tracks if t.name.startswith("Bass")] == [
        "Bass", "Bass 2", "Bass 3",
    ]  # fmt: skip
    # without a band, the named instruments are all there is: the second bass plays the tune
    alone = plan("a waltz for tuba and contrabass", "waltz")
    assert roles(alone)[:2] == [("bass", 58), ("melody", 43)]


def test_a_beat_in_a_style_is_the_styles_band_with_its_drums():
    p = plan("a hip hop beat in C minor with electric piano")
    assert p.style == "hip-hop"
    assert {"drums", "bass", "comping"} <= set(p.library_roles())
    assert roles(p)[0] == ("melody", 4)  # the electric piano named plays the tune
    # a beat that is a pulse asks for no band
    waltz = plan("a waltz for piano with a steady beat", "waltz")
    assert "drums" not in waltz.library_roles()
