"""RL for the melody agent (paper 4.3): the chord policy's GAPT recipe, mirrored.

The agent plays a melody online over the data's chords (teacher-forced, as the chord policy is
given the data's melodies) and earns the same reward with the parts swapped:

    R(x, y) = R_coh(x, y) + R_rules(x | y) + R_adv(x),   and -kl_coef * KL(pi^x || phi^x) per note

* R_coh: the chord policy's reward ensemble on (the agent's melody, the data's chords). The
  paper trains the agent its own reward models on its four datasets; we reuse the chord
  policy's (a simplification: one ensemble to train, and its melody tower has seen only the
  chord policy's data).
* R_rules: the rule penalties mirrored (rewards/penalties.py, part="melody"): a chord or
  special token in the melody, resting over half the frames a chord sounds, the melody ending
  before the chords, one pitch struck over 8 times in a row.
* R_adv: GAPT's discriminator (rl/gapt.py, unchanged) reading melody tokens only: real = the
  data's melody over the same chords, fake = the agent's; the same two-phase schedule.
* KL to the offline melody model (agents/melody.py), PPO with a critic (rl/ppo.py, unchanged).

Everything runs through rl/train.py's loop with `MELODY_TASK`: the Episodes of an update hold
the data's chords in `given` and the agent's melody in `played` (rl/ppo.py's stages do not
care which is which; rl/task.py holds the swap). The config is GAPT's preset at each scale (`RLConfig.preset(scale,
"gapt")`), the same sizes, so a course run costs what a chord GAPT run does (~8-10 min of one
core); it is saved as system "gapt" under the run name melody-gapt.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from ..eval.diversity import vendi_score
from ..eval.harmony import note_in_chord_ratio
from ..rl.config import RLConfig
from ..rl.gapt import adversary_for
from ..rl.task import RLTask, compose_rewards, sample_melodies
from ..rl.train import RLRun, train_or_load_rl
from .evaluation import tower_embeddings, evaluate_melody_agent, melody_summary
from .melody import MLE_NAME, MelodyModels, melody_data_config

RL_NAME = "melody-gapt"
"""Run name: runs/<scale>/melody-gapt-seed<s>/."""


def sample_chords(sampler, n: int, group_size: int = 1):
    """n training crops -> (the data's chords: given to the agent, the data's melody: what
    GAPT's discriminator calls real), frames [n, T] each."""
    x, y = sample_melodies(sampler, n, group_size)
    return y, x


def melody_batch_stats(ep, ensemble) -> dict[str, float]:
    """Per-update diagnostics: harmony, the melody's Vendi and counts."""
    x, y = ep.played.cpu().numpy(), ep.given.cpu().numpy()  # the agent's melody, the data's chords
    out = {"harmony": note_in_chord_ratio(x, y), **melody_summary(x)}
    z = tower_embeddings(ensemble, "embed_melodies", x)
    if z is not None:
        out["melody_vendi"] = vendi_score(z)
    return out


MELODY_TASK = RLTask(data=melody_data_config, sample=sample_chords,
                     rewards=partial(compose_rewards, part="melody"), stats=melody_batch_stats,
                     evaluate=evaluate_melody_agent, progress_key="distinct_pitches_per_sequence")
"""rl/train.py's loop, for the melody agent."""


def melody_rl_config(scale: str, seed: int = 0, **overrides) -> RLConfig:
    """GAPT's RLConfig preset at `scale` (overrides change its fields, as for the chord policy)."""
    return RLConfig.preset(scale, "gapt", seed=seed, **overrides)


def train_or_load_melody_rl(scale: str, models: MelodyModels, ensemble, *, seed: int = 0,
                            eval_chords: np.ndarray | None = None, name: str = RL_NAME,
                            use_pretrained: bool = True, retrain: bool = False, progress: bool = True,
                            train_missing: bool = True, **overrides) -> RLRun | None:
    """The RL melody agent at `scale` and `seed`, post-trained from models.policy (your run
    runs/<scale>/<name>-seed<seed>/ if it finished with this very config, else a shipped
    checkpoint, else train now; None when missing and not train_missing). eval_chords: chord
    frames [N, T] the agent plays over every eval_every updates (eval.csv)."""
    cfg = melody_rl_config(scale, seed, **overrides)
    factory = (lambda: adversary_for(cfg)) if cfg.adversarial_weight else None
    return train_or_load_rl(cfg, models.policy, models.anchor, ensemble, models.frames,
                            eval_melodies=eval_chords, adversary_factory=factory, name=name,
                            use_pretrained=use_pretrained, retrain=retrain,
                            progress=progress, train_missing=train_missing, task=MELODY_TASK,
                            base=MLE_NAME)
