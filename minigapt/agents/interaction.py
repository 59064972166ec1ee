"""Model-model interaction (paper Eq. 1, 4.3): the chord policy and the melody agent jam.

At every frame t both sample at once from the shared history,

    y_t ~ pi^y(. | x_<t, y_<t)        x_t ~ pi^x(. | x_<t, y_<t),

then each reads what the other played, and the next frame starts. Neither hears the other's
choice for frame t before making its own: the chord policy reads [BOS, y0, x0, y1, ...] and
predicts y_t after x_{t-1}; the agent reads [BOS, x0, y0, x1, ...] and predicts x_t after
y_{t-1}. Each model sees exactly what it saw in training, and nothing of the future.

Each model keeps its own KV cache (generate.py's _Context, sliding window included) and its own
random stream (`jam_seeds`): the same seed gives the same duets, and forcing one part (a prefix)
leaves the other part's random draws where they were. So a jam with the whole melody forced is
`rollout_online` of the chord policy with the chord seed, and one with the whole chord part
forced is `play_melody` of the agent with the melody seed (the tests check both).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import MinigaptError
from ..generate import _as_long, _Context, _sample, played_role
from ..models.modes import eval_mode
from ..music.tokens import BOS, PAD


@dataclass
class Duets:
    """What a batch of jams produced: frame tokens [B, T] of each part."""

    melody: torch.Tensor
    """The melody agent's part (or the forced melody prefix)."""
    chords: torch.Tensor
    """The chord policy's part (or the forced chord prefix)."""


def jam_seeds(seed: int) -> tuple[int, int]:
    """The two random streams of a jam with this seed: (chord policy's, melody agent's)."""
    a, b = np.random.SeedSequence(seed).generate_state(2)
    return int(a), int(b)


def _prefix(a, n_duets: int, device) -> tuple[torch.Tensor | None, int]:
    t = _as_long(a, device)
    if t is None:
        return None, 0
    if t.shape[0] != n_duets:
        raise MinigaptError(f"a prefix of {t.shape[0]} rows for {n_duets} duets")
    return t, t.shape[1]


def jam(chord_policy, melody_agent, n_duets: int, n_frames: int, *, seed: int = 0,
        temperature: float = 1.0, mask_invalid: bool = True, chord_prefix=None, melody_prefix=None,
        use_cache: bool = True, hop_frames: int = 8) -> Duets:
    """n_duets jams of n_frames frames, both models sampling every frame from the shared
    history (Eq. 1), seeded. chord_prefix / melody_prefix [n_duets, P]: that part of frames
    < P is forced (e.g. a data opening) instead of sampled."""
    if played_role(chord_policy) != "chord" or played_role(melody_agent) != "melody":
        raise MinigaptError("jam needs a chord policy first and a melody agent second "
                            f"(got roles {played_role(chord_policy)!r}, {played_role(melody_agent)!r})")
    if n_duets < 1 or n_frames < 1:
        raise MinigaptError(f"jam needs at least one duet of one frame, not {n_duets} x {n_frames}")
    device = next(chord_policy.parameters()).device
    forced_y, n_y = _prefix(chord_prefix, n_duets, device)
    forced_x, n_x = _prefix(melody_prefix, n_duets, device)
    g_y, g_x = (torch.Generator(device=device).manual_seed(s) for s in jam_seeds(seed))
    with eval_mode(chord_policy, melody_agent), torch.inference_mode():
        x, y = _jam(chord_policy, melody_agent, n_duets, n_frames, forced_x, n_x, forced_y, n_y,
                    g_x, g_y, temperature, mask_invalid, use_cache, hop_frames, device)
    return Duets(x.clone(), y.clone())  # plain tensors, usable under autograd


def _jam(chord_policy, melody_agent, B, T, forced_x, n_x, forced_y, n_y, g_x, g_y, temperature,
         mask_invalid, use_cache, hop_frames, device):
    out_x = torch.full((B, T), PAD, dtype=torch.long, device=device)
    out_y = torch.full((B, T), PAD, dtype=torch.long, device=device)
    ctx_y = _Context(chord_policy, B, device, use_cache, hop_frames)
    ctx_x = _Context(melody_agent, B, device, use_cache, hop_frames)
    bos = torch.full((B, 1), BOS, dtype=torch.long, device=device)
    logits_y, logits_x = ctx_y.feed(bos), ctx_x.feed(bos)
    prev_x = prev_y = torch.full((B,), PAD, dtype=torch.long, device=device)
    for t in range(T):
        # both choices for frame t come from the logits after frame t-1: simultaneous
        y = forced_y[:, t] if t < n_y else _sample(logits_y, prev_y, "chord", temperature, g_y,
                                                   mask_invalid, False)[0]
        x = forced_x[:, t] if t < n_x else _sample(logits_x, prev_x, "melody", temperature, g_x,
                                                   mask_invalid, False)[0]
        out_x[:, t], out_y[:, t] = x, y
        if t + 1 < T:
            logits_y = ctx_y.feed(torch.stack([y, x], 1))
            logits_x = ctx_x.feed(torch.stack([x, y], 1))
        prev_x, prev_y = x, y
    return out_x, out_y
