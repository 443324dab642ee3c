"""General MIDI program names and the everyday words people use for instruments.

Programs are 0-127 as in General MIDI; drums are program -1 (played on channel 10).
"""

from __future__ import annotations

from ..errors import BadInputError
from .limits import PROGRAM

DRUMS = -1

GM_PROGRAM_NAMES: tuple[str, ...] = (
    "Acoustic Grand Piano", "Bright Acoustic Piano", "Electric Grand Piano", "Honky-tonk Piano",
    "Electric Piano 1", "Electric Piano 2", "Harpsichord", "Clavinet",
    "Celesta", "Glockenspiel", "Music Box", "Vibraphone",
    "Marimba", "Xylophone", "Tubular Bells", "Dulcimer",
    "Drawbar Organ", "Percussive Organ", "Rock Organ", "Church Organ",
    "Reed Organ", "Accordion", "Harmonica", "Tango Accordion",
    "Acoustic Guitar (nylon)", "Acoustic Guitar (steel)", "Electric Guitar (jazz)",
    "Electric Guitar (clean)", "Electric Guitar (muted)", "Overdriven Guitar",
    "Distortion Guitar", "Guitar Harmonics",
    "Acoustic Bass", "Electric Bass (finger)", "Electric Bass (pick)", "Fretless Bass",
    "Slap Bass 1", "Slap Bass 2", "Synth Bass 1", "Synth Bass 2",
    "Violin", "Viola", "Cello", "Contrabass",
    "Tremolo Strings", "Pizzicato Strings", "Orchestral Harp", "Timpani",
    "String Ensemble 1", "String Ensemble 2", "Synth Strings 1", "Synth Strings 2",
    "Choir Aahs", "Voice Oohs", "Synth Voice", "Orchestra Hit",
    "Trumpet", "Trombone", "Tuba", "Muted Trumpet",
    "French Horn", "Brass Section", "Synth Brass 1", "Synth Brass 2",
    "Soprano Sax", "Alto Sax", "Tenor Sax", "Baritone Sax",
    "Oboe", "English Horn", "Bassoon", "Clarinet",
    "Piccolo", "Flute", "Recorder", "Pan Flute",
    "Blown Bottle", "Shakuhachi", "Whistle", "Ocarina",
    "Lead 1 (square)", "Lead 2 (sawtooth)", "Lead 3 (calliope)", "Lead 4 (chiff)",
    "Lead 5 (charang)", "Lead 6 (voice)", "Lead 7 (fifths)", "Lead 8 (bass + lead)",
    "Pad 1 (new age)", "Pad 2 (warm)", "Pad 3 (polysynth)", "Pad 4 (choir)",
    "Pad 5 (bowed)", "Pad 6 (metallic)", "Pad 7 (halo)", "Pad 8 (sweep)",
    "FX 1 (rain)", "FX 2 (soundtrack)", "FX 3 (crystal)", "FX 4 (atmosphere)",
    "FX 5 (brightness)", "FX 6 (goblin)", "FX 7 (echoes)", "FX 8 (sci-fi)",
    "Sitar", "Banjo", "Shamisen", "Koto",
    "Kalimba", "Bagpipe", "Fiddle", "Shanai",
    "Tinkle Bell", "Agogo", "Steel Drums", "Woodblock",
    "Taiko Drum", "Melodic Tom", "Synth Drum", "Reverse Cymbal",
    "Guitar Fret Noise", "Breath Noise", "Seashore", "Bird Tweet",
    "Telephone Ring", "Helicopter", "Applause", "Gunshot",
)  # fmt: skip

# Common program numbers, named for readability elsewhere in the code.
PIANO, HARPSICHORD, CHURCH_ORGAN, ACCORDION = 0, 6, 19, 21
NYLON_GUITAR, ACOUSTIC_BASS = 24, 32
VIOLIN, VIOLA, CELLO, CONTRABASS, HARP = 40, 41, 42, 43, 46
STRING_ENSEMBLE, CHOIR_AAHS, VOICE_OOHS = 48, 52, 53
TRUMPET, TROMBONE, TUBA, FRENCH_HORN, BRASS_SECTION = 56, 57, 58, 60, 61
OBOE, BASSOON, CLARINET, PICCOLO, FLUTE, RECORDER = 68, 70, 71, 72, 73, 74
TIN_WHISTLE = 78  # GM "Whistle"
BANJO, BAGPIPE, FIDDLE = 105, 109, 110


def program_name(program: int) -> str:
    """Human name of a GM program (or 'Drums' for -1)."""
    if program == DRUMS:
        return "Drums"
    if program not in PROGRAM:
        raise BadInputError(
            f"MIDI program {program} is outside {PROGRAM.low:g}-{PROGRAM.high:g}",
            field="instruments",
        )
    return GM_PROGRAM_NAMES[program]


# Everyday words -> programs. Multi-instrument words map to several voices.
INSTRUMENT_WORDS: dict[str, tuple[int, ...]] = {
    "piano": (PIANO,),
    "grand piano": (PIANO,),
    "electric piano": (4,),
    "rhodes": (4,),
    "harpsichord": (HARPSICHORD,),
    "organ": (CHURCH_ORGAN,),
    "church organ": (CHURCH_ORGAN,),
    "pipe organ": (CHURCH_ORGAN,),
    "hammond": (16,),
    "accordion": (ACCORDION,),
    "concertina": (ACCORDION,),
    "harmonica": (22,),
    "guitar": (NYLON_GUITAR,),
    "acoustic guitar": (25,),
    "classical guitar": (NYLON_GUITAR,),
    "electric guitar": (27,),
    "bass": (ACOUSTIC_BASS,),
    "double bass": (CONTRABASS,),
    "upright bass": (ACOUSTIC_BASS,),
    "electric bass": (33,),
    "violin": (VIOLIN,),
    "fiddle": (FIDDLE,),
    "viola": (VIOLA,),
    "cello": (CELLO,),
    "contrabass": (CONTRABASS,),
    "harp": (HARP,),
    "strings": (STRING_ENSEMBLE,),
    "string ensemble": (STRING_ENSEMBLE,),
    "string orchestra": (STRING_ENSEMBLE,),
    "string quartet": (VIOLIN, VIOLIN, VIOLA, CELLO),
    "quartet": (VIOLIN, VIOLIN, VIOLA, CELLO),
    "choir": (CHOIR_AAHS,),
    "chorus": (CHOIR_AAHS,),
    "voices": (CHOIR_AAHS,),
    "vocal": (VOICE_OOHS,),
    "voice": (VOICE_OOHS,),
    "trumpet": (TRUMPET,),
    "trombone": (TROMBONE,),
    "tuba": (TUBA,),
    "horn": (FRENCH_HORN,),
    "french horn": (FRENCH_HORN,),
    "brass": (BRASS_SECTION,),
    "brass section": (BRASS_SECTION,),
    "brass quartet": (TRUMPET, TRUMPET, FRENCH_HORN, TROMBONE),
    "saxophone": (65,),
    "sax": (65,),
    "alto sax": (65,),
    "tenor sax": (66,),
    "oboe": (OBOE,),
    "bassoon": (BASSOON,),
    "clarinet": (CLARINET,),
    "piccolo": (PICCOLO,),
    "flute": (FLUTE,),
    "recorder": (RECORDER,),
    "tin whistle": (TIN_WHISTLE,),
    "penny whistle": (TIN_WHISTLE,),
    "whistle": (TIN_WHISTLE,),
    "pan flute": (75,),
    "banjo": (BANJO,),
    "bagpipe": (BAGPIPE,),
    "bagpipes": (BAGPIPE,),
    "sitar": (104,),
    "marimba": (12,),
    "xylophone": (13,),
    "vibraphone": (11,),
    "celesta": (8,),
    "music box": (10,),
    "glockenspiel": (9,),
    "timpani": (47,),
    "synth": (81,),
    "synthesizer": (81,),
    "pad": (89,),
    "drums": (DRUMS,),
    "drum kit": (DRUMS,),
    "percussion": (DRUMS,),
    # everyday words and small ensembles people write in prompts
    "keyboard": (PIANO,),
    "harmonium": (20,),
    "jazz guitar": (26,),
    "steel guitar": (25,),
    "nylon guitar": (NYLON_GUITAR,),
    "bass guitar": (33,),
    "synth bass": (38,),
    "synth pad": (89,),
    "violoncello": (CELLO,),
    "bass clarinet": (CLARINET,),
    "cor anglais": (69,),
    "low whistle": (TIN_WHISTLE,),
    "uilleann pipes": (BAGPIPE,),
    "bodhran": (DRUMS,),
    "bodhrán": (DRUMS,),
    "singer": (VOICE_OOHS,),
    "vocals": (VOICE_OOHS,),
    "satb": (CHOIR_AAHS,) * 4,
    "satb choir": (CHOIR_AAHS,) * 4,
    "string trio": (VIOLIN, VIOLA, CELLO),
    "piano trio": (VIOLIN, CELLO, PIANO),
    "jazz trio": (PIANO, ACOUSTIC_BASS, DRUMS),
    "wind quintet": (FLUTE, OBOE, CLARINET, FRENCH_HORN, BASSOON),
    "woodwind quintet": (FLUTE, OBOE, CLARINET, FRENCH_HORN, BASSOON),
    "brass quintet": (TRUMPET, TRUMPET, FRENCH_HORN, TROMBONE, TUBA),
    # plucked and folk instruments GM lacks, mapped to their nearest GM sound
    "mandolin": (25,),
    "bouzouki": (25,),
    "lute": (NYLON_GUITAR,),
    "ukulele": (NYLON_GUITAR,),
    "melodeon": (ACCORDION,),
    "button accordion": (ACCORDION,),
    "drum": (DRUMS,),
    "snare": (DRUMS,),
    "snare drum": (DRUMS,),
    "woodwinds": (FLUTE, OBOE, CLARINET, BASSOON),
    "wind band": (FLUTE, CLARINET, TRUMPET, TROMBONE),
    "orchestra": (STRING_ENSEMBLE,),
    "full orchestra": (STRING_ENSEMBLE,),
}


# How many notes one part of an instrument begins at once, at most: winds, brass and
# synth leads play one; strings stop up to four; a bass two; timpani two; keyboards,
# guitars, harps, ensembles, choirs and drums (and anything else) up to MAX_ONSETS.
MAX_ONSETS = 10
_ONSETS: dict[range, int] = {
    range(32, 40): 2,  # basses
    range(40, 44): 4,  # violin, viola, cello, contrabass
    range(47, 48): 2,  # timpani
    range(56, 61): 1,  # trumpet, trombone, tuba, muted trumpet, horn
    range(64, 80): 1,  # saxes, reeds, flutes and pipes
    range(80, 88): 1,  # synth leads
    range(110, 111): 4,  # fiddle
}


def max_onsets(program: int) -> int:
    """The most notes one part of `program` (GM, or DRUMS) begins at the same moment."""
    for programs, most in _ONSETS.items():
        if program in programs:
            return most
    return MAX_ONSETS


# Where an instrument's part usually lies (MIDI pitch near the middle of its common range),
# for instruments that keep to one register; keyboards, harps, guitars, ensembles and the
# like span several and have none. Used to place a new part among existing ones.
_REGISTER: dict[range, int] = {
    range(32, 40): 40,  # basses
    range(40, 41): 74,  # violin
    range(41, 42): 62,  # viola
    range(42, 43): 50,  # cello
    range(43, 44): 38,  # contrabass
    range(47, 48): 45,  # timpani
    range(52, 55): 62,  # choir, voices
    range(56, 57): 70,  # trumpet
    range(57, 58): 52,  # trombone
    range(58, 59): 41,  # tuba
    range(59, 60): 70,  # muted trumpet
    range(60, 61): 60,  # horn
    range(64, 65): 72,  # soprano sax
    range(65, 66): 65,  # alto sax
    range(66, 67): 58,  # tenor sax
    range(67, 68): 50,  # baritone sax
    range(68, 69): 74,  # oboe
    range(69, 70): 64,  # english horn
    range(70, 71): 50,  # bassoon
    range(71, 72): 67,  # clarinet
    range(72, 73): 91,  # piccolo
    range(73, 74): 79,  # flute
    range(74, 75): 77,  # recorder
    range(75, 80): 82,  # pan flute, bottle, shakuhachi, whistle, ocarina
    range(110, 111): 74,  # fiddle
}


def register_centre(program: int) -> int | None:
    """The pitch an instrument's part usually centres on, or None for one that spans
    several registers (piano, harp, guitar, organ, ensembles, drums)."""
    for programs, centre in _REGISTER.items():
        if program in programs:
            return centre
    return None


def parse_instrument(word: str) -> tuple[int, ...]:
    """Programs for an instrument given as an everyday word, a GM name or a number.

    Raises BadInputError listing a few valid names when the word is unknown.
    """
    text = word.strip().lower()
    if text in INSTRUMENT_WORDS:
        return INSTRUMENT_WORDS[text]
    if text.lstrip("-").isdigit():
        program = int(text)
        program_name(program)  # validates the range
        return (program,)
    for program, name in enumerate(GM_PROGRAM_NAMES):
        if name.lower() == text:
            return (program,)
    valid = ", ".join(sorted(INSTRUMENT_WORDS)[:40])
    raise BadInputError(
        f"unknown instrument {word!r}; use a GM program number 0-127, a GM name, or one of: "
        f"{valid}, ...",
        field="instruments",
    )


def one_program(word: str) -> int:
    """The one GM program an instrument word, name or number names (DRUMS for drums);
    a word for a group ("string quartet") is refused with the count it names."""
    programs = parse_instrument(word)
    if len(programs) != 1:
        raise BadInputError(
            f"{word!r} names {len(programs)} instruments; name one", field="instrument"
        )
    return programs[0]
