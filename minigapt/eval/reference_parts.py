"""Chord parts with known answers, built from the melody alone: the yardsticks of every metric.

A diversity score that a held chord beats cannot tell collapse from music, and a harmony score
that 7ths can buy cannot tell learning from padding. These parts are what a collapsed policy
would play, in the key the melody implies (`music.keys.estimate_key`):
- `held_tonic`: the tonic chord (I, or i in minor) from the first note to the last;
- `tonic_dominant`: I and V (i and V in minor) alternating bar by bar;
- `held_most_frequent`: each song's own most frequent chord, held (needs the data's chords).
"""
from __future__ import annotations

import numpy as np

from .. import FRAMES_PER_BEAT
from ..music.chords import chord_name
from ..music.keys import estimate_key
from ..music.tokens import PAD, VOCAB, Vocab
from .diversity import chord_ids, pad_rows

REFERENCE_PARTS = ("held-tonic", "tonic-dominant")
FRAMES_PER_BAR = 4 * FRAMES_PER_BEAT  # a 4/4 bar: the reference parts change at most once a bar


def _part(x, chord_at_bar, frames_per_bar: int, vocab: Vocab) -> np.ndarray:
    """Chord frame tokens [B, T] sounding chord_at_bar[b, bar] (a name id), struck at each bar
    where it changes, over the frames where the melody part runs (PAD elsewhere)."""
    x = pad_rows(x)
    B, T = x.shape
    bar = np.arange(T) // frames_per_bar
    ids = chord_at_bar[:, bar]  # [B, T]
    prev = np.concatenate([np.full((B, 1), -1), ids[:, :-1]], axis=1)
    y = np.where(ids != prev, vocab.chord_on0 + ids, vocab.chord_hold0 + ids)
    return np.where(x == PAD, PAD, y)


def _names_to_ids(names, vocab: Vocab) -> np.ndarray:
    return np.array([vocab.chord_index[n] for n in names], np.int64)


def held_tonic(x, frames_per_bar: int = FRAMES_PER_BAR, vocab: Vocab = VOCAB) -> np.ndarray:
    """The tonic chord of the melody's key, held for the whole part."""
    tonic, minor = estimate_key(pad_rows(x), vocab)
    ids = _names_to_ids([chord_name(t, "m" if m else "") for t, m in zip(tonic, minor)], vocab)
    n_bars = -(-pad_rows(x).shape[1] // frames_per_bar)
    return _part(x, np.repeat(ids[:, None], max(n_bars, 1), axis=1), frames_per_bar, vocab)


def tonic_dominant(x, frames_per_bar: int = FRAMES_PER_BAR, vocab: Vocab = VOCAB) -> np.ndarray:
    """Tonic and dominant (a major triad on the 5th, in minor too) alternating bar by bar."""
    tonic, minor = estimate_key(pad_rows(x), vocab)
    i = _names_to_ids([chord_name(t, "m" if m else "") for t, m in zip(tonic, minor)], vocab)
    v = _names_to_ids([chord_name(t + 7, "") for t in tonic], vocab)
    n_bars = max(-(-pad_rows(x).shape[1] // frames_per_bar), 1)
    at_bar = np.where(np.arange(n_bars)[None, :] % 2 == 0, i[:, None], v[:, None])
    return _part(x, at_bar, frames_per_bar, vocab)


def held_most_frequent(x, y_data, vocab: Vocab = VOCAB) -> np.ndarray:
    """Each song's most frequent chord (by frames, in its own chords y_data), held throughout."""
    c = chord_ids(y_data, vocab)
    ids = np.array([np.bincount(r[r >= 0], minlength=vocab.n_chords).argmax() if (r >= 0).any() else 0
                    for r in c], np.int64)
    T = pad_rows(x).shape[1]
    return _part(x, ids[:, None], max(T, 1), vocab)


def reference_part(name: str, x, vocab: Vocab = VOCAB) -> np.ndarray:
    """`held-tonic` or `tonic-dominant` for melodies x."""
    if name == "held-tonic":
        return held_tonic(x, vocab=vocab)
    if name == "tonic-dominant":
        return tonic_dominant(x, vocab=vocab)
    raise ValueError(f"unknown reference part {name!r}: one of {', '.join(REFERENCE_PARTS)}")

