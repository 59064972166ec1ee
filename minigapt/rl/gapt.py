"""GAPT's co-evolving discriminator (paper 3.3, Algorithm 1, C.6, C.8, C.11).

D(y) reads a chord part only (BOS + chords; D(x, y) also reads the melody, the ablation of
C.11) and says how likely it is to come from the data rather than from the policy. Its
adversarial reward R_adv = -log(1 - D(y)) (or log D(y): DiscriminatorConfig.reward_form) joins
R_coh: chord parts that look machine-made (the same safe chord for ever) earn little, so
collapsing stops paying.

When D learns is the heart of the method (`should_update`):
  * warm-up: on every K_int-th RL update (K_int = 5) while update < T_warm;
  * at any time: when the mean R_adv of the last m = 3 updates exceeds tau (the policy is
    fooling D: D gives its chords D > 1 - 1/e ~ 0.63 at tau = 1).
On an update event D takes one step per PPO minibatch, on that update's rollouts (fake) and the
data's chords of the same melodies (real), after that update's rewards were computed. Its
optimiser has its own warmup + cosine schedule that advances only when D steps.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import MinigaptError
from ..models.checkpoint import CHECKPOINT_NAME, build_model, load_checkpoint, register_model_kind
from ..models.modes import eval_mode
from ..music.tokens import BOS, PAD, VOCAB
from ..rewards.encoders import FrameEncoder, pool
from ..rewards.rhythm import cut_to


@dataclass
class DiscriminatorConfig:
    """GAPT's discriminator and its update schedule (saved inside RLConfig)."""

    dim: int = 64
    """Encoder width."""
    n_layers: int = 2
    """Encoder blocks (paper: 8 at dim 512)."""
    n_heads: int = 4
    """Attention heads."""
    frames_per_position: int = 1
    """Frames packed into one encoder position (1: D sees every frame, as the paper's)."""
    dropout: float = 0.0
    """Dropout inside D while it trains."""
    sees_melody: bool = False
    """False: D(y), chords only (the paper's). True: D(x, y), melody too (ablation, C.11)."""
    lr: float = 9e-5
    """Peak AdamW learning rate (paper: 9e-5)."""
    warmup_steps: int = 10
    """Linear warmup of D's own schedule, in D steps."""
    total_steps: int = 400
    """D steps over which its cosine decays (to 10%); held after."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    label_smoothing: float = 0.1
    """BCE targets: real 1 - s/2, fake s/2 (cross-entropy's label_smoothing for two classes)."""
    warmup_updates: int = 200
    """T_warm: RL updates during which D learns every update_every updates (paper: 200)."""
    update_every: int = 5
    """K_int: the warm-up cadence (paper: 5)."""
    gate_window: int = 3
    """m: the gate looks at the mean R_adv of this many most recent RL updates (paper: 3)."""
    tau: float = 1.0
    """The gate opens when that mean exceeds tau (paper: 1.0, i.e. mean D ~ 0.63)."""
    steps_per_event: int = 0
    """D steps per update event; 0 = one per PPO minibatch (the paper's)."""
    fresh_rollouts: bool = False
    """True: each D step of an event takes rollouts the event's earlier steps did not use (until
    the batch is used up). False: each step samples its minibatch from the whole batch again."""
    dense: bool = False
    """False: one R_adv per part, paid on its last chord (the paper's). True: D also learns to
    judge every prefix of a part (cut at one of its positions), and R_adv is paid along the part:
    at the end of each position, how much the prefix's R_adv changed there (potential-based
    shaping: a part's payments sum to its R_adv). PPO can then tell *which* chords D rejected
    (Dr.GRPO's group advantages read each part's total, so for GRPO both forms are the same)."""
    reward_form: str = "paper"
    """How D's verdict becomes R_adv: "paper", -log(1 - D(y)), which flattens out where D is sure
    the chords are fake; "log_d", log D(y) (GAN's non-saturating form), which keeps ranking the
    parts D rejects. The gate always reads the paper's form, so tau keeps its meaning."""


def should_update(update: int, recent_adv: Sequence[float], cfg: DiscriminatorConfig) -> tuple[bool, str]:
    """Algorithm 1's schedule. update: the index (from 0) of the RL update just done;
    recent_adv: mean R_adv of each update so far, this one last -> (step D now?, phase), phase
    "warmup" for a warm-up cadence step, "gated" for a step the tau gate opened, "" for none."""
    if update < cfg.warmup_updates and update % cfg.update_every == 0:
        return True, "warmup"
    window = list(recent_adv)[-cfg.gate_window:]
    if len(window) == cfg.gate_window and sum(window) / len(window) > cfg.tau:
        return True, "gated"
    return False, ""


def smoothed_targets(is_real: torch.Tensor, smoothing: float) -> torch.Tensor:
    """0/1 labels -> BCE targets with label smoothing: 1 -> 1 - s/2, 0 -> s/2."""
    return is_real.float() * (1 - smoothing) + smoothing / 2


def adversarial_reward(d_real_prob: torch.Tensor) -> torch.Tensor:
    """R_adv = -log(1 - D(y) + 1e-12) (the authors' form): 0 when D is sure the chords are fake,
    large (27.6 at D = 1, never inf) when D takes them for real."""
    return -torch.log(1 - d_real_prob + 1e-12)


REWARD_FORMS = ("paper", "log_d")


def adversarial_reward_from_logits(logits: torch.Tensor, form: str = "paper") -> torch.Tensor:
    """R_adv from D's logits in the given form (DiscriminatorConfig.reward_form). Why a second
    form: whitened with R_coh, the paper's form hardly separates two parts D both rejects
    (D = 0.01 and 0.1 earn 0.01 and 0.11), while log D gives them -4.6 and -2.3."""
    if form == "paper":
        return adversarial_reward(torch.sigmoid(logits))
    if form == "log_d":
        return F.logsigmoid(logits)
    raise MinigaptError(f"unknown reward_form {form!r}: choose from {', '.join(REWARD_FORMS)}")


class ChordDiscriminator(nn.Module):
    """D(y) or D(x, y): a transformer encoder over [CLS] + BOS + chord frames (+ melody frames
    summed per position when it sees the melody) -> the logit of "real"."""

    kind = "discriminator"

    def __init__(self, cfg: DiscriminatorConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = FrameEncoder(VOCAB.size, n_parts=2 if cfg.sees_melody else 1, dim=cfg.dim,
                                    n_layers=cfg.n_layers, n_heads=cfg.n_heads, dropout=cfg.dropout,
                                    frames_per_position=cfg.frames_per_position)
        self.classifier = nn.Sequential(nn.Linear(cfg.dim, cfg.dim), nn.GELU(), nn.Linear(cfg.dim, 1))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Melody and chord frames [B, T] -> logits [B] (x is ignored by D(y))."""
        bos = torch.full_like(y[:, :1], BOS)
        parts = (torch.cat([bos, x], 1), torch.cat([bos, y], 1)) if self.cfg.sees_melody else \
            (torch.cat([bos, y], 1),)
        h, keep = self.encoder(*parts)
        return self.classifier(pool(h, keep, "first")).squeeze(-1)

    def prob_real(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self(x, y))


def discriminator_loss(d: ChordDiscriminator, x, y_real, y_fake, smoothing: float,
                       generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict]:
    """BCE with label smoothing on a batch of real and fake chord parts of the same melodies.
    A dense D (cfg.dense) sees each pair cut after the same random number of its positions."""
    if d.cfg.dense:
        patch, T = d.cfg.frames_per_position, y_real.shape[1]
        n = -(-T // patch)
        ends = (torch.randint(1, n + 1, (len(x),), generator=generator) * patch).to(x.device)
        x, y_real, y_fake = cut_to(x, ends), cut_to(y_real, ends), cut_to(y_fake, ends)
    logits = d(torch.cat([x, x]), torch.cat([y_real, y_fake]))
    labels = torch.cat([torch.ones(len(x)), torch.zeros(len(x))]).to(logits.device)
    loss = F.binary_cross_entropy_with_logits(logits, smoothed_targets(labels, smoothing))
    with torch.no_grad():
        acc = ((logits > 0).float() == labels).float().mean()
    return loss, {"d_loss": float(loss.detach()), "d_acc": float(acc)}


@dataclass
class Adversary:
    """The discriminator's side of an RL run: D, its optimiser and random stream, and what
    Algorithm 1's schedule has seen so far. rl/ppo.py's stage 7 (discriminator_update) advances
    it; build one with `adversary_for`."""

    cfg: DiscriminatorConfig
    """D's architecture and schedule."""
    minibatch_size: int
    """Rollouts per D step (the RL minibatch)."""
    d: ChordDiscriminator
    """D itself (kept in eval mode between its steps)."""
    opt: torch.optim.Optimizer
    """AdamW over D's parameters."""
    generator: torch.Generator
    """Which rollouts each D step samples."""
    recent_adv: list[float] = field(default_factory=list)
    """Mean R_adv of each RL update so far (the gate reads the last gate_window)."""
    steps: dict[str, int] = field(default_factory=lambda: {"warmup": 0, "gated": 0})
    """D steps taken, per phase."""
    events: dict[str, int] = field(default_factory=lambda: {"warmup": 0, "gated": 0})
    """RL updates on which D stepped, per phase."""

    @torch.no_grad()
    def reward(self, given: torch.Tensor, played: torch.Tensor) -> torch.Tensor:
        """R_adv of each played part [B] under D as it is now (eval mode, no gradients)."""
        with eval_mode(self.d):
            return adversarial_reward_from_logits(self.d(given, played), self.cfg.reward_form)

    @torch.no_grad()
    def reward_steps(self, given: torch.Tensor, played: torch.Tensor) -> torch.Tensor:
        """The dense form: [B, T], at the last frame of each of D's positions (patch of frames)
        the R_adv of the prefix up to there minus that of the prefix before it (the first
        position pays its prefix's whole R_adv), 0 elsewhere. Each row sums to the R_adv of its
        longest prefix, the whole part."""
        patch, (B, T) = self.cfg.frames_per_position, played.shape
        n = -(-T // patch)
        ends = torch.arange(1, n + 1, device=played.device) * patch  # prefix k: frames < ends[k]
        rep = lambda f: cut_to(f.repeat_interleave(n, 0), ends.repeat(B))
        with eval_mode(self.d):
            phi = adversarial_reward_from_logits(self.d(rep(given), rep(played)), self.cfg.reward_form).view(B, n)
        steps = torch.diff(phi, dim=1, prepend=torch.zeros(B, 1, device=phi.device))
        out = torch.zeros(B, n * patch, device=played.device, dtype=phi.dtype)
        out[:, patch - 1::patch] = steps
        # a part shorter than T: its prefixes stop changing after its last frame; move each
        # payment beyond it onto that frame so every payment lands on a sampled chord
        played_frames = (played != PAD).sum(1).clamp(min=1)
        last = played_frames - 1
        beyond = torch.arange(n * patch, device=played.device)[None, :] > last[:, None]
        out[torch.arange(B), last] += (out * beyond).sum(1)
        return (out * ~beyond)[:, :T]


def adversary_for(rl_cfg) -> Adversary:
    """The adversary an RLConfig asks for (its `discriminator` field), seeded by its seed."""
    cfg, seed = rl_cfg.discriminator, rl_cfg.seed
    if cfg.reward_form not in REWARD_FORMS:
        raise MinigaptError(f"discriminator.reward_form={cfg.reward_form!r}: choose from {', '.join(REWARD_FORMS)}")
    torch.manual_seed(seed + 10_000)  # D's initialisation: its own stream, seeded
    d = ChordDiscriminator(cfg).eval()
    opt = torch.optim.AdamW(d.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=cfg.weight_decay)
    return Adversary(cfg, rl_cfg.minibatch_size, d, opt, torch.Generator().manual_seed(seed + 10_001))


register_model_kind("discriminator", lambda d: ChordDiscriminator(DiscriminatorConfig(**d)))
DISCRIMINATOR_FILE = "discriminator.pt"  # beside a GAPT run's model.pt
SHIPPED_DISCRIMINATOR_SUFFIX = ".discriminator.pt"  # assets/checkpoints/gapt.pt -> gapt.discriminator.pt


def discriminator_path(path) -> Path:
    """Where the discriminator of a GAPT run lives: a run folder or its model.pt -> the folder's
    discriminator.pt; a shipped <name>.pt -> <name>.discriminator.pt beside it; a path already
    naming a discriminator file -> itself."""
    path = Path(path)
    if path.is_dir():
        return path / DISCRIMINATOR_FILE
    if path.name == DISCRIMINATOR_FILE or path.name.endswith(SHIPPED_DISCRIMINATOR_SUFFIX):
        return path
    if path.name == CHECKPOINT_NAME:
        return path.parent / DISCRIMINATOR_FILE
    return path.with_name(path.stem + SHIPPED_DISCRIMINATOR_SUFFIX)


def load_discriminator(path) -> ChordDiscriminator:
    """A GAPT run's discriminator (its run folder, its policy checkpoint, or the file), in eval mode."""
    return build_model(load_checkpoint(discriminator_path(path), kind="discriminator"))

