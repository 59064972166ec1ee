"""The embedded default data source: Bach chorales from music21's bundled corpus.

Needs no download and no data folder, so `make course` and the tests run offline.

Why the chorales. music21's corpus has ~13,000 melody-only folk tunes (Essen, O'Neill, Ryan's
Mammoth, Aird: a few dozen chord-like strings among them, mostly fingerings and "D.C."), only 2
Nottingham tunes with chord symbols, and ~400 Bach chorales. The chorales are the one large set
of real melody + harmony pairs: four-part, homophonic, the soprano is the tune and the other
voices state one harmony per beat. So: melody = the soprano (the first "Soprano" part); the
harmony of each quarter-note beat is named from the pitches of all vocal parts (S, A, T, B;
doubling instruments, continuo and the WTC prelude in the Bach folder are left out) sounding at
the beat's onset and at its half-beat, the plainer reading winning (a suspension or an accented
passing tone on the beat usually resolves by the half-beat).

Naming a sonority (`name_sonority`): if some pitch class of it is the root of a vocabulary chord
with exactly these pitch classes, take it, preferring the quality a harmony textbook would write
(triads, then sevenths, then sus/6 chords: {C,E,G,A} is Am7 rather than C6) and, between equally
good roots, the bass (so a diminished seventh is named from its bass). Otherwise the root is the
pitch class with the most chord tones stacked in thirds above it (like music21's
`Chord.root()`, much faster) and the quality is `quality_from_intervals` on the pitch classes
above it, which drops passing tones and tensions. A beat whose sonority names no vocabulary
chord even then (a bare unison or octave) counts as the previous beat's chord continuing (the
nearest chord in time), or no chord before the first named beat. Beats naming the same chord
merge into one chord event (Bach changes harmony on most beats: ~44 chord events per chorale).

Checked against the corpus's 20 expert Roman-numeral analyses of chorales
(`analysis_agreement`): the same chord name on 89.6% of 1,010 beats in 18 chorales (the other 2
analyses describe different editions). Sampling only the beat onset gives 89.4%, music21's
`Chord.root()` for the root 88.8%; most misses are suspensions and 6-4 chords that an analyst
names by their resolution.

A pickup bar is kept and padded with silence, so frame 0 is a bar start (bars are
`bar_frames` long, from the first time signature). Repeats are not expanded.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import MinigaptError, SkipSong
from ..music.chords import QUALITIES, chord_name, quality_from_intervals
from ..music.song import ChordEvent, Note, Song, normalize_song
from ..music.tokens import PITCH_MAX, PITCH_MIN, TRANSPOSE_MAX

PARSER_VERSION = "1"
DEFAULT_SUBDIR = None
FRAMES_PER_BEAT = 4
VOICES = ("Soprano", "Alto", "Tenor", "Bass")

# Preference between exact interpretations of one pitch-class set (lower wins).
_QUALITY_RANK = {q: i for i, q in enumerate(
    ("", "m", "7", "m7", "dim", "m7b5", "dim7", "maj7", "aug", "mmaj7",
     "sus4", "7sus4", "sus2", "6", "m6", "5"))}
_EXACT = {frozenset(ivs): q for q, ivs in QUALITIES.items()}
# How well an interval above a candidate root fits a chord built in thirds (the 5th best, then
# 3rds, then 7ths and the diminished 5th; 2nds, 4ths and 6ths are likely non-chord tones):
# picks the root of an inexact sonority much like music21's Chord.root(), which builds a Chord
# and spells it (~0.1 s a call here: it dominated the whole parse).
_THIRDS_SCORE = (0, -1, -1, 2, 2, -1, 1, 3, -1, -1, 1, 1)


def find_units(root: Path | None = None) -> list[str]:
    """Every Bach score in music21's corpus (root is ignored: the corpus ships with music21)."""
    from music21 import corpus

    paths = [str(p) for p in corpus.getComposer("bach") if p.suffix in (".mxl", ".xml", ".musicxml")]
    if not paths:
        raise MinigaptError("music21's corpus has no Bach chorales; reinstall music21 (pip install music21)")
    return sorted(paths)


def name_sonority(pitches) -> str | None:
    """MIDI pitches sounding together -> canonical chord name, or None (see module doc)."""
    return _rank_and_name(pitches)[1]


def _rank_and_name(pitches) -> tuple[int, str | None]:
    """(how plain the reading is: lower = a plainer chord, the name) of a sonority."""
    pcs = sorted({int(p) % 12 for p in pitches})
    if len(pcs) < 2:
        return 99, None
    bass = int(min(pitches)) % 12
    exact = []
    for r in pcs:
        q = _EXACT.get(frozenset((p - r) % 12 for p in pcs))
        if q is not None:
            exact.append((_QUALITY_RANK[q], r != bass, r, q))
    if exact:
        rank, _, r, q = min(exact)
        return rank, chord_name(r, q)
    root = max(pcs, key=lambda r: (sum(_THIRDS_SCORE[(p - r) % 12] for p in pcs), r == bass))
    try:
        return 50, chord_name(root, quality_from_intervals((p - root) % 12 for p in pcs))
    except MinigaptError:
        return 99, None


def _vocal_parts(score) -> list:
    """The S/A/T/B parts (names like "Soprano 1" or "Soprano Oboe 1 Violin1"), in score order."""
    return [p for p in score.parts if ((p.partName or "").split() or [""])[0] in VOICES]


def _pickup_padding(part) -> float:
    """Quarter notes of silence that put a pickup bar's notes at the end of a full bar."""
    measures = part.getElementsByClass("Measure")
    if not measures:
        return 0.0
    first = measures[0]
    bar = first.barDuration.quarterLength
    filled = first.duration.quarterLength
    return float(bar - filled) if 0 < filled < bar else 0.0


def _part_notes(part, pad: float) -> list[tuple[float, float, int]]:
    """(start, end, pitch) in quarter notes from the padded start, tied notes merged (by hand:
    music21's stripTies deep-copies the part and takes longer than parsing it)."""
    out: list[tuple[float, float, int]] = []
    open_ties: dict[int, int] = {}  # pitch -> index in out of the note a tie continues
    for n in part.flatten().notes:
        dur = float(n.quarterLength)
        if dur <= 0:
            continue  # grace notes
        start = float(n.offset) + pad
        tie = n.tie.type if n.tie is not None else None
        for p in n.pitches:
            midi = int(p.midi)
            i = open_ties.get(midi)
            if tie in ("stop", "continue") and i is not None and abs(out[i][1] - start) < 1e-6:
                out[i] = (out[i][0], start + dur, midi)
            else:
                i = len(out)
                out.append((start, start + dur, midi))
            if tie in ("start", "continue"):
                open_ties[midi] = i
            else:
                open_ties.pop(midi, None)
    return out


def beat_chords(voices: list[tuple[float, float, int]], n_beats: int,
                samples: tuple[float, ...] = (0.0, 0.5)) -> list[str | None]:
    """One chord name (or None) per quarter-note beat: of the sonorities sounding at the given
    fractions of the beat, the plainest reading wins (ties: the earliest). Sampling the
    half-beat too hears a suspension or an accented passing tone resolve."""
    if not voices:
        return [None] * n_beats
    a = np.array(voices, dtype=float)
    names = []
    for b in range(n_beats):
        best = (100, None)
        for frac in samples:
            t = b + frac + 1e-9
            sounding = a[(a[:, 0] <= t) & (a[:, 1] > t), 2]
            if len(sounding):
                best = min(best, _rank_and_name(sounding.astype(int)), key=lambda x: x[0])
        names.append(best[1])
    return names


def chord_events_from_beats(names: list[str | None]) -> list[ChordEvent]:
    """Beat names -> chord events: unnamed beats continue the previous chord; runs merge."""
    events: list[ChordEvent] = []
    for b, name in enumerate(names):
        start, end = b * FRAMES_PER_BEAT, (b + 1) * FRAMES_PER_BEAT
        if events and (name is None or name == events[-1].chord) and events[-1].end == start:
            events[-1] = ChordEvent(events[-1].start, end, events[-1].chord)
        elif name is not None:
            events.append(ChordEvent(start, end, name))
    return events


def parse_score(score, title: str) -> Song:
    """A parsed chorale (music21 Score) -> normalised Song. Raises SkipSong."""
    vocal = _vocal_parts(score)
    if not vocal:
        raise SkipSong("no_vocal_parts", title)
    soprano = vocal[0]
    pad = _pickup_padding(soprano)
    melody_notes = _part_notes(soprano, pad)
    if not melody_notes:
        raise SkipSong("no_melody", title)
    f = FRAMES_PER_BEAT
    melody = [Note(int(s * f), int(e * f), p) for s, e, p in melody_notes]
    lo, hi = PITCH_MIN + TRANSPOSE_MAX, PITCH_MAX - TRANSPOSE_MAX
    if any(not lo <= n.pitch <= hi for n in melody):
        raise SkipSong("pitch_out_of_range", title)
    voices = [x for part in vocal for x in _part_notes(part, pad)]
    end_q = max(e for _, e, _ in voices)
    n_frames = int(end_q * f)
    chords = chord_events_from_beats(beat_chords(voices, int(np.ceil(end_q - 1e-9))))
    if not chords:
        raise SkipSong("no_chords", title)
    ts = soprano.recurse().getElementsByClass("TimeSignature")
    bar_frames = int(ts[0].barDuration.quarterLength * f) if ts else 16
    song = Song(title=title, source="default", melody=melody, chords=chords, n_frames=n_frames,
                bar_frames=bar_frames, meta={"pickup_frames": int(pad * f)})
    return normalize_song(song, n_frames)


def parse_unit(unit: str) -> list[Song | SkipSong]:
    """One corpus file -> [Song] or [SkipSong]; never raises for bad input."""
    from music21 import converter

    path = Path(unit)
    try:
        score = converter.parse(path, forceSource=True)
    except Exception as e:  # music21 raises many types on a malformed file
        return [SkipSong("unreadable_file", f"{path.name}: {e}")]
    title = path.stem
    try:
        md = score.metadata
        if md is not None and md.title:
            title = f"{path.stem} {md.title}"
        return [parse_score(score, title)]
    except SkipSong as e:
        return [e]
    except Exception as e:  # an odd score must not stop a whole parse
        return [SkipSong("malformed_score", f"{path.name}: {type(e).__name__}: {e}")]


def _analysed_score_path(rn_path: Path) -> Path | None:
    """The corpus score an analysis file describes ('BWV: 248(2).12' -> bwv248.12-2.mxl)."""
    import re

    bwv = next((line.split(":", 1)[1].strip() for line in rn_path.read_text().splitlines()
                if line.startswith("BWV:")), "")
    m = re.fullmatch(r"(\d+)\((\d+)\)\.(\d+)", bwv)
    name = f"{m.group(1)}.{m.group(3)}-{m.group(2)}" if m else bwv.rstrip("s")
    path = rn_path.parent.parent / f"bwv{name}.mxl"
    return path if path.exists() else None


def analysis_agreement(samples: tuple[float, ...] = (0.0, 0.5), max_files: int | None = None) -> dict:
    """Compare our beat chords with the corpus's 20 expert Roman-numeral analyses of chorales.

    Some analyses describe another edition: transposed (the best of 12 transpositions is
    used: chord names are compared relative to the key) or with other bars (agreement under
    50% at every transposition: left out and counted in `editions_differ`). Returns beats
    compared and the fraction with the same chord name. Parses 40 files: ~20 s.
    """
    from music21 import converter, corpus

    from ..music.chords import transpose_chord_name

    analyses = sorted(p for p in corpus.getPaths(fileExtensions=("rntxt",)) if "choraleAnalyses" in str(p))
    same = total = used = differ = 0
    for rn_path in analyses[:max_files]:
        score_path = _analysed_score_path(Path(rn_path))
        if score_path is None:
            differ += 1
            continue
        vocal = _vocal_parts(converter.parse(score_path, forceSource=True))
        pad = _pickup_padding(vocal[0])
        voices = [x for part in vocal for x in _part_notes(part, pad)]
        n_beats = int(np.ceil(max(e for _, e, _ in voices) - 1e-9))
        ours = beat_chords(voices, n_beats, samples)
        for b in range(1, n_beats):  # as chord_events_from_beats does
            ours[b] = ours[b] if ours[b] is not None else ours[b - 1]
        truth = _analysis_beat_chords(converter.parse(rn_path).parts[0], pad, n_beats)
        pairs = [(o, t) for o, t in zip(ours, truth) if t is not None]
        hits = max(sum(o == transpose_chord_name(t, k) for o, t in pairs) for k in range(12))
        if hits < 0.5 * len(pairs):
            differ += 1
            continue
        same, total, used = same + hits, total + len(pairs), used + 1
    return {"chorales": used, "editions_differ": differ, "beats": total, "same_name": same / max(total, 1)}


def _analysis_beat_chords(rn_part, pad: float, n_beats: int) -> list[str | None]:
    """The analysis's chord at each beat onset, named like ours (root + quality)."""
    truth: list[str | None] = [None] * n_beats
    for r in rn_part.recurse().getElementsByClass("RomanNumeral"):
        start = float(r.getOffsetInHierarchy(rn_part)) + pad  # same pickup as the score
        end = start + float(r.quarterLength)
        root = r.root().pitchClass
        try:
            name = chord_name(root, quality_from_intervals((p.pitchClass - root) % 12 for p in r.pitches))
        except MinigaptError:
            continue
        for b in range(int(np.ceil(start - 1e-9)), min(n_beats, int(np.ceil(end - 1e-9)))):
            truth[b] = name
    return truth
