"""Contrastive coherence reward (paper 3.4, C.2): does this chord part belong to this melody?

Two towers, like CLIP: a melody encoder and a chord encoder, each a small transformer, pooled
and passed through a 2-layer MLP head, then L2-normalised. Trained with symmetric InfoNCE over
the batch: in a batch of B (melody, chords) pairs, melody i must pick out its own chords among
the B chord parts, and chord part i its own melody. The reward of a pair is the cosine of the
two embeddings, in [-1, 1]. The chord tower alone (`embed_chords`) is the embedding the Vendi
diversity metric uses.

Pooling: mean over the frames (the [CLS] position included). With small models trained for a
few minutes on a CPU, the mean is steadier than a single summary position: every frame gets a
gradient from the first step.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..music.tokens import VOCAB
from .encoders import FrameEncoder, as_tokens, mlp_head, pool, trim_padding
from .rhythm import RHYTHM_VOCAB_SIZE, collapse_rhythm


def info_nce(z_melody: torch.Tensor, z_chords: torch.Tensor, logit_scale: torch.Tensor | float) -> torch.Tensor:
    """Symmetric InfoNCE: mean of the cross-entropies melody -> chords and chords -> melody,
    with logits = scale * cosine similarities and the matching pair on the diagonal.
    z_*: [B, d], already L2-normalised."""
    logits = logit_scale * z_melody @ z_chords.T
    target = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


class ContrastiveReward(nn.Module):
    def __init__(self, dim: int = 64, n_layers: int = 2, n_heads: int = 4, ff_mult: int = 4,
                 dropout: float = 0.0, proj_dim: int = 64, pooling: str = "mean",
                 rhythm: bool = False, frames_per_position: int = 1, temperature_init: float = 0.07,
                 max_logit_scale: float = 100.0):
        super().__init__()
        self.rhythm, self.pooling, self.max_logit_scale = rhythm, pooling, max_logit_scale
        vocab_size = RHYTHM_VOCAB_SIZE if rhythm else VOCAB.size
        arch = (dim, n_layers, n_heads, ff_mult, dropout, frames_per_position)
        self.melody_encoder = FrameEncoder(vocab_size, 1, *arch)
        self.chord_encoder = FrameEncoder(vocab_size, 1, *arch)
        self.melody_head = mlp_head(dim, proj_dim)
        self.chord_head = mlp_head(dim, proj_dim)
        # learnable inverse temperature, kept in log space (CLIP); init 1/0.07
        self.log_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature_init)))

    @property
    def device(self) -> torch.device:
        return self.log_scale.device

    def logit_scale(self) -> torch.Tensor:
        return self.log_scale.exp().clamp(max=self.max_logit_scale)

    def _tokens(self, a) -> torch.Tensor:
        t = trim_padding(as_tokens(a, self.device))[0]
        return collapse_rhythm(t) if self.rhythm else t

    def embed_melody(self, x) -> torch.Tensor:
        """Melody frames [B, T] -> L2-normalised embeddings [B, proj_dim]."""
        h, keep = self.melody_encoder(self._tokens(x))
        return F.normalize(self.melody_head(pool(h, keep, self.pooling)), dim=-1)

    def embed_chords(self, y) -> torch.Tensor:
        """Chord frames [B, T] -> L2-normalised embeddings [B, proj_dim] (Vendi uses these)."""
        h, keep = self.chord_encoder(self._tokens(y))
        return F.normalize(self.chord_head(pool(h, keep, self.pooling)), dim=-1)

    def score(self, x, y) -> torch.Tensor:
        """Reward: cosine similarity of the pair's embeddings, float [B] in [-1, 1]."""
        return (self.embed_melody(x) * self.embed_chords(y)).sum(-1)

    def loss(self, x, y, generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict]:
        """Symmetric InfoNCE on a batch of real pairs; metrics: retrieval accuracy (melody ->
        its own chords among the batch), mean cosine of true and of mismatched pairs."""
        zm, zc = self.embed_melody(x), self.embed_chords(y)
        scale = self.logit_scale()
        loss = info_nce(zm, zc, scale)
        with torch.no_grad():
            cos = zm @ zc.T
            B = len(cos)
            eye = torch.eye(B, dtype=torch.bool, device=cos.device)
            metrics = {
                "acc": (cos.argmax(1) == torch.arange(B, device=cos.device)).float().mean().item(),
                "cos_true": cos.diagonal().mean().item(),
                "cos_other": cos[~eye].mean().item() if B > 1 else float("nan"),
                "logit_scale": scale.item(),
            }
        return loss, metrics
