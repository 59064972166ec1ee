"""Any file or folder of melodies: ABC, MusicXML (.mxl/.xml/.musicxml) or MIDI (.mid/.midi).

Used to accompany or evaluate a user's own melodies, so a song without chords is KEPT
(chords=[]); the other skip reasons are the lead-sheet sources' (parse_error, empty_file,
no_melody, unknown_chord_symbol, pitch_out_of_range). A folder is searched recursively
(hidden files and folders ignored, other file types ignored); a multi-tune ABC file gives one
unit per tune ("file.abc#2"). Files are read like Nottingham (ABC) and OpenEWLD (MusicXML):
top line of the first part, pickup bar removed, repeats as written.

MIDI: the melody is the first track whose name contains "melod", "vocal", "voice" or "lead"
(case-insensitive, e.g. POP909's "MELODY"), else the first track with notes outside the
drum channel (10); its highest-sounding line is kept (of notes starting together the highest,
a note starting under a higher sounding note dropped). Times come from ticks per beat (tempo
changes do not matter on a beat grid), bar_frames from the first time signature. MIDI has no
pickup marking, so a leading rest is kept as silence. Chords in MIDI are not read.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import MinigaptError, SkipSong
from ..music.song import Note, Song, normalize_song
from .music21_song import check_melody, parse_or_skip, to_frames, top_line
from .nottingham import parse_abc_unit, split_unit, tune_units, tunes_of
from .openewld import musicxml_to_song

PARSER_VERSION = "4"  # 3: a full first bar that starts with a rest under no chord is a pickup;
# 4: quoted ABC text that cannot start a chord ("p", "Slow") is an annotation, not a skip
DEFAULT_SUBDIR = None  # a path given by the user, never a folder under the data root

ABC_SUFFIXES = {".abc"}
MUSICXML_SUFFIXES = {".mxl", ".xml", ".musicxml"}
MIDI_SUFFIXES = {".mid", ".midi"}
SUFFIXES = ABC_SUFFIXES | MUSICXML_SUFFIXES | MIDI_SUFFIXES
MELODY_TRACK_NAME = re.compile(r"melod|vocal|voice|lead", re.IGNORECASE)
DRUM_CHANNEL = 9  # MIDI channel 10, counted from 0


def _units_of_file(path: Path) -> list[str]:
    if path.suffix.lower() in ABC_SUFFIXES:
        try:
            n = len(tunes_of(path))
        except OSError as e:
            raise MinigaptError(f"cannot read {path}: {e.strerror}") from None
        if n > 1:
            return tune_units(path, n)
    return [str(path)]


def find_units(root: Path | None) -> list[str]:
    if root is None:
        raise MinigaptError("give a melody file or a folder of them (ABC, MusicXML or MIDI)")
    root = Path(root).expanduser()
    if not root.exists():
        raise MinigaptError(f"no such file or folder: {root}")
    if root.is_file():
        if root.suffix.lower() not in SUFFIXES:
            raise MinigaptError(f"{root.name}: unsupported file type; expected "
                                f"{', '.join(sorted(SUFFIXES))}")
        return _units_of_file(root)
    files = sorted(p for p in root.rglob("*")
                   if p.suffix.lower() in SUFFIXES and p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if not files:
        raise MinigaptError(f"no ABC, MusicXML or MIDI files under {root}")
    return [u for f in files for u in _units_of_file(f)]


def parse_unit(unit: str) -> list:
    path, index = split_unit(unit)
    suffix = path.suffix.lower()
    try:
        empty = path.stat().st_size == 0
    except OSError as e:
        return [SkipSong("parse_error", f"cannot read {path}: {e.strerror}")]
    if empty:
        return [SkipSong("empty_file", str(path))]
    if suffix in ABC_SUFFIXES:
        return parse_abc_unit(unit, source=str(path), require_chords=False)
    if suffix in MUSICXML_SUFFIXES:
        return parse_or_skip(lambda: musicxml_to_song(path, source=str(path), require_chords=False),
                             path.name)
    if suffix in MIDI_SUFFIXES:
        return parse_or_skip(lambda: [midi_to_song(path)], path.name)
    return [SkipSong("parse_error", f"{path.name}: unsupported file type")]


# --- MIDI --------------------------------------------------------------------------------
def _track_notes(track) -> list[tuple[int, int, int]]:
    """(start tick, end tick, pitch) of a track's notes outside the drum channel."""
    notes, sounding, tick = [], {}, 0  # sounding: (channel, pitch) -> start ticks, oldest first
    for msg in track:
        tick += msg.time
        if msg.type not in ("note_on", "note_off") or msg.channel == DRUM_CHANNEL:
            continue
        key = (msg.channel, msg.note)
        if msg.type == "note_on" and msg.velocity > 0:
            sounding.setdefault(key, []).append(tick)
        elif sounding.get(key):
            notes.append((sounding[key].pop(0), tick, msg.note))
    for (_, pitch), starts in sounding.items():  # never released: sound to the track's end
        notes += [(s, tick, pitch) for s in starts]
    return notes


def _track_name(track) -> str:
    return next((m.name for m in track if m.type == "track_name"), "") or ""


def midi_to_song(path: Path) -> Song:
    """A MIDI file -> melody-only Song (see module doc). Raises SkipSong."""
    import mido

    try:
        mid = mido.MidiFile(str(path), clip=True)
    except Exception as e:  # mido raises OSError, EOFError, ValueError, KeyError on bad files
        raise SkipSong("parse_error", f"{type(e).__name__}: {e}"[:200]) from None
    if mid.ticks_per_beat <= 0:
        raise SkipSong("parse_error", "MIDI file without ticks per beat")
    tracks = [(_track_name(t), _track_notes(t)) for t in mid.tracks]
    with_notes = [(name, notes) for name, notes in tracks if notes]
    if not with_notes:
        raise SkipSong("no_melody")
    name, notes = next(((n, ns) for n, ns in with_notes if MELODY_TRACK_NAME.search(n)), with_notes[0])
    beats = mid.ticks_per_beat
    melody = top_line([Note(to_frames(s / beats), to_frames(e / beats), p) for s, e, p in notes])
    ts = next((m for t in mid.tracks for m in t if m.type == "time_signature"), None)
    bar_frames = to_frames(ts.numerator * 4 / ts.denominator) if ts is not None else 16
    song = Song(title=path.stem, source=str(path), melody=melody, chords=[],
                n_frames=max(n.end for n in melody), bar_frames=max(bar_frames, 1),
                meta={"file": path.name, "track": name})
    return check_melody(normalize_song(song))
