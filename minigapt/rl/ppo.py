"""GAPT's RL method, CleanRL style: one update, its stages numbered and named as in the paper.

    1. collect        the policy accompanies melodies online (paper 3.2)
    2. score          log pi_old, per-token KL(pi || anchor), entropy            (Eq. 4)
    3. reward         R = alpha R_coh + beta R_rules + gamma R_adv on the last chord token,
                      -kl_coef * KL on every chord token                           (Eq. 3-4)
    4. advantages     critic values, GAE over chord positions                      (C.5)
    5. optimise       clipped PPO minibatch steps, actor and critic                (C.5)
    6. diagnostics    approx-KL, clip fraction, explained variance
    7. discriminator  D steps under Algorithm 1's two-phase schedule               (3.3, C.8)

An episode is one melody: the state before chord token t is the stream so far, the action is the
chord token y_t. Melody tokens are not actions: GAE runs over chord positions only. Every
function here is a function of its arguments; rl/train.py chains them (with logging, checkpoints
and device moves), and Dr.GRPO (rl/grpo.py) replaces stages 4-6 with the same clipped loss.

`Episodes` names the two parts by role: `given` is what the policy is told (the chord policy:
the melody), `played` what it samples, `real` the data's version of `played`. The melody agent
(minigapt.agents) fills them the other way round; nothing here needs to know which.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..errors import MinigaptError
from ..generate import chord_log_probs, entropy_of, rollout_online
from ..models.modes import eval_mode
from ..schedule import warmup_cosine
from .config import RLConfig
from .gapt import Adversary, adversarial_reward, discriminator_loss, should_update


class NonFiniteError(MinigaptError):
    """A NaN or inf reached a reward, a logit or a loss: the run stops, the last good checkpoint stays."""


@dataclass
class Episodes:
    """One update's rollouts; [B, T] tensors unless noted."""

    given: torch.Tensor
    """The part the policy is given, teacher-forced (the chord policy: melody frames)."""
    played: torch.Tensor
    """The part the policy sampled (PAD after the given part ends)."""
    real: torch.Tensor
    """The data's version of the played part for the same given part (GAPT's "real")."""
    mask: torch.Tensor
    """Float: 1 at the positions the policy sampled."""
    old_logprobs: torch.Tensor = None
    """log pi_old(y_t) at sampling time (stage 2)."""
    kl: torch.Tensor = None
    """KL(pi_old || anchor) per sampled token (stage 2)."""
    entropy: torch.Tensor = None
    """Entropy of pi_old per sampled token (stage 2)."""
    reward_terms: dict[str, torch.Tensor] = field(default_factory=dict)
    """Name -> [B] per sequence, on the CPU (stage 3; logged)."""
    sequence_reward: torch.Tensor = None
    """[B]: alpha R_coh + beta R_rules + gamma R_adv (stage 3)."""
    reward_steps: torch.Tensor = None
    """[B, T] or None: R_adv paid along each part (GAPT's dense form, Adversary.reward_steps;
    each row sums to the part's R_adv), stage 3."""
    token_rewards: torch.Tensor = None
    """-kl_coef * KL per token, + the (standardised) R on the last one (stage 3)."""
    values: torch.Tensor = None
    """Critic V(s_t) (stage 4, PPO)."""
    advantages: torch.Tensor = None
    """Stage 4."""
    returns: torch.Tensor = None
    """Stage 4: advantages + values."""

    def __len__(self) -> int:
        return self.given.shape[0]

    def rows(self, idx) -> "Episodes":
        """The episodes at indices idx (a minibatch); per-sequence dicts sliced too."""
        tensors = {k: (None if v is None else v[idx]) for k, v in vars(self).items() if k != "reward_terms"}
        return Episodes(**tensors, reward_terms={k: v[idx] for k, v in self.reward_terms.items()})


def masked_mean(v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (v * mask).sum() / mask.sum().clamp(min=1)


# --- 1. collect ---------------------------------------------------------------------------------
def collect(policy, given: torch.Tensor, real: torch.Tensor, cfg: RLConfig, generator: torch.Generator) -> Episodes:
    """The policy plays along with each given part online, frame by frame (no gradients)."""
    try:
        r = rollout_online(policy, given, temperature=cfg.temperature, generator=generator,
                           mask_invalid=cfg.mask_invalid)
    except RuntimeError as e:  # torch.multinomial refuses NaN probabilities
        if "probability" in str(e) or "nan" in str(e).lower():
            raise NonFiniteError("non-finite policy logits while sampling") from None
        raise
    return Episodes(given=given, played=r.chords, real=real, mask=r.sampled.float())


# --- 2. score -----------------------------------------------------------------------------------
def log_probs(model, ep: Episodes, cfg: RLConfig) -> torch.Tensor:
    """Teacher-forced distributions [B, T, V] of the played part at the rollouts' temperature and
    masking: the policy's and the anchor's, the same function for both."""
    return chord_log_probs(model, ep.given, ep.played, temperature=cfg.temperature, mask_invalid=cfg.mask_invalid)


def chosen_log_probs(logp: torch.Tensor, played: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """log pi(y_t) [B, T] of the tokens played, 0 where mask is 0 (PAD there may be -inf)."""
    lp = logp.gather(2, played.clamp(min=0)[..., None]).squeeze(2)
    return torch.where(mask > 0, lp, torch.zeros_like(lp))


def kl_and_entropy(logp: torch.Tensor, anchor_logp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Full-vocabulary KL(pi || anchor) and entropy of pi, per position [B, T]. Tokens pi gives
    no mass contribute 0 (so -inf logs of masked tokens do not poison the sum)."""
    p = logp.exp()
    kl = (p * (logp - anchor_logp).masked_fill(p == 0, 0.0)).sum(-1)
    return kl, entropy_of(logp)


@torch.no_grad()
def score_policy(policy, anchor, ep: Episodes, cfg: RLConfig) -> None:
    """Old log-probs, per-token KL to the anchor and entropy, one teacher-forced forward each
    (dropout off). Fills ep in place."""
    with eval_mode(policy, anchor):
        logp, anchor_logp = log_probs(policy, ep, cfg), log_probs(anchor, ep, cfg)
    kl, entropy = kl_and_entropy(logp, anchor_logp)
    ep.old_logprobs = chosen_log_probs(logp, ep.played, ep.mask)
    ep.kl, ep.entropy = kl * ep.mask, entropy * ep.mask
    if not (torch.isfinite(ep.old_logprobs).all() and torch.isfinite(ep.kl).all()):
        raise NonFiniteError("non-finite logits (policy or anchor)")


# --- 3. reward ----------------------------------------------------------------------------------
def add_rewards(ep: Episodes, terms: dict[str, torch.Tensor], cfg: RLConfig) -> None:
    """R = alpha R_coh + beta R_rules + gamma R_adv per sequence (terms "coherence", "rules",
    "adversarial", each [B] on the CPU, plus any logged alongside; R_adv = -log(1 - D(y)) is
    Adversary.reward, rl/gapt.py), and the per-token rewards:
    -kl_coef * KL everywhere, + R on the last sampled token. Fills ep in place."""
    total = (cfg.coherence_weight * terms["coherence"] + cfg.rules_weight * terms["rules"]
             + cfg.adversarial_weight * terms["adversarial"])
    terms = {**terms, "kl_to_anchor": ep.kl.sum(1).cpu()}  # per sequence, for the logs
    for name, v in terms.items():
        if not torch.isfinite(v).all():
            raise NonFiniteError(f"non-finite reward term {name!r}")
    ep.reward_terms, ep.sequence_reward = terms, total.to(ep.kl.device)
    scale = reward_scale(ep.sequence_reward) if cfg.whiten_rewards else 1.0
    scaled = standardise(ep.sequence_reward) if cfg.whiten_rewards else ep.sequence_reward
    if ep.reward_steps is None or not cfg.adversarial_weight:
        ep.token_rewards = token_rewards(scaled, ep.kl, ep.mask, cfg.kl_coef)
        return
    # GAPT's dense form: gamma R_adv leaves the last token and is paid along the part instead;
    # every token's reward-to-go still sums to the same whitened R
    adv = cfg.adversarial_weight * ep.reward_steps.to(ep.kl.device) / scale
    ep.token_rewards = token_rewards(scaled - adv.sum(1), ep.kl, ep.mask, cfg.kl_coef) + adv * ep.mask


def reward_scale(r: torch.Tensor) -> float | torch.Tensor:
    """What standardise divides by: the batch's std (1 for a single sequence)."""
    return r.std() + 1e-8 if len(r) >= 2 else 1.0


def standardise(r: torch.Tensor) -> torch.Tensor:
    """Sequence rewards to mean 0, std 1 over the batch: the critic starts at V = 0, so raw
    rewards (R_coh ~ -2) would first teach it the offset instead of which chords paid."""
    return (r - r.mean()) / reward_scale(r)


def token_rewards(sequence_reward: torch.Tensor, kl: torch.Tensor, mask: torch.Tensor,
                  kl_coef: float) -> torch.Tensor:
    """[B, T]: -kl_coef * KL at every sampled token; the sequence's reward on its last one."""
    r = -kl_coef * kl * mask
    last = (mask * torch.arange(mask.shape[1], device=mask.device)).argmax(1)
    has = mask.sum(1) > 0
    r[torch.arange(len(r), device=r.device)[has], last[has]] += sequence_reward[has]
    return r


# --- 4. advantages ------------------------------------------------------------------------------
@torch.no_grad()
def critic_values(critic, ep: Episodes) -> torch.Tensor:
    with eval_mode(critic):
        return critic.chord_values(ep.given, ep.played).float() * ep.mask


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


# --- 5. optimise (shared with Dr.GRPO) ----------------------------------------------------------
def clipped_surrogate(new_logp, old_logp, adv, mask, clip: float = 0.2):
    """The PPO-clip surrogate per token [B, T] -> (surrogate, approx_kl, clipfrac); the last two
    are CleanRL's diagnostics: the k3 estimate of KL(old || new) and the clipped share."""
    log_ratio = (new_logp - old_logp) * mask
    ratio = log_ratio.exp()
    surrogate = torch.max(-adv * ratio, -adv * ratio.clamp(1 - clip, 1 + clip))
    with torch.no_grad():
        approx_kl = masked_mean((ratio - 1) - log_ratio, mask)
        clipfrac = masked_mean(((ratio - 1).abs() > clip).float(), mask)
    return surrogate, approx_kl, clipfrac


def clipped_policy_loss(new_logp, old_logp, adv, mask, clip: float = 0.2):
    """The PPO-clip surrogate averaged over chord tokens -> (loss, approx_kl, clipfrac)."""
    surrogate, approx_kl, clipfrac = clipped_surrogate(new_logp, old_logp, adv, mask, clip)
    return masked_mean(surrogate, mask), approx_kl, clipfrac


def new_log_probs(actor, mb: Episodes, cfg: RLConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The current policy's log pi(y_t) [B, T] and mean entropy over sampled tokens (differentiable)."""
    logp_all = log_probs(actor, mb, cfg)
    return chosen_log_probs(logp_all, mb.played, mb.mask), masked_mean(entropy_of(logp_all), mb.mask)


def optimizer_step(optimizer, model, loss, grad_clip: float, what: str) -> float:
    """One clipped gradient step -> the gradient norm; a non-finite loss or norm stops the run."""
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


def mean_stats(stats: dict[str, list]) -> dict[str, float]:
    """Per-minibatch figures -> their means (tensors become floats)."""
    return {k: sum(float(x) for x in v) / len(v) for k, v in stats.items()}


def explained_variance(values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> float:
    """1 - Var(returns - values) / Var(returns) over chord tokens (1 = perfect critic)."""
    m = mask > 0
    y, v = returns[m], values[m]
    var = y.var() if y.numel() > 1 else torch.tensor(0.0)
    return float("nan") if var == 0 else float(1 - (y - v).var() / var)


def ppo_update(actor, critic, ep: Episodes, actor_opt, critic_opt, cfg: RLConfig,
               generator: torch.Generator) -> dict[str, float]:
    """Stages 4-6 on collected, scored, rewarded episodes. Dropout stays off (eval mode), as the
    paper has it for RL."""
    actor.eval(), critic.eval()

    # 4. values and GAE over chord positions; advantages normalised over the batch
    ep.values = critic_values(critic, ep)
    ep.advantages, ep.returns = gae(ep.token_rewards, ep.values, ep.mask, cfg.gae_gamma, cfg.gae_lambda)
    adv_all = normalise(ep.advantages, ep.mask)

    # 5. minibatch epochs: clipped policy loss - entropy bonus; critic regression to returns
    stats: dict[str, list] = {k: [] for k in ("policy_loss", "value_loss", "entropy", "approx_kl",
                                              "clipfrac", "actor_grad_norm", "critic_grad_norm")}
    for _ in range(cfg.epochs):
        order = torch.randperm(len(ep), generator=generator)
        for start in range(0, len(ep), cfg.minibatch_size):
            idx = order[start:start + cfg.minibatch_size]
            mb = ep.rows(idx)
            new_logp, entropy = new_log_probs(actor, mb, cfg)
            pg_loss, approx_kl, clipfrac = clipped_policy_loss(new_logp, mb.old_logprobs, adv_all[idx], mb.mask,
                                                               cfg.clip_coef)
            stats["actor_grad_norm"].append(optimizer_step(actor_opt, actor, pg_loss - cfg.entropy_coef * entropy,
                                                           cfg.grad_clip, "policy"))
            new_values = critic.chord_values(mb.given, mb.played).float()
            value_loss = 0.5 * masked_mean((new_values - mb.returns) ** 2, mb.mask)
            stats["critic_grad_norm"].append(
                optimizer_step(critic_opt, critic, cfg.value_coef * value_loss, cfg.grad_clip, "critic"))
            for k, v in (("policy_loss", pg_loss), ("value_loss", value_loss), ("entropy", entropy),
                         ("approx_kl", approx_kl), ("clipfrac", clipfrac)):
                stats[k].append(v.detach())

    # 6. diagnostics (means over minibatches) and the critic's fit before this update
    return {**mean_stats(stats), "explained_variance": explained_variance(ep.values, ep.returns, ep.mask),
            "value_mean": float(masked_mean(ep.values, ep.mask))}


def ranking_auc(p_real: torch.Tensor, p_fake: torch.Tensor) -> float:
    """P(D ranks a random real part above a random played one), ties counting half: 0.5 is
    chance whatever D's calibration, 1 a perfect separation."""
    diff = p_real.reshape(-1, 1).float() - p_fake.reshape(1, -1).float()
    return float((diff > 0).float().mean() + 0.5 * (diff == 0).float().mean())


# --- 7. discriminator ---------------------------------------------------------------------------
def discriminator_update(adversary: Adversary, ep: Episodes, update: int) -> dict[str, float]:
    """After RL update `update` (from 0): D reads this batch (its R_adv joins the gate's window),
    then, if Algorithm 1's schedule says so, steps on this batch's played parts (fake) against
    the data's (real). Advances adversary's D, optimiser and counters; returns what to log."""
    d, cfg = adversary.d, adversary.cfg
    with torch.no_grad(), eval_mode(d):
        p_fake, p_real = d.prob_real(ep.given, ep.played), d.prob_real(ep.given, ep.real)
    adversary.recent_adv.append(float(adversarial_reward(p_fake).mean()))
    window = adversary.recent_adv[-cfg.gate_window:]
    # this batch is fresh (D has not trained on it yet): a held-out check of D every update
    stats = {"d_prob_real": float(p_real.mean()), "d_prob_fake": float(p_fake.mean()),
             "d_acc": float(((p_real > 0.5).float().mean() + (p_fake <= 0.5).float().mean()) / 2),
             "d_auc": ranking_auc(p_real, p_fake), "r_adv_window": sum(window) / len(window)}
    step, phase = should_update(update, adversary.recent_adv, cfg)
    losses = []
    if step:
        adversary.events[phase] += 1
        n_steps = cfg.steps_per_event or max(1, len(ep) // adversary.minibatch_size)
        d.train()
        mb = adversary.minibatch_size
        order = torch.cat([torch.randperm(len(ep), generator=adversary.generator)
                           for _ in range(-(-n_steps * mb // len(ep)))]) if cfg.fresh_rollouts else None
        for i in range(n_steps):
            idx = (order[i * mb:(i + 1) * mb] if cfg.fresh_rollouts  # its own rollouts until the batch is used up
                   else torch.randperm(len(ep), generator=adversary.generator)[:mb])
            lr = warmup_cosine(sum(adversary.steps.values()), cfg.lr, cfg.warmup_steps, cfg.total_steps, 0.1)
            for g in adversary.opt.param_groups:  # D's own schedule, advancing only when D steps
                g["lr"] = lr
            loss, _ = discriminator_loss(d, ep.given[idx], ep.real[idx], ep.played[idx], cfg.label_smoothing,
                                          adversary.generator)
            adversary.opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(d.parameters(), 1.0)
            adversary.opt.step()
            adversary.steps[phase] += 1
            losses.append(loss.item())
        d.eval()
    return {**stats, "d_updated": float(step), "d_loss": sum(losses) / len(losses) if losses else float("nan"),
            **{f"d_steps_{p}": float(n) for p, n in adversary.steps.items()},
            **{f"d_events_{p}": float(n) for p, n in adversary.events.items()}}
