"""The online policy pi(y_t | x_<t, y_<t): a decoder-only transformer over the chord-first stream.

It reads [BOS, y0, x0, y1, x1, ...] causally, so the chord of frame t is predicted having seen the
melody only up to frame t-1: the model can play along live. It is trained on *all* tokens (the
melody too, paper 3.1), which lets the live engine ask it to imagine the player's next notes.

Architecture (paper C.1): pre-norm blocks with RMSNorm, rotary position embeddings (RoPE),
SwiGLU feed-forward, dropout; the output head is tied to the token embedding (the vocabulary is
small, so tying saves little, but it regularises the small course-scale models). At smoke and
course scale the token embedding is *factorised* (TokenEmbedding): each token's vector is a free
vector plus shared vectors of its musical parts (pitch class, octave, chord root, quality, the
chord's pitch classes), so what is learnt about one pitch or chord carries over to its
transpositions and "is this note in this chord" is nearly linear from the start (in our course
checks the loss fell faster: 0.83 vs 1.24 after 75 steps; the paper's model uses a plain table,
and so does the paper preset). `forward` takes
an optional `KVCache` so that generating one token at a time costs O(T) instead of O(T^2), and
`return_hidden=True` exposes the final hidden state for the RL critic's scalar value head.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, fields
from functools import lru_cache

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..presets import preset
from ..music.chords import QUALITY_NAMES, split_chord_name
from ..music.tokens import BOS, VOCAB


@dataclass
class ModelConfig:
    """Size and shape of a transformer (the policy, the anchor, later the reward encoders)."""

    n_layers: int = 4
    """Transformer blocks (the offline anchor uses this many in its encoder AND its decoder)."""
    n_heads: int = 4
    """Attention heads; d_model must divide by it."""
    d_model: int = 128
    """Width of the residual stream."""
    d_ff: int = 0
    """SwiGLU hidden width; 0 = the usual 8/3 * d_model rounded up to a multiple of 32."""
    dropout: float = 0.0
    """Dropout on embeddings and residual branches (training only; not on attention weights)."""
    max_len: int = 258
    """Context in tokens. Training crops must fit; generation slides a window beyond it."""
    rope_base: float = 10000.0
    """RoPE frequency base."""
    tie_head: bool = True
    """Tie the output head to the token embedding."""
    factorized_embedding: bool = True
    """Token vectors = free vector + shared vectors of musical parts (see TokenEmbedding)."""
    vocab_size: int = VOCAB.size
    """Number of token ids (the shared vocabulary, music.tokens.VOCAB)."""

    def __post_init__(self):
        if self.d_model % self.n_heads or (self.d_model // self.n_heads) % 2:
            raise ValueError(f"d_model {self.d_model} must split into {self.n_heads} heads of even size")

    @property
    def ff_width(self) -> int:
        return self.d_ff or 32 * math.ceil(8 * self.d_model / 3 / 32)

    @classmethod
    def preset(cls, scale: str) -> "ModelConfig":
        return cls(**preset(scale, "model"))

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class KVCache:
    """Keys and values of every layer for the tokens seen so far (preallocated to `capacity`)."""

    k: list[torch.Tensor]  # per layer [B, H, capacity, head_dim]
    v: list[torch.Tensor]
    length: int = 0  # tokens stored; the next token gets position `length`

    @classmethod
    def empty(cls, cfg: ModelConfig, batch: int, capacity: int | None = None,
              device=None, dtype=torch.float32) -> "KVCache":
        cap = capacity or cfg.max_len
        shape = (batch, cfg.n_heads, cap, cfg.d_model // cfg.n_heads)
        return cls([torch.empty(shape, device=device, dtype=dtype) for _ in range(cfg.n_layers)],
                   [torch.empty(shape, device=device, dtype=dtype) for _ in range(cfg.n_layers)])

    @property
    def capacity(self) -> int:
        return self.k[0].shape[2]

    def clone(self) -> "KVCache":
        return KVCache([t.clone() for t in self.k], [t.clone() for t in self.v], self.length)


# --- building blocks (shared with the offline anchor and later encoders) -------------------
@lru_cache(maxsize=4)
def token_features(vocab=VOCAB) -> np.ndarray:
    """float32 [vocab, n_features]: the musical parts of every token, one-hot or multi-hot:
    kind (special / melody onset / melody hold / chord onset / chord hold), pitch class (a
    melody note's, or the mean over a chord's pitch classes: the same 12 columns), octave,
    chord root, chord quality."""
    V = vocab.size
    kind = np.zeros((V, 5), np.float32)
    pc = np.zeros((V, 12), np.float32)
    octave = np.zeros((V, 10), np.float32)
    root = np.zeros((V, 12), np.float32)
    quality = np.zeros((V, len(QUALITY_NAMES)), np.float32)
    kind[:vocab.melody_on0, 0] = 1
    for tok in range(vocab.melody_on0, V):
        onset = bool(vocab.is_onset[tok])
        if vocab.is_melody[tok]:
            p = int(vocab.pitch_of[tok])
            kind[tok, 1 if onset else 2] = 1
            pc[tok, p % 12] = 1
            octave[tok, p // 12 - 1] = 1
        else:
            c = int(vocab.chord_of[tok])
            r, q = split_chord_name(vocab.chord_names[c])
            kind[tok, 3 if onset else 4] = 1
            pc[tok] = vocab.chord_pc_mask[c] / vocab.chord_pc_mask[c].sum()
            root[tok, r] = 1
            quality[tok, QUALITY_NAMES.index(q)] = 1
    return np.concatenate([kind, pc, octave, root, quality], axis=1)


class TokenEmbedding(nn.Module):
    """Token ids -> vectors; the same matrix serves as the tied output head.

    Factorised: matrix = free table + token_features @ parts, i.e. every token's vector is its
    own plus the shared vectors of its parts. Under no_grad (generation) the matrix is cached
    until the weights change."""

    def __init__(self, cfg: "ModelConfig"):
        super().__init__()
        self.table = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.factorized = cfg.factorized_embedding
        if self.factorized:
            if cfg.vocab_size != VOCAB.size:
                raise ValueError("a factorised embedding needs the shared vocabulary")
            self.register_buffer("features", torch.tensor(token_features()), persistent=False)
            self.parts = nn.Parameter(torch.zeros(self.features.shape[1], cfg.d_model))
        self._cached, self._cache_key = None, None

    def matrix(self) -> torch.Tensor:
        """[vocab, d_model]."""
        if not self.factorized:
            return self.table.weight
        if torch.is_grad_enabled():
            return self.table.weight + self.features @ self.parts
        key = (self.table.weight._version, self.parts._version, self.table.weight.data_ptr(),
               self.parts.data_ptr(), self.parts.device)
        if key != self._cache_key:
            self._cached, self._cache_key = self.table.weight + self.features @ self.parts, key
        return self._cached

    def forward(self, tokens: torch.Tensor, matrix: torch.Tensor | None = None) -> torch.Tensor:
        return F.embedding(tokens, self.matrix() if matrix is None else matrix)


class Rotary(nn.Module):
    """Rotary position embeddings as complex rotations e^(i * pos * freq), grown on demand."""

    def __init__(self, head_dim: int, base: float):
        super().__init__()
        inv = 1.0 / base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
        self.register_buffer("inv_freq", inv, persistent=False)
        self._cis: torch.Tensor | None = None

    def forward(self, start: int, n: int) -> torch.Tensor:
        """complex64 [n, head_dim / 2]: the rotations of positions start .. start + n - 1."""
        cis = self._cis
        if cis is None or cis.shape[0] < start + n or cis.device != self.inv_freq.device:
            size = max(start + n, 2 * (cis.shape[0] if cis is not None else 256))
            with torch.inference_mode(False), torch.no_grad():  # a plain tensor, reusable anywhere
                pos = torch.arange(size, device=self.inv_freq.device, dtype=torch.float32)
                self._cis = torch.polar(torch.ones(size, len(self.inv_freq), device=pos.device),
                                        torch.outer(pos, self.inv_freq.clone()))
        return self._cis[start:start + n]


def apply_rope(x: torch.Tensor, cis: torch.Tensor) -> torch.Tensor:
    """Rotate each consecutive feature pair of x [..., head_dim] (as a complex number) by the
    angle of its position; `cis` must broadcast against x's [..., head_dim / 2]."""
    xc = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))
    return torch.view_as_real(xc * cis).flatten(-2).type_as(x)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_heads, self.head_dim = cfg.n_heads, cfg.d_model // cfg.n_heads
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.out = nn.Linear(cfg.d_model, cfg.d_model, bias=False)

    def forward(self, x, rope, *, causal: bool, mask=None, cache: KVCache | None = None,
                layer: int = 0):
        """x [B, n, d]; rope [n, head_dim/2] complex; mask: bool, True = may attend (else
        causal or full). With a cache, the new keys/values are stored and all are attended."""
        B, n, d = x.shape
        qkv = self.qkv(x).view(B, n, 3, self.n_heads, self.head_dim)
        qk = apply_rope(qkv[:, :, :2], rope[:, None, None])  # q and k rotated in one go
        q, k = qk.transpose(1, 3).unbind(2)  # [B, H, n, head_dim] each
        v = qkv[:, :, 2].transpose(1, 2)
        if cache is not None:
            past = cache.length
            cache.k[layer][:, :, past:past + n] = k
            cache.v[layer][:, :, past:past + n] = v
            k, v = cache.k[layer][:, :, :past + n], cache.v[layer][:, :, :past + n]
        is_causal = causal and mask is None and n > 1 and k.shape[2] == n
        # no dropout on the attention weights: on CPU it forces PyTorch's slow "math" attention
        # path (3x slower training here); dropout acts on embeddings and residual branches
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal)
        return self.out(y.transpose(1, 2).reshape(B, n, d))


class SwiGLU(nn.Module):
    """down(silu(gate(x)) * up(x)), with gate and up as one matrix (one matmul, not two)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.gate_up = nn.Linear(cfg.d_model, 2 * cfg.ff_width, bias=False)
        self.down = nn.Linear(cfg.ff_width, cfg.d_model, bias=False)

    def forward(self, x):
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return self.down(F.silu(gate) * up)


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.norm1, self.norm2 = nn.RMSNorm(cfg.d_model), nn.RMSNorm(cfg.d_model)
        self.attn, self.mlp = Attention(cfg), SwiGLU(cfg)
        self.p_drop = cfg.dropout

    def forward(self, x, rope, **attn_kwargs):
        a = self.attn(self.norm1(x), rope, **attn_kwargs)
        if self.training and self.p_drop:
            a = F.dropout(a, self.p_drop, True)
        x = x + a
        m = self.mlp(self.norm2(x))
        if self.training and self.p_drop:
            m = F.dropout(m, self.p_drop, True)
        return x + m


def causal_mask_after(past: int, n: int, device=None) -> torch.Tensor | None:
    """bool [n, past + n]: new token i may see the `past` stored tokens and new tokens <= i.
    None where SDPA's own flags suffice (no past, or a single new token that sees everything)."""
    if past == 0 or n == 1:
        return None
    return torch.ones(n, past + n, dtype=torch.bool, device=device).tril(past)


def init_weights(module: nn.Module, n_layers: int) -> None:
    """GPT-2 style: N(0, 0.02), residual output projections scaled down by sqrt(2 * layers)."""
    for name, p in module.named_parameters():
        if p.dim() >= 2:
            std = 0.02 / math.sqrt(2 * n_layers) if name.endswith(("out.weight", "down.weight")) else 0.02
            nn.init.normal_(p, 0.0, std)


# --- the online policy -----------------------------------------------------------------------
class OnlinePolicy(nn.Module):
    """Causal transformer over the chord-first interleaved stream (see module docstring)."""

    kind = "online"

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = TokenEmbedding(cfg)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = nn.RMSNorm(cfg.d_model)
        self.head = None if cfg.tie_head else nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.rotary = Rotary(cfg.d_model // cfg.n_heads, cfg.rope_base)
        init_weights(self, cfg.n_layers)

    def forward(self, tokens: torch.Tensor, cache: KVCache | None = None,
                return_hidden: bool = False, last_only: bool = False):
        """tokens [B, n] -> logits [B, n, vocab] (and the final normed hidden [B, n, d]).

        With a cache, `tokens` continue the stored stream (positions cache.length ...) and the
        cache is extended in place. last_only: logits of the last position only ([B, 1, vocab]),
        all generation needs."""
        n = tokens.shape[1]
        start = cache.length if cache is not None else 0
        if cache is not None and start + n > cache.capacity:
            raise ValueError(f"KV cache full ({cache.capacity} tokens)")
        rope = self.rotary(start, n)
        mask = causal_mask_after(start, n, tokens.device)
        matrix = self.embed.matrix()
        h = self.embed(tokens, matrix)
        if self.training and self.cfg.dropout:
            h = F.dropout(h, self.cfg.dropout, True)
        for i, block in enumerate(self.blocks):
            h = block(h, rope, causal=True, mask=mask, cache=cache, layer=i)
        if cache is not None:
            cache.length += n
        h = self.norm(h[:, -1:] if last_only else h)
        logits = F.linear(h, matrix) if self.head is None else self.head(h)
        return (logits, h) if return_hidden else logits

    def chord_logits(self, melody: torch.Tensor, chords: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits at every chord position: [B, T] frames -> [B, T, vocab], where
        [:, t] is the distribution of the chord of frame t (aligned with OfflineAnchor's)."""
        stream = build_stream(melody, chords)[:, :-1]  # [BOS, y0, x0, ..., y_{T-1}]
        return self(stream)[:, 0::2]


class ValueModel(nn.Module):
    """The RL critic (paper C.1): a *copy* of a policy (so training it leaves the policy alone)
    with a scalar head on the final hidden state, zero-initialised."""

    kind = "critic"

    def __init__(self, policy: OnlinePolicy):
        super().__init__()
        self.body = copy.deepcopy(policy)
        self.cfg = policy.cfg
        self.value = nn.Linear(policy.cfg.d_model, 1)
        nn.init.zeros_(self.value.weight)
        nn.init.zeros_(self.value.bias)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens [B, n] -> values [B, n]."""
        _, h = self.body(tokens, return_hidden=True)
        return self.value(h).squeeze(-1)

    def chord_values(self, melody: torch.Tensor, chords: torch.Tensor) -> torch.Tensor:
        """Frames [B, T] -> [B, T]: the value of the state in which the chord of frame t is
        chosen (aligned with OnlinePolicy.chord_logits)."""
        return self(build_stream(melody, chords)[:, :-1])[:, 0::2]


def build_stream(melody: torch.Tensor, chords: torch.Tensor) -> torch.Tensor:
    """Batched chord-first interleave without EOS: [B, T] x2 -> [B, 2T+1] = [BOS, y0, x0, ...]."""
    B, T = melody.shape
    out = torch.full((B, 2 * T + 1), BOS, dtype=torch.long, device=melody.device)
    out[:, 1::2], out[:, 2::2] = chords, melody
    return out


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())  # tied weights counted once
