"""The offline anchor phi(y_t | x, y_<t): a chord model that sees the *whole* melody.

The RL stage keeps the online policy close to this model with a KL(pi || phi) term per chord
token (paper 3.2): an offline model harmonises well because it knows where the melody goes, so
it is a sensible prior, and unlike the policy it never gets rewarded, so it cannot drift.

Design. The paper uses an encoder-decoder transformer (8 + 8 layers, cross-attention). This is a
lighter design with the same information flow: a *bidirectional* melody encoder gives one vector
per frame that already summarises the whole melody; the causal chord decoder adds the encoder's
vector of frame t to its input at frame t. So the chord of frame t sees the whole melody (through
the encoder) and the chords before t (through causal self-attention). Adding instead of
cross-attending saves one attention per decoder layer and needs no extra alignment machinery,
because melody and chords share one frame grid; the decoder reads T tokens where the policy
reads 2T, so the anchor costs about as much as the policy per training step.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..music.tokens import BOS, PAD
from .decoder import (Block, KVCache, ModelConfig, Rotary, TokenEmbedding, causal_mask_after,
                      init_weights)


class OfflineAnchor(nn.Module):
    kind = "offline"

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = TokenEmbedding(cfg)  # melody and chord tokens alike
        self.drop = nn.Dropout(cfg.dropout)
        self.encoder = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.enc_norm = nn.RMSNorm(cfg.d_model)
        self.bridge = nn.Linear(cfg.d_model, cfg.d_model, bias=False)  # melody summary -> decoder
        self.decoder = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = nn.RMSNorm(cfg.d_model)
        self.head = None if cfg.tie_head else nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.rotary = Rotary(cfg.d_model // cfg.n_heads, cfg.rope_base)
        init_weights(self, 2 * cfg.n_layers)

    def encode(self, melody: torch.Tensor) -> torch.Tensor:
        """melody frames [B, T] -> per-frame summaries of the whole melody [B, T, d] (PAD frames
        are not attended to)."""
        B, T = melody.shape
        keep = melody != PAD
        keep = keep | ~keep.any(1, keepdim=True)  # an all-PAD row attends to itself, not to NaN
        mask = keep[:, None, None, :]
        rope = self.rotary(0, T)
        h = self.drop(self.embed(melody))
        for block in self.encoder:
            h = block(h, rope, causal=False, mask=mask)
        return self.bridge(self.enc_norm(h))

    def decode(self, prev_chords: torch.Tensor, melody_summary: torch.Tensor,
               cache: KVCache | None = None) -> torch.Tensor:
        """prev_chords [B, n] (the chord *before* each frame, BOS for frame 0) plus the encoder's
        vectors of the same frames [B, n, d] -> chord logits [B, n, vocab]."""
        start, n = (cache.length if cache is not None else 0), prev_chords.shape[1]
        rope, mask = self.rotary(start, n), causal_mask_after(start, n, prev_chords.device)
        h = self.drop(self.embed(prev_chords) + melody_summary)
        for i, block in enumerate(self.decoder):
            h = block(h, rope, causal=True, mask=mask, cache=cache, layer=i)
        if cache is not None:
            cache.length += prev_chords.shape[1]
        h = self.norm(h)
        return F.linear(h, self.embed.matrix()) if self.head is None else self.head(h)

    def chord_logits(self, melody: torch.Tensor, chords: torch.Tensor) -> torch.Tensor:
        """Teacher-forced: [B, T] melody and chord frames -> [B, T, vocab]; [:, t] is the
        distribution of the chord of frame t given the whole melody and chords < t (aligned
        with OnlinePolicy.chord_logits, for KL(pi || phi))."""
        prev = torch.cat([torch.full_like(chords[:, :1], BOS), chords[:, :-1]], dim=1)
        return self.decode(prev, self.encode(melody))

    forward = chord_logits
