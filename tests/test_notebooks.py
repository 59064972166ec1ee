"""Notebook smoke runs (every notebooks/*.ipynb at SCALE=smoke through papermill) and the
machinery behind them: minigapt.course and minigapt.notebook_tools."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from minigapt import course
from minigapt.errors import MinigaptError
from minigapt.notebook_tools import check, check_implementation, out_dir, read_results, to_jsonable, write_results

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))

# Keys each notebook's results.json must hold at smoke scale (notebook stem -> keys).
SMOKE_CELL_TIMEOUT_S = 600  # a hung cell fails its test instead of stalling CI

EXPECTED_KEYS: dict[str, set[str]] = {
    "01_tokenization": {"scale", "datasets", "vocab", "split_sizes", "example", "round_trip_ok",
                        "batch_shape", "audio_backend"},
    "02_mle": {"scale", "eval_frames", "test_sets", "offline_minus_online", "perturbation", "parameters",
               "train_seconds", "load_or_train_seconds", "checkpoints", "paper_reference"},
    "03_reward_models": {"scale", "components", "test_crops", "retrieval", "classification", "pair_rewards",
                         "trivial", "any_hack_at_least_real", "diversity", "against_chance", "train_seconds",
                         "metric_test", "metric_checks"},
    "04_naive_rl": {"scale", "seeds", "systems", "eval_set", "final", "curves", "diversity_drop", "remeasured",
                    "hacks", "train_seconds", "paper_reference", "configs", "trivial_comparison"},
    "05_gapt": {"scale", "seeds", "systems", "final", "pareto", "frontier_gap", "d_updates", "d_scores",
                "value_curves", "closing", "train_seconds", "configs", "paper_reference"},
    "06_evaluation": {"scale", "seeds", "ablation_seeds", "systems", "ablations", "eval_sets", "table1", "table6", "table7",
                      "table8", "table9", "table10", "pareto", "tsne", "perturbation", "long_sequences", "agent", "claims",
                      "train_seconds", "configs", "paper_reference", "late_changes"},
    "07_live_jam": {"scale", "interactive", "models", "jam", "sessions", "frames", "listen_frames", "tasks",
                    "modulation", "adaptation", "key_fit", "timing", "plan_example", "files"},
}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[nb.name for nb in NOTEBOOKS])
def test_notebook_runs_at_smoke_scale(path, tmp_path):
    out = tmp_path / "out"
    params = course.notebook_parameters(path, "smoke", out)
    try:
        course.run_notebook(path, tmp_path / path.name, params, cell_timeout=SMOKE_CELL_TIMEOUT_S)
    except MinigaptError as err:
        pytest.fail(str(err), pytrace=False)
    results_file = out / "results.json"
    assert results_file.is_file(), f"{path.name} wrote no results.json into OUT_DIR"
    results = json.loads(results_file.read_text())
    assert isinstance(results, dict) and results, f"{path.name}: results.json is not a non-empty object"
    missing = EXPECTED_KEYS.get(path.stem, set()) - set(results)
    assert not missing, f"{path.name}: results.json lacks {sorted(missing)}"
    check_values = VALUE_CHECKS.get(path.stem)
    if check_values:
        check_values(results)


def _check_01(r: dict) -> None:
    assert r["scale"] == "smoke" and r["round_trip_ok"] is True
    assert r["datasets"], "no dataset parsed"
    for name, d in r["datasets"].items():
        assert 0 < d["songs_kept"] <= d["songs_found"], name
        assert d["songs_found"] == d["songs_kept"] + sum(d["skipped"].values()), name
        assert d["frames"] > 0 and d["distinct_chords"] > 0, name
    assert r["vocab"]["size"] == 4 + 2 * 88 + 2 * r["vocab"]["n_chords"]
    assert r["example"]["n_tokens"] == 2 * r["example"]["n_frames"] + 2
    assert r["batch_shape"][1] == 2 * 64 + 2  # smoke crops are 64 frames


def _check_02(r: dict) -> None:
    assert r["scale"] == "smoke" and r["eval_frames"] == 64  # smoke crops are 64 frames
    assert r["test_sets"], "no test set evaluated"
    for name, t in r["test_sets"].items():
        assert 0 < t["melodies"] and 0 < t["frames"] <= t["melodies"] * r["eval_frames"], name
        h = t["harmony"]
        assert set(h) == {"ground_truth", "online", "offline"}, name
        assert all(v is not None and 0 <= v <= 1 for v in h.values()), (name, h)
        assert h["ground_truth"] > 0.4, (name, h)  # real chords fit their melodies
        assert abs(r["offline_minus_online"][name] - (h["offline"] - h["online"])) < 1e-9, name
    p = r["perturbation"]
    assert 0 < p["from_frame"] < r["eval_frames"] and p["semitones"] == 6
    assert p["melodies"] > 0 and p["samples"] >= 1
    n_beats, cut, bar = r["eval_frames"] // 4, p["from_frame"] // 4, p["beats_per_bar"]
    assert set(p["curves"]) == set(p["summary"]) >= {"online-mle", "offline"}
    for name, curve in p["curves"].items():
        assert len(curve) == n_beats and all(v is None or 0 <= v <= 1 for v in curve), name
        # the summary is the mean of the curve over its windows
        for key, (lo, hi) in {"before": (cut - bar, cut), "first_bar_after": (cut, cut + bar),
                              "rest_after": (cut + bar, n_beats)}.items():
            part = [v for v in curve[lo:hi] if v is not None]
            got = p["summary"][name][key]
            assert (got is None) if not part else abs(got - sum(part) / len(part)) < 1e-9, (name, key)
    assert set(r["parameters"]) == {"online", "offline"} and all(v > 1000 for v in r["parameters"].values())
    assert all(v is None or v > 0 for v in r["train_seconds"].values())
    assert all(v >= 0 for v in r["load_or_train_seconds"].values())
    assert r["paper_reference"] == {"nottingham": {"ground truth": 0.727, "online MLE": 0.368},
                                    "openewld": {"ground truth": 0.784, "online MLE": 0.362}}


def _check_03(r: dict) -> None:
    assert r["scale"] == "smoke"
    m = r["metric_test"]
    assert {"real chords", "tonic held", "tonic-dominant", "most frequent chord held"} <= set(m)
    for name, row in m.items():
        low, high = row["chord_vendi_ci"]
        assert 1 - 1e-9 <= low <= row["chord_vendi"] <= high, name
        assert row["harmony_triad"] <= row["harmony"] + 1e-9, name  # a triad never holds more notes
    assert m["tonic held"]["chord_vendi"] < m["real chords"]["chord_vendi"]
    assert set(r["metric_checks"]) == {"paper Vendi", "chord Vendi"}
    kinds = {n.split("/")[0] for n in r["components"]}
    assert kinds == {"contrastive", "discriminative", "rhythm_contrastive", "rhythm_discriminative"}
    n = r["test_crops"]
    assert n >= 2 and sum(r["test_sources"].values()) == n
    assert set(r["retrieval"]) == {c for c in r["components"] if c.split("/")[0].endswith("contrastive")}
    for name, t in r["retrieval"].items():
        assert t["n"] == n, name
        for direction in ("melody_to_chords", "chords_to_melody"):
            d = t[direction]
            assert 0 <= d["R@1"] <= d["R@5"] <= d["R@10"] <= 1, (name, d)
            assert d["R@1"] <= d["mAP@10"] <= 1, (name, d)  # 1/rank is 1 on every R@1 hit
        assert t["chance"]["R@1"] == min(1 / n, 1.0) and t["chance"]["R@10"] == min(10 / n, 1.0)
    assert set(r["classification"]) == {c for c in r["components"] if c.split("/")[0].endswith("discriminative")}
    for name, fakes in r["classification"].items():
        assert set(fakes) == ({"re-paired", "shifted"} if name.startswith("rhythm") else {"re-paired"}), name
        for c in fakes.values():
            assert c["n_true"] == n and c["n_fake"] == n
            assert all(0 <= c[k] <= 1 for k in ("precision", "recall", "f1", "accuracy"))
            p, q = c["precision"], c["recall"]
            assert abs(c["f1"] - (2 * p * q / (p + q) if p + q else 0.0)) < 1e-9
    assert set(r["pair_rewards"]) == {"true pairs", "re-paired", "random chords"}
    assert all(isinstance(v, float) for v in r["pair_rewards"].values()), "R_coh must be finite (JSON null if not)"
    t = r["trivial"]
    assert {"real chords", "tonic held", "best held triad", "best triad struck every bar", "tonic-dominant",
            "most frequent chord of the key", "random chords"} == set(t)
    hacks = [k for k in t if k not in ("real chords", "random chords")]
    # "some hack >= real" holds for a melody whenever one particular hack does
    assert max(t[k]["share_at_least_real"] for k in hacks) <= r["any_hack_at_least_real"] <= 1
    assert t["real chords"]["share_at_least_real"] == 1.0
    # the best held triad is searched over the tonic's triad too: never below the tonic held
    assert t["best held triad"]["r_coh"] >= t["tonic held"]["r_coh"] - 1e-4
    assert abs(t["real chords"]["r_coh"] - r["pair_rewards"]["true pairs"]) < 1e-3
    for v in t.values():
        assert 0 <= v["harmony"] <= 1 and v["penalty"] <= 0 and 0 <= v["share_at_least_real"] <= 1
    d = r["diversity"]
    assert d["best held triad"]["distinct_chords_per_sequence"] == 1.0
    assert all(1 - 1e-6 <= v["vendi"] <= n + 1e-6 for v in d.values())  # between 1 and the number of rows
    assert r["against_chance"] and all(0 <= v <= 50 for v in r["against_chance"].values())
    assert all(v > 0 for v in r["train_seconds"].values())


def _check_04(r: dict) -> None:
    assert r["scale"] == "smoke" and r["seeds"] == [0]
    systems = r["systems"]
    assert systems == ["realchords", "gapt-no-adv"]
    rm = r["remeasured"]
    assert set(rm) == {"data", "held tonic", "tonic-dominant", "online-mle", *systems}
    assert rm["held tonic"]["chord_changes_per_sequence"]["mean"] == 0
    for name, m in rm.items():
        assert m["harmony_triad"]["mean"] <= m["harmony"]["mean"] + 1e-9, name
        assert len(m["chord_vendi"]["values"]) == (len(r["seeds"]) if name in systems else 1), name
    for name, h in r["hacks"].items():  # the ratios behind each sentence are the table's
        assert abs(h["chord_vendi_vs_data"] - rm[name]["chord_vendi"]["mean"] / rm["data"]["chord_vendi"]["mean"]) < 1e-9
        assert abs(h["triad_gain"] - (rm[name]["harmony_triad"]["mean"] - rm["online-mle"]["harmony_triad"]["mean"])) < 1e-9
        assert h["summary"]
    assert set(r["final"]) == {"online-mle", "ground truth", *systems}
    measures = {"harmony", "coherence", "rules", "vendi", "histogram_entropy", "distinct_chords_per_sequence",
                "chord_changes_per_sequence", "longest_hold"}
    n_seeds = len(r["seeds"])
    for name, f in r["final"].items():
        assert set(f) == measures, name
        for k, s in f.items():
            vals = s["values"]
            assert len(vals) == (1 if name == "ground truth" else n_seeds), (name, k)
            assert abs(s["mean"] - sum(vals) / len(vals)) < 1e-9, (name, k)
            assert (s["sd"] is None) == (len(vals) == 1), (name, k)
        assert 0 <= f["harmony"]["mean"] <= 1 and f["rules"]["mean"] <= 0, name
        assert f["vendi"]["mean"] >= 1 - 1e-6 and f["distinct_chords_per_sequence"]["mean"] >= 1, name
    assert r["final"]["ground truth"]["harmony"]["mean"] > 0.4  # real chords fit their melodies
    e = r["eval_set"]
    assert 0 < e["frames"] <= e["melodies"] * e["max_frames"] and e["max_frames"] == 32  # smoke eval crops
    for system in systems:
        cfg = r["configs"][system]
        assert cfg["scale"]["system"] == cfg["paper"]["system"] == system and cfg["paper"]["updates"] == 1000
        assert (cfg["scale"]["entropy_coef"] > 0) == (system == "gapt-no-adv")
        assert len(r["curves"][system]) == n_seeds and len(r["train_seconds"][system]) == n_seeds
        assert all(v >= 0 for v in r["train_seconds"][system])
        for i, rows in enumerate(r["curves"][system]):
            updates = [row["update"] for row in rows]
            assert updates[0] == 0 and updates == sorted(set(updates)), (system, updates)
            assert updates[-1] == cfg["scale"]["updates"], (system, updates)
            for k in measures:  # the table is the curves' ends: update 0 the MLE, the last the RL policy
                assert abs(rows[-1][k] - r["final"][system][k]["values"][i]) < 1e-9, (system, k)
                assert abs(rows[0][k] - r["final"]["online-mle"][k]["values"][i]) < 1e-9, (system, k)
        drop = r["diversity_drop"][system]
        mle, rl = r["final"]["online-mle"], r["final"][system]
        for k, v in drop.items():
            m, x = mle[k]["mean"], rl[k]["mean"]
            assert abs(v - ((x - m) / m if k == "longest_hold" else (m - x) / m)) < 1e-9, (system, k)
    tc = r["trivial_comparison"]
    assert set(tc) == {"ground truth", "online-mle", "best held triad", *systems}
    assert tc["best held triad"]["distinct_chords_per_sequence"] == 1.0
    assert tc["best held triad"]["share_r_coh_at_least_best_held_triad"] == 1.0
    assert tc["ground truth"]["share_r_coh_at_least_real"] == 1.0
    assert abs(tc["ground truth"]["harmony"] - r["final"]["ground truth"]["harmony"]["mean"]) < 1e-9
    for v in tc.values():
        assert 0 <= v["harmony"] <= 1 and 0 <= v["longest_hold_share"] <= 1 + 1e-9
    assert r["paper_reference"]["harmony"] == {"online-mle": 0.368, "realchords": 0.484, "gapt-no-adv": 0.476,
                                               "ground truth": 0.727}


def _check_05(r: dict) -> None:
    assert r["scale"] == "smoke" and r["seeds"] == [0]
    systems, n_seeds = r["systems"], len(r["seeds"])
    assert systems == ["gapt", "gapt-no-adv"] and r["collapsed"]["system"] == "realchords"
    cfg = {s: r["configs"][s]["scale"] for s in systems}
    assert cfg["gapt"]["adversarial_weight"] > 0 and cfg["gapt-no-adv"]["adversarial_weight"] == 0
    assert {k for k in cfg["gapt"] if cfg["gapt"][k] != cfg["gapt-no-adv"][k]} == {"system", "adversarial_weight"}
    assert r["configs"]["gapt"]["paper"]["updates"] == 1000
    assert "nottingham_test" in r["final"] and set(r["final"]) == set(r["eval_sets"]) <= {"nottingham_test", "pop909_test", "openewld"}
    rows = {"online-mle", "realchords", "ground truth", *systems}
    for set_name, f in r["final"].items():
        assert set(f) == rows, set_name
        for name, m in f.items():
            assert {"harmony", "vendi", "histogram_entropy", "distinct_chords_per_sequence",
                    "chord_changes_per_sequence", "longest_hold"} <= set(m), (set_name, name)
            for k, s in m.items():
                vals = [v for v in s["values"] if v is not None]
                assert len(s["values"]) == (n_seeds if name in systems else 1), (set_name, name, k)
                assert not vals or abs(s["mean"] - sum(vals) / len(vals)) < 1e-9, (set_name, name, k)
            assert 0 <= m["harmony"]["mean"] <= 1 and m["vendi"]["mean"] >= 1 - 1e-6, (set_name, name)
        assert f["ground truth"]["harmony"]["mean"] > 0.4, set_name  # real chords fit their melodies
    # the Pareto data are the runs' evaluations: start at update 0 (the shared MLE), end at the last update
    updates_total = cfg["gapt"]["updates"]
    starts = set()
    for system in systems:
        assert len(r["pareto"][system]) == n_seeds
        for i, pts in enumerate(r["pareto"][system]):
            updates = [p[0] for p in pts]
            assert updates[0] == 0 and updates[-1] == updates_total and updates == sorted(set(updates)), system
            starts.add((round(pts[0][1], 4), round(pts[0][2], 4)))
            # the Pareto points are the run's own evaluations (one sample per melody); the final table
            # re-measures the same policy with two, so they agree only within sampling noise
            assert 0 <= pts[-1][1] <= 1 and len(r["final"]["nottingham_test"][system]["harmony"]["values"]) == n_seeds
    assert len(starts) == 1, "every run starts from the same online MLE evaluation"
    g = r["frontier_gap"]
    n_ckpt = sum(len(pts) - 1 for pts in r["pareto"]["gapt"])
    assert g["matched"] + g["beyond_baseline_harmony"] + g["below_baseline_harmony"] == n_ckpt
    assert len(g["checkpoints"]) == g["matched"]
    for c in g["checkpoints"]:
        assert abs(c["gap"] - (c["vendi"] - c["baseline_vendi"])) < 1e-9
    if g["matched"]:
        assert abs(g["mean"] - sum(c["gap"] for c in g["checkpoints"]) / g["matched"]) < 1e-9
    front = g["baseline_frontier"]
    assert [p[0] for p in front] == sorted(p[0] for p in front)
    assert [p[1] for p in front] == sorted((p[1] for p in front), reverse=True)  # a frontier trades one for the other
    d = r["d_updates"]
    assert set(d["per_seed"]) == {str(s) for s in r["seeds"]}
    for seed, c in d["per_seed"].items():
        assert c is not None, f"seed {seed}: no D counters"
        assert c["warmup_events"] == r["d_schedule"]["smoke"]["warmup_events"]  # the cadence is deterministic
        assert c["warmup_steps"] == c["warmup_events"] * r["d_schedule"]["smoke"]["steps_per_event"]
        assert c["gated_steps"] == c["gated_events"] * r["d_schedule"]["smoke"]["steps_per_event"]
    assert d["paper"] == {"warmup_events": 40, "gated_events": 27, "warmup_steps": 320, "gated_steps": 216}
    ds = r["d_scores"]
    assert ds is not None, "the GAPT run saved no discriminator"
    assert set(ds) == {"ground truth", "online-mle", "realchords", "gapt-no-adv", "gapt"}
    for s in ds.values():
        assert 0 <= s["mean_d"] <= 1 and 0 <= s["share_judged_real"] <= 1 and s["mean_r_adv"] >= 0
    vc = r["value_curves"]
    assert set(systems) <= set(vc) and len(vc["difference"]) == len(vc["gapt"]["update"])
    for system in systems:
        assert len(vc[system]["per_seed"]) == n_seeds
    assert set(r["closing"]) == set(r["final"])
    for set_name, c in r["closing"].items():  # each drift is computed from the final table's numbers
        f = r["final"][set_name]
        data = f["ground truth"]
        for name, d in c.items():
            want = (abs(math.log(f[name]["chord_vendi"]["mean"] / data["chord_vendi"]["mean"]))
                    + abs(math.log(max(f[name]["chord_changes_per_sequence"]["mean"], 1e-9)
                                   / max(data["chord_changes_per_sequence"]["mean"], 1e-9))))
            assert abs(d["drift"] - want) < 1e-9 and d["drift"] >= 0, (set_name, name)
        assert all(f[n]["harmony_triad"]["mean"] <= f[n]["harmony"]["mean"] + 1e-9 for n in c)
    assert len(r["train_seconds"]["gapt"]) == n_seeds and all(v >= 0 for v in r["train_seconds"]["gapt"])
    assert r["paper_reference"]["table1"]["gapt"]["nottingham_test"] == {"harmony": 0.497, "vendi": 26.645,
                                                                         "vendi_vs_data": 26.645 / 27.922}
    from minigapt.rl.shipped import shipped_results, system_summary
    table = shipped_results()
    if table is not None and "chord_changes_inside_notes" in table["systems"]["data"]["openewld"]:
        late = r["shipped"]["changes_inside_held_notes_openewld"]
        m = system_summary(table, "gapt", "openewld")  # the notebook's share is the file's means, divided
        assert abs(late["gapt"] - m["chord_changes_inside_notes"]["mean"] / m["chord_changes_per_sequence"]["mean"]) < 1e-9
        assert all(0 <= v <= 1 for v in late.values()) and "the data's chords" in late


def _check_06(r: dict) -> None:
    from minigapt.rl.systems import REGISTRY

    assert r["scale"] == "smoke" and r["seeds"] == [0] and r["ablation_seeds"] == [0]
    systems, ablations = r["systems"], r["ablations"]
    assert systems == ["realchords", "gapt-no-adv", "gapt", "grpo", "grpo-adv", "gapt-dxy"]
    assert ablations == ["gapt-coh2", "gapt-rules2", "gapt-adv2", "gapt-no-rules", "gapt-invalid-only"]
    sets = set(r["eval_sets"])
    assert "nottingham_test" in sets <= {"nottingham_test", "openewld"}
    t1 = r["table1"]
    assert set(t1) == {"online-mle", "ground truth", *systems, *ablations}
    for name, by_set in t1.items():
        assert set(by_set) == sets, name
        n = len(r["seeds"]) if name in systems else len(r["ablation_seeds"]) if name in ablations else 1
        for set_name, m in by_set.items():
            assert {"harmony", "vendi", "vendi_vs_data", "pitch_classes_per_chord", "wrong_kind_frames", "stray_hold_frames",
                    "invalid_sequences", "distinct_chords_per_sequence", "longest_hold"} <= set(m), (name, set_name)
            for k, s in m.items():
                vals = [v for v in s["values"] if v is not None]
                assert len(s["values"]) == n, (name, set_name, k)
                assert not vals or abs(s["mean"] - sum(vals) / len(vals)) < 1e-9, (name, set_name, k)
                assert (s["sd"] is None) == (len(vals) < 2), (name, set_name, k)
            assert 0 <= m["harmony"]["mean"] <= 1 and m["vendi"]["mean"] >= 1 - 1e-6, (name, set_name)
            assert 0 <= m["invalid_sequences"]["mean"] <= 1 and 0 <= m["wrong_kind_frames"]["mean"] <= 1
        if name not in REGISTRY or REGISTRY[name].overrides.get("mask_invalid", True):  # masked: never ill-formed
            assert all(by_set[s]["wrong_kind_frames"]["mean"] == 0 == by_set[s]["stray_hold_frames"]["mean"]
                       for s in sets), name
    for set_name in sets:
        gt = t1["ground truth"][set_name]
        assert gt["harmony"]["mean"] > 0.4 and gt["vendi_vs_data"]["mean"] == 1.0  # real chords fit their melodies
        assert 2.5 < gt["pitch_classes_per_chord"]["mean"] < 4.5
    # parts with their late changes taken back: the played rows are table 1's, and taking back
    # never adds a change
    for set_name, rows in r["late_changes"].items():
        for name, kinds in rows.items():
            played, back = kinds["played"], kinds["taken back"]
            assert abs(played["harmony_triad"] - t1[name][set_name]["harmony_triad"]["mean"]) < 1e-9, (name, set_name)
            assert back["chord_changes_per_sequence"] <= played["chord_changes_per_sequence"] + 1e-9, (name, set_name)
    assert set(r["late_changes"]) == sets and {"online-mle", "realchords", "gapt"} <= set(r["late_changes"]["nottingham_test"])
    # the other tables are views of table 1
    for key, names in (("table6", systems), ("table7", ["gapt", *ablations]),
                       ("table8", ["gapt-no-adv", "gapt", "grpo", "grpo-adv"]), ("table9", ["gapt-no-adv", "gapt", "gapt-dxy"])):
        assert set(r[key]) == set(names), key
        for name, by_set in r[key].items():
            for set_name, m in by_set.items():
                for k, s in m.items():
                    assert s == t1[name][set_name][k], (key, name, set_name, k)
    for name, by_set in r["table10"].items():
        for set_name, s in by_set.items():
            assert s == t1[name][set_name]["pitch_classes_per_chord"], (name, set_name)
    for set_name, p in r["pareto"].items():
        assert set(p["frontier"]) <= set(p["points"]) and p["frontier"], set_name
        for name, (h, v) in p["points"].items():
            assert h == t1[name][set_name]["harmony"]["mean"] and v == t1[name][set_name]["vendi"]["mean"]
        assert set(p["paper_frontier"]) == ({"online-mle", "gapt"} if set_name == "nottingham_test"
                                            else {"online-mle", "realchords", "gapt", "grpo-adv"})
    ts = r["tsne"]
    n_pts = ts["info"]["per_system"]
    assert set(ts["coordinates"]) == set(n_pts) == {"ground truth", "online-mle", "realchords", "gapt-no-adv", "gapt"}
    for name, xy in ts["coordinates"].items():
        assert len(xy) == n_pts[name] > 0 and all(len(p) == 2 and None not in p for p in xy), name
    assert len(set(n_pts.values())) == 1 and all(0 < c <= 1 for c in ts["occupied_cells"].values())
    pert = r["perturbation"]
    n_beats = r["eval_sets"]["nottingham_test"]["max_frames"] // 4
    assert pert["steps"]["none"] == [] and len(pert["steps"]["multi"]) == 3 and pert["steps"]["single"][0][1] == 6
    assert [s[1] for s in pert["steps"]["multi"]] == [6, 4, -10]
    for variant, curves in pert["curves"].items():
        assert set(curves) == {"online-mle", "realchords", "gapt-no-adv", "gapt"}, variant
        for name, per_seed in curves.items():
            assert len(per_seed) == (1 if name == "online-mle" else len(r["seeds"])) and all(len(c) == n_beats for c in per_seed)
    for variant in ("single", "multi"):
        for name, cuts in pert["summary"][variant].items():
            assert [c["beat"] for c in cuts] == [f // 4 for f, _ in pert["steps"][variant]], (variant, name)
    ls = r["long_sequences"]
    assert ls["frames"] == 2 * ls["context_frames"] == 128  # smoke: a 64-frame context
    assert ls["results"], "no long melody found"
    for set_name, by_name in ls["results"].items():
        for name, res in by_name.items():
            assert res["agree_before_context"] == 1.0, (set_name, name)
            for mode in ("window", "naive"):
                assert len(res[mode]["curve"]) == ls["frames"] // 16 and 0 <= res[mode]["beyond_context"] <= 1
    assert r["agent"]["available"] in (True, False) and r["agent"]["paper"]["gapt"] == {"harmony": 0.648, "vendi": 12.914}
    ag = r["agent"]  # smoke trains what is missing: the MLE agent and the RL agent both play
    assert ag["agents"] == ["melody-mle", "melody-gapt"] and not ag["missing"]
    assert ag["systems"] == ["online-mle", "realchords", "gapt-no-adv", "gapt"] and set(ag["table2"]) == set(ag["agents"])
    for name, by_system in ag["table2"].items():
        assert set(by_system) == set(ag["systems"]), name
        for system, m in by_system.items():
            assert {"harmony", "vendi", "vendi_vs_mle", "melody_vendi", "distinct_pitches_per_sequence"} <= set(m), (name, system)
            assert len(m["harmony"]["values"]) == (1 if system == "online-mle" else len(r["seeds"])), (name, system)
            assert 0 <= m["harmony"]["mean"] <= 1 and m["vendi"]["mean"] >= 1 - 1e-6 and m["melody_vendi"]["mean"] >= 1 - 1e-6
        assert by_system["online-mle"]["vendi_vs_mle"]["mean"] == 1.0
    t5 = ag["table5"]
    assert set(t5) == {*ag["agents"], "ground truth"}
    assert t5["ground truth"]["harmony"] == t1["ground truth"]["nottingham_test"]["harmony"]["mean"]  # the same pairs
    assert all(0 <= m["harmony"] <= 1 and 0 <= m["rest_share"] <= 1 for m in t5.values())
    ex = ag["example"]
    assert ex["agent"] in ag["agents"] and ex["system"] in ag["systems"] and 0 <= ex["duet"] < ag["duets"]
    assert len(ex["melody"]) == len(ex["chords"]) == ag["frames"] == r["eval_sets"]["nottingham_test"]["max_frames"]
    assert [e["update"] for e in ag["rl_evals"]] == [0, 2, 4] and ag["claims"]  # smoke RL: 4 updates, evaluated every 2
    assert r["claims"] and all(c["agrees"] in (True, False, None) for c in r["claims"])
    assert r["claims_checked"] == sum(c["agrees"] is not None for c in r["claims"])
    assert r["claims_agreed"] == sum(c["agrees"] is True for c in r["claims"])
    for name in [*systems, *ablations]:
        assert r["configs"][name]["scale"] == "smoke" and len(r["train_seconds"][name]) == (
            len(r["seeds"]) if name in systems else len(r["ablation_seeds"]))
    assert r["configs"]["gapt-dxy"]["discriminator"]["sees_melody"] is True
    assert r["configs"]["gapt-no-rules"]["rules_weight"] == 0 and r["configs"]["gapt-no-rules"]["mask_invalid"] is False
    p = r["paper_reference"]
    assert p["table1"]["gapt"]["nottingham_test"]["harmony"] == 0.497 and p["table1"]["gapt"]["openewld"]["vendi"] == 11.295
    assert p["table1"]["gapt-no-rules"]["nottingham_test"]["harmony"] == "N/A"
    assert p["table10"]["ground truth"] == {"nottingham_test": 3.28, "openewld": 3.54}


def _check_07(r: dict) -> None:
    assert r["scale"] == "smoke" and r["interactive"] is False
    models = ["online-mle", "realchords", "gapt"]
    assert set(r["models"]) == set(models) and all(m["label"] for m in r["models"].values())
    jam = r["jam"]  # the user study's settings are the defaults
    assert (jam["tempo_bpm"], jam["temperature"], jam["lookahead_beats"], jam["commit_beats"], jam["listen_beats"]) == (80, 0.8, 4, 4, 8)
    assert r["sessions"] == 1 and r["frames"] == 96 and r["listen_frames"] == 32  # smoke: one session of 6 bars
    assert set(r["tasks"]) == {"fixed_melody", "modulating_improvisation", "co_improvisation"}
    for task, by_model in r["tasks"].items():
        assert set(by_model) == set(models), task
        for name, s in by_model.items():
            h = s["harmony"]
            assert len(h["values"]) == r["sessions"] and 0 <= h["mean"] <= 1, (task, name)
            assert s["distinct_chords_per_sequence"]["mean"] >= 1, (task, name)
            assert s["vendi"] is None or s["vendi"] >= 1 - 1e-6, (task, name)
    m = r["modulation"]
    assert (m["frame"], m["semitones"], m["from_key"], m["to_key"], m["beats_after"]) == (48, 6, "C", "F#", 12)
    for name in models:
        a = r["adaptation"][name]
        for k in ("live", "frame_by_frame"):
            assert len(a[k]) == r["sessions"] and all(b is None or 0 <= b <= m["beats_after"] for b in a[k]), (name, k)
            assert a[f"{k}_adapted"] == sum(b is not None for b in a[k]), (name, k)
        t = r["timing"][name]
        assert t["ticks"] == 3 * r["sessions"] * r["frames"] and 0 < t["median_ms"] <= t["p99_ms"] <= t["max_ms"], name
        assert len(r["key_fit"][name]["new"]) == r["frames"] // 4
    assert r["plan_example"]["start"] % 4 == 0 and len(r["plan_example"]["chords"]) == 4 + 16  # a beat + the lookahead
    assert len(r["files"]) == 3 * 3 * len(models) + len(models) and all(Path(f).is_file() for f in r["files"])


# Checks of the values a notebook wrote at smoke scale (notebook stem -> function).
VALUE_CHECKS = {"01_tokenization": _check_01, "02_mle": _check_02, "03_reward_models": _check_03,
                "04_naive_rl": _check_04, "05_gapt": _check_05, "06_evaluation": _check_06,
                "07_live_jam": _check_07}


# --- notebook_tools -------------------------------------------------------------------------

def test_write_results_converts_numpy_and_replaces_atomically(tmp_path):
    folder = tmp_path / "a" / "b"
    path = write_results(folder, {"harmony": np.float32(0.25), "n": np.int64(3), "ok": np.bool_(True),
                                  "curve": np.arange(3) / 2, "nan": float("nan"), "nested": {1: (2, 3)},
                                  "where": folder})
    assert path == folder / "results.json"
    assert read_results(folder) == {"harmony": 0.25, "n": 3, "ok": True, "curve": [0.0, 0.5, 1.0],
                                    "nan": None, "nested": {"1": [2, 3]}, "where": str(folder)}
    write_results(folder, {"second": 1})
    assert read_results(folder) == {"second": 1}
    assert [p.name for p in folder.iterdir()] == ["results.json"], "no temporary file left behind"


def test_write_results_rejects_what_json_cannot_hold(tmp_path):
    with pytest.raises(MinigaptError, match=r"results\.model: cannot write a object"):
        write_results(tmp_path, {"model": object()})
    with pytest.raises(MinigaptError, match="must be a dict"):
        write_results(tmp_path, [1, 2])
    assert not (tmp_path / "results.json").exists()
    with pytest.raises(MinigaptError, match="run the notebook"):
        read_results(tmp_path)


def test_to_jsonable_keeps_plain_values():
    assert to_jsonable({"a": [1, 2.5, "x", None, False]}) == {"a": [1, 2.5, "x", None, False]}
    assert to_jsonable(np.array(7)) == 7 and to_jsonable({3, 1, 2}) == [1, 2, 3]


def test_check_prints_or_raises_with_hint(capsys):
    check(1 + 1 == 2, "addition works")
    assert capsys.readouterr().out == "✓ addition works\n"
    with pytest.raises(AssertionError, match=r"✗ shapes match \(hint: transpose it\)"):
        check(False, "shapes match", hint="transpose it")


def test_check_implementation_reports_each_case_and_never_the_expected_value(capsys):
    def reference(a, b):
        return a * b + 0.123456, a > b

    cases = {"small": (2, 3), "negative": (-1, 4), "zero": (0, 0)}

    def stub(a, b):
        raise NotImplementedError

    assert check_implementation("product", lambda a, b: None, reference, cases) is None
    assert check_implementation("product", stub, reference, cases) is None
    assert capsys.readouterr().out == "product not attempted yet\n" * 2
    assert check_implementation("product", reference, reference, cases) == 3
    assert capsys.readouterr().out.count("✓") == 4
    import numpy as np
    close = lambda a, b: (np.float32(a * b + 0.123456), np.bool_(a > b))  # noqa: E731  numpy types, within tolerance
    assert check_implementation("product", close, reference, cases) == 3
    capsys.readouterr()

    def wrong(a, b):  # right on "zero" only; raises on "negative"
        if a < 0:
            raise ValueError("no negatives")
        return (a * b + 0.123456, a > b) if a == 0 else (a * b, a > b)

    with pytest.raises(AssertionError) as err:
        check_implementation("product", wrong, reference, cases)
    shown = capsys.readouterr().out + str(err.value)
    assert "✗ small" in shown and "✓ zero" in shown and "ValueError: no negatives" in shown
    assert "2 of 3 cases" in str(err.value)
    for expected in ("6.12", "-3.87", "True", "False"):
        assert expected not in shown, f"the expected value {expected} was shown"
    with pytest.raises(AssertionError):  # a bool is not a number, nor a shape another shape
        check_implementation("gate", lambda: 1, lambda: True, {"one": ()})
    with pytest.raises(AssertionError):
        check_implementation("shape", lambda: [1.0, 2.0], lambda: [[1.0, 2.0]], {"one": ()})
    capsys.readouterr()


def test_out_dir_creates_the_folder(tmp_path):
    assert out_dir(tmp_path / "x" / "y").is_dir()


# --- minigapt.course ------------------------------------------------------------------------

def make_notebook(path: Path, body: str, parameters: str = 'SCALE = "course"\nOUT_DIR = "out"\n'):
    """A minimal nbformat-4 notebook, written as JSON (importing nbformat costs seconds)."""
    def cell(kind, source, tags=()):
        extra = {"outputs": [], "execution_count": None} if kind == "code" else {}
        return {"cell_type": kind, "metadata": {"tags": list(tags)}, "source": source, **extra}

    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
          "cells": [cell("markdown", "# throwaway"), cell("code", parameters, ["parameters"]),
                    cell("code", body)]}
    for i, c in enumerate(nb["cells"]):
        c["id"] = f"cell-{i}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb))


def test_find_notebooks_and_parameters(tmp_path):
    nbs = tmp_path / "notebooks"
    make_notebook(nbs / "02_b.ipynb", "pass")
    make_notebook(nbs / "07_live_jam.ipynb", "pass", 'SCALE = "course"\nOUT_DIR = "o"\nINTERACTIVE = True\n')
    make_notebook(nbs / "02_b-Copy1.ipynb", "pass")  # Lab's copies and scratch notebooks
    make_notebook(nbs / "scratch.ipynb", "pass")     # are not part of the course
    found = course.find_notebooks(nbs)
    assert [p.name for p in found] == ["02_b.ipynb", "07_live_jam.ipynb"]
    assert course.notebook_parameters(found[0], "smoke", tmp_path / "o") == {
        "SCALE": "smoke", "OUT_DIR": str(tmp_path / "o")}
    assert course.notebook_parameters(found[1], "smoke", tmp_path)["INTERACTIVE"] is False
    assert course.find_notebooks(tmp_path / "missing") == []


def test_course_with_no_notebooks_writes_an_empty_summary(tmp_path, capsys):
    summary = course.run_course("smoke", tmp_path)
    assert summary["results"] == {} and summary["seconds"] == {}
    assert (tmp_path / "build" / "smoke" / "results.md").is_file()
    assert "no notebooks to run" in capsys.readouterr().out


def test_results_markdown_is_a_short_table_per_notebook():
    md = course.results_markdown("smoke", {"01_a": {"harmony": 0.123456, "d": {"x": 1}, "curve": list(range(50)),
                                                    "name": "a|b\nc"}}, {"01_a": 2.0})
    assert "## 01_a" in md and "| harmony | 0.1235 |" in md and "| d.x | 1 |" in md
    assert "| name | a\\|b c |" in md
    assert "curve" not in md.split("## Time")[0].replace("01_a/results.json", "")  # long lists stay in results.json
    assert "| total | 2.0 |" in md
    many = {f"k{i}": float(i) for i in range(200)}
    md = course.results_markdown("smoke", {f"0{n}_x": dict(many) for n in range(1, 8)}, {})
    assert len(md.splitlines()) <= 200 and "more in 01_x/results.json" in md
    md = course.results_markdown("smoke", {"04_x": {**many, "hacks": {"realchords": {"summary": "busyness"}}}}, {})
    assert md.index("hacks.realchords.summary") < md.index("| k0 |")  # the headline first


def test_course_runs_in_order_collects_results_and_names_the_failing_cell(tmp_path, monkeypatch):
    nbs = tmp_path / "notebooks"
    make_notebook(nbs / "01_ok.ipynb", "import os, sys\nimport numpy as np\n"
                  "from minigapt.notebook_tools import write_results\n"
                  "write_results(OUT_DIR, {'scale': SCALE, 'x': np.float32(0.5), "
                  "'cwd': os.getcwd(), 'python': sys.executable})")
    make_notebook(nbs / "02_bad.ipynb", "# a comment first\nraise ValueError('reward went NaN')")
    make_notebook(nbs / "03_never.ipynb", "raise SystemExit('must not run after a failure')")
    stale = tmp_path / "build" / "smoke" / "02_bad" / "results.json"
    stale.parent.mkdir(parents=True)
    stale.write_text('{"from": "an earlier run"}')
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    with pytest.raises(MinigaptError) as err:
        course.run_course("smoke", tmp_path)
    message = str(err.value)
    assert "\n" not in message
    assert "02_bad.ipynb failed in cell In [" in message and "ValueError: reward went NaN" in message
    assert "raise ValueError" in message, "names the failing cell's code, not its comment"

    build = tmp_path / "build" / "smoke"
    assert (build / "01_ok.ipynb").is_file() and (build / "02_bad.ipynb").is_file()
    assert not (build / "03_never.ipynb").exists()
    summary = json.loads((build / "results.json").read_text())
    ok = summary["results"]["01_ok"]
    assert ok["scale"] == "smoke" and ok["x"] == 0.5
    assert ok["cwd"] == str(nbs), "notebooks run in their own folder, as in Lab"
    assert ok["python"] == sys.executable, "notebooks run on this (the venv's) Python"
    assert set(summary["seconds"]) == {"01_ok"} and "02_bad" not in summary["results"]
    assert "## 01_ok" in (build / "results.md").read_text() and "| scale | smoke |" in (build / "results.md").read_text()


def test_course_main_reports_a_bad_scale_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SCALE", "huge")
    assert course.main(["--root", str(tmp_path)]) == 1
    assert capsys.readouterr().err.strip() == ("minigapt course: unknown scale 'huge'; "
                                               "choose one of smoke, course, ship, paper")


def test_a_timeout_names_the_cell_the_kernel_was_running(tmp_path):
    executed = tmp_path / "01_x.ipynb"
    make_notebook(executed, "import time\ntime.sleep(99)")
    nb = json.loads(executed.read_text())
    nb["cells"][1]["execution_count"], nb["cells"][2]["execution_count"] = 1, 2  # as papermill leaves it
    executed.write_text(json.dumps(nb))
    line = course._failure_line(executed, executed, TimeoutError("A cell timed out after 3 seconds."))
    assert line.startswith("01_x.ipynb failed in cell In [2] ('import time'): TimeoutError: A cell timed out")
    assert course._failure_line(executed, tmp_path / "missing.ipynb", RuntimeError("kernel died")) == (
        f"01_x.ipynb failed: RuntimeError: kernel died (executed copy: {tmp_path / 'missing.ipynb'})")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[nb.name for nb in NOTEBOOKS])
def test_papermill_reads_every_parameter(path):
    """Every assignment of the parameters cell is one papermill can show (`papermill --help-notebook`)
    and inject; a comment with '=' in it, for one, makes papermill skip the line with a warning."""
    import ast

    import papermill as pm

    nb = json.loads(path.read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    names = {t.id for node in ast.parse("".join(cell["source"])).body if isinstance(node, ast.Assign)
             for t in node.targets if isinstance(t, ast.Name)}
    assert names and set(pm.inspect_notebook(str(path))) == names
