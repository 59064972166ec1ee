"""Every scale's settings in one table: data, models, MLE, reward models, RL, discriminator.

    PRESETS[scale][part] -> the fields that part's config changes from its dataclass defaults

`DataConfig.preset(scale)`, `ModelConfig.preset(scale)`, `TrainConfig.preset(scale)`,
`RewardConfig.preset(scale)` and `RLConfig.preset(scale, system)` all read this table, and
`override(config, **changes)` changes any value of any of them, a nested one by a dotted name
(`override(rl, **{"discriminator.tau": 0.6})`). An RL system is a row of `SYSTEMS` (its
algorithm and which reward terms are on); a named run (rl/systems.py) is a system plus
overrides. Why course values depart from the paper's: docs/experiments-history.md.
"""
from __future__ import annotations

import dataclasses

from .config import check_scale

PRESETS: dict[str, dict[str, dict]] = {
    "smoke": {  # CI, seconds: proves the pipeline runs
        "data": dict(crop_frames=64, max_units=24),
        "model": dict(n_layers=2, n_heads=2, d_model=64, dropout=0.0, max_len=130),
        "mle": dict(steps=40, batch_size=8, lr=3e-3, warmup_steps=5, eval_every=20, eval_songs=8,
                    wrong_key_start=0.5, wrong_key_frames=16),
        "rewards": dict(seeds=(0,), dim=32, n_layers=1, n_heads=2, proj_dim=32, batch_size=16, steps=20,
                        warmup_steps=4, eval_every=10, valid_pairs=32),
        "rl": dict(updates=4, rollouts_per_update=8, minibatch_size=4, group_size=2, crop_frames=32,
                   warmup_updates=1, eval_every=2, eval_melodies=8, eval_samples=1, eval_frames=32,
                   checkpoint_every=2),
        "discriminator": dict(dim=32, n_layers=1, n_heads=2, lr=1e-3, warmup_steps=1, total_steps=10,
                              warmup_updates=2, update_every=1),
        "entropy": dict(ppo=0.01, grpo=0.01),
    },
    "course": {  # a 2-core laptop, minutes (an RL run ~8-10 min of one core)
        "data": dict(crop_frames=128),
        "model": dict(n_layers=4, n_heads=4, d_model=128, dropout=0.0, max_len=514),  # 0.88M parameters
        # 256-frame crops (the paper's): a long melody context, and a live stream that fits
        "mle": dict(data=dict(crop_frames=256), steps=600, batch_size=16, lr=2e-3, warmup_steps=50,
                    eval_every=100, eval_songs=64, wrong_key_start=0.5, wrong_key_frames=32),
        # full-input models longer than rhythm-only ones: their R_coh tracks harmony, the
        # rhythm-only ones penalise chord churn
        "rewards": dict(steps=2000, warmup_steps=200, eval_every=250,
                        steps_by_type={"rhythm_contrastive": 400, "rhythm_discriminative": 400}),
        "rl": dict(updates=120, rollouts_per_update=32, minibatch_size=16, group_size=4, crop_frames=128,
                   actor_lr=3e-4, critic_lr=3e-4, warmup_updates=10, gae_lambda=1.0, eval_every=20,
                   eval_melodies=102, eval_samples=2, eval_frames=128, checkpoint_every=20),
        # more D steps per event than the paper's one per minibatch, so a small D leaves chance
        "discriminator": dict(dim=64, n_layers=2, n_heads=4, frames_per_position=4, lr=1e-3, warmup_steps=8,
                              total_steps=200, warmup_updates=60, update_every=5, gate_window=3, tau=1.0,
                              steps_per_event=8),
        # Dr.GRPO: the paper's 0.01 blows entropy up here; 0.001 is the largest bonus that stays sane
        "entropy": dict(ppo=0.01, grpo=0.001),
    },
    "paper": {  # the paper's section C, for a GPU
        "data": dict(crop_frames=256),
        "model": dict(n_layers=8, n_heads=8, d_model=512, dropout=0.1, max_len=514,
                      factorized_embedding=False),  # C.1
        "mle": dict(steps=11000, batch_size=64, lr=1e-4, warmup_steps=500, eval_every=500, eval_songs=256),  # C.1
        # C.2-C.3: 6 layers, dim 512, batch 196, 8k steps; lr is our choice
        "rewards": dict(dim=512, n_layers=6, n_heads=8, frames_per_position=1, key_matched_fakes=0.0,
                        proj_dim=512, batch_size=196, steps=8000, lr=1e-4, warmup_steps=500, eval_every=500,
                        valid_pairs=1024),
        # C.5: 384 rollouts, minibatch 48, 1 epoch, 1000 updates, actor 5e-6, critic 9e-5
        "rl": dict(updates=1000, rollouts_per_update=384, minibatch_size=48, group_size=8, crop_frames=256,
                   actor_lr=5e-6, critic_lr=9e-5, warmup_updates=50, eval_every=50, eval_melodies=512,
                   eval_samples=1, eval_frames=256, checkpoint_every=50, mask_invalid=False),
        # C.6/C.8: 8 layers, dim 512, AdamW 9e-5, T_warm 200, K_int 5, m 3, tau 1.0
        "discriminator": dict(dim=512, n_layers=8, n_heads=8, lr=9e-5, warmup_steps=20, total_steps=600,
                              warmup_updates=200, update_every=5, gate_window=3, tau=1.0),
        "entropy": dict(ppo=0.01, grpo=0.01),
    },
}

SYSTEMS: dict[str, dict] = {
    # name: algorithm, whether the entropy bonus is on (the scale's for that algorithm), gamma
    "realchords": dict(algorithm="ppo", entropy=False, adversarial_weight=0.0),
    "gapt-no-adv": dict(algorithm="ppo", entropy=True, adversarial_weight=0.0),
    "gapt": dict(algorithm="ppo", entropy=True, adversarial_weight=1.0),
    "grpo": dict(algorithm="grpo", entropy=True, adversarial_weight=0.0),
    "grpo-adv": dict(algorithm="grpo", entropy=True, adversarial_weight=1.0),
}
"""The RL recipes (rl/config.py's table says what each turns on)."""


def preset(scale: str, part: str) -> dict:
    """A copy of PRESETS[scale][part] (nested dicts copied too)."""
    check_scale(scale)
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in PRESETS[scale][part].items()}


def system_fields(scale: str, system: str) -> dict:
    """The RLConfig fields a system sets at a scale: its algorithm, entropy bonus and gamma."""
    row = SYSTEMS[system]
    entropy = preset(scale, "entropy")[row["algorithm"]] if row["entropy"] else 0.0
    return dict(algorithm=row["algorithm"], entropy_coef=entropy, adversarial_weight=row["adversarial_weight"])


def override(config, **changes):
    """`config` with `changes` applied; a dotted name ("discriminator.tau") or a dict value for a
    nested config field changes fields of that nested config."""
    nested: dict[str, dict] = {}
    flat = {}
    for name, value in changes.items():
        head, _, rest = name.partition(".")
        if rest:
            nested.setdefault(head, {})[rest] = value
        elif isinstance(value, dict) and dataclasses.is_dataclass(getattr(config, name, None)):
            nested.setdefault(name, {}).update(value)
        else:
            flat[name] = value
    for head, sub in nested.items():
        flat[head] = override(getattr(config, head), **sub)
    return dataclasses.replace(config, **flat)
