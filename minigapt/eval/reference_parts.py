"""Chord parts with known answers, built from the melody alone: the yardsticks of every metric.

A diversity score that a held chord beats cannot tell collapse from music, and a harmony score
that 7ths can buy cannot tell learning from padding. These parts are what a collapsed policy
would play, in the key the melody implies (`music.keys.estimate_key`):
- `held_tonic`: the tonic chord (I, or i in minor) from the first note to the last;
- `tonic_dominant`: I and V (i and V in minor) alternating bar by bar;
- `held_most_frequent`: each song's own most frequent chord, held (needs the data's chords).
The part builders are notebook 03's (`rewards.analysis`), where they look for the reward's holes.
"""
from __future__ import annotations

import numpy as np

from ..music.keys import estimate_key
from ..music.tokens import VOCAB, Vocab
from ..rewards import analysis
from .diversity import chord_ids, pad_rows

REFERENCE_PARTS = ("held-tonic", "tonic-dominant")


def melody_keys(x, vocab: Vocab = VOCAB) -> list[tuple[int, str]]:
    """[(tonic, "major" | "minor")] per melody, in notebook 03's spelling."""
    tonic, minor = estimate_key(pad_rows(x), vocab)
    return [(int(t), "minor" if m else "major") for t, m in zip(tonic, minor)]


def held_tonic(x, vocab: Vocab = VOCAB) -> np.ndarray:
    """The tonic chord of the melody's key, struck once and held for the whole part."""
    return analysis.held_chord(pad_rows(x), [analysis.tonic_chord(*k) for k in melody_keys(x, vocab)], vocab=vocab)


def tonic_dominant(x, vocab: Vocab = VOCAB) -> np.ndarray:
    """Tonic and dominant (a major triad on the 5th, in minor too) alternating bar by bar."""
    return analysis.tonic_dominant(pad_rows(x), melody_keys(x, vocab), vocab=vocab)


def held_most_frequent(x, y_data, vocab: Vocab = VOCAB) -> np.ndarray:
    """Each song's most frequent chord (by frames, in its own chords y_data), held throughout."""
    c = chord_ids(y_data, vocab)
    ids = [np.bincount(r[r >= 0], minlength=vocab.n_chords).argmax() if (r >= 0).any() else 0 for r in c]
    return analysis.held_chord(pad_rows(x), [vocab.chord_names[i] for i in ids], vocab=vocab)


def reference_part(name: str, x, vocab: Vocab = VOCAB) -> np.ndarray:
    """`held-tonic` or `tonic-dominant` for melodies x."""
    if name == "held-tonic":
        return held_tonic(x, vocab)
    if name == "tonic-dominant":
        return tonic_dominant(x, vocab)
    raise ValueError(f"unknown reference part {name!r}: one of {', '.join(REFERENCE_PARTS)}")
