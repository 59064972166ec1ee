"""OpenEWLD: 486 public-domain Wikifonia lead sheets (compressed MusicXML, melody + chords).

The paper's out-of-distribution set ("Wikifonia"). One unit per .mxl file
(dataset/<author>/<title>/<title>.mxl). The melody is the top line of the first part; the
chords are its <harmony> elements, named from their root and pitches (the interval set above
the root, reduced by music.chords.quality_from_intervals: 9ths/11ths/13ths -> 7ths, altered
tensions dropped, slash basses dropped); a "N.C." ends the previous chord. Pickup bars are
removed as for Nottingham (frame 0 is a downbeat); repeats are read as written. A sheet
without chord symbols is a counted skip "no_chords".
"""
from __future__ import annotations

from pathlib import Path

from ..errors import MinigaptError
from .music21_song import name_harmony, parse_or_skip, read_musicxml, score_to_song

PARSER_VERSION = "3"  # 3: a full first bar that starts with a rest under no chord is a pickup
DEFAULT_SUBDIR = "openewld"
SOURCE = "openewld"


def find_units(root: Path | None) -> list[str]:
    if root is None:
        raise MinigaptError("the OpenEWLD source needs a folder (the repository's dataset/)")
    root = Path(root)
    if not root.exists():
        raise MinigaptError(f"OpenEWLD folder not found: {root}")
    if (root / "dataset").is_dir():
        root = root / "dataset"
    units = sorted(str(p) for p in root.rglob("*.mxl") if p.is_file())
    if not units:
        raise MinigaptError(f"no .mxl files under {root}")
    return units


def musicxml_to_song(path: Path, *, source: str, require_chords: bool) -> list:
    """A MusicXML file -> [Song] (raises SkipSong)."""
    score = read_musicxml(path)
    md = score.metadata
    title = (md.title or md.movementName) if md is not None else None
    return [score_to_song(score, title=title or path.stem, source=source, name_chord=name_harmony,
                          require_chords=require_chords, meta={"file": path.name})]


def parse_unit(unit: str) -> list:
    path = Path(unit)
    return parse_or_skip(lambda: musicxml_to_song(path, source=SOURCE, require_chords=True),
                         f"{path.parent.parent.name}/{path.name}")
