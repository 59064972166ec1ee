"""The store's one rule (minigapt/store.py): a checkpoint stands in for a config when the
config's recipe and the fingerprints of what it was trained from match; shipped checkpoints
pass through the same rule as your runs."""
from __future__ import annotations

import pytest

from minigapt.agents.melody import melody_train_config
from minigapt.agents.melody_rl import melody_rl_config
from minigapt.models.checkpoint import load_checkpoint, shipped_dir
from minigapt.rewards.ensemble import RewardConfig, config_dict, fingerprint, load_ensemble
from minigapt.rl import train as rl_train
from minigapt.rl.systems import config_for
from minigapt.store import recipe, same_recipe
from minigapt.train import mle
from minigapt.train.mle import TrainConfig


def test_the_same_config_and_sources_match_and_any_difference_does_not():
    cfg = {"lr": 1e-3, "steps": (1, 2)}
    assert recipe(cfg) == recipe({"steps": [1, 2], "lr": 1e-3})  # as JSON data, key order aside
    assert same_recipe(cfg, dict(cfg), {"rewards": "abc"}, {"rewards": "abc"})
    assert not same_recipe(cfg, {**cfg, "lr": 1.0})
    assert not same_recipe(cfg, cfg, {"rewards": "abc"}, {"rewards": "def"})
    assert not same_recipe(cfg, cfg, {}, {"rewards": "def"})  # trained from nothing recorded: not the same
    assert same_recipe(cfg, cfg, {}, {"rewards": None})  # a stand-in without a fingerprint asks nothing


@pytest.mark.skipif(not (shipped_dir() / "rewards.pt").is_file(), reason="no shipped checkpoints")
def test_every_shipped_checkpoint_is_what_its_config_would_train():
    for name, kind, cfg in (("online-mle", "online", TrainConfig.preset("course")),
                            ("offline-anchor", "offline", TrainConfig.preset("course")),
                            ("melody-mle", "melody", melody_train_config("course"))):
        ckpt = load_checkpoint(shipped_dir() / f"{name}.pt", kind=kind)
        assert same_recipe(mle._normalised(ckpt.train_config, kind), mle._normalised(cfg, kind)), name
    ensemble = load_ensemble(shipped_dir() / "rewards.pt")
    assert same_recipe(config_dict(ensemble.cfg), config_dict(RewardConfig.preset("course")))
    rewards = {"reward_ensemble": fingerprint(ensemble)}
    for path in sorted(shipped_dir().glob("*.pt")):
        if path.name.endswith(".discriminator.pt") or path.stem in ("rewards", "online-mle", "offline-anchor",
                                                                       "melody-mle"):
            continue
        name, _, seed = path.stem.partition("-seed")
        seed = int(seed or 0)
        kind = "melody" if name.startswith("melody") else "online"
        ckpt = load_checkpoint(path, kind=kind)
        scale = (ckpt.train_config or {}).get("scale")  # the RL runs ship from the ship scale
        assert scale in ("course", "ship"), path.name
        cfg = melody_rl_config(scale, seed) if kind == "melody" else config_for(name, scale, seed)
        assert same_recipe(rl_train._normalised(ckpt.train_config), rl_train._normalised(cfg), ckpt.meta,
                           rewards), path.name
