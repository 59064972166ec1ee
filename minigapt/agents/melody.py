"""The melody jamming agent's models (paper 4.3, C.1): an online melody policy and its anchor.

The agent mirrors the chord policy. `MelodyPolicy` is the same decoder (models/decoder.py) over
the melody-first stream [BOS, x0, y0, x1, y1, ...]: the note of frame t is chosen having heard
the chords only up to frame t-1, pi^x(x_t | x_<t, y_<t). It learns by MLE on the melody tokens
of that stream (the chord tokens are read, not learnt). `MelodyAnchor` is the offline anchor
(models/anchor.py) the other way round, phi^x(x | y): it reads the whole chord part and predicts
the melody. RL keeps the agent close to it with a KL term, as it keeps the chord policy close to
the chord anchor.

Both models carry role = "melody" (generate.py's roles): sampling, teacher-forced scoring and
the RL stages then treat the melody as the part played and the chords as the part given, so
`rollout_online(agent, chords).chords` is the agent's melody over those chords. `play_melody`
and `melody_log_probs` say the same with the right names.

Data (paper B.2): the agent trains on the chord policy's sources plus Wikifonia, mixed
50/20/10/20 (Hooktheory/POP909/Nottingham/Wikifonia). Without Hooktheory we keep the other three
in that ratio: POP909 0.4, Nottingham 0.2, OpenEWLD (the public Wikifonia subset) 0.4, so the
agent has heard styles the chord policy has not, as the paper wants.

    models = train_or_load_melody("course")      # runs/course/melody-mle, runs/course/melody-anchor
    x = play_melody(models.policy, chords, seed=0)
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from ..config import check_scale
from ..data.dataset import DataConfig, load_frames
from ..generate import chord_log_probs, rollout_online
from ..models.anchor import OfflineAnchor
from ..models.checkpoint import register_model_kind, runs_dir
from ..models.decoder import ModelConfig, OnlinePolicy
from ..train.mle import Trainer, TrainConfig, anchor_losses, policy_losses, register_trainer, train_or_load

MELODY_SOURCES = {"pop909": 0.4, "nottingham": 0.2, "openewld": 0.4}
"""The agent's training mix (paper B.2 without Hooktheory, see the module docstring)."""
MLE_NAME, ANCHOR_NAME = "melody-mle", "melody-anchor"
"""Run names: runs/<scale>/melody-mle/ and runs/<scale>/melody-anchor/."""


class MelodyPolicy(OnlinePolicy):
    """pi^x(x_t | x_<t, y_<t): OnlinePolicy's network over the melody-first stream."""

    kind = "melody"
    role = "melody"


class MelodyAnchor(OfflineAnchor):
    """phi^x(x | y): OfflineAnchor's network encoding the whole chord part, decoding the melody."""

    kind = "melody_offline"
    role = "melody"


def melody_losses(model: MelodyPolicy, streams: torch.Tensor, inputs: torch.Tensor | None = None) -> dict:
    """Cross-entropy of the melody tokens of melody-first streams: the first slot of each frame,
    where policy_losses reads its "chord_loss"; the chord tokens are not learnt."""
    melody = policy_losses(model, streams, inputs)["chord_loss"]
    return {"loss": melody, "melody_loss": melody}


# melody-first crops: anchor_losses reads (second slot, first slot) = (chords, melody) and so
# learns the melody given the whole chord part, with no change
register_trainer("melody", Trainer(MelodyPolicy, melody_losses, chord_first=False, plays_online=True))
register_trainer("melody_offline", Trainer(MelodyAnchor, anchor_losses, chord_first=False))
register_model_kind("melody", lambda d: MelodyPolicy(ModelConfig.from_dict(d)))
register_model_kind("melody_offline", lambda d: MelodyAnchor(ModelConfig.from_dict(d)))


def melody_data_config(scale: str) -> DataConfig:
    """The chord policy's DataConfig preset with the agent's sources (MELODY_SOURCES)."""
    return dataclasses.replace(DataConfig.preset(scale), sources=dict(MELODY_SOURCES))


def melody_train_config(scale: str) -> TrainConfig:
    """The chord policy's TrainConfig preset with the agent's data and no wrong-key openings
    (a chord-policy remedy). Course: 128-frame crops (the length RL and the jams use) and 800
    steps of 16 crops, about half the tokens per step of the chord policy's 256-frame crops."""
    check_scale(scale)
    steps = {"steps": 800} if scale == "course" else {}  # DataConfig's course crops: 128 frames
    return dataclasses.replace(TrainConfig.preset(scale), data=melody_data_config(scale),
                               wrong_key_start=0.0, **steps)


@dataclass
class MelodyModels:
    """The agent after MLE, with what its RL stage needs."""

    policy: MelodyPolicy
    """The online melody policy (melody-mle)."""
    anchor: MelodyAnchor | None
    """The offline melody model, its KL anchor (melody-anchor); None when it was neither trained
    nor shipped and not to be trained (enough to play, not to post-train)."""
    frames: dict
    """load_frames output of the agent's data (split -> source -> songs)."""
    config: TrainConfig
    """The config both were trained with."""


def train_or_load_melody(scale: str, *, data_dir=None, frames=None, use_pretrained: bool = True,
                         retrain: bool = False, progress: bool = True,
                         train_missing: bool = True) -> MelodyModels | None:
    """The agent's online policy and offline anchor at `scale` (train_or_load: your run, then a
    shipped checkpoint, else train now; None if the policy is missing and not train_missing, the
    anchor None if only it is)."""
    cfg = melody_train_config(scale)
    frames = frames if frames is not None else load_frames(cfg.data, data_dir, progress=progress)
    common = dict(data=frames, runs=runs_dir() / scale, use_pretrained=use_pretrained, retrain=retrain,
                  progress=progress, train_missing=train_missing)
    policy = train_or_load(MLE_NAME, cfg, kind="melody", **common)
    if policy is None:
        return None
    # the anchor only serves RL training: not shipped (the 30 MB budget), and when it is neither
    # yours nor shipped and not train_missing, the agent can still play but not be post-trained
    anchor = train_or_load(ANCHOR_NAME, cfg, kind="melody_offline", **common)
    return MelodyModels(policy.eval(), None if anchor is None else anchor.eval(), frames, cfg)


def play_melody(agent, chords, *, temperature: float = 1.0, seed: int | None = None,
                generator: torch.Generator | None = None, mask_invalid: bool = True) -> torch.Tensor:
    """The agent's melody [B, T] over fixed chord frames [B, T] (PAD after each part's end),
    online: the note of frame t hears the chords before t only. Seeded."""
    return rollout_online(agent, chords, temperature=temperature, seed=seed, generator=generator,
                          mask_invalid=mask_invalid).chords


def melody_log_probs(agent, melody: torch.Tensor, chords: torch.Tensor, *, temperature: float = 1.0,
                     mask_invalid: bool = True) -> torch.Tensor:
    """Teacher-forced log-probs [B, T, V] of the agent's note distribution at every frame, as
    play_melody samples it (the agent or its anchor; differentiable)."""
    return chord_log_probs(agent, chords, melody, temperature=temperature, mask_invalid=mask_invalid)
