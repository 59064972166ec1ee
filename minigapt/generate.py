"""Online generation: the policy plays chords against a melody one 16th-note frame at a time.

At frame t the policy samples the chord y_t having seen the melody only up to t-1, then reads the
melody token x_t, and so on: [BOS, y0, x0, y1, x1, ...]. Only chord positions are sampled in
`rollout_online` (the melody is teacher-forced, paper 3.2); `sample_melody_continuation` runs the
same loop but also samples melody positions, which the live engine uses to imagine the player's
next notes; `OnlineSession` is the same loop driven one frame at a time by a caller.

Speed: a KV cache makes each frame one forward of 2 new tokens (O(T) attention) instead of a
forward over the whole stream. When the stream outgrows the model's context, the window slides
by `hop_frames` frames (paper C.13: 8) keeping BOS in front, and the cache is recomputed over the
new window once; everything else stays incremental. A batch of one on a CPU (the live case)
takes the NumPy decode step of models/fast_decode.py (same weights, same numbers to float32
rounding): there PyTorch's per-call overhead, not arithmetic, is what a frame costs. The loop
runs under inference_mode (cheaper calls); the returned tensors are ordinary ones.

Masking (optional, on by default): at a chord position only chord tokens and SILENCE may be
sampled, and HOLD_c only while chord c sounds (likewise melody HOLD_p only after pitch p), so a
rollout always decodes to a well-formed chord part.

Roles: a model plays the part of the *first* slot of each frame of its stream (`played_role`):
"chord" for the chord policy and its anchor, "melody" for the melody agent and its anchor
(minigapt.agents, melody-first stream [BOS, x0, y0, ...]). The functions here sample and score
that part, so for a melody model the arguments read the other way round: `melody` is the part
it is given (the chords) and `.chords` / `chords` the part it plays (its melody).
"""
from __future__ import annotations

from contextlib import contextmanager

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .models.decoder import KVCache
from .models.fast_decode import FastDecoder
from .models.modes import eval_mode
from .music.tokens import BOS, EOS, PAD, SILENCE, VOCAB

_MASKS: dict = {}
NUMPY_DECODE = True  # KV-cached CPU generation of small batches runs in NumPy (models/fast_decode.py)
NUMPY_DECODE_MAX_BATCH = 1  # above this, PyTorch's batched matmuls win


def _mask_tables(device) -> dict[str, torch.Tensor]:
    """role -> float [vocab, vocab]: row = the previous frame's token of that part, 0 where a
    token may follow it at a `role` position, -inf where not (one gather + add per step)."""
    key = str(device)
    if key not in _MASKS:
        V = VOCAB
        tables = {}
        for role, (first, hold0, of) in {
            "chord": (V.chord_on0, V.chord_hold0, V.chord_of),
            "melody": (V.melody_on0, V.melody_hold0, V.pitch_of - V.pitch_min),
        }.items():
            base = np.zeros(V.size, bool)
            base[first:hold0] = True  # any onset
            base[SILENCE] = True
            allowed = np.tile(base, (V.size, 1))
            sounding = np.flatnonzero(of >= 0)
            allowed[sounding, hold0 + of[sounding]] = True  # HOLD only of what sounds
            with torch.inference_mode(False):  # plain tensors: score_chords uses them under autograd
                tables[role] = torch.as_tensor(np.where(allowed, 0.0, -np.inf), dtype=torch.float32,
                                               device=device)
        _MASKS[key] = tables
    return _MASKS[key]


def allowed_tokens(prev: torch.Tensor, role: str) -> torch.Tensor:
    """prev [...] (the previous frame's token of the same part) -> bool [..., vocab] of tokens
    valid now at a `role` ("chord" or "melody") position."""
    return _mask_tables(prev.device)[role][prev] == 0


ROLES = ("chord", "melody")


def played_role(model) -> str:
    """The part a model samples at the first slot of each frame: its `role` attribute, "chord"
    for every model that has none (the chord policy, its anchor)."""
    return getattr(model, "role", "chord")


def _other(role: str) -> str:
    return ROLES[1 - ROLES.index(role)]


def _sample(logits, prev, role, temperature, generator, mask_invalid, need_entropy=True):
    """logits [B, V] -> (token [B], log-prob [B], entropy [B] or None) of the sampling
    distribution (temperature-scaled, masked)."""
    logits = logits.float()
    if temperature > 0 and temperature != 1:
        logits = logits / temperature
    if mask_invalid:
        logits = logits + _mask_tables(logits.device)[role][prev]
    logp = F.log_softmax(logits, dim=-1)
    if temperature > 0:
        tok = torch.multinomial(logp.exp(), 1, generator=generator).squeeze(1)
    else:  # greedy
        tok = logits.argmax(-1)
    entropy = None
    if need_entropy:
        p = logp.exp()
        entropy = -torch.where(p > 0, p * logp, torch.zeros_like(p)).sum(-1)
    return tok, logp.gather(1, tok[:, None]).squeeze(1), entropy


class _Context:
    """The stream fed so far and the model's view of it (KV cache or recompute, sliding window)."""

    def __init__(self, model, batch: int, device, use_cache: bool = True, hop_frames: int = 8):
        self.model, self.use_cache, self.hop = model, use_cache, hop_frames
        self.max_len = model.cfg.max_len
        if self.max_len < 2 * hop_frames + 4:
            raise ValueError(f"context {self.max_len} too short for a hop of {hop_frames} frames")
        self.history = torch.full((batch, 64), PAD, dtype=torch.long, device=device)
        self.n = 0  # tokens in history (history[:, 0] is BOS)
        self.win = 1  # stream index of the first token kept after BOS (a chord position)
        # live-sized batches on a CPU decode in NumPy (same model, far fewer calls per step)
        self.fast = FastDecoder(model, batch, self.max_len) if (
            use_cache and NUMPY_DECODE and batch <= NUMPY_DECODE_MAX_BATCH
            and torch.device(device).type == "cpu" and getattr(model, "kind", "") in ("online", "melody")) else None
        self.cache = KVCache.empty(model.cfg, batch, device=device) \
            if use_cache and self.fast is None else None

    def feed(self, new: torch.Tensor) -> torch.Tensor:
        """Append tokens [B, n] to the stream; return the logits [B, V] after the last one."""
        k = new.shape[1]
        if self.n + k > self.history.shape[1]:  # grow to fit (doubling keeps appends amortised O(1))
            size = max(2 * self.history.shape[1], self.n + k)
            grow = torch.full((self.history.shape[0], size - self.history.shape[1]), PAD,
                              dtype=self.history.dtype, device=self.history.device)
            self.history = torch.cat([self.history, grow], 1)
        self.history[:, self.n:self.n + k] = new
        self.n += k
        slide = 1 + self.n - self.win > self.max_len
        if slide:  # slide by whole hops, keeping BOS in front
            while 1 + self.n - self.win > self.max_len:
                self.win += 2 * self.hop
        if self.fast is not None:
            if slide:
                self.fast.length = 0
            return torch.from_numpy(self.fast.feed((self._window() if slide else new).numpy()))
        if slide:
            if self.use_cache:
                self.cache.length = 0
            return self.model(self._window(), self.cache, last_only=True)[:, -1]
        if self.use_cache:
            return self.model(new, self.cache, last_only=True)[:, -1]
        return self.model(self._window(), last_only=True)[:, -1]

    def _window(self) -> torch.Tensor:
        return torch.cat([self.history[:, :1], self.history[:, self.win:self.n]], 1)

    def clone(self) -> "_Context":
        other = object.__new__(_Context)
        other.__dict__.update(self.__dict__)
        other.history = self.history.clone()
        other.cache = self.cache.clone() if self.cache is not None else None
        other.fast = self.fast.clone() if self.fast is not None else None
        return other


@dataclass
class Rollout:
    """What a batch of online runs produced (torch tensors, [B, T] each)."""

    chords: torch.Tensor  # chord frame tokens (PAD after the melody ends)
    melody: torch.Tensor  # melody frame tokens (given, or sampled where imagined)
    logprobs: torch.Tensor  # log-prob of each *sampled* chord under the sampling distribution, else 0
    sampled: torch.Tensor  # bool: the chord at this frame was sampled (not forced, not past the end)
    entropies: torch.Tensor | None = None  # entropy of the chord distribution where sampled, else 0

    def stream(self) -> torch.Tensor:
        """Chord-first token streams [B, 2T+2]: BOS, y0, x0, ..., EOS after each row's last frame."""
        B, T = self.chords.shape
        out = torch.full((B, 2 * T + 2), PAD, dtype=torch.long, device=self.chords.device)
        out[:, 0] = BOS
        out[:, 1:-1:2], out[:, 2:-1:2] = self.chords, self.melody
        lengths = (self.melody != PAD).sum(1)
        out[torch.arange(B), 2 * lengths + 1] = EOS
        return out


def _as_long(a, device) -> torch.Tensor | None:
    if a is None:
        return None
    t = torch.as_tensor(np.asarray(a) if not torch.is_tensor(a) else a, device=device).long()
    return t[None] if t.dim() == 1 else t


def _generator(generator, seed, device):
    if generator is not None:
        return generator
    g = torch.Generator(device=device)
    g.manual_seed(0 if seed is None else int(seed))
    return g


@contextmanager
def _torch_threads(n: int | None):
    """Run with n PyTorch threads (None: unchanged). A batch-1 cached rollout is a long chain of
    tiny ops; waking a second thread for each costs more than it saves (measured: 2,200-2,500
    vs 4,100 tokens/s on 2 cores), so that path runs on one."""
    old = torch.get_num_threads()
    if n is not None and n != old:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != old:
            torch.set_num_threads(old)


def _run(*args, **kwargs) -> Rollout:
    batch, use_cache = args[6], kwargs["use_cache"]
    tiny_steps = use_cache and NUMPY_DECODE and batch <= NUMPY_DECODE_MAX_BATCH
    with _torch_threads(1 if tiny_steps else None):
        r = _run_inference(*args, **kwargs)
    # plain tensors again: inference-mode tensors may not enter autograd (e.g. RL's score_chords)
    return Rollout(*(None if t is None else t.clone()
                     for t in (r.chords, r.melody, r.logprobs, r.sampled, r.entropies)))


@torch.inference_mode()  # cheaper per call than no_grad: no version counters, no autograd metadata
def _run_inference(model, n_frames, melody, n_melody_given, chords, n_chords_given, batch, *,
                   temperature, generator, mask_invalid, use_cache, hop_frames,
                   need_entropy=True) -> Rollout:
    with eval_mode(model):  # no dropout while generating (paper: dropout off during RL)
        device = next(model.parameters()).device
        T, B = n_frames, batch
        out_y = torch.full((B, T), PAD, dtype=torch.long, device=device)
        out_x = torch.full((B, T), PAD, dtype=torch.long, device=device)
        logp, ent = torch.zeros(B, T, device=device), torch.zeros(B, T, device=device)
        sampled = torch.zeros(B, T, dtype=torch.bool, device=device)
        ctx = _Context(model, B, device, use_cache, hop_frames)
        played = played_role(model)  # y: the part sampled first in each frame; x: the other one
        prev_y = prev_x = torch.full((B,), PAD, dtype=torch.long, device=device)
        logits = ctx.feed(torch.full((B, 1), BOS, dtype=torch.long, device=device))
        for t in range(T):
            if t < n_chords_given:
                y = chords[:, t]
            else:
                y, lp, h = _sample(logits, prev_y, played, temperature, generator, mask_invalid,
                                   need_entropy)
                live = melody[:, t] != PAD if t < n_melody_given else torch.ones_like(y, dtype=torch.bool)
                y = torch.where(live, y, PAD)  # nothing to accompany after the melody ends
                logp[:, t], sampled[:, t] = lp * live, live
                if need_entropy:
                    ent[:, t] = h * live
            if t < n_melody_given:
                x = melody[:, t]
                if t + 1 < T:
                    logits = ctx.feed(torch.stack([y, x], 1))
            else:  # imagine the melody: it is predicted after the chord of the same frame
                logits = ctx.feed(y[:, None])
                x, _, _ = _sample(logits, prev_x, _other(played), temperature, generator, mask_invalid, False)
                if t + 1 < T:
                    logits = ctx.feed(x[:, None])
            out_y[:, t], out_x[:, t] = y, x
            prev_y, prev_x = y, x
        return Rollout(out_y, out_x, logp, sampled, ent if need_entropy else None)


def rollout_online(model, melody, *, chord_prefix=None, temperature: float = 1.0,
                   generator: torch.Generator | None = None, seed: int | None = None,
                   mask_invalid: bool = True, return_entropy: bool = False,
                   use_cache: bool = True, hop_frames: int = 8) -> Rollout:
    """Accompany melodies [B, T] (melody frame tokens; PAD after a melody's end) online.

    chord_prefix [B, P]: chords of frames < P are teacher-forced (the live engine's commits).
    temperature 0 = greedy. use_cache=False recomputes the whole context every frame (the
    reference the KV cache is tested and benchmarked against). Seeded: same seed, same chords.
    A melody model plays its melody over the chords given as `melody` (see Roles above).
    """
    device = next(model.parameters()).device
    melody = _as_long(melody, device)
    chords = _as_long(chord_prefix, device)
    B, T = melody.shape
    P = 0 if chords is None else min(chords.shape[1], T)
    r = _run(model, T, melody, T, chords, P, B, temperature=temperature,
             generator=_generator(generator, seed, device), mask_invalid=mask_invalid,
             use_cache=use_cache, hop_frames=hop_frames, need_entropy=return_entropy)
    return r


def sample_melody_continuation(model, melody_prefix, n_frames: int, *, chords=None,
                               temperature: float = 1.0, generator=None, seed=None,
                               mask_invalid: bool = True, hop_frames: int = 8) -> Rollout:
    """Continue melodies [B, P] to n_frames frames, sampling the melody beyond P (the player's
    imagined notes) and the chords beyond the given `chords` [B, Pc] (committed chords)."""
    device = next(model.parameters()).device
    melody = _as_long(melody_prefix, device)
    chords = _as_long(chords, device)
    B = melody.shape[0]
    Pc = 0 if chords is None else min(chords.shape[1], n_frames)
    return _run(model, n_frames, melody, min(melody.shape[1], n_frames), chords, Pc, B,
                temperature=temperature, generator=_generator(generator, seed, device),
                mask_invalid=mask_invalid, use_cache=True, hop_frames=hop_frames)


def chord_log_probs(model, melody: torch.Tensor, chords: torch.Tensor, *, temperature: float = 1.0,
                    mask_invalid: bool = True) -> torch.Tensor:
    """One teacher-forced forward -> log-probs [B, T, V] of each frame's chord distribution as
    rollout_online samples it (same temperature and masking; masked tokens are -inf; a melody
    model: of its melody, see Roles above).
    Differentiable: the RL update recomputes its log-probs, KL and entropy from this."""
    logits = model.chord_logits(melody, chords).float()  # [B, T, V]
    if temperature > 0 and temperature != 1:
        logits = logits / temperature
    if mask_invalid:
        prev = torch.cat([torch.full_like(chords[:, :1], PAD), chords[:, :-1]], 1)
        logits = logits.masked_fill(~allowed_tokens(prev, played_role(model)), float("-inf"))
    return F.log_softmax(logits, -1)


def entropy_of(logp: torch.Tensor) -> torch.Tensor:
    """Entropy per position of log-probs [..., V]; masked (-inf) tokens contribute 0, with a
    NaN-free gradient (a torch.where over 0 * -inf would still send NaN backwards)."""
    p = logp.exp()
    return -(p * logp.masked_fill(p == 0, 0.0)).sum(-1)


def score_chords(model, melody: torch.Tensor, chords: torch.Tensor, *, temperature: float = 1.0,
                 mask_invalid: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The log-probs [B, T] and entropies [B, T] that rollout_online would report for these
    chords (0 after the melody ends), from one differentiable teacher-forced forward."""
    logp = chord_log_probs(model, melody, chords, temperature=temperature, mask_invalid=mask_invalid)
    live = melody != PAD
    chosen = logp.gather(2, chords.clamp(min=0)[..., None]).squeeze(2)
    return torch.where(live, chosen, torch.zeros_like(chosen)), entropy_of(logp) * live


class OnlineSession:
    """One live stream driven frame by frame (the live engine's view of the policy).

        s = OnlineSession(model, temperature=0.8, seed=0)
        chord = s.next_chord()          # the chord for frame 0
        chord = s.step(melody_token)    # the player's note of this frame -> chord of the next
    Not thread-safe: guard it with a lock when a widget thread and a cell share it.
    """

    def __init__(self, model, *, temperature: float = 1.0, seed: int | None = None,
                 mask_invalid: bool = True, hop_frames: int = 8):
        self.model, self.temperature, self.mask_invalid = model, temperature, mask_invalid
        model.eval()
        self.device = next(model.parameters()).device
        self.generator = _generator(None, seed, self.device)
        self.chords: list[int] = []  # chords of completed frames
        self.melody: list[int] = []
        self._chord: int | None = None  # chord chosen for the current frame
        self._chord_fed = False  # it was already fed (to imagine the melody)
        with torch.inference_mode():
            self._ctx = _Context(model, 1, self.device, True, hop_frames)
            self._logits = self._ctx.feed(torch.full((1, 1), BOS, dtype=torch.long, device=self.device))

    @property
    def frame(self) -> int:
        return len(self.melody)

    def _prev(self, part: list[int]) -> torch.Tensor:
        return torch.tensor([part[-1] if part else PAD], device=self.device)

    def next_chord(self) -> int:
        """The chord for the current frame (sampled once, then remembered)."""
        if self._chord is None:
            tok, _, _ = _sample(self._logits, self._prev(self.chords), "chord", self.temperature,
                                self.generator, self.mask_invalid, False)
            self._chord = int(tok)
        return self._chord

    def force_chord(self, token: int) -> None:
        """Use this chord for the current frame (a committed chord); before the melody is fed."""
        if self._chord_fed:
            raise ValueError("the chord of this frame was already used to imagine the melody")
        self._chord = int(token)

    @torch.inference_mode()
    def imagine_melody(self) -> int:
        """Sample a melody token for the current frame (what the player might play next)."""
        chord = self.next_chord()
        if not self._chord_fed:
            self._logits = self._ctx.feed(torch.tensor([[chord]], device=self.device))
            self._chord_fed = True
        tok, _, _ = _sample(self._logits, self._prev(self.melody), "melody", self.temperature,
                            self.generator, self.mask_invalid, False)
        return int(tok)

    @torch.inference_mode()
    def step(self, melody_token: int) -> int:
        """Complete the current frame with the player's melody token; return the next chord."""
        chord = self.next_chord()
        new = [melody_token] if self._chord_fed else [chord, melody_token]
        self._logits = self._ctx.feed(torch.tensor([new], device=self.device))
        self.chords.append(chord)
        self.melody.append(int(melody_token))
        self._chord, self._chord_fed = None, False
        return self.next_chord()

    def clone(self) -> "OnlineSession":
        """An independent copy (e.g. to plan a lookahead, then throw it away)."""
        other = object.__new__(OnlineSession)
        other.__dict__.update(self.__dict__)
        other.chords, other.melody = list(self.chords), list(self.melody)
        other._ctx = self._ctx.clone()
        other.generator = torch.Generator(device=self.device)
        other.generator.set_state(self.generator.get_state())
        return other


@torch.no_grad()
def sample_offline(anchor, melody, *, temperature: float = 1.0, generator=None, seed=None,
                   mask_invalid: bool = True) -> torch.Tensor:
    """Chords [B, T] from the offline anchor, which sees the whole melody (e.g. to fill the
    listen-only intro of a live session). T must fit in the anchor's context."""
    device = next(anchor.parameters()).device
    melody = _as_long(melody, device)
    B, T = melody.shape
    g = _generator(generator, seed, device)
    with eval_mode(anchor):
        summary = anchor.encode(melody)
        cache = KVCache.empty(anchor.cfg, B, capacity=T, device=device)
        out = torch.full((B, T), PAD, dtype=torch.long, device=device)
        prev = torch.full((B,), BOS, dtype=torch.long, device=device)
        for t in range(T):
            logits = anchor.decode(prev[:, None], summary[:, t:t + 1], cache)[:, -1]
            y, _, _ = _sample(logits, torch.where(prev == BOS, PAD, prev), played_role(anchor), temperature, g,
                              mask_invalid, False)
            out[:, t] = prev = torch.where(melody[:, t] != PAD, y, PAD)
        return out
