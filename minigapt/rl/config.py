"""RL post-training configs: one dataclass; its values per scale and per system are rows of
minigapt/presets.py (paper C.5, C.10).

A *system* is a named recipe (what notebooks, tables and shipped checkpoints call it):

| system       | algorithm | coherence | rules | KL to anchor | entropy bonus | adversarial |
| ------------ | --------- | --------- | ----- | ------------ | ------------- | ----------- |
| realchords   | PPO       | yes       | yes   | yes          | no            | no          |
| gapt-no-adv  | PPO       | yes       | yes   | yes          | yes           | no          |
| gapt         | PPO       | yes       | yes   | yes          | yes           | yes         |
| grpo         | Dr.GRPO   | yes       | yes   | yes          | yes           | no          |
| grpo-adv     | Dr.GRPO   | yes       | yes   | yes          | yes           | yes         |
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..config import check_scale
from ..errors import MinigaptError
from ..presets import SYSTEMS as SYSTEM_ROWS, preset, system_fields
from ..rewards.penalties import TERMS as RULE_TERMS
from .gapt import DiscriminatorConfig

SYSTEMS = tuple(SYSTEM_ROWS)


@dataclass
class RLConfig:
    """Everything one RL run depends on (saved beside its checkpoint)."""

    system: str = "realchords"
    """Which recipe (see the module table); sets the algorithm and which terms are on."""
    algorithm: str = "ppo"
    """'ppo' (critic + GAE) or 'grpo' (Dr.GRPO: group-relative advantages, no critic)."""
    updates: int = 200
    """Policy updates (each: collect rollouts, score them, optimise)."""
    rollouts_per_update: int = 64
    """Rollouts per update (GRPO: rollouts_per_update / group_size melodies, group_size each)."""
    group_size: int = 4
    """GRPO only: rollouts per melody; the advantage is the reward minus the group's mean."""
    minibatch_size: int = 32
    """Rollouts per optimiser step (rollouts_per_update / minibatch_size steps per epoch)."""
    epochs: int = 1
    """Passes over each update's rollouts (the authors: 1)."""
    crop_frames: int = 128
    """Frames per training melody (a random crop of a train-split song)."""
    actor_lr: float = 1e-4
    """Peak policy learning rate (warmup + cosine to min_lr_ratio)."""
    critic_lr: float = 3e-4
    """Peak critic learning rate."""
    warmup_updates: int = 10
    """Linear warmup, in updates."""
    min_lr_ratio: float = 0.1
    """The cosine ends at lr * min_lr_ratio."""
    betas: tuple[float, float] = (0.9, 0.95)
    """Adam betas (the authors')."""
    grad_clip: float = 1.0
    """Global gradient-norm clip, actor and critic separately."""
    clip_coef: float = 0.2
    """PPO ratio clip."""
    value_coef: float = 0.5
    """Weight of the critic's squared error (its own optimiser; kept for the CleanRL form)."""
    gae_gamma: float = 1.0
    """Discount over chord positions (1: an episode is one short crop)."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    coherence_weight: float = 1.0
    """alpha: weight of R_coh (the reward ensemble's mean z-score)."""
    rules_weight: float = 1.0
    """beta: weight of R_rules (invalid, silence, early stop, repetition penalties)."""
    rule_terms: tuple[str, ...] = RULE_TERMS
    """Which rule penalties make up R_rules (ablation: ("invalid",) alone, Table 7)."""
    adversarial_weight: float = 0.0
    """gamma: weight of R_adv = -log(1 - D(y)) (GAPT's discriminator; 0 = off)."""
    whiten_rewards: bool = True
    """PPO: standardise sequence rewards over each batch before GAE (our choice: the critic
    starts at 0). Dr.GRPO uses raw rewards: its group mean is the baseline."""
    kl_coef: float = 0.001
    """Per-chord-token KL(pi || offline anchor), subtracted from that token's reward."""
    entropy_coef: float = 0.0
    """Entropy bonus in the policy loss (0 for the ReaLchords baseline)."""
    temperature: float = 1.0
    """Sampling temperature of the rollouts (the log-probs are of this distribution)."""
    discriminator: DiscriminatorConfig = dataclasses.field(default_factory=DiscriminatorConfig)
    """GAPT's discriminator and its two-phase schedule (used when adversarial_weight > 0)."""
    mask_invalid: bool = True
    """Sample only well-formed chord tokens (the invalid penalty then never fires). False lets
    the policy emit anything, as the authors' does, and leaves it to the -10 penalty."""
    reward_types: tuple[str, ...] | None = None
    """Reward ensemble components to use (None: all the ensemble has)."""
    rhythm_weight: float = 1.0
    """R_coh is the weighted mean of the used models' z-scores: a rhythm-only model (the only
    kind that charges a chord change a frame late) weighs this much, a full-input one 1."""
    half_tempo_share: float = 0.0
    """Share of each update's training crops played at half tempo (melody and chords alike: the
    first half of the crop, every frame twice), so the policy and D also meet long notes."""
    eval_every: int = 25
    """Evaluate on the fixed test melodies every this many updates (and at 0 and the end)."""
    eval_melodies: int = 102
    """Test melodies in each evaluation (Nottingham test has 102)."""
    eval_samples: int = 2
    """Sampled accompaniments per evaluation melody (fixed seeds: curves compare across runs)."""
    eval_frames: int = 128
    """Frames of each evaluation melody (from its first frame)."""
    eval_split: str = "test"
    """Which Nottingham split the curves along training use ("valid" where settings are chosen)."""
    checkpoint_every: int = 25
    """Save the policy every this many updates (a NaN keeps the last one that was good)."""
    seed: int = 0
    """Seeds the rollouts, the melody sampler and everything else random."""
    scale: str = "course"
    """The preset this config came from (informational)."""

    def __post_init__(self):
        self.betas = tuple(self.betas)
        self.rule_terms = tuple(self.rule_terms)
        bad = set(self.rule_terms) - set(RULE_TERMS)
        if bad:
            raise MinigaptError(f"unknown rule penalty {sorted(bad)[0]!r}; choose from {', '.join(RULE_TERMS)}")
        if isinstance(self.discriminator, dict):  # read back from a checkpoint
            self.discriminator = DiscriminatorConfig(**self.discriminator)
        if self.reward_types is not None:
            self.reward_types = tuple(self.reward_types)
        if self.system not in SYSTEMS:
            raise MinigaptError(f"unknown RL system {self.system!r}; choose from {', '.join(SYSTEMS)}")
        if self.algorithm not in ("ppo", "grpo"):
            raise MinigaptError(f"algorithm must be 'ppo' or 'grpo', not {self.algorithm!r}")
        if self.rollouts_per_update % self.minibatch_size:
            raise MinigaptError("rollouts_per_update must be a multiple of minibatch_size")
        if self.algorithm == "grpo" and (self.rollouts_per_update % self.group_size
                                         or self.minibatch_size % self.group_size):
            raise MinigaptError("GRPO: rollouts_per_update and minibatch_size must be multiples of group_size")

    @property
    def melodies_per_update(self) -> int:
        """Distinct melodies per update (GRPO plays each group_size times)."""
        return self.rollouts_per_update // (self.group_size if self.algorithm == "grpo" else 1)

    @classmethod
    def preset(cls, scale: str, system: str = "realchords", **overrides) -> "RLConfig":
        """The scale's RL row (minigapt/presets.py) with the system's recipe; overrides change
        any field (a "discriminator" value: a DiscriminatorConfig)."""
        check_scale(scale)
        if system not in SYSTEMS:
            raise MinigaptError(f"unknown RL system {system!r}; choose from {', '.join(SYSTEMS)}")
        fields = {**preset(scale, "rl"), **system_fields(scale, system),
                  "discriminator": DiscriminatorConfig(**preset(scale, "discriminator")), **overrides}
        return cls(system=system, scale=scale, **fields)

    def replace(self, **changes) -> "RLConfig":
        return dataclasses.replace(self, **changes)

    def flat_fields(self) -> dict:
        """{field: value}, the discriminator's fields as discriminator.<field> (the dotted names
        presets.override reads)."""
        d = dataclasses.asdict(self)
        return {**{k: v for k, v in d.items() if k != "discriminator"},
                **{f"discriminator.{k}": v for k, v in d["discriminator"].items()}}


def config_from_dict(d: dict) -> RLConfig:
    """A saved RLConfig; fields added since it was saved (its discriminator's too) take their
    defaults."""
    names = {f.name for f in dataclasses.fields(RLConfig)}
    return RLConfig(**{k: v for k, v in d.items() if k in names})
