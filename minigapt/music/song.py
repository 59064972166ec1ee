"""The one in-memory form every data source produces: a Song on a 16th-note frame grid.

Times are integer frames (4 per quarter-note beat). A Song is *normalised* when its melody is
monophonic (no overlaps, each note at least one frame), its chords do not overlap and have
positive length, and everything lies inside [0, n_frames). Tokenisation round-trips exactly on
normalised songs, so every parser ends with `normalize_song`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from .. import FRAMES_PER_BEAT
from .chords import transpose_chord_name


@dataclass(frozen=True, slots=True)
class Note:
    start: int  # first frame
    end: int  # one past the last frame
    pitch: int  # MIDI pitch


@dataclass(frozen=True, slots=True)
class ChordEvent:
    start: int
    end: int
    chord: str  # canonical chord name from music.chords, e.g. "F#m7"


@dataclass(slots=True)
class Song:
    title: str
    source: str  # dataset name or file path it came from
    melody: list[Note]
    chords: list[ChordEvent]
    n_frames: int
    bar_frames: int = 16  # frames per bar (for bar lines in pictures; 4/4 -> 16)
    split: str | None = None  # a split the source itself assigns ("train"/"valid"/"test")
    meta: dict = field(default_factory=dict)

    @property
    def has_chords(self) -> bool:
        return bool(self.chords)


def normalize_song(song: Song, n_frames: int | None = None) -> Song:
    """Make a song monophonic and non-overlapping on the frame grid (see module doc).

    Notes shorter than a frame are stretched to one frame; of notes starting together the
    highest is kept (the melody is the top line); a note is cut where the next begins. Chords of
    zero length are dropped; a chord is cut where the next begins.
    """
    notes = sorted(song.melody, key=lambda n: (n.start, -n.pitch))
    melody: list[Note] = []
    for n in notes:
        if n.start < 0:
            continue
        if melody and melody[-1].start == n.start:
            continue  # same onset: keep the higher (already first)
        end = max(n.end, n.start + 1)
        if melody and melody[-1].end > n.start:
            prev = melody[-1]
            melody[-1] = Note(prev.start, n.start, prev.pitch)
        melody.append(Note(n.start, end, n.pitch))
    chords: list[ChordEvent] = []
    for c in sorted(song.chords, key=lambda c: c.start):
        if c.end <= c.start or c.start < 0:
            continue
        if chords and chords[-1].start == c.start:
            chords[-1] = c  # a later symbol at the same time overrides
            continue
        if chords and chords[-1].end > c.start:
            prev = chords[-1]
            chords[-1] = ChordEvent(prev.start, c.start, prev.chord)
        chords.append(c)
    if n_frames is None:
        ends = [n.end for n in melody] + [c.end for c in chords]
        n_frames = max(ends, default=0)
    melody = [Note(n.start, min(n.end, n_frames), n.pitch) for n in melody if n.start < n_frames]
    chords = [ChordEvent(c.start, min(c.end, n_frames), c.chord) for c in chords if c.start < n_frames]
    return replace(song, melody=melody, chords=chords, n_frames=n_frames)


def transpose_song(song: Song, semitones: int) -> Song:
    """Shift melody pitches and chord roots by `semitones` (chord roots wrap mod 12)."""
    return replace(
        song,
        melody=[Note(n.start, n.end, n.pitch + semitones) for n in song.melody],
        chords=[ChordEvent(c.start, c.end, transpose_chord_name(c.chord, semitones)) for c in song.chords],
    )


def crop_song(song: Song, start: int, length: int) -> Song:
    """The frames [start, start + length) of a song, times shifted to start at 0."""
    end = min(start + length, song.n_frames)
    melody = [Note(max(n.start, start) - start, min(n.end, end) - start, n.pitch)
              for n in song.melody if n.end > start and n.start < end]
    chords = [ChordEvent(max(c.start, start) - start, min(c.end, end) - start, c.chord)
              for c in song.chords if c.end > start and c.start < end]
    return replace(song, melody=melody, chords=chords, n_frames=end - start)


def time_signature(song: Song) -> tuple[int, int]:
    """song.meta["time_signature"] ("6/8") when a parser kept it, else guessed from bar_frames
    (12 frames -> 3/4: a 6/8 bar is just as long)."""
    written = str(song.meta.get("time_signature", ""))
    if "/" in written:
        num, den = written.split("/", 1)
        if num.strip().isdigit() and den.strip() in ("2", "4", "8", "16"):
            return int(num), int(den)
    if song.bar_frames % FRAMES_PER_BEAT == 0:
        return song.bar_frames // FRAMES_PER_BEAT, 4
    return max(1, song.bar_frames // 2), 8  # e.g. 6 frames -> 3/8
