"""One RL batch: melodies from the data, the policy's chords, and every reward term.

Melodies are teacher-forced (paper 3.2): the policy samples only the chord positions of
[BOS, y0, x0, y1, x1, ...]. The reward of a whole chord part sits on its last chord token:

    R(x, y) = alpha * R_coh(x, y) + beta * R_rules(x, y) + gamma * R_adv(y)

and every chord token also pays kl_coef * KL(pi || anchor) at that token (Eq. 4). R_adv is
whatever `adversary.reward(x, y)` returns (GAPT's discriminator, rl/gapt.py); without one it is 0.

The same stages train the melody agent (minigapt.agents): Episodes then hold the part the
policy is given in `melody` (the data's chords) and the part it plays in `chords` (its melody);
sampling, scoring and PPO read them that way already (generate.py's roles), and
compose_rewards(part="melody") scores the pair the right way round.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import MinigaptError
from ..generate import chord_log_probs as _chord_log_probs
from ..generate import entropy_of, rollout_online
from ..rewards.penalties import rule_penalty
from .config import RLConfig


class NonFiniteError(MinigaptError):
    """A NaN or inf reached a reward, a logit or a loss: the run stops, the last good checkpoint stays."""


@dataclass
class Episodes:
    """One update's rollouts; [B, T] tensors unless noted."""

    melody: torch.Tensor  # teacher-forced melody frames
    chords: torch.Tensor  # the policy's chord frames (PAD after the melody ends)
    real_chords: torch.Tensor  # the data's chords for the same melodies (GAPT's "real")
    mask: torch.Tensor  # float: 1 at sampled chord positions
    old_logprobs: torch.Tensor = None  # log pi_old(y_t) at sampling time (recomputed teacher-forced)
    kl: torch.Tensor = None  # KL(pi_old || anchor) per chord token
    entropy: torch.Tensor = None  # entropy of pi_old per chord token
    reward_terms: dict[str, torch.Tensor] = field(default_factory=dict)  # name -> [B], per sequence
    sequence_reward: torch.Tensor = None  # [B] alpha R_coh + beta R_rules + gamma R_adv
    token_rewards: torch.Tensor = None  # per token: -kl_coef * KL, + the (standardised) R at the last
    values: torch.Tensor = None  # critic V(s_t) (PPO)
    advantages: torch.Tensor = None
    returns: torch.Tensor = None

    def __len__(self) -> int:
        return self.melody.shape[0]

    def rows(self, idx) -> "Episodes":
        """The episodes at indices idx (a minibatch); per-sequence dicts sliced too."""
        pick = lambda v: None if v is None else v[idx]  # noqa: E731
        out = Episodes(**{k: pick(getattr(self, k)) for k in
                          ("melody", "chords", "real_chords", "mask", "old_logprobs", "kl", "entropy",
                           "sequence_reward", "token_rewards", "values", "advantages", "returns")})
        out.reward_terms = {k: v[idx] for k, v in self.reward_terms.items()}
        return out


def sample_melodies(sampler, n: int, group_size: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """n // group_size training crops, each repeated group_size times in a row -> melody and
    real chord frames [n, T] (GRPO compares the rollouts of one melody with each other)."""
    from ..train.mle import frames_from_streams

    streams = torch.as_tensor(sampler.sample(n // group_size))
    x, y = frames_from_streams(streams)
    return x.repeat_interleave(group_size, 0), y.repeat_interleave(group_size, 0)


def collect(policy, melody: torch.Tensor, real_chords: torch.Tensor, cfg: RLConfig,
            generator: torch.Generator) -> Episodes:
    """Stage 1 of an update: the policy accompanies each melody online (no gradients)."""
    try:
        r = rollout_online(policy, melody, temperature=cfg.temperature, generator=generator,
                           mask_invalid=cfg.mask_invalid)
    except RuntimeError as e:  # torch.multinomial refuses NaN probabilities
        if "probability" in str(e) or "nan" in str(e).lower():
            raise NonFiniteError("non-finite policy logits while sampling") from None
        raise
    return Episodes(melody=melody, chords=r.chords, real_chords=real_chords, mask=r.sampled.float())


def chord_log_probs(model, melody: torch.Tensor, chords: torch.Tensor, cfg: RLConfig) -> torch.Tensor:
    """Teacher-forced chord distributions [B, T, V] at the rollouts' temperature and masking:
    the policy's and the anchor's, the same function for both."""
    return _chord_log_probs(model, melody, chords, temperature=cfg.temperature, mask_invalid=cfg.mask_invalid)


def chosen_log_probs(logp: torch.Tensor, chords: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """log pi(y_t) [B, T] of the chords played, 0 where mask is 0 (PAD there may be -inf)."""
    lp = logp.gather(2, chords.clamp(min=0)[..., None]).squeeze(2)
    return torch.where(mask > 0, lp, torch.zeros_like(lp))


def kl_and_entropy(logp: torch.Tensor, anchor_logp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Full-vocabulary KL(pi || anchor) and entropy of pi, per position [B, T]. Tokens pi gives
    no mass contribute 0 (so -inf logs of masked tokens do not poison the sum)."""
    p = logp.exp()
    kl = (p * (logp - anchor_logp).masked_fill(p == 0, 0.0)).sum(-1)
    return kl, entropy_of(logp)


@torch.no_grad()
def score_policy(policy, anchor, ep: Episodes, cfg: RLConfig) -> None:
    """Stage 2: old log-probs, per-token KL to the anchor and entropy, one teacher-forced
    forward each (dropout off: eval mode). Fills ep in place."""
    was = policy.training, anchor.training
    policy.eval(), anchor.eval()
    try:
        logp = chord_log_probs(policy, ep.melody, ep.chords, cfg)
        anchor_logp = chord_log_probs(anchor, ep.melody, ep.chords, cfg)
    finally:
        policy.train(was[0]), anchor.train(was[1])
    kl, entropy = kl_and_entropy(logp, anchor_logp)
    ep.old_logprobs = chosen_log_probs(logp, ep.chords, ep.mask)
    ep.kl, ep.entropy = kl * ep.mask, entropy * ep.mask
    if not (torch.isfinite(ep.old_logprobs).all() and torch.isfinite(ep.kl).all()):
        raise NonFiniteError("non-finite logits (policy or anchor)")


def compose_rewards(ep: Episodes, ensemble, cfg: RLConfig, adversary=None, part: str = "chord") -> None:
    """Stage 3: R = alpha R_coh + beta R_rules + gamma R_adv per sequence, and the per-token
    rewards (-kl_coef * KL everywhere, + R on the last chord token). Fills ep in place.
    part="melody": the policy played the melody (ep.chords) over the data's chords (ep.melody):
    the ensemble scores (melody, chords) and the melody's rule penalties apply."""
    given, played = ep.melody, ep.chords
    x, y = (played, given) if part == "melody" else (given, played)
    terms = {}
    if hasattr(ensemble, "normalised_scores"):  # R_coh = mean z; log each reward type's mean z too
        z = ensemble.normalised_scores(x, y, use=cfg.reward_types)
        terms["coherence"] = torch.stack(list(z.values())).mean(0).float()
        for kind in dict.fromkeys(n.split("/")[0] for n in z):
            terms[f"coherence_{kind}"] = torch.stack([v for n, v in z.items() if n.split("/")[0] == kind]).mean(0)
    else:
        terms["coherence"] = ensemble.score(x, y, use=cfg.reward_types).float().cpu()
    _, parts = rule_penalty(given.cpu().numpy(), played.cpu().numpy(), part=part)
    terms["rules"] = torch.as_tensor(sum(parts[t] for t in cfg.rule_terms) if cfg.rule_terms
                                     else np.zeros(len(x)), dtype=torch.float32)
    for name, v in parts.items():
        terms[f"rule_{name}"] = torch.as_tensor(v, dtype=torch.float32)
    terms["adversarial"] = (adversary.reward(given, played).float().cpu()
                            if adversary is not None and cfg.adversarial_weight else torch.zeros(len(x)))
    total = (cfg.coherence_weight * terms["coherence"] + cfg.rules_weight * terms["rules"]
             + cfg.adversarial_weight * terms["adversarial"])
    terms["kl_to_anchor"] = ep.kl.sum(1).cpu()  # per sequence, for the logs (terms live on the CPU)
    for name, v in terms.items():
        if not torch.isfinite(v).all():
            raise NonFiniteError(f"non-finite reward term {name!r}")
    ep.reward_terms, ep.sequence_reward = terms, total.to(ep.kl.device)
    scaled = standardise(ep.sequence_reward) if cfg.whiten_rewards else ep.sequence_reward
    ep.token_rewards = token_rewards(scaled, ep.kl, ep.mask, cfg.kl_coef)


def standardise(r: torch.Tensor) -> torch.Tensor:
    """Sequence rewards to mean 0, std 1 over the batch. The critic starts at V = 0: with raw
    rewards (R_coh of the MLE ~ -2) the first updates would push every late chord down and every
    early one up, whatever was played; standardised, 0 is already the right baseline."""
    if len(r) < 2:
        return r - r.mean()
    return (r - r.mean()) / (r.std() + 1e-8)


def token_rewards(sequence_reward: torch.Tensor, kl: torch.Tensor, mask: torch.Tensor,
                  kl_coef: float) -> torch.Tensor:
    """[B, T]: -kl_coef * KL at every chord token; the sequence's reward on its last one."""
    r = -kl_coef * kl * mask
    last = (mask * torch.arange(mask.shape[1], device=mask.device)).argmax(1)
    has = mask.sum(1) > 0
    r[torch.arange(len(r), device=r.device)[has], last[has]] += sequence_reward[has]
    return r


def batch_stats(ep: Episodes, embed=None) -> dict[str, float]:
    """Harmony and diversity of one batch of rollouts (the per-update diagnostics)."""
    from ..eval.diversity import diversity_summary
    from ..eval.harmony import note_in_chord_ratio

    x, y = ep.melody.cpu().numpy(), ep.chords.cpu().numpy()
    out = {"harmony": note_in_chord_ratio(x, y)}
    emb = embed(y).cpu().numpy() if embed is not None else None
    out.update(diversity_summary(y, emb))
    return out


def as_float(v) -> float:
    return float(v.item() if torch.is_tensor(v) else v)


def masked_mean(v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (v * mask).sum() / mask.sum().clamp(min=1)

