"""How good are the reward models, and where are their holes? (paper Tables 3-4 analogues)

    retrieval_metrics       R@k both directions and mAP@10 from a similarity matrix
    contrastive_retrieval   the same for a contrastive reward model on (melody, chords) pairs
    classification_metrics  precision / recall / F1 of a discriminator at a threshold
    estimate_key            Krumhansl-Kessler key finding on a melody's pitch classes
    chord_frames_from_ids   per-frame chord ids -> ON/HOLD chord tokens (a chord part)
    held_chord, tonic_dominant, random_chords, most_frequent_chord_of_key
                            trivial accompaniments: the cheap answers RL may find

Everything here is numpy (retrieval takes any score matrix), so it is easy to test by hand.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import torch

from ..models.modes import eval_mode
from ..music import keys
from ..music.chords import chord_name, split_chord_name
from ..music.tokens import PAD, VOCAB, Vocab, interleave, tokens_to_song

MODES = ("major", "minor")


# --- retrieval (Table 3) ----------------------------------------------------------------------
def ranks_of_diagonal(sim) -> np.ndarray:
    """int[N]: rank (1 = best) of item i's own partner in row i of `sim` [N, N]. Ties count
    against the true partner (rank = 1 + number of others scoring >= it), so a constant
    similarity gives rank N, never a flattering 1."""
    s = np.asarray(sim, dtype=np.float64)
    diag = np.diag(s)[:, None]
    return (s >= diag).sum(1)  # the partner itself counts once: rank 1 when nothing ties or beats it


def retrieval_metrics(sim, ks=(1, 5, 10), map_k: int = 10) -> dict:
    """R@k and mAP@k in both directions from sim[i, j] = score(melody i, chords j), the true
    pairs on the diagonal. Each query has exactly one relevant item, so AP@k = 1/rank when
    rank <= k, else 0. Chance: R@k = k/N (a random ranking), mAP@k = mean of 1/r for r <= k
    over N equally likely ranks."""
    s = np.asarray(sim, dtype=np.float64)
    n = len(s)
    out = {"n": n}
    for direction, m in (("melody_to_chords", s), ("chords_to_melody", s.T)):
        r = ranks_of_diagonal(m)
        d = {f"R@{k}": float((r <= k).mean()) for k in ks}
        d[f"mAP@{map_k}"] = float(np.where(r <= map_k, 1.0 / r, 0.0).mean())
        d["median_rank"] = float(np.median(r))
        out[direction] = d
    chance = {f"R@{k}": min(k / n, 1.0) for k in ks}
    chance[f"mAP@{map_k}"] = float(sum(1.0 / r for r in range(1, min(map_k, n) + 1)) / n)
    out["chance"] = chance
    return out


def contrastive_retrieval(model, x, y, ks=(1, 5, 10), chunk: int = 256) -> dict:
    """retrieval_metrics of a ContrastiveReward on pairs (x[i], y[i]) (melody/chord frames):
    the similarity is its reward, the cosine of the two embeddings."""
    with eval_mode(model), torch.no_grad():
        zm = torch.cat([model.embed_melody(x[i:i + chunk]) for i in range(0, len(x), chunk)])
        zc = torch.cat([model.embed_chords(y[i:i + chunk]) for i in range(0, len(y), chunk)])
    return retrieval_metrics((zm @ zc.T).cpu().numpy(), ks)


# --- classification (Table 4) -----------------------------------------------------------------
def classification_metrics(p_real_true, p_real_fake, threshold: float = 0.5) -> dict:
    """Discriminator as a classifier, "real pair" the positive class: precision, recall, F1
    and accuracy at `threshold` on P(real) of true pairs and of fakes."""
    t = np.asarray(p_real_true, dtype=np.float64) > threshold
    f = np.asarray(p_real_fake, dtype=np.float64) > threshold
    tp, fn, fp, tn = int(t.sum()), int((~t).sum()), int(f.sum()), int((~f).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "accuracy": (tp + tn) / max(tp + tn + fp + fn, 1), "n_true": tp + fn, "n_fake": fp + tn}


# --- keys -------------------------------------------------------------------------------------
def estimate_key(x, vocab: Vocab = VOCAB) -> tuple[int, str]:
    """(tonic pitch class, "major" | "minor") of one melody's frames (1-D): the Krumhansl-Kessler
    estimate of `music.keys`. A melody with no notes: C major."""
    tonic, minor = keys.estimate_key(np.asarray(x, dtype=np.int64).ravel()[None], vocab)
    return int(tonic[0]), "minor" if minor[0] else "major"


def tonic_chord(tonic: int, mode: str) -> str:
    return chord_name(tonic, "" if mode == "major" else "m")


def dominant_chord(tonic: int, mode: str) -> str:
    """V in both modes (harmonic minor raises the 7th: the dominant is major)."""
    return chord_name(tonic + 7, "")


def chord_degree_counts(songs, vocab: Vocab = VOCAB) -> dict[str, Counter]:
    """mode -> Counter of (semitones above the tonic, quality) over chord frames, each song's
    key estimated from its melody. `songs`: iterable of (melody frames, chord frames)."""
    counts = {m: Counter() for m in MODES}
    for x, y in songs:
        tonic, mode = estimate_key(x, vocab)
        c = vocab.chord_of[np.asarray(y, dtype=np.int64)]
        ids, n = np.unique(c[c >= 0], return_counts=True)
        for i, k in zip(ids, n):
            root, quality = split_chord_name(vocab.chord_names[i])
            counts[mode][((root - tonic) % 12, quality)] += int(k)
    return counts


def most_frequent_chord_of_key(counts: dict[str, Counter], tonic: int, mode: str) -> str:
    """The chord most often heard (by duration) in songs of this mode, moved to this tonic;
    the tonic triad if nothing was counted."""
    if not counts.get(mode):
        return tonic_chord(tonic, mode)
    (interval, quality), _ = counts[mode].most_common(1)[0]
    return chord_name(tonic + interval, quality)


# --- trivial accompaniments -------------------------------------------------------------------
def chord_frames_from_ids(ids, melody=None, strike_every: int | None = None,
                          vocab: Vocab = VOCAB) -> np.ndarray:
    """int64 [B, T] chord tokens from chord ids [B, T] (-1 = silence): ON where the chord
    differs from the previous frame's (and every `strike_every` frames, if given), HOLD
    otherwise; PAD wherever `melody` is PAD (so the part ends with its melody)."""
    c = np.asarray(ids, dtype=np.int64)
    c = c[None] if c.ndim == 1 else c
    new = np.ones(c.shape, bool)
    new[:, 1:] = c[:, 1:] != c[:, :-1]
    if strike_every:
        new[:, ::strike_every] = True
    out = np.where(new, vocab.chord_on0 + c, vocab.chord_hold0 + c)
    out = np.where(c >= 0, out, 3)  # SILENCE
    if melody is not None:
        m = np.asarray(melody, dtype=np.int64)
        out = np.where((m[None] if m.ndim == 1 else m) == PAD, PAD, out)
    return out


def _ids(names, T: int, vocab: Vocab) -> np.ndarray:
    return np.asarray([vocab.chord_index[n] for n in names], np.int64)[:, None].repeat(T, 1)


def held_chord(x, names, strike_every: int | None = None, vocab: Vocab = VOCAB) -> np.ndarray:
    """One chord per melody (names[i]) for the whole melody: struck once and held, or struck
    again every `strike_every` frames (a bar: 16). x: melody frames [B, T]."""
    x = np.atleast_2d(np.asarray(x, dtype=np.int64))
    names = [names] * len(x) if isinstance(names, str) else list(names)
    return chord_frames_from_ids(_ids(names, x.shape[1], vocab), x, strike_every, vocab)


def alternate_chords(x, first, second, bar_frames: int = 16, vocab: Vocab = VOCAB) -> np.ndarray:
    """first[i] and second[i] taking turns, one bar each, starting with first."""
    x = np.atleast_2d(np.asarray(x, dtype=np.int64))
    T = x.shape[1]
    odd_bar = (np.arange(T) // bar_frames) % 2 == 1
    ids = np.where(odd_bar[None], _ids(second, T, vocab), _ids(first, T, vocab))
    return chord_frames_from_ids(ids, x, vocab=vocab)


def tonic_dominant(x, keys, bar_frames: int = 16, vocab: Vocab = VOCAB) -> np.ndarray:
    """I - V - I - V ..., a bar each, in each melody's key (keys[i] = (tonic, mode))."""
    return alternate_chords(x, [tonic_chord(*k) for k in keys], [dominant_chord(*k) for k in keys],
                            bar_frames, vocab)


def random_chords(x, rng: np.random.Generator, bar_frames: int = 16, vocab: Vocab = VOCAB) -> np.ndarray:
    """A chord drawn uniformly from the whole vocabulary for every bar."""
    x = np.atleast_2d(np.asarray(x, dtype=np.int64))
    B, T = x.shape
    per_bar = rng.integers(vocab.n_chords, size=(B, -(-T // bar_frames)))
    return chord_frames_from_ids(np.repeat(per_bar, bar_frames, 1)[:, :T], x, vocab=vocab)


def triad_names() -> list[str]:
    """The 24 major and minor triads, C first."""
    return [chord_name(r, q) for q in ("", "m") for r in range(12)]


def pair_to_song(x, y, title: str = "pair"):
    """One (melody frames, chord frames) row -> a Song (up to the first PAD), to play or plot."""
    x, y = np.asarray(x, dtype=np.int64).ravel(), np.asarray(y, dtype=np.int64).ravel()
    n = int(np.argmax(x == PAD)) if (x == PAD).any() else len(x)
    return tokens_to_song(interleave(x[:n], y[:n]), title=title)
