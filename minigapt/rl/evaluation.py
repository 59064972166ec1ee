"""Fixed-melody evaluation along RL training: the same test melodies and the same sampling
seeds at every checkpoint of every run, so curves (and Pareto fronts) compare across runs."""
from __future__ import annotations

import numpy as np
import torch

from ..data.dataset import eval_batch
from ..eval.measures import evaluate_parts
from ..generate import rollout_online
from ..music.tokens import frames_from_streams

EVAL_SEED = 1234  # the evaluation's sampling seed: the same for every run and every checkpoint


def evaluation_set(frames: dict, n_melodies: int, n_frames: int, source: str = "nottingham",
                   split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """(melody frames, the data's chord frames) [N, n_frames] of the first n_melodies songs of
    `source`'s `split` (every source pooled when it is absent, e.g. on the embedded default data)."""
    by_source = frames[split]
    songs = by_source.get(source) or [sf for v in by_source.values() for sf in v]
    x, y = frames_from_streams(torch.as_tensor(eval_batch(songs, n_frames, limit=n_melodies)))
    return x.numpy(), y.numpy()


def evaluation_melodies(frames: dict, n_melodies: int, n_frames: int, source: str = "nottingham",
                        split: str = "test") -> np.ndarray:
    """The melodies of `evaluation_set` alone."""
    return evaluation_set(frames, n_melodies, n_frames, source, split)[0]


def sample_accompaniments(policy, melodies, samples: int = 1, temperature: float = 1.0,
                          seed: int = EVAL_SEED, mask_invalid: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Each melody accompanied `samples` times (seeded) -> (melody, chords) [N * samples, T]."""
    x = torch.as_tensor(np.repeat(np.asarray(melodies), samples, axis=0))
    r = rollout_online(policy, x, temperature=temperature, seed=seed, mask_invalid=mask_invalid)
    return x.numpy(), r.chords.cpu().numpy()


def evaluate_chords(x, y, ensemble=None) -> dict:
    """Harmony (three ways), rewards and every diversity measure of a set of accompaniments."""
    return evaluate_parts(x, y, ensemble)


def evaluate_policy(policy, melodies, ensemble=None, samples: int = 1, temperature: float = 1.0,
                    seed: int = EVAL_SEED, mask_invalid: bool = True) -> dict[str, float]:
    x, y = sample_accompaniments(policy, melodies, samples, temperature, seed, mask_invalid)
    return evaluate_chords(x, y, ensemble)
