"""The toy's one config: the world, its reward's hole, and the course's RL recipe at toy size."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..models.decoder import ModelConfig
from ..rl.config import RLConfig
from ..rl.gapt import DiscriminatorConfig
from .world import WorldConfig

TOY_SYSTEMS = ("realchords", "gapt-no-adv", "gapt")  # the RL systems; `data` and `online-mle` need none


def tiny_policy() -> ModelConfig:
    """The course's OnlinePolicy, small enough to train in seconds on one thread."""
    return ModelConfig(n_layers=1, n_heads=2, d_model=32, dropout=0.0)


def tiny_discriminator() -> DiscriminatorConfig:
    """The course's ChordDiscriminator and two-phase schedule, sized for the toy. One encoder
    position per bar (4 frames); 8 steps per event at lr 3e-3, so D leaves chance within a few
    events (the paper's lr and one step per minibatch leave it at chance: notebook 05). The
    warm-up (every 2nd update) spans the whole run, as the paper's T_warm of 200 updates would: a
    shorter one let D freeze while the policy settled on a progression D half accepted, under
    the gate (docs/experiments.md); tau 0.75 opens the gate a little earlier."""
    return DiscriminatorConfig(dim=32, n_layers=1, n_heads=2, frames_per_position=4, lr=3e-3,
                               warmup_steps=2, total_steps=200, warmup_updates=24, update_every=2,
                               gate_window=3, tau=0.75, steps_per_event=8)


@dataclass
class ToyConfig:
    """Everything one toy run depends on (printed by the explorer, saved in --json's output)."""

    world: WorldConfig = field(default_factory=WorldConfig)
    """The melody-to-chord world (toy/world.py)."""
    hole: float = 3.0
    """Weight of the reward's hole: R_coh pays hole * (share of frames on V) (toy/reward.py)."""
    policy: ModelConfig = field(default_factory=tiny_policy)
    """The online policy's size (the course's class, models.decoder.OnlinePolicy)."""
    mle_steps: int = 300
    """Supervised steps of the online MLE (train.mle.train_online) on the world's songs."""
    mle_lr: float = 3e-3
    """Its peak learning rate."""
    updates: int = 24
    """RL updates per system (rl.train.train_rl)."""
    rollouts_per_update: int = 48
    """Rollouts per RL update."""
    actor_lr: float = 2e-3
    """Peak policy learning rate (warmup + cosine)."""
    kl_coef: float = 0.001
    """Per-token KL to the anchor (the online MLE itself, frozen)."""
    entropy_coef: float = 0.002
    """Entropy bonus of gapt-no-adv and gapt (realchords: 0)."""
    adversarial_weight: float = 3.0
    """gamma: weight of R_adv in gapt. Sized to the hole, not the paper's 1: R_adv spans ~0.7 (D at
    chance) to ~0 (D sure), so gamma * 0.7 must outweigh what the hole pays a collapsed part
    (hole * its share of V above the data's ~0.2)."""
    discriminator: DiscriminatorConfig = field(default_factory=tiny_discriminator)
    """GAPT's D and its schedule (rl/gapt.py): warm-up cadence, tau gate, steps per event."""

    def rl_config(self, system: str, seed: int) -> RLConfig:
        """The course's RLConfig for one system of the toy (its table: rl/config.py)."""
        entropy = 0.0 if system == "realchords" else self.entropy_coef
        adversarial = self.adversarial_weight if system == "gapt" else 0.0
        return RLConfig(system=system, updates=self.updates, rollouts_per_update=self.rollouts_per_update,
                        minibatch_size=self.rollouts_per_update // 2, epochs=1,
                        crop_frames=self.world.frames, actor_lr=self.actor_lr, critic_lr=self.actor_lr,
                        warmup_updates=max(1, self.updates // 12), gae_lambda=1.0, kl_coef=self.kl_coef,
                        entropy_coef=entropy, adversarial_weight=adversarial,
                        discriminator=self.discriminator, eval_every=10 ** 9,
                        checkpoint_every=10 ** 9, seed=seed, scale="toy")

    def replace(self, **changes) -> "ToyConfig":
        """A copy with some fields changed; discriminator fields by name with a `d_` prefix
        (d_tau=2.0, d_steps_per_event=1)."""
        d_changes = {k[2:]: changes.pop(k) for k in list(changes) if k.startswith("d_")}
        out = dataclasses.replace(self, **changes)
        if d_changes:
            out = dataclasses.replace(out, discriminator=dataclasses.replace(out.discriminator, **d_changes))
        return out
