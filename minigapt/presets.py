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

import ast
import dataclasses

from .config import check_scale
from .errors import MinigaptError

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
    "ship": {  # the shipped RL runs: the course's supervised stages, RL that moves (~25 min of one core)
        # data, model, mle, rewards: the course's rows (SUPERVISED_FROM), so the shipped course
        # checkpoints are its starting point; only the RL and the discriminator differ.
        # RL: 64 rollouts x 4 epochs moves the policy (the course's 32 x 1 barely does), and
        # only the full-input reward models: the rhythm-only ones do not track harmony
        # (docs/experiments.md). Settings are chosen on validation melodies.
        "rl": dict(updates=40, rollouts_per_update=64, minibatch_size=16, epochs=4, group_size=4, crop_frames=128,
                   actor_lr=3e-4, critic_lr=3e-4, warmup_updates=4, gae_lambda=1.0, eval_every=10,
                   eval_melodies=64, eval_samples=2, eval_frames=128, eval_split="valid", checkpoint_every=10,
                   reward_types=("contrastive", "discriminative")),
        # D learns every 2nd update for the whole run (one step per minibatch, each on its own
        # rollouts), so it tracks the moving policy instead of freezing near chance. R_adv = log D:
        # whitened with R_coh, the paper's -log(1 - D) barely tells apart the parts D rejects
        # (validation, 3 seeds: drift 1.11 against 1.63; on OpenEWLD the two forms drift alike:
        # docs/experiments.md, section f)
        "discriminator": dict(dim=64, n_layers=2, n_heads=4, frames_per_position=4, lr=1e-3, warmup_steps=4,
                              total_steps=80, warmup_updates=40, update_every=2, gate_window=3, tau=1.0,
                              steps_per_event=0, fresh_rollouts=True, reward_form="log_d"),
        # 4 epochs magnify the entropy bonus: at the paper's 0.01 the parts chase the melody
        # (GAPT w/o adv.: 6.8x the data's chord changes by update 20); 0.001 keeps it a tie-breaker
        "entropy": dict(ppo=0.001, grpo=0.001),
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

SUPERVISED_FROM = {"ship": "course"}
"""Scales whose data, model, MLE and reward-model rows are another scale's (that scale's
checkpoints, shipped or your own, are their starting point)."""
SUPERVISED_PARTS = ("data", "model", "mle", "rewards")


def supervised_scale(scale: str) -> str:
    """The scale whose supervised stages (data, MLE, anchor, reward models) `scale` uses."""
    return SUPERVISED_FROM.get(check_scale(scale), scale)


SYSTEMS: dict[str, dict] = {
    # name: algorithm, whether the entropy bonus is on (the scale's for that algorithm), gamma
    "realchords": dict(algorithm="ppo", entropy=False, adversarial_weight=0.0),
    "gapt-no-adv": dict(algorithm="ppo", entropy=True, adversarial_weight=0.0),
    "gapt": dict(algorithm="ppo", entropy=True, adversarial_weight=1.0),
    "grpo": dict(algorithm="grpo", entropy=True, adversarial_weight=0.0),
    "grpo-adv": dict(algorithm="grpo", entropy=True, adversarial_weight=1.0),
}
"""The RL recipes (rl/config.py's table says what each turns on)."""


RUNS: dict[str, dict] = {
    # name: the system it starts from, the changes it makes (override's dotted names), where the
    # paper reports it and its name there; "updates_factor" multiplies the scale's updates.
    # A change of discriminator.warmup_updates to None: D's warm-up cadence lasts the whole run.
    "realchords": dict(system="realchords", table="Table 1", label="ReaLchords"),
    "gapt-no-adv": dict(system="gapt-no-adv", table="Table 1", label="GAPT w/o Adv. Training"),
    "gapt": dict(system="gapt", table="Table 1", label="GAPT"),
    "grpo": dict(system="grpo", table="Table 8", label="GRPO w/o Adv. Training"),
    "grpo-adv": dict(system="grpo-adv", table="Table 8", label="GRPO w/ Adv. Training"),
    "gapt-dxy": dict(system="gapt", changes={"discriminator.sees_melody": True}, table="Table 9",
                     label="GAPT w/ D(x, y)"),
    "gapt-coh2": dict(system="gapt", changes={"coherence_weight": 2.0}, table="Table 7",
                      label="Upweight Coherence (α=2, β=1, γ=1)"),
    "gapt-rules2": dict(system="gapt", changes={"rules_weight": 2.0}, table="Table 7",
                        label="Upweight Rules (α=1, β=2, γ=1)"),
    "gapt-adv2": dict(system="gapt", changes={"adversarial_weight": 2.0}, table="Table 7",
                      label="Upweight Adversarial (α=1, β=1, γ=2)"),
    "gapt-no-rules": dict(system="gapt", changes={"rules_weight": 0.0, "mask_invalid": False}, table="Table 7",
                          label="Exclude Rules (α=1, β=0, γ=1)"),
    "gapt-invalid-only": dict(system="gapt", changes={"rule_terms": ("invalid",), "mask_invalid": False},
                              table="Table 7", label="Exclude Rules + Invalid Penalty (α=1, β=0, γ=1, +R_invalid)"),
    "gapt-tau06": dict(system="gapt", changes={"discriminator.tau": 0.6}, table="search",
                       label="GAPT, gate at tau 0.6 (D(fake) ~ 0.45)"),
    "gapt-always": dict(system="gapt", changes={"discriminator.warmup_updates": None}, table="search",
                        label="GAPT, D every K_int updates to the end (no gate)"),
    "gapt-adv05": dict(system="gapt", changes={"adversarial_weight": 0.5}, table="search", label="GAPT, gamma 0.5"),
    "gapt-adv3": dict(system="gapt", changes={"adversarial_weight": 3.0}, table="search", label="GAPT, gamma 3"),
    "gapt-adv5": dict(system="gapt", changes={"adversarial_weight": 5.0}, table="search", label="GAPT, gamma 5"),
    "gapt-warm24": dict(system="gapt", changes={"discriminator.warmup_updates": 24, "discriminator.steps_per_event": 20},
                        table="search", label="GAPT, D's warm-up over the first 20% of the run (5 events x 20 steps)"),
    "realchords-long": dict(system="realchords", table="longer", label="ReaLchords, twice the updates",
                            updates_factor=2.0),
    "gapt-no-adv-long": dict(system="gapt-no-adv", table="longer", label="GAPT w/o Adv., twice the updates",
                             updates_factor=2.0),
    "gapt-long": dict(system="gapt", table="longer", label="GAPT, twice the updates", updates_factor=2.0),
    "gapt-always-long": dict(system="gapt", changes={"discriminator.warmup_updates": None}, table="longer",
                             label="GAPT, twice the updates, D every K_int updates to the end (no gate)",
                             updates_factor=2.0),
}
"""The named runs notebooks and tables compare: rows of this table (rl/systems.py reads it)."""


def parse_changes(assignments) -> dict:
    """["rl.updates=60", "discriminator.tau=0.6", ...] (CLI --set, notebook OVERRIDES as
    strings) -> {"updates": 60, "discriminator.tau": 0.6}: values read as Python literals
    (a bare word stays a string); a leading "rl." is dropped, since RLConfig is the root."""
    changes = {}
    for item in assignments or ():
        name, sep, text = str(item).partition("=")
        name = name.strip().removeprefix("rl.")
        if not sep or not name:
            raise MinigaptError(f"--set {item!r}: expected NAME=VALUE, e.g. updates=60 or discriminator.tau=0.6")
        try:
            changes[name] = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            changes[name] = text.strip()
    return changes


def preset(scale: str, part: str) -> dict:
    """A copy of PRESETS[scale][part] (nested dicts copied too)."""
    check_scale(scale)
    if part in SUPERVISED_PARTS:
        scale = supervised_scale(scale)
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in PRESETS[scale][part].items()}


def system_fields(scale: str, system: str) -> dict:
    """The RLConfig fields a system sets at a scale: its algorithm, entropy bonus and gamma."""
    row = SYSTEMS[system]
    entropy = preset(scale, "entropy")[row["algorithm"]] if row["entropy"] else 0.0
    return dict(algorithm=row["algorithm"], entropy_coef=entropy, adversarial_weight=row["adversarial_weight"])


def override(config, **changes):
    """`config` with `changes` applied; a dotted name ("discriminator.tau") or a dict value for a
    nested config field changes fields of that nested config. An unknown name: one line."""
    nested: dict[str, dict] = {}
    flat = {}
    known = {f.name for f in dataclasses.fields(config)}
    for name, value in changes.items():
        if name.partition(".")[0] not in known:
            raise MinigaptError(f"{type(config).__name__} has no field {name.partition('.')[0]!r}; "
                                f"choose from {', '.join(sorted(known))}")
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
