"""The policy's side of a live jam: one stream fed with what really happened, plans imagined ahead.

`OnlineSession` (generate.py) plays one frame at a time and samples every chord itself. A jam
engine (engine.py) needs three other things from the same policy, which `LiveSession` adds:

* **Teacher forcing** (`feed`): the frames that have been played go in as they were, the
  committed chord and the player's note, several frames in one call when the engine catches up.
* **Imagination** (`imagine`): a *copy* of the stream is rolled forward: chords already
  committed are forced, the others sampled, and the player's melody is sampled too (the policy
  was trained on both parts of the stream, so it can guess what comes next). It is a generator
  that yields after each frame, so the engine can spread one plan over several ticks. A forced
  chord goes in together with the imagined note before it (2 tokens, one forward), so committed
  frames cost one model call instead of two. Sampling is NumPy, with generate.py's masks and
  temperature, from the engine's own seeded generator.
* **No hiccups when the window slides.** Past its context the stream slides (generate.py keeps
  BOS and drops the oldest `hop` frames) and the model recomputes the whole window once: 20-40 ms
  for 500 tokens on a laptop core, a stutter every `hop` frames. Here that recomputation is done
  ahead of time, `chunk` tokens per tick into a second KV cache, and swapped in once it has
  caught up with the stream: the same window and the same numbers, paid for in small pieces. It
  also keeps `reserve_tokens` free, so a plan's copy never has to slide either.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..generate import OnlineSession, _mask_tables
from ..models.fast_decode import FastDecoder
from ..music.tokens import BOS, PAD


def default_hop_frames(max_len: int) -> int:
    """A quarter of the context (course: 64 of 256 frames): slides are rare and the window keeps
    three quarters of what it held. generate.py's rollouts slide by 8 (paper C.13) because there
    a slide is part of the model's behaviour under study; live, it is only a cost."""
    return max(1, (max_len - 2) // 2 // 4)


@dataclass
class _Shadow:
    """A window slide being computed ahead of time into its own cache."""
    win: int  # stream index the new window starts at (after BOS)
    base_win: int  # the live window's start when this began (if it slides by itself, drop this)
    fast: FastDecoder
    pos: int  # next stream index to feed into `fast`
    logits: np.ndarray | None = None


class LiveSession(OnlineSession):
    """An OnlineSession that is fed whole frames, imagines plans on a copy, and slides its window
    in small pieces. Not thread-safe (the engine holds a lock)."""

    def __init__(self, model, *, temperature: float = 0.8, seed: int | None = 0, mask_invalid: bool = True,
                 hop_frames: int | None = None, chunk_tokens: int = 48, reserve_tokens: int = 0):
        hop = hop_frames or default_hop_frames(model.cfg.max_len)
        super().__init__(model, temperature=temperature, seed=seed, mask_invalid=mask_invalid, hop_frames=hop)
        self.hop_frames, self.chunk_tokens, self.reserve_tokens = hop, int(chunk_tokens), int(reserve_tokens)
        self._masks = {role: table.numpy() for role, table in _mask_tables("cpu").items()}
        self._shadow: _Shadow | None = None
        self.slides = 0  # window slides done ahead of time (swapped in)

    # --- the real stream ------------------------------------------------------------------
    def feed(self, chords, melody) -> None:
        """Teacher-force completed frames: chord tokens and melody tokens, one per frame."""
        chords, melody = [int(c) for c in chords], [int(x) for x in melody]
        if len(chords) != len(melody):
            raise ValueError(f"{len(chords)} chords for {len(melody)} melody frames")
        if not chords:
            return
        tokens = np.empty(2 * len(chords), np.int64)
        tokens[0::2], tokens[1::2] = chords, melody
        if self._chord_fed:  # the current frame's chord already went in (OnlineSession.imagine_melody)
            if chords[0] != self._chord:
                raise ValueError("the current frame's chord was already fed as another chord")
            tokens = tokens[1:]
        ctx = self._ctx
        if ctx.n + len(tokens) > ctx.history.shape[1]:  # _Context grows by doubling once: make room first
            pad = torch.full((1, 2 * (ctx.n + len(tokens)) - ctx.history.shape[1]), PAD, dtype=torch.long)
            ctx.history = torch.cat([ctx.history, pad], 1)
        with torch.inference_mode():
            self._logits = self._ctx.feed(torch.from_numpy(tokens)[None])
        self.chords += chords
        self.melody += melody
        self._chord, self._chord_fed = None, False

    def room(self) -> int:
        """Tokens the stream can still take before its window has to slide."""
        ctx = self._ctx
        return ctx.max_len - (1 + ctx.n - ctx.win)

    # --- window slides in small pieces ------------------------------------------------------
    def _catch_up_tokens(self) -> int:
        """Tokens the stream grows by while a slide is computed (2 per frame, one chunk per frame)."""
        window = self._ctx.max_len - 2 * self.hop_frames
        return 2 * (-(-window // max(1, self.chunk_tokens - 2)) + 1)

    def tend_window(self, frames: int = 1) -> None:
        """Work on the next window slide for `frames` ticks' worth of chunks (a no-op while the
        window has room, or when the context is too small for it to pay: then generate.py's own
        slide does it)."""
        ctx = self._ctx
        if ctx.fast is None:
            return
        sh = self._shadow
        if sh is not None and sh.base_win != ctx.win:  # it slid by itself meanwhile
            sh = self._shadow = None
        if sh is None:
            start_below = self.reserve_tokens + self._catch_up_tokens()
            if self.room() >= start_below or start_below + 2 * self.hop_frames > ctx.max_len:
                return
            win = ctx.win + 2 * self.hop_frames
            if win >= ctx.n:
                return
            sh = self._shadow = _Shadow(win, ctx.win, FastDecoder(self.model, 1, ctx.max_len), win)
            sh.logits = sh.fast.feed(np.array([[BOS]], np.int64))
        end = min(ctx.n, sh.pos + max(1, frames) * self.chunk_tokens)
        if end > sh.pos:
            sh.logits = sh.fast.feed(ctx.history[:, sh.pos:end].numpy())
            sh.pos = end
        if sh.pos == ctx.n:  # caught up: this is the slid window, swap it in
            ctx.win, ctx.fast = sh.win, sh.fast
            self._logits = torch.from_numpy(sh.logits)
            self._shadow = None
            self.slides += 1

    # --- imagination -----------------------------------------------------------------------
    def sample(self, logits: np.ndarray, prev: int, role: str, rng: np.random.Generator) -> int:
        """One token from logits [V] at a `role` ("chord" or "melody") position, as generate.py's
        sampler does (temperature, then the validity mask given the part's previous token)."""
        z = np.asarray(logits, dtype=np.float64)
        t = self.temperature
        if t > 0 and t != 1:
            z = z / t
        if self.mask_invalid:
            z = z + self._masks[role][prev]
        if t <= 0:
            return int(np.argmax(z))
        p = np.exp(z - z.max())
        c = np.cumsum(p)
        return int(min(np.searchsorted(c, rng.random() * c[-1], side="right"), len(c) - 1))

    def imagine(self, forced, n_frames: int, rng: np.random.Generator):
        """Generator: roll a copy of the stream `n_frames` frames ahead. Frame k's chord is
        forced[k] where given, else sampled; the melody is imagined throughout. Yields after each
        frame but the last; returns (chords, imagined melody) as lists of tokens."""
        forced = [int(c) for c in forced]
        ctx = self._ctx.clone()
        logits = self._logits[0].numpy()
        prev_y = self.chords[-1] if self.chords else PAD
        prev_x = self.melody[-1] if self.melody else PAD
        chords: list[int] = []
        melody: list[int] = []
        y = forced[0] if forced else self.sample(logits, prev_y, "chord", rng)
        pending: list[int] = []  # the imagined note, fed with the next (forced) chord
        for k in range(n_frames):
            chords.append(y)
            if k == n_frames - 1:
                break
            with torch.inference_mode():
                logits = ctx.feed(torch.tensor([pending + [y]]))[0].numpy()
            x = self.sample(logits, prev_x, "melody", rng)
            melody.append(x)
            prev_y, prev_x = y, x
            if k + 1 < len(forced):
                y, pending = forced[k + 1], [x]
            else:
                with torch.inference_mode():
                    logits = ctx.feed(torch.tensor([[x]]))[0].numpy()
                y, pending = self.sample(logits, prev_y, "chord", rng), []
            yield k
        return chords, melody
