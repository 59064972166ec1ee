"""One call per RL system: `train_system("realchords", "course", seed=1)`.

Everything a system needs (the data, the MLE policy it starts from, the offline anchor, the
reward ensemble, the fixed evaluation melodies) is loaded once into a `World` by `load_world`,
through the same train-or-load helpers the earlier notebooks use (your runs first, then the
shipped checkpoints, else train them now).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..config import check_scale
from ..data.catalog import DataNotFound, load_songs
from ..data.dataset import DataConfig, eval_batch, load_frames, to_frames
from ..models.checkpoint import runs_dir
from ..music.tokens import frames_from_streams
from ..presets import override
from ..rewards.train import rewards_for_scale
from ..train.mle import TrainConfig, train_or_load
from .config import RLConfig
from .evaluation import evaluation_set
from .gapt import adversary_for
from .train import RLRun, train_or_load_rl


@dataclass
class World:
    """What every RL run of one scale shares."""

    scale: str
    frames: dict  # load_frames output: split -> source -> songs
    policy: object  # the online MLE policy (RL starts from a copy)
    anchor: object  # the offline anchor (KL target)
    ensemble: object  # the reward ensemble (R_coh, and the Vendi embedding)
    eval_sets: dict[str, np.ndarray] = field(default_factory=dict)  # name -> melody frames [N, T]
    data_chords: dict[str, np.ndarray] = field(default_factory=dict)  # name -> the data's chords [N, T]


def openewld_songs(data_dir=None, max_units=None) -> list | None:
    """Every OpenEWLD song with chords, as frames; None when OpenEWLD is not available."""
    try:
        report = load_songs("openewld", data_dir, max_units=max_units, progress=False)
    except DataNotFound:
        return None
    return to_frames([s for s in report.songs if s.has_chords], "test")


def openewld_set(n_melodies: int, n_frames: int, data_dir=None, max_units=None,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray] | None:
    """Out-of-distribution melodies and the data's chords: n_melodies OpenEWLD songs (a seeded
    choice), first n_frames frames each; None when OpenEWLD is not available."""
    songs = openewld_songs(data_dir, max_units)
    if songs is None:
        return None
    if len(songs) > n_melodies:
        pick = np.sort(np.random.default_rng(seed).choice(len(songs), n_melodies, replace=False))
        songs = [songs[i] for i in pick]
    x, y = frames_from_streams(torch.as_tensor(eval_batch(songs, n_frames)))
    return x.numpy(), y.numpy()


def load_world(scale: str, *, data_dir=None, use_pretrained: bool = True, openewld: bool = False,
               progress: bool = True) -> World:
    """Data, MLE policy, anchor, rewards and evaluation melodies of `scale` (train-or-load)."""
    check_scale(scale)
    frames = load_frames(DataConfig.preset(scale), data_dir, progress=progress)
    mle_cfg = TrainConfig.preset(scale)  # ship: the course's supervised stages (presets.SUPERVISED_FROM)
    runs = runs_dir() / mle_cfg.scale
    policy = train_or_load("online-mle", mle_cfg, kind="online", data=frames, runs=runs,
                           use_pretrained=use_pretrained, progress=progress)
    anchor = train_or_load("offline-anchor", mle_cfg, kind="offline", data=frames, runs=runs,
                           use_pretrained=use_pretrained, progress=progress)
    ensemble = rewards_for_scale(scale, data=frames, use_pretrained=use_pretrained, progress=progress)
    rl = RLConfig.preset(scale)
    world = World(scale, frames, policy.eval(), anchor.eval(), ensemble)
    sets = {f"nottingham_{split}": evaluation_set(frames, rl.eval_melodies, rl.eval_frames, split=split)
            for split in dict.fromkeys((rl.eval_split, "test"))}
    if openewld:
        sets["openewld"] = openewld_set(rl.eval_melodies * 2, rl.eval_frames, data_dir, DataConfig.preset(scale).max_units)
    for name, pair in sets.items():
        if pair is not None:
            world.eval_sets[name], world.data_chords[name] = pair
    return world


def train_system(system: str, scale: str, seed: int = 0, *, world: World | None = None,
                 name: str | None = None, use_pretrained: bool = True, retrain: bool = False,
                 progress: bool = True, train_missing: bool = True, device=None,
                 changes: dict | None = None, stop_after: int | None = None, **overrides) -> RLRun | None:
    """Train (or load) one RL system at one scale and seed into runs/<scale>/<name>-seed<seed>/
    (name: the system's, unless given). Overrides change RLConfig fields: give a variant its
    own name, or it replaces the preset's run. train_missing=False: None instead of training.
    device: where it trains (None: MINIGAPT_DEVICE, else the CPU; see config.resolve_device).
    changes: RLConfig values by presets.override's names ("discriminator.tau"); stop_after: stop
    (resumable: the next call continues) once this many updates are done."""
    world = world or load_world(scale, use_pretrained=use_pretrained, progress=progress)
    cfg = override(RLConfig.preset(scale, system, seed=seed, **overrides), **(changes or {}))
    factory = None
    if cfg.adversarial_weight:
        factory = lambda: adversary_for(cfg)  # noqa: E731
    return train_or_load_rl(cfg, world.policy, world.anchor, world.ensemble, world.frames,
                            eval_melodies=world.eval_sets.get(f"nottingham_{cfg.eval_split}"),
                            adversary_factory=factory, name=name, use_pretrained=use_pretrained,
                            retrain=retrain, progress=progress, train_missing=train_missing, device=device,
                            stop_after=stop_after)
