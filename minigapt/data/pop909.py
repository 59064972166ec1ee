"""POP909: 909 Chinese pop songs as MIDI with beat and chord annotations.

Layout (github.com/music-x-lab/POP909-Dataset): POP909/NNN/{NNN.mid, beat_midi.txt,
chord_midi.txt, key_audio.txt}; one unit = one song folder.

- Melody: the MIDI track named MELODY (read with mido, times in seconds through the file's
  tempo map). A file without it is SkipSong("no_melody_track").
- Beats: beat_midi.txt rows are `time_s flag flag`. The third column marks every 4th beat (every
  6th in the 29 triple-time songs; the second column marks every 2nd or 3rd): we take it as the
  bar start, as others reading POP909 do, so `bar_frames` is 16 (or 24).
- Times in seconds -> 16th-note frames: the beat position is interpolated linearly between
  annotated beats (extrapolated with the first / last beat's length outside them), times 4,
  truncated (as the authors' code does for beats).
- Chords: chord_midi.txt rows `start_s end_s label`, Harte syntax ("B:maj", "C:min7", "F:maj/3",
  "G:sus4(b7)", "N" = no chord). The label's intervals go through
  music.chords.quality_from_intervals; inversions are dropped. Rows are kept as annotated (the
  annotation restates a held chord every bar or two: ~9% of rows repeat the previous label, like
  Nottingham's ABC), so each row is one chord onset. A label we cannot name skips the song
  (SkipSong "unknown_chord_symbol"); none occurs in the published files.
- Start: a leading silence of more than 4 beats before the first melody note is trimmed back to
  the bar start at or before that note (the authors' rule); otherwise frame 0 is the bar start at
  or before the first beat (a pickup gets up to a bar of silence), so frame 0 is always a bar
  start. Chords sounding across the new start are cut there; earlier ones are dropped.
- key_audio.txt is not read (chord names are absolute; keys are not needed).

Measured on the published files: all 909 songs kept, 175 distinct chord names (untransposed),
~1.1M frames; about 45 s to parse all over 2 processes (mido, no music21).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import MinigaptError, SkipSong, UnknownChord
from ..music.chords import chord_name, quality_from_intervals, root_pitch_class
from ..music.song import ChordEvent, Note, Song, normalize_song
from ..music.tokens import PITCH_MAX, PITCH_MIN, TRANSPOSE_MAX

PARSER_VERSION = "1"
DEFAULT_SUBDIR = "pop909"
FRAMES_PER_BEAT = 4
TRIM_SILENCE_BEATS = 4

# Harte (2005) shorthands -> semitones above the root.
_HARTE_SHORTHANDS = {
    "maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6), "aug": (0, 4, 8),
    "maj7": (0, 4, 7, 11), "min7": (0, 3, 7, 10), "7": (0, 4, 7, 10), "dim7": (0, 3, 6, 9),
    "hdim7": (0, 3, 6, 10), "minmaj7": (0, 3, 7, 11), "maj6": (0, 4, 7, 9), "min6": (0, 3, 7, 9),
    "9": (0, 4, 7, 10, 14), "maj9": (0, 4, 7, 11, 14), "min9": (0, 3, 7, 10, 14),
    "11": (0, 4, 7, 10, 14, 17), "min11": (0, 3, 7, 10, 14, 17), "13": (0, 4, 7, 10, 14, 21),
    "maj13": (0, 4, 7, 11, 14, 21), "min13": (0, 3, 7, 10, 14, 21),
    "sus4": (0, 5, 7), "sus2": (0, 2, 7), "5": (0, 7), "1": (0,), "": (),
}
_DEGREE_SEMITONES = {1: 0, 2: 2, 3: 4, 4: 5, 5: 7, 6: 9, 7: 11, 9: 14, 11: 17, 13: 21}
_HARTE = re.compile(r"^([A-G][#b]*)(?::([^(/]*))?(?:\(([^)]*)\))?(?:/([#b]*\d+))?$")
_DEGREE = re.compile(r"^(\*?)([#b]*)(\d+)$")


# --- Harte chord labels ---------------------------------------------------------------------
def harte_to_chord_name(label: str) -> str | None:
    """'F:maj/3' -> 'F', 'G:sus4(b7)' -> 'G7sus4', 'N' / 'X' -> None. Raises UnknownChord."""
    label = label.strip()
    if label in ("N", "X"):
        return None
    m = _HARTE.match(label)
    if not m or (m.group(2) or "") not in _HARTE_SHORTHANDS:
        raise UnknownChord(label)
    shorthand = m.group(2)
    if shorthand is None:  # 'C' or 'C(1,3,5)'
        shorthand = "" if m.group(3) is not None else "maj"
    intervals = set(_HARTE_SHORTHANDS[shorthand])
    for degree in filter(None, (d.strip() for d in (m.group(3) or "").split(","))):
        d = _DEGREE.match(degree)
        if not d or int(d.group(3)) not in _DEGREE_SEMITONES:
            raise UnknownChord(label)
        semis = _DEGREE_SEMITONES[int(d.group(3))] + d.group(2).count("#") - d.group(2).count("b")
        (intervals.discard if d.group(1) else intervals.add)(semis)
    return chord_name(root_pitch_class(m.group(1)), quality_from_intervals(intervals))


# --- files ----------------------------------------------------------------------------------
def read_melody_track(midi_path: Path, track_name: str = "MELODY") -> list[tuple[float, float, int]]:
    """(start_s, end_s, pitch) of the notes on the named track. Raises SkipSong."""
    import mido

    try:
        mid = mido.MidiFile(midi_path)
    except Exception as e:  # mido raises OSError, EOFError, ValueError, KeyError ... on bad files
        raise SkipSong("unreadable_midi", f"{midi_path.name}: {e}")
    tracks = [t for t in mid.tracks if t.name.strip().upper() == track_name]
    if not tracks:
        raise SkipSong("no_melody_track", midi_path.name)
    to_seconds = _tick_to_seconds(mid)
    notes, sounding = [], {}  # (channel, pitch) -> start tick
    tick = 0
    for msg in tracks[0]:
        tick += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            key = (msg.channel, msg.note)
            if key in sounding:  # re-struck without a note-off: end the old one here
                notes.append((sounding[key], tick, msg.note))
            sounding[key] = tick
        elif msg.type in ("note_off", "note_on"):
            start = sounding.pop((msg.channel, msg.note), None)
            if start is not None:
                notes.append((start, tick, msg.note))
    notes += [(start, tick, pitch) for (_, pitch), start in sounding.items()]  # never released
    return sorted((to_seconds(s), to_seconds(e), p) for s, e, p in notes)


def _tick_to_seconds(mid):
    """A function tick -> seconds that follows every set_tempo of the file (any track)."""
    changes = sorted((tick, msg.tempo) for track in mid.tracks
                     for tick, msg in zip(np.cumsum([m.time for m in track]), track)
                     if msg.type == "set_tempo")
    ticks, tempos = [0], [500000]  # MIDI's default: 120 BPM
    for tick, tempo in changes:
        if tick == ticks[-1]:
            tempos[-1] = tempo
        else:
            ticks.append(int(tick))
            tempos.append(tempo)
    ticks_a = np.array(ticks, dtype=float)
    sec_per_tick = np.array(tempos, dtype=float) / 1e6 / mid.ticks_per_beat
    starts = np.concatenate([[0.0], np.cumsum(np.diff(ticks_a) * sec_per_tick[:-1])])

    def to_seconds(tick: int) -> float:
        i = int(np.searchsorted(ticks_a, tick, side="right")) - 1
        return float(starts[i] + (tick - ticks_a[i]) * sec_per_tick[i])

    return to_seconds


def read_beats(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """beat_midi.txt -> (beat times in seconds, bool: the beat starts a bar)."""
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    a = np.array([[float(x) for x in r[:3]] for r in rows])
    if a.ndim != 2 or a.shape[1] < 3 or len(a) < 2 or np.any(np.diff(a[:, 0]) <= 0):
        raise SkipSong("bad_beat_file", str(path))
    return a[:, 0], a[:, 2] > 0.5


def read_chords(path: Path) -> list[tuple[float, float, str]]:
    """chord_midi.txt -> (start_s, end_s, Harte label) rows."""
    out = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3:
            raise SkipSong("bad_chord_file", f"{path}: {line!r}")
        out.append((float(parts[0]), float(parts[1]), parts[2]))
    return out


def seconds_to_beats(t, beat_times: np.ndarray) -> np.ndarray:
    """Beat position (0 = first annotated beat) of times in seconds, linear between beats and
    extrapolated with the first / last beat's length outside them."""
    t = np.asarray(t, dtype=float)
    idx = np.arange(len(beat_times), dtype=float)
    pos = np.interp(t, beat_times, idx)
    first, last = beat_times[1] - beat_times[0], beat_times[-1] - beat_times[-2]
    pos = np.where(t < beat_times[0], (t - beat_times[0]) / first, pos)
    return np.where(t > beat_times[-1], idx[-1] + (t - beat_times[-1]) / last, pos)


# --- one song -------------------------------------------------------------------------------
def start_beat(first_onset_beat: float, downbeats: np.ndarray, bar_beats: int) -> int:
    """Beat index that becomes frame 0: a bar start (see module doc). Downbeats before the
    first annotated one are extended backwards by whole bars (possibly below 0)."""
    first_down = int(downbeats[0]) if len(downbeats) else 0

    def bar_start_at_or_before(beat: float) -> int:
        below = [int(d) for d in downbeats if d <= beat]
        if below:
            return below[-1]
        return first_down - int(np.ceil((first_down - beat) / bar_beats)) * bar_beats

    if first_onset_beat > TRIM_SILENCE_BEATS:
        return bar_start_at_or_before(np.floor(first_onset_beat + 1e-9))
    return bar_start_at_or_before(0)


def parse_song_folder(folder: Path) -> Song:
    """One POP909 folder -> normalised Song. Raises SkipSong."""
    name = folder.name
    midi_path, beat_path, chord_path = folder / f"{name}.mid", folder / "beat_midi.txt", folder / "chord_midi.txt"
    for p in (midi_path, beat_path, chord_path):
        if not p.exists():
            raise SkipSong("missing_file", str(p))
    melody_s = read_melody_track(midi_path)
    if not melody_s:
        raise SkipSong("no_melody", name)
    beat_times, is_downbeat = read_beats(beat_path)
    chord_rows = read_chords(chord_path)
    names = [harte_to_chord_name(label) for _, _, label in chord_rows]

    downbeats = np.flatnonzero(is_downbeat)
    bar_beats = int(np.median(np.diff(downbeats))) if len(downbeats) > 1 else 4
    note_beats = seconds_to_beats([[s, e] for s, e, _ in melody_s], beat_times)
    origin = start_beat(float(note_beats[0, 0]), downbeats, bar_beats)

    def frames(beats) -> np.ndarray:  # truncate; the 0.01-frame slack absorbs the 6-decimal
        # rounding of chord_midi.txt times (13.388633 for a beat at 13.3886331950)
        return np.floor((np.asarray(beats) - origin) * FRAMES_PER_BEAT + 0.01).astype(int)

    nf = frames(note_beats)
    melody = [Note(int(s), int(e), p) for (s, e), (_, _, p) in zip(nf, melody_s)]
    lo, hi = PITCH_MIN + TRANSPOSE_MAX, PITCH_MAX - TRANSPOSE_MAX
    if any(not lo <= n.pitch <= hi for n in melody):
        raise SkipSong("pitch_out_of_range", name)
    chords = []
    if chord_rows:
        cf = frames(seconds_to_beats([[s, e] for s, e, _ in chord_rows], beat_times))
        chords = [ChordEvent(max(int(s), 0), int(e), c) for (s, e), c in zip(cf, names)
                  if c is not None and e > 0]
    if not chords:
        raise SkipSong("no_chords", name)
    song = Song(title=name, source="pop909", melody=melody, chords=chords, n_frames=0,
                bar_frames=bar_beats * FRAMES_PER_BEAT,
                meta={"id": name, "start_beat": origin})
    return normalize_song(song)


def find_units(root: Path | None) -> list[str]:
    """Song folders under root (the folder holding POP909/, or POP909/ itself), sorted."""
    if root is None:
        raise MinigaptError("POP909 needs a data folder: pass --data-dir (it holds POP909/NNN/...)")
    root = Path(root)
    base = root / "POP909" if (root / "POP909").is_dir() else root
    units = sorted(str(p) for p in base.iterdir() if p.is_dir() and p.name.isdigit()) if base.is_dir() else []
    if not units:
        raise MinigaptError(f"no POP909 song folders (POP909/001, ...) under {root}")
    return units


def parse_unit(unit: str) -> list[Song | SkipSong]:
    """One song folder -> [Song] or [SkipSong]; never raises for bad input."""
    try:
        return [parse_song_folder(Path(unit))]
    except SkipSong as e:
        return [e]
    except (OSError, EOFError, ValueError, IndexError, KeyError) as e:  # malformed text or MIDI
        return [SkipSong("malformed_files", f"{unit}: {type(e).__name__}: {e}")]
