"""music21 -> Song: the conversion every music21-based source shares (Nottingham, OpenEWLD, files).

Two readers give music21 streams (`read_abc_tune`: the Part of one ABC tune's first voice;
`read_musicxml`: the Score of a .mxl/.xml/.musicxml file) and `score_to_song` turns either
into a normalised Song:

- melody: the top line of the first part that has notes (chords -> their highest pitch, tied
  notes merged, grace notes dropped, a note starting under a higher sounding note dropped);
- chords: the part's chord symbols, each lasting until the next symbol (or a NoChord, or the
  end of the song), named by a source-specific `name_chord` function;
- times: quarter-note beats x 4 frames, truncated; normalize_song stretches a note shorter
  than a frame to one frame and drops zero-length chords;
- pickup (anacrusis): an under-filled first bar is removed, so frame 0 is a downbeat and
  bar lines fall on multiples of `bar_frames`; a chord symbol inside the pickup carries over
  to frame 0 when bar 1 does not state its own (as the authors' code removes pickup bars).

ABC chord symbols are *not* left to music21: it drops "Cd"/"Ca"/"Fa7" (ValueError, so the
previous chord silently runs on), reads "D/f+" as D augmented over F and "Bb" as "B-". The
ABC reader takes each symbol's raw text from music21's tokens instead and hands music21 a
cheap NoChord placeholder. That, and skipping music21's beaming (notation only), cut the ABC
parse from ~0.12 s to ~0.03 s of CPU per Nottingham tune.
"""
from __future__ import annotations

import re
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Callable

from ..errors import SkipSong, UnknownChord
from ..music.chords import chord_name, parse_chord_symbol, quality_from_intervals
from ..music.song import ChordEvent, Note, Song, normalize_song
from ..music.tokens import PITCH_MAX, PITCH_MIN, TRANSPOSE_MAX

FRAMES_PER_BEAT = 4
MELODY_PITCH_MIN = PITCH_MIN + TRANSPOSE_MAX  # so every training transposition stays in range
MELODY_PITCH_MAX = PITCH_MAX - TRANSPOSE_MAX
NO_CHORD_SYMBOLS = {"NC", "N.C.", "N.C", "No Chord", "None"}

# A function naming a music21 Harmony: canonical chord name, or None for "no chord".
ChordNamer = Callable[[object], "str | None"]


def to_frames(quarter_length) -> int:
    """Quarter-note beats -> frames, truncated (the epsilon only guards float round-off)."""
    return int(float(quarter_length) * FRAMES_PER_BEAT + 1e-6)


# --- ABC ---------------------------------------------------------------------------------
_TUNE_START = re.compile(r"^X:", re.MULTILINE)


def read_text(path: Path) -> str:
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # old ABC collections are often Latin-1


def split_abc_tunes(text: str) -> list[str]:
    """The tunes of an ABC file, each with the file header (text before the first X:) in front,
    since header fields (L:, M:, ...) apply to every tune. A file with notes but no X: line is
    one tune; a file with neither is none."""
    starts = [m.start() for m in _TUNE_START.finditer(text)]
    if not starts:
        return [text] if _has_abc_body(text) else []
    header = text[:starts[0]]
    header = header if re.search(r"^[A-Za-z]:", header, re.MULTILINE) else ""
    ends = starts[1:] + [len(text)]
    return [header + text[a:b] for a, b in zip(starts, ends)]


def _has_abc_body(text: str) -> bool:
    body = [ln for ln in text.splitlines()
            if ln.strip() and not ln.lstrip().startswith("%") and not re.match(r"^[A-Za-z]:", ln)]
    return bool(body)


def abc_field(tune: str, letter: str) -> str | None:
    m = re.search(rf"^{letter}:\s*(.*?)\s*$", tune, re.MULTILINE)
    return m.group(1) if m else None


ANNOTATION_PREFIXES = (">", "<", "^", "_", "@")  # ABC 2.1, 4.19: placed text, never a chord


def is_annotation(text: str, text_is_annotation: bool = False) -> bool:
    """Whether quoted ABC text is an annotation rather than a chord symbol: a ^_<>@ prefix, or
    (text_is_annotation) text that cannot be one chord: not starting like a chord (A-G, or
    N.C.) or several words, e.g. the dynamics and tempo words of O'Neill's 1850 ("p", "f",
    "Slow", "Segno", "A litle faster")."""
    if text.startswith(ANNOTATION_PREFIXES):
        return True
    chord_like = text[:1] in "ABCDEFG" or text.upper().startswith(("N.C", "NC"))
    return text_is_annotation and (not chord_like or len(text.split()) > 1)


def read_abc_tune(tune: str, text_is_annotation: bool = False):
    """One ABC tune -> music21 Part of its first voice, whose chord symbols are NoChord
    placeholders, each with the symbol's raw text in `.raw_symbol` (the first non-blank
    symbol on the note; an ABC note may carry several, e.g. an alternative chord line).
    text_is_annotation: quoted text that cannot start a chord is an annotation (readers for
    which chords are optional; the chord datasets keep the strict reading, their caches too).
    Raises SkipSong("parse_error")."""
    from music21 import abcFormat, harmony
    from music21.abcFormat import translate

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            handler = abcFormat.ABCFile().readstr(tune)
            voices = handler.splitByVoice()  # [metadata + voice 1] or [metadata, voice 1, ...]
            first = voices[0] if len(voices) == 1 else voices[0] + voices[1]
            raw: list[str] = []
            for token in first.tokens:
                symbols = getattr(token, "chordSymbols", None)
                if not symbols:
                    continue
                texts = [s.strip().strip('"').strip() for s in symbols]
                texts = [t for t in texts if t and not is_annotation(t, text_is_annotation)]
                if texts:
                    raw.append(texts[0])
                    token.chordSymbols = ['"NC"']
                else:
                    token.chordSymbols = []
            part = translate.abcToStreamPart(first, inputM21=_unbeamed_part_class()())
    except SkipSong:
        raise
    except Exception as e:  # music21 raises many types on malformed ABC
        raise SkipSong("parse_error", f"{type(e).__name__}: {e}"[:200]) from None
    placeholders = list(part.recurse().getElementsByClass(harmony.NoChord))
    if len(placeholders) != len(raw):
        raise SkipSong("parse_error", "chord symbols lost in translation")
    for h, text in zip(placeholders, raw):
        h.raw_symbol = text
    return part


@lru_cache(maxsize=1)
def _unbeamed_part_class():
    from music21 import stream

    class UnbeamedPart(stream.Part):
        """A Part that skips music21's beaming: notation only, ~60% of what is left of the
        ABC parse time once chord symbols are placeholders."""

        def makeBeams(self, *args, **kwargs):
            return None

    return UnbeamedPart


def name_abc_chord(h) -> str | None:
    """Name a chord symbol from read_abc_tune with our vocabulary (parse_chord_symbol).
    Parentheses (an optional chord) are dropped; the ABC "a7" (augmented 7th) is spelled
    "7#5", which the vocabulary reduces to a dominant 7th."""
    text = getattr(h, "raw_symbol", None)
    if text is None:
        return None
    text = text.replace("(", "").replace(")", "").strip()
    if text in NO_CHORD_SYMBOLS:
        return None
    text = re.sub(r"^([A-G][#b]?)a7", r"\g<1>7#5", text)
    return parse_chord_symbol(text)


# --- MusicXML ----------------------------------------------------------------------------
def read_musicxml(path: Path):
    """A .mxl/.xml/.musicxml file -> music21 Score. Raises SkipSong("parse_error")."""
    from music21 import converter, stream

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            score = converter.parse(str(path), format="musicxml", forceSource=True)
    except Exception as e:
        raise SkipSong("parse_error", f"{type(e).__name__}: {e}"[:200]) from None
    if isinstance(score, stream.Opus):
        score = score.scores.first() if score.scores else None
    if score is None:
        raise SkipSong("parse_error", "no score in file")
    return score


# MusicXML spells a chord as a kind plus degree changes. Semitones above the root per degree:
_MAJOR_STEPS = {1: 0, 2: 2, 3: 4, 4: 5, 5: 7, 6: 9, 7: 11, 9: 2, 11: 5, 13: 9}
# ... and an *added* degree is relative to a dominant chord (MusicXML <degree-alter>), so
# "7sus" = suspended-fourth + add 7 is a 7sus4 (music21's own pitches give it a major 7th).
_DOMINANT_STEPS = {**_MAJOR_STEPS, 7: 10}
# kinds music21 does not know, as written by Wikifonia's exporter, -> music21 kind names
_EXTRA_KINDS = {"minor-major": "minor-major-seventh", "maj69": "major-sixth",
                "augmented-ninth": "augmented-dominant-ninth", "": "major"}


def harmony_intervals(h) -> set[int] | None:
    """Semitones above the root of a MusicXML harmony, from its kind and <degree> changes;
    None if the kind is unknown."""
    from music21 import harmony

    kind = harmony.CHORD_ALIASES.get(h.chordKind, h.chordKind)
    spec = harmony.CHORD_TYPES.get(_EXTRA_KINDS.get(kind, kind))
    if spec is None:
        return None
    degrees: dict[int, int] = {}
    for d in spec[0].split(","):  # "1,-3,5,-7": degrees of the major scale, '-' flat, '#' sharp
        m = re.fullmatch(r"([#-]*)(\d+)", d.strip())
        degree = int(m.group(2))
        degrees[degree] = _MAJOR_STEPS[degree] + m.group(1).count("#") - m.group(1).count("-")
    for mod in h.chordStepModifications:
        alter = int(mod.interval.semitones) if mod.interval is not None else 0
        if mod.modType == "subtract":
            degrees.pop(mod.degree, None)
        elif mod.modType == "alter" and mod.degree in degrees:
            degrees[mod.degree] += alter
        elif mod.degree in _DOMINANT_STEPS:  # add (or alter of a degree not in the kind)
            degrees[mod.degree] = _DOMINANT_STEPS[mod.degree] + alter
    return set(degrees.values())


def name_harmony(h) -> str | None:
    """Name a music21 Harmony read from MusicXML: root + interval set (harmony_intervals,
    music21's pitches for kinds it builds itself), reduced by quality_from_intervals.
    NoChord and a bass pedal (no chord quality) -> None. Raises UnknownChord."""
    from music21 import harmony

    if isinstance(h, harmony.NoChord) or h.chordKind in ("none", "pedal"):
        return None
    try:
        root = h.root().pitchClass
        intervals = harmony_intervals(h)
        if intervals is None:
            intervals = {(p.pitchClass - root) % 12 for p in h.pitches}
    except Exception:
        raise UnknownChord(str(getattr(h, "figure", h))) from None
    try:
        return chord_name(root, quality_from_intervals(intervals))
    except UnknownChord:
        raise UnknownChord(f"{getattr(h, 'figure', h)} ({h.chordKind})") from None


# --- Score -> Song -----------------------------------------------------------------------
def top_line(notes: list[Note]) -> list[Note]:
    """The highest sounding line: of notes starting together keep the highest; drop a note
    that starts while a higher kept note still sounds (a lower voice under a held note).
    The result may still overlap; normalize_song cuts each note where the next begins."""
    out: list[Note] = []
    for n in sorted(notes, key=lambda n: (n.start, -n.pitch)):
        if out and (out[-1].start == n.start or (out[-1].end > n.start and out[-1].pitch > n.pitch)):
            continue
        out.append(n)
    return out


def check_melody(song: Song) -> Song:
    """SkipSong if the song has no melody notes or a pitch outside the contract's range."""
    if not song.melody:
        raise SkipSong("no_melody")
    low = min(n.pitch for n in song.melody)
    high = max(n.pitch for n in song.melody)
    if low < MELODY_PITCH_MIN or high > MELODY_PITCH_MAX:
        raise SkipSong("pitch_out_of_range", f"MIDI pitches {low}..{high}")
    return song


def _pickup_length(part) -> float:
    """Quarter length of a pickup bar to drop (0 if none)."""
    from music21 import harmony, stream

    measures = list(part.getElementsByClass(stream.Measure)[:2])
    if len(measures) < 2:
        return 0.0
    first = measures[0]
    try:
        short = first.paddingLeft > 0 or first.barDurationProportion() < 1
    except Exception:  # no time signature in context
        short = False
    # Lead sheets (Wikifonia/OpenEWLD) often write the pickup as a *full* bar: rests, then the
    # upbeat, under no chord (or "N.C."). Treat such a bar as a pickup too, so frame 0 is the
    # first harmonised downbeat as with an under-filled bar.
    if not short:
        sounding = list(first.recurse().notesAndRests.getElementsNotOfClass("Harmony"))
        rest_first = bool(sounding) and sounding[0].isRest and float(sounding[0].offset) == 0.0
        chorded = any(not isinstance(h, harmony.NoChord)
                      for h in first.recurse().getElementsByClass(harmony.Harmony))
        short = rest_first and not chorded
    return float(measures[1].offset - first.offset) if short else 0.0


def _melody_part(score):
    from music21 import stream

    parts = list(score.parts) if isinstance(score, stream.Score) else [score]
    for p in parts:
        if any(True for _ in p.recurse().notes.getElementsNotOfClass("Harmony")):
            return p
    return parts[0] if parts else stream.Part()  # no notes at all: score_to_song skips it


def score_to_song(score, *, title: str, source: str, name_chord: ChordNamer,
                  require_chords: bool, meta: dict | None = None) -> Song:
    """A music21 Score (or Part) -> normalised Song (see module doc). Raises SkipSong with reason
    no_melody, no_chords (only if require_chords), unknown_chord_symbol, pitch_out_of_range."""
    from music21 import chord, harmony, meter, note

    part = _melody_part(score)
    shift = _pickup_length(part)
    flat = part.flatten()
    notes: list[list] = []  # [start_q, end_q, pitch] in quarter lengths
    tied: dict[int, int] = {}  # pitch -> index in notes of a note whose tie continues
    symbols: list[tuple[float, object]] = []
    for el in flat:
        if isinstance(el, harmony.Harmony):
            symbols.append((float(el.offset), el))
            continue
        if not isinstance(el, (note.Note, chord.Chord)) or el.duration.isGrace:
            continue
        if el.quarterLength <= 0:
            continue
        pitch = el.pitch.midi if isinstance(el, note.Note) else max(p.midi for p in el.pitches)
        start, end = float(el.offset), float(el.offset + el.quarterLength)
        tie = el.tie.type if el.tie is not None else None
        i = tied.pop(pitch, None)
        if tie in ("stop", "continue") and i is not None and abs(notes[i][1] - start) < 1e-6:
            notes[i][1] = end  # a tied continuation lengthens the note, no new onset
        else:
            notes.append([start, end, pitch])
            i = len(notes) - 1
        if tie in ("start", "continue"):
            tied[pitch] = i

    # notes of a removed pickup go, except one tied over into bar 1 (it still sounds there)
    melody = [Note(to_frames(max(s - shift, 0)), to_frames(e - shift), p)
              for s, e, p in notes if e > shift + 1e-6]
    chords = _chord_events(symbols, shift, name_chord)
    n_frames = max([to_frames(float(flat.highestTime) - shift)] + [n.end for n in melody] + [0])
    chords = [ChordEvent(s, n_frames if e is None else e, c) for s, e, c in chords]
    ts = flat.getElementsByClass(meter.TimeSignature).first()
    bar_frames = to_frames(ts.barDuration.quarterLength) if ts is not None else 16
    song = Song(title=title, source=source, melody=top_line(melody), chords=chords,
                n_frames=n_frames, bar_frames=max(bar_frames, 1), meta=dict(meta or {}))
    song = check_melody(normalize_song(song, n_frames))
    if require_chords and not song.chords:
        raise SkipSong("no_chords")
    return song


def _chord_events(symbols, shift: float, name_chord: ChordNamer) -> list[tuple[int, int | None, str]]:
    """(start, end or None = song end, name) per chord symbol. A symbol inside the removed
    pickup moves to frame 0 (a later one at frame 0 overrides it in normalize_song)."""
    events: list[tuple[int, int | None, str]] = []
    pending: tuple[int, str] | None = None
    for offset, h in sorted(symbols, key=lambda x: x[0]):
        start = max(to_frames(offset - shift), 0) if offset >= shift else 0
        name = name_chord(h)  # raises UnknownChord (a SkipSong) for a symbol we cannot name
        if pending is not None:
            events.append((pending[0], start, pending[1]))
            pending = None
        if name is not None:
            pending = (start, name)
    if pending is not None:
        events.append((pending[0], None, pending[1]))
    return events


def parse_or_skip(fn, where: str = "") -> list:
    """Run a parser (no arguments, returns a list of songs) and turn a SkipSong into a
    one-item list, its detail prefixed by `where` (the file or tune) and kept on one line.
    Unexpected errors become parse_error: parse_unit must never raise for bad input."""
    try:
        return fn()
    except SkipSong as e:
        reason, detail = e.reason, str(e)[len(e.reason):].lstrip(": ")
    except Exception as e:  # music21 and mido raise many types on malformed input
        reason, detail = "parse_error", f"{type(e).__name__}: {e}"
    detail = " ".join(": ".join(x for x in (where, detail) if x).split())[:300]
    return [SkipSong(reason, detail)]
