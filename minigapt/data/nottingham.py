"""Nottingham Music Database (cleaned ABC): 14 multi-tune files, 1,034 folk tunes with chords.

One unit of work per tune ("path/jigs.abc#007" = the 7th tune of jigs.abc, counted from 1 in
file order, not by its X: number), so two processes share the parse evenly.

Decisions (and why):
- Repeats are NOT expanded: a tune is read as written, "|: A :|" once, and a first ending
  "[1" followed directly by the second "[2". Expanding would mostly duplicate material the
  model already sees (every melody/chord pairing is in the written form), make tunes 2-4x
  longer so 256-frame crops would be largely copies of each other, and music21's repeat
  expansion fails on inconsistent marks. The cost: where a first-ending bar leads back to the
  start, the written order jumps to the second ending instead, and after an incomplete
  first-ending bar the bar lines drift off the `bar_frames` grid. The authors' code also
  reads the written form.
- The Y: field (the order in which parts are played, e.g. "AABABAC") is ignored for the same
  reason: each part P: is read once, in written order.
- Pickup (anacrusis) bars are removed, as in the authors' code: an under-filled first bar is
  dropped so that frame 0 is a downbeat and bar lines fall on multiples of `bar_frames`
  (frames per bar from the time signature: 4/4 -> 16, 6/8 -> 12). A chord written on the
  pickup carries over to frame 0 when bar 1 does not state one. Pickups of later parts stay
  (they sit inside the written music).
- Chord symbols are read as written and named with music.chords.parse_chord_symbol, not by
  music21 (which drops "Cd", "Ca", "Fa7" and reads "D/f+" as D augmented): "Cd" -> Cdim,
  "Ca" -> Caug, "C/e" -> C (slash bass dropped), "(E7)" (an optional chord) -> E7, "Fa7"
  (augmented 7th) -> F7, blank symbols ignored. Where an ABC note carries two symbols (an
  alternative chord line), the first is kept.
- Times: quarter-note beats x 4, truncated; a note shorter than a frame lasts one frame;
  zero-length chords are dropped (music.song.normalize_song).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ..errors import MinigaptError, SkipSong
from ..music.song import Song
from .music21_song import (abc_field, name_abc_chord, parse_or_skip, read_abc_tune, read_text,
                           score_to_song, split_abc_tunes)

PARSER_VERSION = "3"  # 3: a full first bar that starts with a rest under no chord is a pickup
DEFAULT_SUBDIR = "nottingham"
SOURCE = "nottingham"


def abc_files(root: Path) -> list[Path]:
    """The .abc files of a Nottingham folder (its ABC_cleaned/ if present), sorted."""
    root = Path(root)
    if (root / "ABC_cleaned").is_dir():
        root = root / "ABC_cleaned"
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.suffix.lower() == ".abc" and p.is_file())


def tune_units(path: Path, n_tunes: int) -> list[str]:
    """'path#NNN' per tune, zero-padded so that the units sort in file order."""
    width = len(str(n_tunes))
    return [f"{path}#{i:0{width}d}" for i in range(1, n_tunes + 1)]


def split_unit(unit: str) -> tuple[Path, int | None]:
    """'path#7' -> (path, 7); 'path' -> (path, None)."""
    head, sep, tail = str(unit).rpartition("#")
    if sep and tail.isdigit():
        return Path(head), int(tail)
    return Path(unit), None


@lru_cache(maxsize=32)
def _tunes_cached(path: str, mtime_ns: int, size: int) -> tuple[str, ...]:
    return tuple(split_abc_tunes(read_text(Path(path))))


def tunes_of(path: Path) -> tuple[str, ...]:
    """The tunes of an ABC file (cached per process: each unit re-reads only one tune)."""
    st = Path(path).stat()
    return _tunes_cached(str(path), st.st_mtime_ns, st.st_size)


def find_units(root: Path | None) -> list[str]:
    if root is None:
        raise MinigaptError("the Nottingham source needs a folder (the dataset's ABC_cleaned/)")
    if not Path(root).exists():
        raise MinigaptError(f"Nottingham folder not found: {root}")
    files = abc_files(Path(root))
    if not files:
        raise MinigaptError(f"no .abc files under {root}")
    units: list[str] = []
    for f in files:
        units += tune_units(f, len(tunes_of(f))) or [str(f)]  # an empty file: one unit, one skip
    return units


def abc_tune_to_song(tune: str, *, source: str, require_chords: bool, meta: dict) -> Song:
    """One ABC tune's text -> Song (raises SkipSong)."""
    score = read_abc_tune(tune, text_is_annotation=not require_chords)
    title = abc_field(tune, "T") or f"{meta.get('file', 'tune')} #{meta.get('tune', '')}".strip()
    x = abc_field(tune, "X")
    meta = {**meta, **({"x": x} if x else {})}
    return score_to_song(score, title=title, source=source, name_chord=name_abc_chord,
                         require_chords=require_chords, meta=meta)


def parse_abc_unit(unit: str, *, source: str, require_chords: bool) -> list:
    """Songs (or SkipSongs) of an ABC unit: one tune ('path#N') or every tune in the file."""
    path, index = split_unit(unit)
    try:
        tunes = tunes_of(path)
    except OSError as e:
        return [SkipSong("parse_error", f"cannot read {path}: {e.strerror}")]
    if not tunes:
        return [SkipSong("empty_file", str(path))]
    if index is not None and not 1 <= index <= len(tunes):
        return [SkipSong("parse_error", f"{path} has {len(tunes)} tunes, not #{index}")]
    numbers = [index] if index is not None else range(1, len(tunes) + 1)
    out: list = []
    for i in numbers:
        meta = {"file": path.name, "tune": i}
        out += parse_or_skip(lambda: [abc_tune_to_song(tunes[i - 1], source=source,
                                                       require_chords=require_chords, meta=meta)],
                             f"{path.name}#{i}")
    return out


def parse_unit(unit: str) -> list:
    return parse_abc_unit(unit, source=SOURCE, require_chords=True)

