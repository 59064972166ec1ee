"""What the RL loop does that depends on which part the policy plays.

The chord policy (the default, `CHORD_TASK`) is given the data's melodies and plays chords; the
melody agent (minigapt.agents.melody_rl's `MELODY_TASK`) is given the data's chords and plays a
melody. rl/ppo.py's stages read only `given` and `played`; the swap lives here: which crops are
given, which way round the reward ensemble reads the pair, which rule penalties apply.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ..data.dataset import DataConfig
from ..eval.diversity import diversity_summary
from ..eval.harmony import note_in_chord_ratio
from ..music.tokens import frames_from_streams
from ..rewards.penalties import rule_penalty
from .config import RLConfig
from .evaluation import evaluate_policy
from .ppo import Episodes, add_rewards


def sample_melodies(sampler, n: int, group_size: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """n // group_size training crops, each repeated group_size times in a row -> melody and
    real chord frames [n, T] (GRPO compares the rollouts of one melody with each other)."""
    x, y = frames_from_streams(torch.as_tensor(sampler.sample(n // group_size)))
    return x.repeat_interleave(group_size, 0), y.repeat_interleave(group_size, 0)


def coherence_terms(ensemble, melody: torch.Tensor, chords: torch.Tensor, cfg: RLConfig) -> dict[str, torch.Tensor]:
    """R_coh [B]: the ensemble's mean z-score, rhythm-only models weighted cfg.rhythm_weight (and
    each reward type's mean z, for the logs); a stand-in without normalised scores (the tests')
    gives its score."""
    if not hasattr(ensemble, "normalised_scores"):
        return {"coherence": ensemble.score(melody, chords, use=cfg.reward_types).float().cpu()}
    z = ensemble.normalised_scores(melody, chords, use=cfg.reward_types)
    scores = torch.stack(list(z.values())).float()
    w = torch.tensor([cfg.rhythm_weight if n.startswith("rhythm_") else 1.0 for n in z])
    terms = {"coherence": scores.mean(0) if bool((w == 1).all()) else (w[:, None] * scores).sum(0) / w.sum()}
    for kind in dict.fromkeys(n.split("/")[0] for n in z):
        terms[f"coherence_{kind}"] = torch.stack([v for n, v in z.items() if n.split("/")[0] == kind]).mean(0)
    return terms


def rule_terms(given: torch.Tensor, played: torch.Tensor, cfg: RLConfig, part: str) -> dict[str, torch.Tensor]:
    """R_rules [B]: the sum of the penalties cfg.rule_terms names (each logged as rule_<name>)."""
    _, parts = rule_penalty(given.cpu().numpy(), played.cpu().numpy(), part=part)
    total = sum(parts[t] for t in cfg.rule_terms) if cfg.rule_terms else np.zeros(len(given))
    return {"rules": torch.as_tensor(total, dtype=torch.float32),
            **{f"rule_{name}": torch.as_tensor(v, dtype=torch.float32) for name, v in parts.items()}}


def compose_rewards(ep: Episodes, ensemble, cfg: RLConfig, adversary=None, part: str = "chord") -> None:
    """Stage 3 (rl/ppo.py add_rewards) with its terms: R_coh, R_rules and R_adv (the adversary's
    reward; 0 without one or without gamma). part="melody": the policy played the melody, so the
    ensemble reads (played, given) and the melody's rule penalties apply. Fills ep in place."""
    melody, chords = (ep.played, ep.given) if part == "melody" else (ep.given, ep.played)
    terms = {**coherence_terms(ensemble, melody, chords, cfg), **rule_terms(ep.given, ep.played, cfg, part)}
    terms["adversarial"] = torch.zeros(len(ep))
    if adversary is not None and cfg.adversarial_weight and getattr(getattr(adversary, "cfg", None), "dense", False):
        ep.reward_steps = adversary.reward_steps(ep.given, ep.played).float()
        terms["adversarial"] = ep.reward_steps.sum(1).cpu()
    elif adversary is not None and cfg.adversarial_weight:
        terms["adversarial"] = adversary.reward(ep.given, ep.played).float().cpu()
    add_rewards(ep, terms, cfg)


def batch_stats(ep: Episodes, embed=None) -> dict[str, float]:
    """Harmony and diversity of one batch of chord rollouts (the per-update diagnostics)."""
    x, y = ep.given.cpu().numpy(), ep.played.cpu().numpy()
    emb = embed(y).cpu().numpy() if embed is not None else None
    return {"harmony": note_in_chord_ratio(x, y), **diversity_summary(y, emb)}


def chord_batch_stats(ep: Episodes, ensemble) -> dict[str, float]:
    """The chord policy's per-update diagnostics (harmony, chord diversity)."""
    return batch_stats(ep, getattr(ensemble, "embed_chords", None))


@dataclass(frozen=True)
class RLTask:
    """What the loop does that depends on the part the policy plays (defaults: the chord
    policy accompanying the data's melodies)."""

    data: Callable[[str], DataConfig] = DataConfig.preset
    """scale -> the DataConfig the training crops come from (crop length: RLConfig.crop_frames)."""
    sample: Callable = sample_melodies
    """(sampler, n, group_size) -> (the part the policy is given, the data's own version of the
    part it plays), frames [n, T] each."""
    rewards: Callable = compose_rewards
    """Stage 3: (ep, ensemble, cfg, adversary) -> None, fills ep's rewards."""
    stats: Callable = chord_batch_stats
    """(ep, ensemble) -> per-update diagnostics for metrics.csv."""
    evaluate: Callable = evaluate_policy
    """(policy, eval set, ensemble, samples, temperature, mask_invalid=) -> metrics for eval.csv."""
    progress_key: str = "distinct_chords_per_sequence"
    """The diagnostic shown beside reward and harmony on the progress bar."""


CHORD_TASK = RLTask()
