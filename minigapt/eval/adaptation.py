"""Adaptation: an online policy when the melody changes key under it (paper Fig. 6), and past
the length it was trained on (paper C.13).

**Perturbation.** The melody is transposed from a frame on; the policy, which only hears the
melody up to the previous frame, keeps playing in the old key until it notices. Harmony per
beat over time shows the dip at the cut and how fast it recovers. The paper's two variants
(`PERTURBATIONS`): +6 semitones from frame 64, and a multi-step one, +6 from frame 32, +4 from
64, -10 from 96. We apply the steps one after another, so the offsets add up (+6, then +10,
then back to the original key from frame 96): our reading of the paper's description.

**Long sequences.** The policy was trained on crops that fit its context (course: 256 frames =
514 tokens). Past that, two ways to keep going (paper C.13):
  * *sliding window*: keep the context at its trained length and slide it by 8 frames (hop)
    whenever it is full, BOS kept in front; generate.py's `_Context` does this by itself;
  * *naive extension*: let the same weights attend to the whole history. RoPE computes its
    rotations for any position on the fly, so nothing but the context length has to change:
    `with_context` returns a shallow copy of the policy whose config allows a longer context
    (same parameters, shared, not copied), and generation then never slides.
Both are the same model on the same melody with the same seed, so they play the very same
chords until the window first slides; every difference after that is the strategy's.
"""
from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence

import numpy as np

from .. import FRAMES_PER_BEAT
from ..generate import rollout_online
from ..music.tokens import PAD, VOCAB, Vocab
from .harmony import harmony_per_beat

PERTURBATIONS = {"single": ((64, 6),), "multi": ((32, 6), (64, 4), (96, -10))}
"""Paper Fig. 6: (from frame, semitones) steps, for 128-frame melodies."""
REFERENCE_FRAMES = 128  # the melody length the paper's cut frames are given for


def perturb(x, from_frame: int, semitones: int, vocab: Vocab = VOCAB) -> np.ndarray:
    """Melody frames [B, T] (or [T]) transposed by `semitones` from `from_frame` on. A note held
    across the cut restarts there (an ON token: a held note cannot change pitch), so the part
    stays well formed; a note the shift would push out of the vocabulary is left as it is."""
    x = np.array(x, dtype=np.int64)
    one = x.ndim == 1
    x = x[None] if one else x
    if from_frame < x.shape[1]:
        tail = vocab.transpose_table(semitones)[x[:, from_frame:]]
        tail = np.where(tail == PAD, x[:, from_frame:], tail)
        first = tail[:, 0]
        held = vocab.is_melody[first] & ~vocab.is_onset[first]
        first[held] = [vocab.melody_on(int(p)) for p in vocab.pitch_of[first[held]]]
        x[:, from_frame:] = tail
    return x[0] if one else x


def perturb_steps(x, steps: Sequence[tuple[int, int]], vocab: Vocab = VOCAB) -> np.ndarray:
    """Apply (from_frame, semitones) steps one after another: the offsets add up."""
    for frame, semitones in steps:
        x = perturb(x, frame, semitones, vocab)
    return np.asarray(x)


def scale_steps(steps: Sequence[tuple[int, int]], n_frames: int,
                reference: int = REFERENCE_FRAMES) -> tuple[tuple[int, int], ...]:
    """The steps' cut frames moved to the same places in melodies of n_frames frames (on whole
    beats), for crops shorter than the paper's 128 frames (smoke: 32)."""
    if n_frames >= reference:
        return tuple((int(f), int(s)) for f, s in steps)
    return tuple((max(FRAMES_PER_BEAT, int(round(f * n_frames / reference / FRAMES_PER_BEAT)) * FRAMES_PER_BEAT), int(s))
                 for f, s in steps)


def key_offset(steps: Sequence[tuple[int, int]], n_frames: int) -> np.ndarray:
    """int[n_frames]: the melody's total transposition at each frame (for plots)."""
    out = np.zeros(n_frames, np.int64)
    for frame, semitones in steps:
        out[frame:] += semitones
    return out


def perturbation_curve(policy, x, steps: Sequence[tuple[int, int]], *, samples: int = 1,
                       temperature: float = 1.0, seed: int = 0, mask_invalid: bool = True) -> np.ndarray:
    """Harmony per beat [n_beats] of `policy` accompanying the perturbed melodies `samples`
    times each (mean over sequences of each one's note-in-chord ratio within the beat)."""
    xp = np.repeat(perturb_steps(x, steps), samples, axis=0)
    y = rollout_online(policy, xp, temperature=temperature, seed=seed, mask_invalid=mask_invalid).chords.numpy()
    return harmony_per_beat(xp, y)


def _window_mean(curve, lo: int, hi: int) -> float | None:
    part = np.asarray(curve, dtype=float)[max(lo, 0):max(hi, 0)]
    return float(np.nanmean(part)) if np.isfinite(part).any() else None


def recovery_summary(curve, cut_beats: Sequence[int], bar: int = 4) -> list[dict]:
    """Per cut: mean harmony per beat in the bar before it, in the first bar after it, and from
    then to the next cut (or the end): how deep the dip, how fast the recovery."""
    cuts = list(cut_beats)
    out = []
    for i, c in enumerate(cuts):
        end = cuts[i + 1] if i + 1 < len(cuts) else len(curve)
        out.append({"beat": int(c), "before": _window_mean(curve, c - bar, c),
                    "first_bar_after": _window_mean(curve, c, min(c + bar, end)),
                    "rest_after": _window_mean(curve, c + bar, end)})
    return out


# --- long sequences ------------------------------------------------------------------------
def context_frames(policy) -> int:
    """Frames the policy's context holds: (max_len - 2) / 2 (BOS, then a chord and a melody token
    per frame, EOS)."""
    return (policy.cfg.max_len - 2) // 2


def with_context(policy, max_len: int):
    """The same policy (parameters shared, not copied) allowed a context of max_len tokens: the
    naive extension. RoPE needs nothing more; generation sizes its KV cache from cfg.max_len."""
    if max_len <= policy.cfg.max_len:
        return policy
    longer = copy.copy(policy)  # a new Module object over the same submodules and parameters
    longer.cfg = dataclasses.replace(policy.cfg, max_len=int(max_len))
    return longer


LONG_MODES = ("window", "naive")


def long_rollout(policy, x, mode: str = "window", *, hop_frames: int = 8, temperature: float = 1.0,
                 seed: int = 0, mask_invalid: bool = True) -> np.ndarray:
    """Chords [B, T] for melodies [B, T] longer than the context: 'window' slides the trained
    context by hop_frames, 'naive' attends to the whole history (see the module docstring)."""
    if mode not in LONG_MODES:
        raise ValueError(f"mode must be one of {LONG_MODES}, not {mode!r}")
    x = np.asarray(x)
    model = with_context(policy, 2 * x.shape[-1] + 2) if mode == "naive" else policy
    return rollout_online(model, x, temperature=temperature, seed=seed, mask_invalid=mask_invalid,
                          hop_frames=hop_frames).chords.numpy()


def harmony_over_time(x, y, beats_per_point: int = 4) -> np.ndarray:
    """float[n_points]: note-in-chord per stretch of beats_per_point beats (default a bar), the
    mean over sequences of each one's ratio within it."""
    return harmony_per_beat(x, y, frames_per_beat=FRAMES_PER_BEAT * beats_per_point)
