"""The online policy's KV-cached decode step in NumPy, for live, batch-1 generation on a CPU.

Why a second path: with a KV cache one frame is 2 new tokens through 4 small layers, a few
hundred thousand multiply-adds; in eager PyTorch the ~150 operator calls per frame (each ~5 us
of dispatch) cost far more than the arithmetic, so caching hardly paid off (3-4x over
recomputing 512 tokens). The same step in NumPy (~1 us per call), with the weights folded ahead
of time, makes the cache pay as it does at real scale. It is the *same model*: `FastDecoder`
reads the policy's weights (re-read whenever they change) and reproduces `OnlinePolicy.forward`
to float32 rounding; tests check the logits agree.

Folding (done once per weight version, so each step does less):
- RMSNorm weights multiply into the matrix that follows them (the final one into the head);
- RoPE as real arithmetic: rotating the pair (a, b) by angle t gives (a cos t - b sin t,
  a sin t + b cos t) = x * C + swap(x) * S, and swap(x) = x @ (P W)^T, so the q/k projection
  matrix also gets pair-swapped copies of its rows: one matmul gives q, k, v, swap(q), swap(k).
"""
from __future__ import annotations

import numpy as np
import torch

from .decoder import KVCache

TORCH_PREFILL_MIN = 32  # feeds of at least this many tokens run through PyTorch (see _feed_torch)


def _weights_key(model) -> tuple:
    return tuple((p._version, p.data_ptr()) for p in model.parameters())


class FoldedWeights:
    """The policy's weights as float32 NumPy arrays, folded for decoding (see module doc)."""

    def __init__(self, model):
        cfg = model.cfg
        d, H = cfg.d_model, cfg.n_heads
        self.d, self.n_heads, self.head_dim = d, H, d // H
        self.ff = cfg.ff_width
        np_ = lambda t: t.detach().float().cpu().numpy().astype(np.float32)  # noqa: E731
        with torch.no_grad():
            self.embed = np_(model.embed.matrix())  # [V, d]
            head = self.embed if model.head is None else np_(model.head.weight)
            self.head_t = np.ascontiguousarray((head * np_(model.norm.weight)).T)  # [d, V]
        self.eps = [self._eps(b.norm1, d) for b in model.blocks] + [self._eps(model.norm, d)]
        swap = np.arange(d).reshape(-1, 2)[:, ::-1].reshape(-1)  # pair swap within each head
        self.layers = []
        for b in model.blocks:
            wqkv = np_(b.attn.qkv.weight) * np_(b.norm1.weight)  # [3d, d]
            wq, wk = wqkv[:d], wqkv[d:2 * d]
            w_all = np.concatenate([wqkv, wq[swap], wk[swap]])  # q, k, v, swap(q), swap(k)
            self.layers.append((
                np.ascontiguousarray(w_all.T),                                   # [d, 5d]
                np.ascontiguousarray(np_(b.attn.out.weight).T),                  # [d, d]
                np.ascontiguousarray((np_(b.mlp.gate_up.weight) * np_(b.norm2.weight)).T),  # [d, 2ff]
                np.ascontiguousarray(np_(b.mlp.down.weight).T),                  # [ff, d]
                self._eps(b.norm2, d)))
        inv = model.rotary.inv_freq.detach().cpu().numpy().astype(np.float64)
        self._inv_freq = np.repeat(inv, 2)  # each pair shares its angle
        self._sign = np.tile([-1.0, 1.0], self.head_dim // 2)
        self._cos = self._sin = np.zeros((0, 2 * d), np.float32)

    @staticmethod
    def _eps(norm, d: int) -> float:
        return float(norm.eps) if norm.eps is not None else float(np.finfo(np.float32).eps)

    def rope(self, start: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """cos and signed sin [n, 2d] for positions start .. start+n-1 (q and k side by side)."""
        if self._cos.shape[0] < start + n:
            size = max(start + n, 2 * self._cos.shape[0], 256)
            angle = np.arange(size)[:, None] * self._inv_freq[None]  # [size, head_dim]
            # computed like torch.polar's float32 angles, so positions rotate identically
            angle = angle.astype(np.float32).astype(np.float64)
            cos, sin = np.cos(angle), np.sin(angle) * self._sign
            reps = 2 * self.n_heads
            self._cos = np.tile(cos, reps).astype(np.float32)
            self._sin = np.tile(sin, reps).astype(np.float32)
        return self._cos[start:start + n], self._sin[start:start + n]


def folded_weights(model) -> FoldedWeights:
    """The model's folded weights, rebuilt only when its parameters changed (training, loading)."""
    key = _weights_key(model)
    cached = getattr(model, "_folded_weights", None)
    if cached is None or cached[0] != key:
        cached = (key, FoldedWeights(model))
        object.__setattr__(model, "_folded_weights", cached)  # not a submodule, not in state_dict
    return cached[1]


def _rms(x: np.ndarray, eps: float) -> np.ndarray:
    # sum * (1/d) rather than mean: ndarray.mean goes through Python-level helpers
    return x / np.sqrt(np.add.reduce(x * x, -1, keepdims=True) * np.float32(1 / x.shape[-1]) + eps)


class FastDecoder:
    """A KV cache plus the decode step, for `batch` streams of the given policy.

        dec = FastDecoder(policy, batch=1, capacity=policy.cfg.max_len)
        logits = dec.feed(tokens)   # int [B, n] continuing the stream -> float32 [B, V]
    """

    def __init__(self, model, batch: int, capacity: int):
        self.model = model
        self.w = folded_weights(model)
        L, H, hd = len(self.w.layers), self.w.n_heads, self.w.head_dim
        self.k = np.zeros((L, batch, H, capacity, hd), np.float32)
        self.v = np.zeros_like(self.k)
        self.length = 0
        self.scale = np.float32(1 / np.sqrt(hd))

    @property
    def capacity(self) -> int:
        return self.k.shape[3]

    def clone(self) -> "FastDecoder":
        other = object.__new__(FastDecoder)
        other.__dict__.update(self.__dict__)
        other.k, other.v = self.k.copy(), self.v.copy()
        return other

    def feed(self, tokens: np.ndarray) -> np.ndarray:
        """Append tokens [B, n] at positions length .. length+n-1; logits after the last one."""
        if tokens.shape[1] >= TORCH_PREFILL_MIN:
            return self._feed_torch(tokens)
        w = self.w
        B, n = tokens.shape
        past, d, H, hd = self.length, w.d, w.n_heads, w.head_dim
        if past + n > self.capacity:
            raise ValueError(f"KV cache full ({self.capacity} tokens)")
        end = past + n
        cos, sin = w.rope(past, n)
        # new token j sees the stored tokens and new tokens <= j: a mask for a long prefill,
        # a few in-place writes for the 2 tokens of a frame
        mask = np.triu(np.full((n, end), -np.inf, np.float32), past + 1) if n > 4 else None
        x = w.embed[tokens]  # [B, n, d]
        for i, (w_all, w_out, w_gu, w_down, eps2) in enumerate(w.layers):
            z = _rms(x, w.eps[i]) @ w_all  # [B, n, 5d]
            qk = z[..., :2 * d] * cos + z[..., 3 * d:] * sin  # rotated q and k
            self.k[i, :, :, past:end] = qk[..., d:].reshape(B, n, H, hd).transpose(0, 2, 1, 3)
            self.v[i, :, :, past:end] = z[..., 2 * d:3 * d].reshape(B, n, H, hd).transpose(0, 2, 1, 3)
            q = qk[..., :d].reshape(B, n, H, hd).transpose(0, 2, 1, 3)  # [B, H, n, hd]
            s = (q @ self.k[i, :, :, :end].transpose(0, 1, 3, 2)) * self.scale  # [B, H, n, end]
            if mask is not None:
                s += mask
            else:
                for j in range(n - 1):
                    s[..., j, past + j + 1:] = -np.inf
            s = np.exp(s - s.max(-1, keepdims=True))
            y = (s / s.sum(-1, keepdims=True)) @ self.v[i, :, :, :end]  # [B, H, n, hd]
            x = x + y.transpose(0, 2, 1, 3).reshape(B, n, d) @ w_out
            gu = _rms(x, eps2) @ w_gu
            gate, up = gu[..., :w.ff], gu[..., w.ff:]
            half = gate * np.float32(0.5)  # silu(g) = g/2 (1 + tanh(g/2)): no exp overflow
            x = x + ((half + half * np.tanh(half)) * up) @ w_down  # SwiGLU
        self.length = end
        return _rms(x[:, -1], w.eps[-1]) @ w.head_t  # [B, V]

    def _feed_torch(self, tokens: np.ndarray) -> np.ndarray:
        """A long feed (the first window, a window slide) is matmul-bound, where PyTorch's kernels
        beat NumPy's (~20 vs ~40 ms for 500 tokens): run the model itself, writing its keys and
        values straight into this cache (torch.from_numpy shares the memory)."""
        cache = KVCache([torch.from_numpy(k) for k in self.k], [torch.from_numpy(v) for v in self.v],
                        self.length)
        if self.length + tokens.shape[1] > self.capacity:
            raise ValueError(f"KV cache full ({self.capacity} tokens)")
        with torch.inference_mode():
            logits = self.model(torch.from_numpy(np.ascontiguousarray(tokens, np.int64)), cache,
                                last_only=True)[:, -1]
        self.length = cache.length
        return logits.float().numpy()
