"""One chord vocabulary for every source: name <-> (root, quality) <-> pitch classes.

A chord is a root pitch class (0 = C) and a quality from QUALITIES. Inversions and slash basses
are dropped (the root-position chord is kept), as in the authors' code. Extended chords are
reduced to the nearest quality we keep, a documented mapping:
9/11/13 -> 7, maj9/maj11/maj13 -> maj7, m9/m11/m13 -> m7, add9/add2 -> major, madd9 -> m,
7#9/7b9 -> 7 (tensions dropped). Anything else raises UnknownChord (a counted skip).
"""
from __future__ import annotations

import re
from functools import lru_cache

from ..errors import UnknownChord

ROOT_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

# suffix -> root-position intervals (semitones above the root). Order fixes the chord ids.
QUALITIES: dict[str, tuple[int, ...]] = {
    "": (0, 4, 7),  # major
    "m": (0, 3, 7),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "m7": (0, 3, 7, 10),
    "dim": (0, 3, 6),
    "aug": (0, 4, 8),
    "m7b5": (0, 3, 6, 10),
    "dim7": (0, 3, 6, 9),
    "6": (0, 4, 7, 9),
    "m6": (0, 3, 7, 9),
    "sus4": (0, 5, 7),
    "sus2": (0, 2, 7),
    "7sus4": (0, 5, 7, 10),
    "mmaj7": (0, 3, 7, 11),
    "5": (0, 7),
}
QUALITY_NAMES = tuple(QUALITIES)

# quality -> the triad underneath it (7ths and 6ths dropped, suspensions and power chords kept):
# note-in-triad scores every chord as this triad, so added tones cannot buy harmony.
TRIAD_OF = {"": "", "m": "m", "7": "", "maj7": "", "m7": "m", "dim": "dim", "aug": "aug",
            "m7b5": "dim", "dim7": "dim", "6": "", "m6": "m", "sus4": "sus4", "sus2": "sus2",
            "7sus4": "sus4", "mmaj7": "m", "5": "5"}

# Spellings seen in the sources (ABC, MusicXML figures, Harte/POP909, jazz charts) -> quality.
_SUFFIX_ALIASES = {
    "": "", "M": "", "maj": "", "major": "", "add9": "", "add2": "", "(add9)": "", "2": "",
    "m": "m", "min": "m", "minor": "m", "-": "m", "madd9": "m", "m(add9)": "m", "minadd9": "m",
    "7": "7", "dom7": "7", "9": "7", "11": "7", "13": "7", "7b9": "7", "7#9": "7", "7#11": "7",
    "7b13": "7", "7#5": "7", "7b5": "7", "7alt": "7", "9sus": "7sus4",
    "maj7": "maj7", "M7": "maj7", "Maj7": "maj7", "ma7": "maj7", "j7": "maj7", "maj9": "maj7",
    "maj11": "maj7", "maj13": "maj7", "M9": "maj7", "^7": "maj7", "^": "maj7",
    "m7": "m7", "min7": "m7", "-7": "m7", "mi7": "m7", "m9": "m7", "m11": "m7", "m13": "m7",
    "min9": "m7", "min11": "m7",
    "dim": "dim", "d": "dim", "o": "dim", "°": "dim", "mb5": "dim",
    "aug": "aug", "a": "aug", "+": "aug", "#5": "aug", "+5": "aug",
    "m7b5": "m7b5", "hdim7": "m7b5", "hdim": "m7b5", "ø": "m7b5", "ø7": "m7b5", "-7b5": "m7b5",
    "dim7": "dim7", "o7": "dim7", "°7": "dim7", "d7": "dim7",
    "6": "6", "maj6": "6", "M6": "6", "69": "6", "6/9": "6",
    "m6": "m6", "min6": "m6", "-6": "m6",
    "sus4": "sus4", "sus": "sus4", "4": "sus4",
    "sus2": "sus2",
    "7sus4": "7sus4", "7sus": "7sus4",
    "mmaj7": "mmaj7", "minmaj7": "mmaj7", "m(maj7)": "mmaj7", "mM7": "mmaj7", "-maj7": "mmaj7",
    "5": "5", "power": "5",
}

_SYMBOL = re.compile(r"^\s*([A-Ga-g])([#b♯♭]*)(.*?)\s*$")


def chord_name(root: int, quality: str) -> str:
    """Canonical name, e.g. chord_name(6, "m7") == "F#m7"."""
    if quality not in QUALITIES:
        raise UnknownChord(quality)
    return ROOT_NAMES[root % 12] + quality


@lru_cache(maxsize=None)
def split_chord_name(name: str) -> tuple[int, str]:
    """Canonical name -> (root pitch class, quality)."""
    root = ROOT_NAMES.index(name[:2]) if name[:2] in ROOT_NAMES else ROOT_NAMES.index(name[:1])
    quality = name[len(ROOT_NAMES[root]):]
    if quality not in QUALITIES:
        raise UnknownChord(name)
    return root, quality


def chord_pitch_classes(name: str) -> frozenset[int]:
    root, quality = split_chord_name(name)
    return frozenset((root + i) % 12 for i in QUALITIES[quality])


def triad_pitch_classes(name: str) -> frozenset[int]:
    """The pitch classes of the chord reduced to its triad (TRIAD_OF): 'G7' -> G B D."""
    root, quality = split_chord_name(name)
    return frozenset((root + i) % 12 for i in QUALITIES[TRIAD_OF[quality]])


def transpose_chord_name(name: str, semitones: int) -> str:
    root, quality = split_chord_name(name)
    return chord_name(root + semitones, quality)


def root_pitch_class(text: str) -> int:
    """'C#' / 'Db' / 'e' -> pitch class."""
    m = _SYMBOL.match(text)
    if not m:
        raise UnknownChord(text)
    pc = _LETTER_PC[m.group(1).upper()]
    for acc in m.group(2):
        pc += 1 if acc in "#♯" else -1
    return pc % 12


@lru_cache(maxsize=4096)
def parse_chord_symbol(symbol: str) -> str:
    """A chord symbol as written in lead sheets ('Am', 'D7', 'C/e', 'Cd', 'Ca', 'Bbmaj7', 'F#m7b5')
    -> canonical name. Slash basses are dropped. Raises UnknownChord."""
    text = symbol.strip().split("/")[0] if "/" in symbol and not symbol.strip().endswith("6/9") else symbol.strip()
    m = _SYMBOL.match(text)
    if not m or not m.group(1).isupper():  # lower case is an ABC bass note, never a root
        raise UnknownChord(symbol)
    root = root_pitch_class(m.group(1).upper() + m.group(2))
    suffix = m.group(3).replace(" ", "")
    if suffix.startswith("(") and suffix.endswith(")") and suffix[1:-1] in _SUFFIX_ALIASES:
        suffix = suffix[1:-1]
    if suffix not in _SUFFIX_ALIASES:
        raise UnknownChord(symbol)
    return chord_name(root, _SUFFIX_ALIASES[suffix])


def quality_from_intervals(intervals) -> str:
    """Root-position interval set (semitones above the root, any octave) -> nearest quality.

    Used where a source gives pitches rather than a name (MusicXML kinds, Harte intervals,
    Hooktheory, chordified chorales). Tensions (9ths, 11ths, 13ths) are dropped.
    """
    s = {i % 12 for i in intervals} | {0}
    for q, ivs in QUALITIES.items():
        if s == set(ivs):
            return q
    major3, minor3 = 4 in s, 3 in s
    if major3 and minor3:
        minor3 = False  # the 3 is a #9 tension
    b7, maj7 = 10 in s, 11 in s
    if major3:
        if 8 in s and 7 not in s:
            return "7" if b7 else "aug"
        return "7" if b7 else "maj7" if maj7 else "6" if 9 in s else ""
    if minor3:
        if 6 in s and 7 not in s:
            return "m7b5" if b7 else "dim7" if 9 in s else "dim"
        return "m7" if b7 else "mmaj7" if maj7 else "m6" if 9 in s else "m"
    if 5 in s and (7 in s or len(s) >= 3):
        return "7sus4" if b7 else "sus4"
    if 2 in s and 7 in s:
        return "sus2"
    if s == {0, 7}:
        return "5"
    raise UnknownChord("intervals " + ",".join(map(str, sorted(s))))


def all_chord_names() -> list[str]:
    """Every chord the vocabulary can express, in id order (root-major)."""
    return [chord_name(r, q) for r in range(12) for q in QUALITY_NAMES]
