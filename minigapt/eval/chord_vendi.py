"""A diversity score that sees collapse: the Vendi score over key-relative chord progressions.

The paper's Vendi embeds each chord part with a learned chord encoder. On real songs in many
keys that score mostly counts the spread of keys *between* songs: one chord held for a whole
song scores above the data, because the held chords of songs in C, G and D differ. What the
reward hack removes is variety *within* a song's harmony, relative to its key.

So each part becomes a bag of key-relative symbols:
- the key is estimated from the melody (`music.keys.estimate_key`), as an online accompanist would;
- each chord event becomes (scale degree of its root above the tonic, quality): "I", "V7", "vi";
  a re-struck or held chord is one event (runs of the same chord merge);
- n-grams of consecutive events for n = 1..4: which chords (I, V7), which moves (V -> I), which
  phrases (ii -> V -> I, I -> IV -> V -> I); each order's block L2-normalised so all count equally.
The Vendi score over parts (cosine kernel) is then "the effective number of different
progressions". A held tonic is one bag for every song, tonic/dominant per bar another: both
score near 1-2 however many keys the songs are in, and transposing a song changes nothing.
Why up to 4-grams: with unigrams and bigrams alone, holding each song's *most frequent* chord
still scored 0.4x the data (the melody's key estimate errs on a third of songs, and every error
is a new symbol); longer n-grams give real progressions the weight that makes them stand out.

Vendi grows with the number of items, so every evaluation scores the same number of parts
(`PARTS`): the mean over random subsets of that size, drawn without replacement, and the 2.5-97.5
percentiles of those draws as a 95% interval (the without-replacement bootstrap, "subsampling").
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import MinigaptError
from ..music.chords import QUALITY_NAMES
from ..music.keys import estimate_key
from ..music.tokens import VOCAB, Vocab
from ..rewards.penalties import chord_event_runs
from .diversity import pad_rows

PARTS = 64  # parts per score: Vendi grows with n, so every evaluation uses the same n
DRAWS = 200  # random subsets behind the mean and the interval
N_SYMBOLS = 12 * len(QUALITY_NAMES)  # (degree, quality)
NGRAMS = 4  # n-gram orders 1..NGRAMS


@dataclass
class ChordVendi:
    score: float
    low: float
    high: float
    parts: int  # parts per subset
    available: int  # parts scored from

    def as_dict(self) -> dict:
        return asdict(self)


def key_relative_symbols(x, y, vocab: Vocab = VOCAB) -> tuple[np.ndarray, np.ndarray]:
    """Chord runs as key-relative symbols -> (row int[n], symbol int[n]), runs in time order.
    symbol = degree * n_qualities + quality, degree = (root - tonic) mod 12, tonic from the melody."""
    x, y = pad_rows(x), pad_rows(y)
    if x.shape != y.shape:
        raise MinigaptError(f"melody {x.shape} and chords {y.shape} differ in shape")
    tonic, _ = estimate_key(x, vocab)
    rows, ids, _ = chord_event_runs(y, vocab)
    root, quality = ids // len(QUALITY_NAMES), ids % len(QUALITY_NAMES)
    return rows, ((root - tonic[rows]) % 12) * len(QUALITY_NAMES) + quality


def _unit_rows(a: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(a, axis=1, keepdims=True)
    return np.divide(a, n, out=np.zeros_like(a), where=n > 0)


def ngram_counts(rows: np.ndarray, symbols: np.ndarray, n_rows: int, n: int) -> np.ndarray:
    """float[n_rows, k]: counts of each row's n-grams of consecutive symbols (only the k n-grams
    that occur get a column)."""
    m = len(symbols) - n + 1
    if m <= 0:
        return np.zeros((n_rows, 0))
    same_row = np.ones(m, bool)
    code = np.zeros(m, np.int64)
    for k in range(n):
        same_row &= rows[k:k + m] == rows[:m]
        code = code * (N_SYMBOLS + 1) + symbols[k:k + m]
    cols, col = np.unique(code[same_row], return_inverse=True)
    out = np.zeros((n_rows, len(cols)))
    np.add.at(out, (rows[:m][same_row], col), 1.0)
    return out


def progression_features(x, y, vocab: Vocab = VOCAB) -> np.ndarray:
    """float[B, D]: each part's n-grams of key-relative chord symbols, n = 1..NGRAMS, one block per
    n, each block L2-normalised so that every order counts equally. A part with no chord at all
    gets one extra unigram ("no chord"), so silent parts count as one kind of part."""
    rows, sym = key_relative_symbols(x, y, vocab)
    B = len(pad_rows(y))
    uni = np.zeros((B, N_SYMBOLS + 1))
    np.add.at(uni, (rows, sym), 1.0)
    uni[:, N_SYMBOLS] = uni.sum(1) == 0
    blocks = [uni] + [ngram_counts(rows, sym, B, n) for n in range(2, NGRAMS + 1)]
    return np.concatenate([_unit_rows(b) for b in blocks], axis=1)


def chord_vendi(x, y, parts: int = PARTS, draws: int = DRAWS, seed: int = 0,
                vocab: Vocab = VOCAB) -> ChordVendi:
    """Key-relative chord Vendi of the chord parts y accompanying melodies x ([B, T] frame tokens),
    at `parts` parts per score (fewer when fewer exist: then every draw is the whole set)."""
    f = progression_features(x, y, vocab)
    n = len(f)
    if n == 0:
        raise MinigaptError("chord_vendi needs at least one part")
    m = min(parts, n)
    f = f / np.linalg.norm(f, axis=1, keepdims=True)
    gram = f @ f.T
    rng = np.random.default_rng(seed)
    scores = []
    for _ in range(draws if m < n else 1):
        idx = rng.choice(n, m, replace=False) if m < n else np.arange(n)
        eig = np.clip(np.linalg.eigvalsh(gram[np.ix_(idx, idx)] / m), 0.0, None)
        eig = eig[eig > 0]
        scores.append(float(np.exp(-np.sum(eig * np.log(eig)))))
    scores = np.asarray(scores)
    return ChordVendi(float(scores.mean()), float(np.percentile(scores, 2.5)),
                      float(np.percentile(scores, 97.5)), m, n)

