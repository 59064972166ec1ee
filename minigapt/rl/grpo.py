"""Dr.GRPO (paper C.10): stages 4-6 of rl/ppo.py without a critic. Each melody is played G
times and a rollout's advantage is its reward minus its group's mean (no division by the
group's std, no per-sequence length normalisation: "GRPO done right"). The KL to the anchor is
charged to the sequence reward. Stages 1-3 and 7 are PPO's, and so is the clipped surrogate."""
from __future__ import annotations

import torch

from .config import RLConfig
from .ppo import Episodes, clipped_surrogate, mean_stats, new_log_probs, optimizer_step


def group_advantages(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """[B] sequence rewards, consecutive groups of group_size -> reward minus group mean [B]."""
    g = rewards.view(-1, group_size)
    return (g - g.mean(1, keepdim=True)).reshape(-1)


def grpo_update(actor, ep: Episodes, actor_opt, cfg: RLConfig, generator: torch.Generator) -> dict[str, float]:
    """One Dr.GRPO update on collected, scored, rewarded episodes (rl/ppo.py stages 1-3 done)."""
    actor.eval()

    # 4. sequence reward incl. the KL charge; group-relative advantages on every chord token
    reward = ep.sequence_reward - cfg.kl_coef * ep.kl.sum(1)
    ep.advantages = group_advantages(reward, cfg.group_size)[:, None] * ep.mask
    max_tokens = ep.mask.shape[1]

    # 5. minibatches of whole groups; loss summed over tokens / a constant (Dr.GRPO)
    stats: dict[str, list] = {k: [] for k in ("policy_loss", "entropy", "approx_kl", "clipfrac", "actor_grad_norm")}
    n_groups, per_mb = len(ep) // cfg.group_size, cfg.minibatch_size // cfg.group_size
    for _ in range(cfg.epochs):
        order = torch.randperm(n_groups, generator=generator)
        for start in range(0, n_groups, per_mb):
            groups = order[start:start + per_mb]
            mb = ep.rows((groups[:, None] * cfg.group_size + torch.arange(cfg.group_size)).reshape(-1))
            new_logp, entropy = new_log_probs(actor, mb, cfg)
            surrogate, approx_kl, clipfrac = clipped_surrogate(new_logp, mb.old_logprobs, mb.advantages, mb.mask,
                                                               cfg.clip_coef)
            pg_loss = (surrogate * mb.mask).sum() / (len(mb) * max_tokens)
            stats["actor_grad_norm"].append(optimizer_step(actor_opt, actor, pg_loss - cfg.entropy_coef * entropy,
                                                           cfg.grad_clip, "policy"))
            for k, v in (("policy_loss", pg_loss), ("entropy", entropy), ("approx_kl", approx_kl),
                         ("clipfrac", clipfrac)):
                stats[k].append(v.detach())

    # 6. diagnostics
    return mean_stats(stats)
