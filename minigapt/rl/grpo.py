"""Dr.GRPO (paper C.10): no critic; each melody is played G times and a rollout's advantage is
its reward minus its group's mean (no division by the group's std, no per-sequence length
normalisation: "GRPO done right"). The KL to the anchor is charged to the sequence reward."""
from __future__ import annotations

import torch

from .config import RLConfig
from .ppo import _step
from .rollout import Episodes, as_float, chord_log_probs, chosen_log_probs, entropy_of, masked_mean


def group_advantages(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """[B] sequence rewards, consecutive groups of group_size -> reward minus group mean [B]."""
    g = rewards.view(-1, group_size)
    return (g - g.mean(1, keepdim=True)).reshape(-1)


def grpo_update(actor, ep: Episodes, actor_opt, cfg: RLConfig, generator: torch.Generator) -> dict[str, float]:
    """One Dr.GRPO update (rl/rollout.py stages 1-3 done)."""
    actor.eval()

    # 4. sequence reward incl. the KL charge; group-relative advantages on every chord token
    reward = ep.sequence_reward - cfg.kl_coef * ep.kl.sum(1)
    adv_seq = group_advantages(reward, cfg.group_size)
    ep.advantages = adv_seq[:, None] * ep.mask
    max_tokens = ep.mask.shape[1]

    # 5. minibatches of whole groups; loss summed over tokens / a constant (Dr.GRPO)
    stats: dict[str, list] = {k: [] for k in ("policy_loss", "entropy", "approx_kl", "clipfrac",
                                              "actor_grad_norm")}
    n_groups = len(ep) // cfg.group_size
    per_mb = cfg.minibatch_size // cfg.group_size
    for _ in range(cfg.epochs):
        order = torch.randperm(n_groups, generator=generator)
        for start in range(0, n_groups, per_mb):
            groups = order[start:start + per_mb]
            idx = (groups[:, None] * cfg.group_size + torch.arange(cfg.group_size)).reshape(-1)
            mb = ep.rows(idx)
            logp_all = chord_log_probs(actor, mb.melody, mb.chords, cfg)
            new_logp = chosen_log_probs(logp_all, mb.chords, mb.mask)
            log_ratio = (new_logp - mb.old_logprobs) * mb.mask
            ratio = log_ratio.exp()
            adv = mb.advantages
            surrogate = torch.max(-adv * ratio, -adv * ratio.clamp(1 - cfg.clip_coef, 1 + cfg.clip_coef))
            pg_loss = (surrogate * mb.mask).sum() / (len(mb) * max_tokens)
            entropy = masked_mean(entropy_of(logp_all), mb.mask)
            stats["actor_grad_norm"].append(
                _step(actor_opt, actor, pg_loss - cfg.entropy_coef * entropy, cfg.grad_clip, "policy"))
            with torch.no_grad():
                stats["approx_kl"].append(as_float(masked_mean((ratio - 1) - log_ratio, mb.mask)))
                stats["clipfrac"].append(as_float(masked_mean(((ratio - 1).abs() > cfg.clip_coef).float(), mb.mask)))
            stats["policy_loss"].append(as_float(pg_loss))
            stats["entropy"].append(as_float(entropy))

    # 6. diagnostics
    return {k: sum(v) / len(v) for k, v in stats.items()}
