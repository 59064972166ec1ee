"""Note-in-chord harmony (paper 4.2): how often the sounding melody note belongs to the chord.

Per frame: skip it if either part is not a real note/chord (PAD, BOS, EOS, SILENCE, or a token of
the wrong kind); otherwise it is a hit when the melody's pitch class is one of the chord's pitch
classes. Onset and hold frames both count. A system's figure pools frames over all sequences
(total hits / total valid frames), so long sequences weigh more than short ones.

A note-in-chord ratio can be bought with dense chords: adding a 7th to every chord makes a
quarter more of the scale "in the chord". So harmony is reported three ways: note-in-chord (the
paper's), note-in-triad (every chord reduced to its triad, `TRIAD_OF`, so extensions buy nothing)
and `pitch_classes_per_chord`, how dense the chords a system plays are (paper Table 10: 3.0-3.3
pitch classes per chord for every system, 3.3-3.5 for the data's).
"""
from __future__ import annotations

import warnings

import numpy as np

from .. import FRAMES_PER_BEAT
from ..music.tokens import VOCAB, Vocab


def _as_2d(a) -> np.ndarray:
    a = a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)
    return a.astype(np.int64)[None] if a.ndim == 1 else a.astype(np.int64)


def note_in_chord_hits(melody_frames, chord_frames, vocab: Vocab = VOCAB,
                       triads: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """[B, T] (or [T]) melody and chord frame tokens -> (hit bool [B, T], valid bool [B, T]).
    triads: test the note against the chord's triad only (note-in-triad)."""
    x, y = _as_2d(melody_frames), _as_2d(chord_frames)
    if x.shape != y.shape:
        raise ValueError(f"melody {x.shape} and chords {y.shape} differ in shape")
    pitch, chord = vocab.pitch_of[x], vocab.chord_of[y]
    valid = (pitch >= 0) & (chord >= 0)
    mask = vocab.triad_pc_mask if triads else vocab.chord_pc_mask
    hit = mask[np.maximum(chord, 0), np.maximum(pitch, 0) % 12] & valid
    return hit, valid


def note_in_chord_ratio(melody_frames, chord_frames, vocab: Vocab = VOCAB, triads: bool = False) -> float:
    """Pooled note-in-chord ratio over all sequences; NaN when no frame is valid."""
    hit, valid = note_in_chord_hits(melody_frames, chord_frames, vocab, triads)
    n = int(valid.sum())
    return float(hit.sum() / n) if n else float("nan")


def note_in_triad_ratio(melody_frames, chord_frames, vocab: Vocab = VOCAB) -> float:
    """Note-in-chord with every chord reduced to its triad: 7ths, 6ths and extensions buy nothing."""
    return note_in_chord_ratio(melody_frames, chord_frames, vocab, triads=True)


def harmony_per_sequence(melody_frames, chord_frames, vocab: Vocab = VOCAB,
                         triads: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(hits float[B], valid frames float[B]) per sequence: the pieces a bootstrap over melodies
    resamples (the pooled ratio is hits.sum() / valid.sum())."""
    hit, valid = note_in_chord_hits(melody_frames, chord_frames, vocab, triads)
    return hit.sum(1).astype(np.float64), valid.sum(1).astype(np.float64)


def harmony_per_beat(melody_frames, chord_frames, frames_per_beat: int = FRAMES_PER_BEAT,
                     vocab: Vocab = VOCAB) -> np.ndarray:
    """float[n_beats]: per beat, the mean over sequences of each sequence's note-in-chord ratio
    within that beat (sequences with no valid frame in the beat are left out; NaN if none)."""
    hit, valid = note_in_chord_hits(melody_frames, chord_frames, vocab)
    B, T = hit.shape
    n_beats = -(-T // frames_per_beat)
    pad = n_beats * frames_per_beat - T
    hit = np.pad(hit, ((0, 0), (0, pad))).reshape(B, n_beats, frames_per_beat).sum(2)
    valid = np.pad(valid, ((0, 0), (0, pad))).reshape(B, n_beats, frames_per_beat).sum(2)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN beats -> NaN, quietly
        return np.nanmean(np.where(valid > 0, hit / valid, np.nan), axis=0)


def pitch_classes_per_chord(chord_frames, vocab: Vocab = VOCAB) -> float | None:
    """Mean number of pitch classes of the chord sounding at each chord frame, any shape of
    frame tokens (silence and non-chord tokens left out); None when no frame holds a chord."""
    y = np.asarray(chord_frames.detach().cpu() if hasattr(chord_frames, "detach") else chord_frames)
    ids = vocab.chord_of[np.clip(y.astype(np.int64), 0, vocab.size - 1)]
    ids = ids[ids >= 0]
    return float(vocab.chord_pc_mask[ids].sum(1).mean()) if ids.size else None
