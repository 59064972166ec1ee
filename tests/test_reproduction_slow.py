"""Opt-in (-m slow): the course-scale reproduction, checked against the paper's Table 1 ordering.

Trains (or loads: your runs/course/ first, then the shipped checkpoints) the online MLE, the
ReaLchords baseline, GAPT w/o adversarial and GAPT at course scale, seed 0, and evaluates them
on the fixed Nottingham test melodies (102 x 2 sampling seeds, first 128 frames), as notebooks
04-06 do. Each of the paper's claims is one test. Claims that this course-scale reproduction
does not meet (measured and explained in the README's Results) are marked xfail(strict=True):
if one starts to hold, the test reports it, so the README can be corrected, never silently.
Minutes with trained or shipped models; hours of one core when everything must be trained.
"""
from __future__ import annotations

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]

NOT_AT_COURSE = "not reproduced at course scale on a CPU (README, Results)"


@pytest.fixture(scope="module")
def table1():
    from minigapt.rl.evaluation import EVAL_SEED, evaluate_policy
    from minigapt.rl.experiment import load_world, train_system

    world = load_world("course", progress=False)
    x = world.eval_sets["nottingham_test"]
    out = {"online-mle": evaluate_policy(world.policy, x, world.ensemble, samples=2, seed=EVAL_SEED)}
    for system in ("realchords", "gapt-no-adv", "gapt"):
        run = train_system(system, "course", seed=0, world=world, progress=False)
        out[system] = evaluate_policy(run.policy, x, world.ensemble, samples=2, seed=EVAL_SEED,
                                      mask_invalid=run.config.mask_invalid)
    return out


def test_rl_raises_harmony_above_the_mle(table1):
    assert table1["realchords"]["harmony"] >= table1["online-mle"]["harmony"] + 0.05


def test_rl_without_adversary_loses_diversity(table1):
    for system in ("realchords", "gapt-no-adv"):
        assert table1[system]["vendi"] < table1["online-mle"]["vendi"], system


@pytest.mark.xfail(strict=True, reason=NOT_AT_COURSE)
def test_gapt_restores_diversity(table1):
    assert table1["gapt"]["vendi"] >= 1.25 * table1["gapt-no-adv"]["vendi"]


@pytest.mark.xfail(strict=True, reason=NOT_AT_COURSE)
def test_gapt_keeps_harmony(table1):
    assert table1["gapt"]["harmony"] >= table1["gapt-no-adv"]["harmony"] - 0.01
