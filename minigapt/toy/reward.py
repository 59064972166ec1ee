"""The toy's learned coherence reward, with a deliberate hole.

    R_coh(x, y) = w . cooc(x, y) + b  +  hole * (share of chord frames on V)
                  \\_ learned _____/     \\_ the hole ________________________/

The learned part is a logistic regression, real (melody, chords) pairs against re-paired ones
(a melody with another song's chords), on chord x melody-pitch-class co-occurrence (each part's
share of frames). Re-pairing keeps every chord statistic of the data, so this part pays for
chords that fit the melody and for nothing else: a reward without a hole.

The hole stands for a bias a reward model picks up from the songs it was fit on (say, vamps that
sit on the dominant): it pays for every frame on V (G), up to an all-V part, which no real
progression is (the data's share is ~0.2). Sitting on V buys this reward, not harmony: one
chord against every bar fits the melody worse than the data's progressions, and V's tones
(G B D) are rarer in these melodies than I's. `hole` = 0 closes it.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..music.tokens import VOCAB
from .world import TRIADS

_PITCH_CLASS = torch.as_tensor(np.where(VOCAB.pitch_of >= 0, VOCAB.pitch_of % 12, -1))
_CHORD = torch.as_tensor(VOCAB.chord_of)
# chord classes the reward tells apart: the world's seven triads, and "any other chord"
_CLASS_OF_CHORD = torch.full((VOCAB.n_chords,), len(TRIADS), dtype=torch.long)
_CLASS_OF_CHORD[[VOCAB.chord_index[c] for c in TRIADS]] = torch.arange(len(TRIADS))
N_FEATURES = (len(TRIADS) + 1) * 12
HOLE_CHORD = "G"  # V


def cooccurrence(x, y) -> torch.Tensor:
    """float[B, 8 * 12]: each part's share of frames with (chord class, melody pitch class);
    chord classes: the seven triads, then any other chord."""
    x, y = torch.as_tensor(x).long().cpu(), torch.as_tensor(y).long().cpu()
    pc, chord = _PITCH_CLASS[x], _CHORD[y]
    valid = (pc >= 0) & (chord >= 0)
    code = torch.where(valid, _CLASS_OF_CHORD[chord.clamp(min=0)] * 12 + pc, torch.zeros_like(pc))
    out = torch.zeros(len(x), N_FEATURES)
    out.scatter_add_(1, code, valid.float())
    return out / valid.sum(1, keepdim=True).clamp(min=1)


def hole_share_per_part(y) -> torch.Tensor:
    """float[B]: each part's share of chord frames on V (what the hole pays for)."""
    chord = _CHORD[torch.as_tensor(y).long().cpu()]
    return ((chord == VOCAB.chord_index[HOLE_CHORD]).sum(1) / (chord >= 0).sum(1).clamp(min=1)).float()


class HoledCoherenceReward:
    """The reward object train_rl scores with (`score(x, y)`, as the course's ensemble)."""

    def __init__(self, weight: torch.Tensor, bias: float, hole: float):
        self.weight, self.bias, self.hole = weight, bias, hole

    def learned(self, x, y) -> torch.Tensor:
        """The learned logit alone [B] (no hole)."""
        return cooccurrence(x, y) @ self.weight + self.bias

    def score(self, x, y, use=None) -> torch.Tensor:
        """R_coh [B] (`use`: the ensemble's component filter; nothing to filter here)."""
        return self.learned(x, y) + self.hole * hole_share_per_part(y)


def fit_reward(x: np.ndarray, y: np.ndarray, hole: float, seed: int = 0, steps: int = 300,
               l2: float = 1e-4) -> HoledCoherenceReward:
    """Logistic regression: the data's pairs (label 1) against the same melodies with another
    song's chords (label 0), full batch, Adam; then the hole on top."""
    shift = np.random.default_rng(seed).integers(1, len(y))
    feats = torch.cat([cooccurrence(x, y), cooccurrence(x, np.roll(y, shift, axis=0))])
    labels = torch.cat([torch.ones(len(x)), torch.zeros(len(x))])
    w = torch.zeros(N_FEATURES, requires_grad=True)
    b = torch.zeros((), requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=0.1)
    for _ in range(steps):
        loss = F.binary_cross_entropy_with_logits(feats @ w + b, labels) + l2 * (w ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return HoledCoherenceReward(w.detach(), float(b.detach()), hole)
