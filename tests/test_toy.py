"""The toy world: its known answers, its reward's hole, and GAPT against the baseline in it.

The three-seed checks are the mechanism a student is shown in notebooks 04 and 05: the baseline's
diversity collapses on a reward with a hole, GAPT's comes back at no cost in true harmony, and
without the adversarial reward it does not. If GAPT stops restoring diversity here, something in
the course's GAPT code (rl/gapt.py, rl/rollout.py, rl/train.py) broke.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minigapt.music.tokens import VOCAB
from minigapt.toy.config import ToyConfig
from minigapt.toy.explorer import config_for
from minigapt.toy.reward import fit_reward
from minigapt.toy.run import SYSTEMS, run_toy
from minigapt.toy.world import TRANSITIONS, WorldConfig, chord_share, make_data, to_tokens, true_harmony

REPO = Path(__file__).resolve().parents[1]


def restored(summary: dict, system: str) -> bool:
    """The restoration check: the system's chord Vendi is at least 0.9 x the data's."""
    s = summary["systems"]
    return s[system]["chord_vendi"] >= 0.9 * s["data"]["chord_vendi"]


@pytest.fixture(scope="module")
def three_seeds():
    summary, _ = run_toy(ToyConfig(), seeds=(0, 1, 2), log=lambda line: None)
    return summary


def held(data, name: str) -> np.ndarray:
    """Every held-out melody accompanied by one chord, struck once and held."""
    y = np.full_like(data.test_y, VOCAB.chord_hold(name))
    y[:, 0] = VOCAB.chord_on(name)
    return y


def test_world_knows_its_answers():
    assert np.allclose(TRANSITIONS.sum(1), 1.0)
    cfg = WorldConfig()
    data = make_data(cfg, seed=0)
    assert data.test_x.shape == data.test_y.shape == (cfg.test_songs, cfg.frames)
    assert abs(true_harmony(data.test_x, data.test_y) - cfg.chord_tone_p) < 0.03
    # chords change on bar lines only: a bar's first frame is an onset, the rest hold it
    assert VOCAB.is_onset[data.test_y[:, ::cfg.frames_per_bar]].all()
    assert not VOCAB.is_onset[data.test_y[:, 1::cfg.frames_per_bar]].any()
    x, y = to_tokens(np.zeros((1, 2), np.int64), np.zeros((1, 8), np.int64), 4)
    assert true_harmony(x, y) == 1.0  # C over C


def test_reward_hole_pays_for_v_and_not_for_harmony():
    data = make_data(WorldConfig(), seed=0)
    reward = fit_reward(data.train_x, data.train_y, hole=ToyConfig().hole)
    x, all_v = data.test_x, held(data, "G")
    repaired = np.roll(data.test_y, 1, axis=0)
    # the learned part tells real pairs from re-paired ones, and dislikes sitting on V
    assert reward.learned(x, data.test_y).mean() > reward.learned(x, repaired).mean() + 1.0
    assert reward.learned(x, all_v).mean() < reward.learned(x, data.test_y).mean()
    # the hole: sitting on V scores above the MLE-like re-paired parts, with worse true harmony
    assert reward.score(x, all_v).mean() > reward.score(x, repaired).mean()
    assert true_harmony(x, all_v) < true_harmony(x, data.test_y) - 0.2
    assert chord_share(all_v, "G") == 1.0 and chord_share(data.test_y, "G") < 0.4
    closed = fit_reward(data.train_x, data.train_y, hole=0.0)
    assert closed.score(x, all_v).mean() < closed.score(x, repaired).mean()


def test_gapt_no_adv_is_gapt_with_adversarial_weight_zero():
    cfg = ToyConfig()
    a = cfg.rl_config("gapt-no-adv", 0)
    b = cfg.replace(adversarial_weight=0.0).rl_config("gapt", 0)
    assert a.replace(system="gapt") == b


def test_explorer_settings_reach_the_config():
    cfg = config_for({"tau": 0.5, "d_steps_per_event": 3, "kl_coef": 0.01, "adversarial_weight": 2.0})
    assert (cfg.discriminator.tau, cfg.discriminator.steps_per_event) == (0.5, 3)
    assert cfg.rl_config("gapt", 0).kl_coef == 0.01 and cfg.rl_config("gapt", 0).adversarial_weight == 2.0
    with pytest.raises(KeyError, match="unknown explorer setting"):
        config_for({"nosuch": 1})


def test_baseline_collapses(three_seeds):
    s = three_seeds["systems"]
    assert s["realchords"]["chord_vendi"] <= 0.6 * s["data"]["chord_vendi"], s


def test_gapt_restores_diversity_at_no_cost_in_harmony(three_seeds):
    s = three_seeds["systems"]
    assert restored(three_seeds, "gapt"), s
    assert s["gapt"]["harmony"] >= s["realchords"]["harmony"] - 0.01, s


def test_without_the_adversarial_reward_the_restoration_check_fails(three_seeds):
    assert not restored(three_seeds, "gapt-no-adv"), three_seeds["systems"]


def test_cli_json_keys():
    r = subprocess.run([sys.executable, "-m", "minigapt", "toy", "--seeds", "1", "--updates", "2", "--json"],
                       cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out["systems"]) == set(SYSTEMS) and isinstance(out["seconds"], float)
    for name, figures in out["systems"].items():
        assert {"harmony", "chord_vendi", "reward"} <= set(figures), name
        assert ("d_accuracy" in figures) == (name in ("gapt", "gapt-no-adv")), name
    assert len(r.stderr.strip().splitlines()) == len(SYSTEMS) - 1  # a progress line per trained system


@pytest.mark.parametrize("args, expect", [(["--seeds", "0"], "--seeds must be at least 1"),
                                          (["--updates", "0"], "--updates must be at least 1")])
def test_cli_bad_input_is_one_line(args, expect):
    r = subprocess.run([sys.executable, "-m", "minigapt", "toy", *args, "--json"], cwd=REPO,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0] == f"error: {expect}"
