"""One table of presets (minigapt/presets.py): every config's preset reads it, and `override`
changes any value, nested ones by a dotted name."""
from __future__ import annotations

import pytest

from minigapt.config import SCALES
from minigapt.data.dataset import DataConfig
from minigapt.errors import MinigaptError
from minigapt.models.decoder import ModelConfig
from minigapt.presets import PRESETS, SYSTEMS, override
from minigapt.rewards.ensemble import RewardConfig
from minigapt.rl.config import RLConfig
from minigapt.train.mle import TrainConfig


@pytest.mark.parametrize("scale", SCALES)
def test_every_preset_is_its_row_of_the_table(scale):
    row = PRESETS[scale]
    for cfg, part in ((DataConfig.preset(scale), "data"), (ModelConfig.preset(scale), "model"),
                      (RewardConfig.preset(scale), "rewards"), (RLConfig.preset(scale, "gapt"), "rl"),
                      (RLConfig.preset(scale, "gapt").discriminator, "discriminator")):
        for name, value in row[part].items():
            assert getattr(cfg, name) == value, (scale, part, name)
    mle = TrainConfig.preset(scale)
    assert all(getattr(mle, k) == v for k, v in row["mle"].items() if k != "data")
    assert all(getattr(mle.data, k) == v for k, v in row["mle"].get("data", {}).items())
    for system in SYSTEMS:
        assert RLConfig.preset(scale, system).system == system


def test_override_changes_any_value_nested_ones_by_a_dotted_name():
    rl = RLConfig.preset("smoke", "gapt")
    changed = override(rl, actor_lr=0.5, **{"discriminator.tau": 0.6})
    assert changed.actor_lr == 0.5 and changed.discriminator.tau == 0.6
    assert changed.discriminator.dim == rl.discriminator.dim and rl.discriminator.tau != 0.6  # a copy
    mle = override(TrainConfig.preset("smoke"), data={"crop_frames": 48}, steps=3)
    assert mle.data.crop_frames == 48 and mle.steps == 3
    with pytest.raises(MinigaptError):
        override(rl, rule_terms=("nonsense",))
