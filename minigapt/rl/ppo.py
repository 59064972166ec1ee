"""PPO for the chord policy, CleanRL style: one update function, numbered stages.

An episode is one melody: the state before chord token t is the stream so far, the action is
the chord token y_t, the reward is -kl_coef * KL(pi || anchor) at every chord token plus the
sequence's reward R(x, y) on its last one (rl/rollout.py). Melody tokens are not actions:
GAE runs over chord positions only (paper C.5: gamma 1, lambda 0.95).
"""
from __future__ import annotations

import torch

from .config import RLConfig
from .rollout import (Episodes, NonFiniteError, as_float, chord_log_probs, chosen_log_probs, entropy_of,
                      masked_mean)


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0,
        lam: float = 0.95) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over the positions where mask is 1 (a prefix of each
    row: the chord tokens of a melody). rewards, values, mask [B, T] -> advantages, returns."""
    B, T = rewards.shape
    adv = torch.zeros_like(rewards)
    last = torch.zeros(B, dtype=rewards.dtype, device=rewards.device)
    next_value = torch.zeros(B, dtype=rewards.dtype, device=rewards.device)
    for t in reversed(range(T)):
        m = mask[:, t]
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = delta + gamma * lam * last
        adv[:, t] = last * m
        # past the end (m = 0) nothing flows back: the episode is over
        last, next_value = last * m, values[:, t] * m
    return adv, (adv + values) * mask


def normalise(adv: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Advantages to mean 0, std 1 over the batch's chord tokens."""
    n = mask.sum().clamp(min=1)
    mean = (adv * mask).sum() / n
    std = (((adv - mean) ** 2 * mask).sum() / (n - 1).clamp(min=1)).sqrt()
    return (adv - mean) / (std + 1e-8) * mask


def clipped_policy_loss(new_logp, old_logp, adv, mask, clip: float = 0.2):
    """The PPO-clip surrogate, averaged over chord tokens -> (loss, approx_kl, clipfrac)."""
    log_ratio = (new_logp - old_logp) * mask
    ratio = log_ratio.exp()
    surrogate = torch.max(-adv * ratio, -adv * ratio.clamp(1 - clip, 1 + clip))
    with torch.no_grad():  # CleanRL's diagnostics: k3 estimator of KL(old || new), clipped share
        approx_kl = masked_mean((ratio - 1) - log_ratio, mask)
        clipfrac = masked_mean(((ratio - 1).abs() > clip).float(), mask)
    return masked_mean(surrogate, mask), approx_kl, clipfrac


def explained_variance(values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> float:
    """1 - Var(returns - values) / Var(returns) over chord tokens (1 = perfect critic)."""
    m = mask > 0
    y, v = returns[m], values[m]
    var = y.var() if y.numel() > 1 else torch.tensor(0.0)
    return float("nan") if var == 0 else float(1 - (y - v).var() / var)


@torch.no_grad()
def critic_values(critic, ep: Episodes) -> torch.Tensor:
    was = critic.training
    critic.eval()
    try:
        return critic.chord_values(ep.melody, ep.chords).float() * ep.mask
    finally:
        critic.train(was)


def _step(optimizer, model, loss, grad_clip: float, what: str) -> float:
    if not torch.isfinite(loss):
        raise NonFiniteError(f"non-finite {what} loss")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    if not torch.isfinite(norm):
        optimizer.zero_grad(set_to_none=True)
        raise NonFiniteError(f"non-finite {what} gradient")
    optimizer.step()
    return float(norm)


def ppo_update(actor, critic, ep: Episodes, actor_opt, critic_opt, cfg: RLConfig,
               generator: torch.Generator) -> dict[str, float]:
    """One PPO update on collected, scored episodes (rl/rollout.py stages 1-3 done).
    Dropout is off throughout (eval mode): the paper turns it off for RL."""
    actor.eval(), critic.eval()

    # 4. values and GAE over chord positions; advantages normalised over the batch
    ep.values = critic_values(critic, ep)
    ep.advantages, ep.returns = gae(ep.token_rewards, ep.values, ep.mask, cfg.gae_gamma, cfg.gae_lambda)
    adv_all = normalise(ep.advantages, ep.mask)

    # 5. minibatch epochs: clipped policy loss - entropy bonus; critic regression to returns
    stats: dict[str, list] = {k: [] for k in ("policy_loss", "value_loss", "entropy", "approx_kl",
                                              "clipfrac", "actor_grad_norm", "critic_grad_norm")}
    B = len(ep)
    for _ in range(cfg.epochs):
        order = torch.randperm(B, generator=generator)
        for start in range(0, B, cfg.minibatch_size):
            idx = order[start:start + cfg.minibatch_size]
            mb, adv = ep.rows(idx), adv_all[idx]
            logp_all = chord_log_probs(actor, mb.melody, mb.chords, cfg)
            new_logp = chosen_log_probs(logp_all, mb.chords, mb.mask)
            entropy = entropy_of(logp_all)
            pg_loss, approx_kl, clipfrac = clipped_policy_loss(new_logp, mb.old_logprobs, adv, mb.mask,
                                                               cfg.clip_coef)
            entropy_mean = masked_mean(entropy, mb.mask)
            actor_loss = pg_loss - cfg.entropy_coef * entropy_mean
            stats["actor_grad_norm"].append(_step(actor_opt, actor, actor_loss, cfg.grad_clip, "policy"))

            new_values = critic.chord_values(mb.melody, mb.chords).float()
            value_loss = 0.5 * masked_mean((new_values - mb.returns) ** 2, mb.mask)
            stats["critic_grad_norm"].append(
                _step(critic_opt, critic, cfg.value_coef * value_loss, cfg.grad_clip, "critic"))
            for k, v in (("policy_loss", pg_loss), ("value_loss", value_loss), ("entropy", entropy_mean),
                         ("approx_kl", approx_kl), ("clipfrac", clipfrac)):
                stats[k].append(as_float(v))

    # 6. diagnostics (means over minibatches) and the critic's fit before this update
    out = {k: sum(v) / len(v) for k, v in stats.items()}
    out["explained_variance"] = explained_variance(ep.values, ep.returns, ep.mask)
    out["value_mean"] = as_float(masked_mean(ep.values, ep.mask))
    return out
