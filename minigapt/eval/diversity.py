"""Diversity of generated chords (paper 4.4, Tables 3-4): the Vendi score and simpler counts.

RL on a coherence reward tends to collapse onto a few safe chords; GAPT is meant to keep the
variety of the data. One number can be gamed or misread, so besides the Vendi score (on the
chord-tower embedding of the contrastive reward model) this module counts things a student can
check by eye in a decoded piano roll: how many distinct chords a sequence uses, how often the
harmony changes, the longest stretch of one chord, and the entropy of the chord histogram.

Chord inputs are chord frame tokens: an int array [B, T] (PAD after each sequence's end) or a
list of 1-D arrays of any lengths. Frames that hold no chord token (SILENCE, specials) are
ignored. Everything is vectorised numpy.
"""
from __future__ import annotations

import numpy as np

from ..errors import MinigaptError
from ..music.tokens import PAD, VOCAB, Vocab
from ..rewards.penalties import chord_event_runs, chord_event_starts


def vendi_score(embeddings) -> float:
    """exp(Shannon entropy of the eigenvalues of K/n), K the cosine kernel of the rows.

    Reads as "the effective number of distinct items": n identical rows -> 1, n orthogonal
    rows -> n (Friedman & Dieng 2023). Rows are L2-normalised first. K/n has trace 1 and the
    same non-zero eigenvalues as Z^T Z / n, so the smaller of the two matrices is used.
    """
    z = np.asarray(embeddings, dtype=np.float64)
    if z.ndim != 2 or len(z) == 0:
        raise MinigaptError(f"vendi_score needs a non-empty [n, d] array, got shape {z.shape}")
    norms = np.linalg.norm(z, axis=1, keepdims=True)
    if not np.all(norms > 0):
        raise MinigaptError("vendi_score got an all-zero embedding row")
    z = z / norms
    n, d = z.shape
    gram = z @ z.T if n <= d else z.T @ z
    eig = np.clip(np.linalg.eigvalsh(gram / n), 0.0, None)  # clip tiny negatives (round-off)
    eig = eig[eig > 0]
    return float(np.exp(-np.sum(eig * np.log(eig))))


def pad_rows(chord_frames) -> np.ndarray:
    """A [B, T] or [T] array, or a list of 1-D arrays (PAD-padded to the longest) -> int64 [B, T]."""
    if isinstance(chord_frames, np.ndarray) and chord_frames.dtype != object:
        a = chord_frames.astype(np.int64, copy=False)
        return a[None] if a.ndim == 1 else a
    rows = [np.asarray(r, dtype=np.int64).ravel() for r in chord_frames]
    out = np.full((len(rows), max((len(r) for r in rows), default=0)), PAD, np.int64)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


def chord_ids(chord_frames, vocab: Vocab = VOCAB) -> np.ndarray:
    """int64 [B, T]: chord id per frame, -1 where no chord sounds."""
    return vocab.chord_of[pad_rows(chord_frames)]


def chord_histogram_entropy(chord_frames, onsets_only: bool = False, vocab: Vocab = VOCAB) -> float:
    """Entropy (nats) of the chord histogram pooled over all sequences: frames weighted by
    duration, or one count per chord event with onsets_only. 0 for a single chord."""
    y = pad_rows(chord_frames)
    c = vocab.chord_of[y]
    keep = chord_event_starts(y, vocab) if onsets_only else c >= 0
    counts = np.bincount(c[keep], minlength=vocab.n_chords).astype(np.float64)
    if counts.sum() == 0:
        return 0.0
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def distinct_chords_per_sequence(chord_frames, vocab: Vocab = VOCAB) -> np.ndarray:
    """int[B]: number of different chord names each sequence uses."""
    c = chord_ids(chord_frames, vocab)
    rows, cols = np.nonzero(c >= 0)
    used = np.zeros((len(c), vocab.n_chords), bool)
    used[rows, c[rows, cols]] = True
    return used.sum(1)


def chord_changes_per_sequence(chord_frames, vocab: Vocab = VOCAB) -> np.ndarray:
    """int[B]: chord events whose name differs from the previous event's (re-striking the same
    chord, or pausing on SILENCE, is not a change)."""
    y = pad_rows(chord_frames)
    rows, _, _ = chord_event_runs(y, vocab)  # one entry per run of identical events
    runs = np.bincount(rows, minlength=len(y))
    return np.maximum(runs - 1, 0)


def longest_hold(chord_frames, vocab: Vocab = VOCAB) -> np.ndarray:
    """int[B]: the longest stretch of consecutive frames sounding the same chord name, in
    frames (re-strikes of the same chord included: the harmony stands still either way)."""
    c = chord_ids(chord_frames, vocab)
    B, T = c.shape
    if T == 0:
        return np.zeros(B, np.int64)
    same = np.zeros((B, T), bool)
    same[:, 1:] = (c[:, 1:] == c[:, :-1]) & (c[:, 1:] >= 0)
    t = np.broadcast_to(np.arange(T), (B, T))
    run_start = np.maximum.accumulate(np.where(same, 0, t), axis=1)
    run_len = np.where(c >= 0, t - run_start + 1, 0)
    return run_len.max(1)


def diversity_summary(chord_frames, embeddings=None, vocab: Vocab = VOCAB) -> dict[str, float]:
    """The measures above as one dict of plain floats (means over sequences), for tables."""
    y = pad_rows(chord_frames)
    out = {
        "histogram_entropy": chord_histogram_entropy(y, vocab=vocab),
        "distinct_chords_per_sequence": float(distinct_chords_per_sequence(y, vocab).mean()),
        "chord_changes_per_sequence": float(chord_changes_per_sequence(y, vocab).mean()),
        "longest_hold": float(longest_hold(y, vocab).mean()),
    }
    if embeddings is not None:
        out["vendi"] = vendi_score(embeddings)
    return out
