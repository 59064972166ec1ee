"""The small transformer encoder every reward model is built from.

`FrameEncoder` reads one or more aligned frame-token sequences of the same length (a melody, a
chord part, or both), gives each part its own embedding table, sums them per frame, adds fixed
sinusoidal positions, prepends a learned summary position ([CLS]) and runs pre-norm
transformer blocks with PAD frames masked out of attention.

Why these choices:
- Summed per-frame parts keep the sequence as long as the song (T + 1 positions, not 2T + 2):
  attention costs a quarter, which matters on a laptop CPU, and frame t's melody and chord sit
  in one position, so alignment (what a rhythm reward checks) needs no learning.
- Optionally several frames per position (a beat: 4), see FrameEncoder: the CPU presets use it.
- Sinusoidal positions work for any length, so a reward model trained on 256-frame crops can
  still embed longer evaluation sequences (quality there is not promised).
- The [CLS] position is never masked, so an all-PAD part still gives a finite output.
- No batch-dependent layers (no batch norm): a sequence's output does not depend on the other
  sequences in the batch, so rewards are invariant to batch order.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..music.tokens import PAD


def as_tokens(a, device: torch.device | str | None = None) -> torch.Tensor:
    """numpy / list / tensor of token ids -> int64 tensor [B, T] on `device`."""
    t = a if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a))
    t = t.to(device=device, dtype=torch.long)
    return t[None] if t.dim() == 1 else t


def trim_padding(*parts: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Cut trailing columns that are PAD in every part and row (saves compute, same result)."""
    used = torch.zeros(parts[0].shape[1], dtype=torch.bool, device=parts[0].device)
    for p in parts:
        used |= (p != PAD).any(0)
    n = int(used.nonzero().max()) + 1 if used.any() else 1
    return tuple(p[:, :n] for p in parts)


def sinusoidal_positions(n: int, dim: int, device=None) -> torch.Tensor:
    """[n, dim] fixed position codes (Vaswani et al. 2017)."""
    pos = torch.arange(n, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    pe = torch.zeros(n, dim, device=device)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq)[:, : dim // 2]
    return pe


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, dim: int, n_heads: int, ff_mult: int = 4, dropout: float = 0.0):
        super().__init__()
        assert dim % n_heads == 0, "dim must be a multiple of n_heads"
        self.n_heads, self.dropout = n_heads, dropout
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, ff_mult * dim), nn.GELU(), nn.Linear(ff_mult * dim, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """h [B, L, d]; keep bool [B, L] (False = PAD key, never attended to)."""
        B, L, d = h.shape
        q, k, v = self.qkv(self.norm1(h)).view(B, L, 3, self.n_heads, d // self.n_heads).unbind(2)
        a = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                           attn_mask=keep[:, None, None, :],
                                           dropout_p=self.dropout if self.training else 0.0)
        h = h + self.drop(self.proj(a.transpose(1, 2).reshape(B, L, d)))
        return h + self.drop(self.mlp(self.norm2(h)))


class FrameEncoder(nn.Module):
    """parts: n_parts int tensors [B, T] -> hidden [B, 1 + ceil(T / patch), dim] and keep
    mask, position 0 being [CLS].

    frames_per_position (the patch) > 1 packs that many consecutive frames into one position:
    their embeddings (dim / patch each) are concatenated, so the order inside the patch is kept
    (a 1-frame shift changes the input) while the sequence gets `patch` times shorter. With 4
    (a beat) a CPU trains the reward models several times faster; the paper scale uses 1.
    """

    def __init__(self, vocab_size: int, n_parts: int = 1, dim: int = 64, n_layers: int = 2,
                 n_heads: int = 4, ff_mult: int = 4, dropout: float = 0.0, frames_per_position: int = 1):
        super().__init__()
        assert dim % frames_per_position == 0, "dim must be a multiple of frames_per_position"
        self.patch, self.dim = frames_per_position, dim
        self.embed = nn.ModuleList(nn.Embedding(vocab_size, dim // self.patch) for _ in range(n_parts))
        self.cls = nn.Parameter(0.02 * torch.randn(dim))
        self.blocks = nn.ModuleList(Block(dim, n_heads, ff_mult, dropout) for _ in range(n_layers))
        self.norm = nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, *parts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        assert len(parts) == len(self.embed), f"expected {len(self.embed)} parts"
        B, T = parts[0].shape
        n = -(-max(T, 1) // self.patch)  # positions after packing
        parts = [F.pad(p, (0, n * self.patch - T), value=PAD) for p in parts]
        frame_kept = torch.zeros_like(parts[0], dtype=torch.bool)
        h = 0
        for table, p in zip(self.embed, parts):
            frame_kept |= p != PAD
            h = h + table(p).view(B, n, self.dim)  # concatenates the patch's frame embeddings
        h = torch.cat([self.cls.expand(B, 1, self.dim), h], 1)
        keep = torch.cat([torch.ones(B, 1, dtype=torch.bool, device=h.device),
                          frame_kept.view(B, n, self.patch).any(-1)], 1)
        h = self.drop(h + sinusoidal_positions(n + 1, self.dim, h.device))
        for block in self.blocks:
            h = block(h, keep)
        return self.norm(h), keep


def pool(hidden: torch.Tensor, keep: torch.Tensor, how: str = "mean") -> torch.Tensor:
    """[B, L, d] -> [B, d]: "first" = the [CLS] position, "mean" = mean over kept positions."""
    if how == "first":
        return hidden[:, 0]
    if how == "mean":
        w = keep.to(hidden.dtype)[..., None]
        return (hidden * w).sum(1) / w.sum(1)
    raise ValueError(f"unknown pooling {how!r}; use 'mean' or 'first'")


def mlp_head(dim: int, out: int) -> nn.Sequential:
    """The 2-layer head on a pooled encoder output."""
    return nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, out))
