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


def test_the_validation_file_holds_every_shipped_system_and_its_drift_adds_up():
    from math import log

    from minigapt.rl.shipped import shipped_validation
    v = shipped_validation()
    assert v is not None and v["split"] == "valid"
    runs = v["runs"]
    for system in ("realchords", "gapt-no-adv", "gapt"):  # the shipped recipes, 3 seeds each, unchanged
        assert sorted(r["seed"] for r in runs if r["system"] == system and not r["changes"]) == [0, 1, 2]
    for r in runs:
        assert abs(r["drift"] - abs(log(r["chord_vendi_vs_data"])) - abs(log(r["changes_vs_data"]))) < 1e-9, r["run"]
        assert r["harmony_triad"] <= r["harmony"] + 1e-9
    assert len({r["run"] for r in runs}) == len(runs)


def test_a_gapt_setting_is_judged_against_the_baseline_trained_as_it_was():
    from minigapt.rl.shipped import own_baseline

    def run(name, system, **changes):
        return dict(run=name, system=system, changes=changes)
    runs = [run("rc", "realchords"), run("rc-kl", "realchords", kl_coef=0.01), run("g-kl", "gapt", kl_coef=0.01)]
    # D's settings and R_adv's weight are GAPT's own; the KL is shared
    own, found = own_baseline(runs, {"kl_coef": 0.01, "adversarial_weight": 2, "discriminator.dense": True})
    assert found and [r["run"] for r in own] == ["rc-kl"]
    own, found = own_baseline(runs, {"adversarial_weight": 2})
    assert found and [r["run"] for r in own] == ["rc"]
    own, found = own_baseline(runs, {"entropy_coef": 0.01})  # no baseline trained so: the unchanged one
    assert not found and [r["run"] for r in own] == ["rc"]


def test_the_shipped_ablation_file_has_its_controls_and_the_datas_row():
    from minigapt.rl.shipped import shipped_file
    a = shipped_file("course-ablations.json")
    if a is None:
        pytest.skip("no shipped course-scale ablation measurement in this checkout")
    t = a["table1"]
    for name in ("gapt", "gapt-no-adv", "gapt-coh2", "gapt-rules2", "gapt-adv2", "gapt-no-rules", "gapt-invalid-only",
                 "grpo", "grpo-adv", "gapt-dxy", "ground truth"):
        assert set(t[name]) == set(a["eval_sets"]), name
    for set_name in a["eval_sets"]:
        assert t["ground truth"][set_name]["vendi_vs_data"]["mean"] == 1.0
        assert all(0 < t[n][set_name]["harmony"]["mean"] < 1 for n in t)
