"""The shipped RL runs as notebooks 04-06 read them: final rows over seeds, per-system summaries
of the shipped measurements, and (when they ship) the runs themselves."""
from __future__ import annotations

import pytest

from minigapt.rl.shipped import final_row, shipped_path, shipped_results, shipped_runs, system_summary
from minigapt.rl.train import RLRun


def _run(seed: int, harmony: float) -> RLRun:
    evals = [{"update": 0, "harmony": 0.4, "chord_vendi": 40.0}, {"update": 10, "harmony": harmony, "chord_vendi": 30.0}]
    return RLRun(policy=None, config=None, evals=evals)


def test_final_row_is_the_mean_of_each_seeds_last_evaluation():
    row = final_row([_run(0, 0.5), _run(1, 0.7)])
    assert row["harmony"] == pytest.approx(0.6) and row["chord_vendi"] == pytest.approx(30.0)
    assert "update" not in row and final_row([]) == {}


def test_system_summary_pools_a_systems_seeds_and_nothing_else():
    results = {"systems": {"gapt-seed0": {"openewld": {"harmony": 0.5}}, "gapt-seed1": {"openewld": {"harmony": 0.7}},
                           "gapt-no-adv-seed0": {"openewld": {"harmony": 0.1}}, "online-mle": {"openewld": {"harmony": 0.3}}}}
    s = system_summary(results, "gapt", "openewld")
    assert s["harmony"]["mean"] == pytest.approx(0.6) and sorted(s["harmony"]["values"]) == [0.5, 0.7]
    assert system_summary(results, "online-mle", "openewld")["harmony"]["mean"] == 0.3
    assert system_summary(results, "gapt", "heldout") is None and system_summary(results, "realchords", "openewld") is None


@pytest.mark.skipif(not shipped_path("gapt").is_file(), reason="no shipped GAPT run")
def test_the_shipped_runs_carry_their_curves_on_their_own_evaluation_set():
    runs = shipped_runs("gapt")
    assert [r.config.seed for r in runs] == sorted(r.config.seed for r in runs) and runs
    for r in runs:
        assert r.evals[0]["update"] == 0 and r.evals[-1]["update"] == r.config.updates
        assert {"harmony_triad", "chord_vendi", "chord_changes_per_sequence"} <= set(r.evals[-1])
    results = shipped_results()
    if results is not None:  # measured on melodies no model trained on, with the data's level
        assert "data" in results["systems"] and system_summary(results, "gapt", "openewld") is not None
