"""Hooktheory (TheoryTab) melodies and chords, in the layout SheetSage publishes.

The file is `Hooktheory.json.gz` (github.com/chrisdonahue/sheetsage): one JSON object mapping a
clip id to a record. It is not reachable from here; the layout below comes from SheetSage's own
loader (sheetsage/data.py) and from public code and field dumps of people reading the file.

Verified (SheetSage's loader, or several independent readers agreeing):
- record["split"] is "TRAIN" / "VALID" / "TEST" -> Song.split "train" / "valid" / "test".
- record["tags"] is a list of strings such as "MELODY", "HARMONY", "AUDIO_AVAILABLE",
  "TEMPO_CHANGES", "USER_ALIGNMENT", "REFINED_ALIGNMENT" (kept in Song.meta["tags"]; no song is
  dropped for its tags).
- record["annotations"]: "num_beats"; "meters" [{beat, beats_per_bar, beat_unit}];
  "keys" [{beat, tonic_pitch_class, scale_degree_intervals}]; "melody" [{onset, offset,
  pitch_class, octave}] or null; "harmony" [{onset, offset, root_pitch_class,
  root_position_intervals, inversion}] or null. Onsets / offsets are in beats from 0.
- MIDI pitch = 60 + 12 * octave + pitch_class (SheetSage: (1 + 4 + octave) * 12 + pitch_class).
- root_position_intervals are the steps between successive chord tones in root position
  ([4, 3] = major triad, [3, 4, 3] = minor seventh), not offsets from the root.
- record["hooktheory"] has "artist" and "song" (slugs) and "id"; also "youtube", "alignment"
  (beat <-> audio time), unused here.

Assumed: beats are counted in the meter's beat unit and get 4 frames each whatever the unit
(the authors' code: onset x 4, truncated); bar_frames = 4 x beats_per_bar of the first meter.
The chord of an interval set we cannot name (quality_from_intervals raises) skips the song as
"unknown_chord_symbol"; a record without melody notes is "no_melody", without chords
"no_chords"; a record missing fields or with wrong types is "malformed_record"; a file that is
not gzip'd / plain JSON of this shape is one "unreadable_file". Inversions are dropped.

Units: one per file (`*.json.gz` or `*.json` under the data folder). A unit yields all its
songs: the real file has ~26k clips; parsing it is one process's work (json.load needs the
whole file anyway, and loading it once per worker would cost more memory than it saves time).
"""
from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

from ..errors import MinigaptError, SkipSong
from ..music.chords import chord_name, quality_from_intervals
from ..music.song import ChordEvent, Note, Song, normalize_song
from ..music.tokens import PITCH_MAX, PITCH_MIN, TRANSPOSE_MAX

PARSER_VERSION = "1"
DEFAULT_SUBDIR = "hooktheory"
FRAMES_PER_BEAT = 4
SPLITS = {"TRAIN": "train", "VALID": "valid", "TEST": "test"}


def find_units(root: Path | None) -> list[str]:
    """The Hooktheory JSON files under root (or root itself if it is one), sorted."""
    if root is None:
        raise MinigaptError("Hooktheory needs a data folder holding Hooktheory.json.gz (pass --data-dir)")
    root = Path(root)
    if root.is_file():
        return [str(root)]
    units = sorted(str(p) for p in root.glob("*.json*") if p.name.endswith((".json", ".json.gz")))
    if not units:
        raise MinigaptError(f"no Hooktheory.json.gz under {root}; get it from SheetSage's release "
                            "(github.com/chrisdonahue/sheetsage) and pass its folder")
    return units


def load_records(path: Path) -> dict:
    """The file's {clip id: record} mapping. Raises SkipSong('unreadable_file')."""
    try:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            records = json.load(f)
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SkipSong("unreadable_file", f"{path.name}: {e}")
    if not isinstance(records, dict):
        raise SkipSong("unreadable_file", f"{path.name}: top level is not an object of clips")
    return records


def harmony_chord_name(chord: dict) -> str:
    """{root_pitch_class, root_position_intervals (steps)} -> canonical name. Raises UnknownChord."""
    offsets, total = [0], 0
    for step in chord["root_position_intervals"]:
        total += int(step)
        offsets.append(total)
    return chord_name(int(chord["root_pitch_class"]), quality_from_intervals(offsets))


def frame(beat: float) -> int:
    """Beats -> frame index, truncated like the authors' code (a tiny slack absorbs float
    noise such as 2.9999999 for 3)."""
    return math.floor(float(beat) * FRAMES_PER_BEAT + 1e-6)


def parse_record(uid: str, record: dict) -> Song:
    """One clip record -> normalised Song. Raises SkipSong."""
    ann = record["annotations"]
    if not ann.get("melody"):
        raise SkipSong("no_melody", uid)
    if not ann.get("harmony"):
        raise SkipSong("no_chords", uid)
    melody = [Note(frame(n["onset"]), frame(n["offset"]), 60 + 12 * int(n["octave"]) + int(n["pitch_class"]))
              for n in ann["melody"]]
    lo, hi = PITCH_MIN + TRANSPOSE_MAX, PITCH_MAX - TRANSPOSE_MAX
    if any(not lo <= n.pitch <= hi for n in melody):
        raise SkipSong("pitch_out_of_range", uid)
    chords = [ChordEvent(frame(c["onset"]), frame(c["offset"]), harmony_chord_name(c)) for c in ann["harmony"]]
    meters = ann.get("meters") or [{}]
    n_frames = max([FRAMES_PER_BEAT * int(ann.get("num_beats") or 0)]
                   + [n.end for n in melody] + [c.end for c in chords])
    info = record.get("hooktheory") or {}
    title = " - ".join(str(info[k]) for k in ("artist", "song") if info.get(k)) or uid
    split = SPLITS.get(str(record.get("split", "")).upper())
    song = Song(title=title, source="hooktheory", melody=melody, chords=chords, n_frames=n_frames,
                bar_frames=FRAMES_PER_BEAT * int(meters[0].get("beats_per_bar") or 4), split=split,
                meta={"id": uid, "tags": list(record.get("tags") or [])})
    song = normalize_song(song, n_frames)
    if not song.melody:
        raise SkipSong("no_melody", uid)
    return song


def parse_unit(unit: str) -> list[Song | SkipSong]:
    """One JSON file -> a Song or SkipSong per clip; never raises for bad input."""
    try:
        records = load_records(Path(unit))
    except SkipSong as e:
        return [e]
    out: list[Song | SkipSong] = []
    for uid in sorted(records):
        try:
            out.append(parse_record(uid, records[uid]))
        except SkipSong as e:  # UnknownChord included
            out.append(e)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            out.append(SkipSong("malformed_record", f"{uid}: {type(e).__name__}: {e}"))
    return out

