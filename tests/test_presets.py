"""One table of presets (minigapt/presets.py): every config's preset reads it, and `override`
changes any value, nested ones by a dotted name."""
from __future__ import annotations

import pytest

from minigapt.config import SCALES
from minigapt.data.dataset import DataConfig
from minigapt.errors import MinigaptError
from minigapt.models.decoder import ModelConfig
from minigapt.presets import PRESETS, RUNS, SUPERVISED_PARTS, SYSTEMS, override, parse_changes, supervised_scale
from minigapt.rewards.ensemble import RewardConfig
from minigapt.rl.config import RLConfig
from minigapt.train.mle import TrainConfig


@pytest.mark.parametrize("scale", SCALES)
def test_every_preset_is_its_row_of_the_table(scale):
    row = {**PRESETS[scale], **{part: PRESETS[supervised_scale(scale)][part] for part in SUPERVISED_PARTS}}
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


def test_the_ship_scale_post_trains_the_course_models_with_its_own_rl():
    assert TrainConfig.preset("ship") == TrainConfig.preset("course")  # the same MLE recipe: its checkpoints serve
    assert RewardConfig.preset("ship") == RewardConfig.preset("course")
    ship, course = RLConfig.preset("ship", "gapt"), RLConfig.preset("course", "gapt")
    assert ship.scale == "ship" and ship.epochs > course.epochs
    assert ship.reward_types == ("contrastive", "discriminative") and ship.eval_split == "valid"
    assert supervised_scale("smoke") == "smoke" and supervised_scale("ship") == "course"


def test_named_runs_are_rows_of_the_table():
    from minigapt.rl.systems import REGISTRY, config_for

    assert list(REGISTRY) == list(RUNS)
    assert config_for("gapt-tau06", "course").discriminator.tau == 0.6
    assert config_for("gapt-tau06", "course").discriminator.dim == RLConfig.preset("course", "gapt").discriminator.dim
    assert config_for("gapt-always", "course").discriminator.warmup_updates == RLConfig.preset("course", "gapt").updates
    assert config_for("realchords-long", "course").updates == 2 * RLConfig.preset("course", "realchords").updates
    assert config_for("gapt-no-rules", "smoke").mask_invalid is False


def test_cli_and_notebook_changes_map_onto_override():
    changes = parse_changes(["rl.updates=60", "discriminator.tau=0.6", "reward_types=('contrastive',)",
                             "system=gapt"])
    assert changes == {"updates": 60, "discriminator.tau": 0.6, "reward_types": ("contrastive",), "system": "gapt"}
    cfg = override(RLConfig.preset("smoke", "gapt"), **changes)
    assert cfg.updates == 60 and cfg.discriminator.tau == 0.6 and cfg.reward_types == ("contrastive",)
    with pytest.raises(MinigaptError, match="NAME=VALUE"):
        parse_changes(["updates"])
    with pytest.raises(MinigaptError, match="no field 'updatez'"):
        override(cfg, updatez=3)
