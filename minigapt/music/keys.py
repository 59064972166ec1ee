"""The key of a melody, estimated from its notes (Krumhansl-Schmuckler).

A key-relative view of chords ("I, IV, V" instead of "C, F, G") needs the key, and an online
accompanist only has the melody. The classic estimate correlates the melody's duration-weighted
pitch-class histogram with the Krumhansl-Kessler probe-tone profile of each of the 24 major and
minor keys and takes the best. Rotating the histogram rotates every correlation with it, so
transposing a melody transposes its estimated key: a key-relative measure built on this estimate
does not change when a whole song is transposed.
"""
from __future__ import annotations

import numpy as np

from .tokens import VOCAB, Vocab

# Krumhansl & Kessler (1982) probe-tone ratings, tonic first.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def _key_profiles() -> np.ndarray:
    """float[24, 12]: rows 0-11 the major keys on tonic 0..11, rows 12-23 the minor keys."""
    rows = [np.roll(p, tonic) for p in (MAJOR_PROFILE, MINOR_PROFILE) for tonic in range(12)]
    z = np.stack(rows)
    return (z - z.mean(1, keepdims=True)) / z.std(1, keepdims=True)


KEY_PROFILES = _key_profiles()


def pitch_class_histogram(melody_frames, vocab: Vocab = VOCAB) -> np.ndarray:
    """float[B, 12]: frames per pitch class of each melody (a note counts once per frame it sounds)."""
    x = np.asarray(melody_frames, dtype=np.int64)
    x = x[None] if x.ndim == 1 else x
    pitch = vocab.pitch_of[x]
    rows, cols = np.nonzero(pitch >= 0)
    hist = np.zeros((len(x), 12))
    np.add.at(hist, (rows, pitch[rows, cols] % 12), 1.0)
    return hist


def estimate_key(melody_frames, vocab: Vocab = VOCAB) -> tuple[np.ndarray, np.ndarray]:
    """Melody frame tokens [B, T] (or [T]) -> (tonic pitch class int[B], minor bool[B]).

    A melody with no note gets C major (no evidence either way)."""
    hist = pitch_class_histogram(melody_frames, vocab)
    centred = hist - hist.mean(1, keepdims=True)
    scores = centred @ KEY_PROFILES.T  # correlation up to a positive factor per row
    best = scores.argmax(1)
    best[hist.sum(1) == 0] = 0
    return best % 12, best >= 12
