"""Rhythm-only view of the tokens, and the negatives that only rhythm can tell apart.

A rhythm reward sees *when* things start and hold, not *what* they are: every token collapses
to one of {PAD, BOS, EOS, SILENCE, ONSET, HOLD} (melody and chord alike). It rewards chords
that move with the melody's phrasing without caring about pitch, which the harmonic rewards
cannot see. Its discriminator learns from two kinds of fakes: chords of another melody
(re-pairing, shared with the discriminative reward) and the true chords shifted by 1-3 frames
against their own melody, which differ from the real pair in alignment only.
(`pair_lengths`, `cut_to` and `delay_chords` live here because both discriminators' fakes need
them; GAPT's dense D cuts prefixes with `cut_to` too.)
"""
from __future__ import annotations

import numpy as np
import torch

from ..music.tokens import BOS, EOS, PAD, SILENCE, VOCAB, Vocab

ONSET, HOLD = 4, 5
RHYTHM_VOCAB_SIZE = 6  # PAD 0, BOS 1, EOS 2, SILENCE 3, ONSET 4, HOLD 5
RHYTHM_NAMES = ("PAD", "BOS", "EOS", "SILENCE", "ONSET", "HOLD")


def rhythm_table(vocab: Vocab = VOCAB) -> np.ndarray:
    """int64[vocab.size]: token -> rhythm token."""
    t = np.where(vocab.is_onset, ONSET, HOLD).astype(np.int64)
    for special in (PAD, BOS, EOS, SILENCE):
        t[special] = special
    return t


RHYTHM_TABLE = rhythm_table()


def collapse_rhythm(tokens):
    """Full tokens -> rhythm tokens (numpy in, numpy out; tensor in, tensor out)."""
    if isinstance(tokens, torch.Tensor):
        return torch.as_tensor(RHYTHM_TABLE, device=tokens.device)[tokens]
    return RHYTHM_TABLE[np.asarray(tokens)]


def pair_lengths(x: torch.Tensor) -> torch.Tensor:
    """int[B]: frames before the melody's first PAD/EOS (the pair's length)."""
    stop = (x == PAD) | (x == EOS)
    return torch.where(stop.any(1), stop.float().argmax(1), torch.full_like(x[:, 0], x.shape[1]))


def cut_to(a: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """PAD every frame at or after lengths[b]."""
    t = torch.arange(a.shape[1], device=a.device)[None, :]
    return torch.where(t < lengths[:, None], a, torch.full_like(a, PAD))


def _hold_table(vocab: Vocab = VOCAB) -> np.ndarray:
    """int64[vocab.size]: every onset token (a chord's ON_c, a melody note's) -> its hold, every
    other token unchanged."""
    t = np.arange(vocab.size)
    t[vocab.chord_on0:vocab.chord_hold0] += vocab.chord_hold0 - vocab.chord_on0
    t[vocab.melody_on0:vocab.melody_hold0] += vocab.melody_hold0 - vocab.melody_on0
    return t


HOLD_TABLE = _hold_table()


def shift_negatives(x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None,
                    max_shift: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Each pair with its chord part moved s in 1..max_shift frames against its melody, early
    or late at random. Only the chords move: the melody stays on its beat grid, so the fake is
    not told by the melody alone (in RL the melody is always real; only chords can be off).
    Early: chord frame t + s meets melody frame t, both cut to the L - s frames they share.
    Late: chord frame t - s meets melody frame t; the first s frames continue the first chord
    as held (an ON there would be a new, made-up chord onset)."""
    B, T = x.shape
    L = pair_lengths(x)
    s = torch.randint(1, max_shift + 1, (B,), generator=generator).to(x.device)
    s = torch.minimum(s, (L - 1).clamp(min=0))  # keep at least one frame
    early = (torch.rand(B, generator=generator) < 0.5).to(x.device)
    t = torch.arange(T, device=x.device)[None, :]
    y_early = y.gather(1, (t + s[:, None]).clamp(max=T - 1))
    ends = torch.where(early, L - s, L)
    return cut_to(x, ends), cut_to(torch.where(early[:, None], y_early, delay_chords(y, s)), ends)


def delay_chords(y: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Chord frames [B, T] played s[b] frames late: frame t sounds what frame t - s did, and the
    first s frames continue the first chord as held (an ON there would be a made-up onset)."""
    t = torch.arange(y.shape[1], device=y.device)[None, :]
    first_held = torch.as_tensor(HOLD_TABLE, device=y.device)[y[:, :1]]
    return torch.where(t < s[:, None], first_held, y.gather(1, (t - s[:, None]).clamp(min=0)))


def half_tempo(frames):
    """Frame tokens [B, T] (torch or numpy) -> [B, T]: the first T / 2 frames played twice as
    slowly, each frame twice and the second copy of an onset turned into its hold. Melody and
    chords slowed alike stay in time with each other: long notes, as in a lead sheet."""
    half = frames[:, : frames.shape[1] // 2]
    table = HOLD_TABLE if isinstance(half, np.ndarray) else torch.as_tensor(HOLD_TABLE, device=half.device)
    stack = np.stack if isinstance(half, np.ndarray) else torch.stack
    return stack([half, table[half]], 2).reshape(len(half), -1)


def slow_down_share(x: torch.Tensor, y: torch.Tensor, share: float, group_size: int = 1):
    """The last round(share * B) pairs of a batch (whole groups of group_size) at half tempo,
    melody and chords alike; the rest as they are. No randomness: the crops are random already."""
    k = int(round(share * len(x) / group_size)) * group_size
    if k == 0:
        return x, y
    return (torch.cat([x[: len(x) - k], half_tempo(x[len(x) - k:])]),
            torch.cat([y[: len(y) - k], half_tempo(y[len(y) - k:])]))


def describe_rhythm(tokens) -> str:
    """A rhythm row as text, e.g. 'O--.O-' (O onset, - hold, . silence), for notebooks."""
    chars = {ONSET: "O", HOLD: "-", SILENCE: ".", PAD: " ", BOS: "<", EOS: ">"}
    return "".join(chars[int(t)] for t in np.asarray(collapse_rhythm(np.asarray(tokens))).ravel())
