"""Discriminative coherence reward (paper 3.4, C.3): is this (melody, chords) pair real?

One encoder reads melody and chords together and a classifier on its summary position gives
the probability that the pair comes from the data. Fakes are made from the batch itself: chords
re-paired with another melody of the batch, both cut to their common length so that length
gives nothing away. The reward of a pair is P(real) in [0, 1]. Optionally (course presets)
some fakes are moved into their melody's key first (`into_melody_key`).

Input layout: the authors feed [melody, SEP, chords] (2T + 2 tokens). Here melody and chord
embeddings are summed per frame instead (T + 1 positions, see encoders.py): a quarter of the
attention cost on a CPU, and frame t's two parts are in one place, so the model does not have to
learn to line them up before it can judge them. The rhythm-only variant adds, for half its
fakes, the true chords shifted 1-3 frames against their melody (rhythm.py).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..music.tokens import VOCAB
from .encoders import FrameEncoder, as_tokens, pool, trim_padding
from .rhythm import RHYTHM_VOCAB_SIZE, collapse_rhythm, cut_to, pair_lengths, shift_negatives


@lru_cache(maxsize=1)
def _transpose_tables() -> np.ndarray:
    """int64[12, vocab]: row k maps every chord token to the same chord k semitones up."""
    return np.stack([VOCAB.transpose_table(k) for k in range(12)])


def pitch_class_profile(frames: torch.Tensor, chords: bool) -> torch.Tensor:
    """float [B, 12]: frames each pitch class sounds in (melody notes, or chord tones)."""
    if chords:
        ids = torch.as_tensor(VOCAB.chord_of, device=frames.device)[frames]
        mask = torch.as_tensor(VOCAB.chord_pc_mask, device=frames.device, dtype=torch.float32)
        return (mask[ids.clamp(min=0)] * (ids >= 0)[..., None]).sum(1)
    pitch = torch.as_tensor(VOCAB.pitch_of, device=frames.device)[frames]
    onehot = F.one_hot(pitch.clamp(min=0) % 12, 12).float()
    return (onehot * (pitch >= 0)[..., None]).sum(1)


def into_melody_key(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Chords y transposed by the k in 0..11 whose chord tones best overlap melody x's notes.

    Training crops are transposed at random, so a re-paired fake is nearly always in another
    key than its melody: a discriminator can win on that alone and then cannot judge chords
    that are in key but wrong, which is what a policy produces. Moving a fake into the
    melody's key takes that shortcut away (its effect: docs/experiments-history.md)."""
    m, c = pitch_class_profile(x, chords=False), pitch_class_profile(y, chords=True)
    # overlap[b, k] = sum_q c[b, q] * m[b, q + k]: chord tones moved up by k meet melody notes
    shifted = torch.stack([m.roll(-k, dims=1) for k in range(12)], 1)  # [B, k, q] = m[q + k]
    k = (shifted * c[:, None, :]).sum(-1).argmax(1)
    tables = torch.as_tensor(_transpose_tables(), device=y.device)
    return tables[k[:, None], y]


def random_derangement(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A random permutation with no fixed point (n >= 2): walk a random order as a cycle."""
    order = torch.randperm(n, generator=generator)
    perm = torch.empty(n, dtype=torch.long)
    perm[order] = order.roll(-1)
    return perm


def repair_negatives(x: torch.Tensor, y: torch.Tensor,
                     generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Melody i with the chords of another pair j of the batch, both cut to their common
    length. (Two crops of one song, or of its transpositions, can still meet: rare, harmless.)"""
    j = random_derangement(len(x), generator).to(x.device)
    y_other = y[j]
    common = torch.minimum(pair_lengths(x), pair_lengths(y_other))
    return cut_to(x, common), cut_to(y_other, common)


class DiscriminativeReward(nn.Module):
    def __init__(self, dim: int = 64, n_layers: int = 2, n_heads: int = 4, ff_mult: int = 4,
                 dropout: float = 0.0, pooling: str = "first", rhythm: bool = False,
                 frames_per_position: int = 1, key_matched_fakes: float = 0.0):
        super().__init__()
        self.rhythm, self.pooling = rhythm, pooling
        self.key_matched_fakes = 0.0 if rhythm else key_matched_fakes  # keys mean nothing to rhythm
        vocab_size = RHYTHM_VOCAB_SIZE if rhythm else VOCAB.size
        self.encoder = FrameEncoder(vocab_size, 2, dim, n_layers, n_heads, ff_mult, dropout,
                                    frames_per_position)
        self.classifier = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, 1))

    @property
    def device(self) -> torch.device:
        return self.classifier[0].weight.device

    def logits(self, x, y) -> torch.Tensor:
        """float [B]: log-odds that each pair is real."""
        x, y = trim_padding(as_tokens(x, self.device), as_tokens(y, self.device))
        if self.rhythm:
            x, y = collapse_rhythm(x), collapse_rhythm(y)
        h, keep = self.encoder(x, y)
        return self.classifier(pool(h, keep, self.pooling)).squeeze(-1)

    def score(self, x, y) -> torch.Tensor:
        """Reward: P(real pair), float [B] in [0, 1]."""
        return torch.sigmoid(self.logits(x, y))

    def negatives(self, x: torch.Tensor, y: torch.Tensor,
                  generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Fakes for a batch of real pairs: re-pairings, a fraction `key_matched_fakes` of them
        moved into their melody's key; for the rhythm variant half of them (a random half)
        replaced by 1-3 frame shifts."""
        xn, yn = repair_negatives(x, y, generator)
        if self.key_matched_fakes > 0:
            n = int(round(self.key_matched_fakes * len(x)))
            some = torch.randperm(len(x), generator=generator)[:n].to(x.device)
            yn[some] = into_melody_key(xn[some], yn[some])
        if self.rhythm:
            xs, ys = shift_negatives(x, y, generator)
            half = torch.randperm(len(x), generator=generator)[: len(x) // 2].to(x.device)
            xn[half], yn[half] = xs[half], ys[half]
        return xn, yn

    def loss(self, x, y, generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict]:
        """Binary cross-entropy on B real pairs and B fakes made from them."""
        x, y = as_tokens(x, self.device), as_tokens(y, self.device)
        xn, yn = self.negatives(x, y, generator)
        # one forward over reals and fakes; trim_padding inside keeps the common width
        logits = self.logits(torch.cat([x, xn]), torch.cat([y, yn]))
        labels = torch.cat([torch.ones(len(x)), torch.zeros(len(x))]).to(logits.device)
        loss = F.binary_cross_entropy_with_logits(logits, labels)
        with torch.no_grad():
            p = torch.sigmoid(logits)
            metrics = {
                "acc": ((p > 0.5).float() == labels).float().mean().item(),
                "p_real_true": p[: len(x)].mean().item(),
                "p_real_fake": p[len(x):].mean().item(),
            }
        return loss, metrics
