"""Songs as notation: a music21 score, MusicXML files and an inline SVG score (verovio)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import FRAMES_PER_BEAT
from .errors import MinigaptError
from .music.chords import ROOT_NAMES, split_chord_name
from .music.song import Song, crop_song, time_signature


_MUSICXML_KIND = {
    "": "major", "m": "minor", "7": "dominant-seventh", "maj7": "major-seventh",
    "m7": "minor-seventh", "dim": "diminished", "aug": "augmented",
    "m7b5": "half-diminished-seventh", "dim7": "diminished-seventh", "6": "major-sixth",
    "m6": "minor-sixth", "sus4": "suspended-fourth", "sus2": "suspended-second",
    "7sus4": "suspended-fourth-seventh", "mmaj7": "minor-major-seventh", "5": "power",
}


def song_to_score(song: Song):
    """A music21 Score: one part with the melody (rests in gaps) and ChordSymbols, with the key
    signature music21 estimates from the melody (black keys spelled with its sharps or flats)."""
    from music21 import clef, harmony, key, meter, note, stream

    q = 1.0 / FRAMES_PER_BEAT  # quarter notes per frame
    part = stream.Part()
    num, den = time_signature(song)
    part.insert(0, meter.TimeSignature(f"{num}/{den}"))
    low = song.melody and float(np.median([n.pitch for n in song.melody])) < 55
    part.insert(0, clef.BassClef() if low else clef.TrebleClef())
    now, notes = 0, []
    for n in song.melody:
        if n.start > now:
            part.insert(now * q, note.Rest(quarterLength=(n.start - now) * q))
        notes.append(note.Note(_SHARP_NAMES[n.pitch % 12] + str(n.pitch // 12 - 1),
                               quarterLength=(n.end - n.start) * q))
        part.insert(n.start * q, notes[-1])
        now = n.end
    if song.n_frames > now:
        part.insert(now * q, note.Rest(quarterLength=(song.n_frames - now) * q))
    use_flats = False
    if notes:
        ks = part.analyze("key")  # Krumhansl-Schmuckler on the melody
        part.insert(0, key.KeySignature(ks.sharps))
        use_flats = ks.sharps < 0
        for x in notes:
            if use_flats and x.pitch.accidental is not None:
                x.pitch = x.pitch.getEnharmonic()
    # Chord symbols go into the finished measures: inserted before makeNotation, a symbol
    # that falls inside a note makes music21 split the bar into voices.
    part = part.makeNotation()
    measures = list(part.getElementsByClass(stream.Measure))
    for c in song.chords:
        root, quality = split_chord_name(c.chord)
        cs = harmony.ChordSymbol(root=(_FLAT_NAMES if use_flats else _CANONICAL_ROOTS)[root],
                                 kind=_MUSICXML_KIND[quality])
        cs.writeAsChord = False
        cs.duration.quarterLength = 0  # a label, not an event
        cs.chordKindStr = quality  # shown as written in minigapt (e.g. "7sus4", "m7b5")
        at = c.start * q
        m = next((m for m in reversed(measures) if m.offset <= at), None)
        if m is not None:
            m.insert(at - m.offset, cs)
    score = stream.Score([part])
    score.insert(0, _metadata(song.title))
    return score


_SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_FLAT_NAMES = ("C", "D-", "D", "E-", "E", "F", "G-", "G", "A-", "A", "B-", "B")
_CANONICAL_ROOTS = tuple(r.replace("b", "-") for r in ROOT_NAMES)  # music21 writes flats as "-"


def _metadata(title: str):
    from music21 import metadata

    md = metadata.Metadata()
    md.title = title
    return md


def song_to_musicxml(song: Song, path) -> Path:
    """Write the song as MusicXML (melody + chord symbols); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    song_to_score(song).write("musicxml", fp=str(path))
    return path


def show_score(song: Song, max_bars: int = 8, width_px: int = 1000):
    """The first `max_bars` bars as an inline SVG score (needs `verovio`), else a one-line notice."""
    from IPython.display import SVG, Pretty

    try:
        import verovio
    except ImportError:
        return Pretty("show_score needs verovio (pip install verovio); song_to_musicxml() writes a "
                      "file any notation program opens")
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    short = crop_song(song, 0, max_bars * song.bar_frames) if song.n_frames > max_bars * song.bar_frames else song
    xml = GeneralObjectExporter(song_to_score(short)).parse().decode("utf-8")
    verovio.enableLog(False)
    tk = verovio.toolkit()
    tk.setOptions({"pageWidth": int(width_px * 2.5), "adjustPageHeight": True, "scale": 40,
                   "header": "none", "footer": "none", "breaks": "auto"})
    if not tk.loadData(xml):
        raise MinigaptError("verovio could not read the score")
    pages = [tk.renderToSVG(i) for i in range(1, tk.getPageCount() + 1)]
    return SVG(pages[0]) if len(pages) == 1 else _stack_svgs(pages)


def _stack_svgs(pages: list[str]):
    """Several verovio pages shown one after another (an HTML block of SVGs)."""
    from IPython.display import HTML

    return HTML("".join(f"<div>{p}</div>" for p in pages))
