"""The shipped RL runs (ship scale, 3 seeds per system) as notebooks 04-06 show them.

A shipped run is assets/checkpoints/<name>.pt (seed 0) or <name>-seed<k>.pt; it carries its
training log and its evaluations along training (on the validation melodies its config names).
Unlike the train-or-load helpers, these load a shipped run whatever scale you work at: they are
the reference a student's own short run is drawn beside.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..data.dataset import DataConfig, load_frames
from ..eval.drift import describe_drift
from ..eval.measures import evaluate_parts
from ..models.checkpoint import shipped_dir
from .evaluation import evaluation_set
from .train import RLRun, load_run, shipped_path

SHIPPED_SEEDS = (0, 1, 2)
CURVE_KEYS = ("harmony", "harmony_triad", "chord_vendi", "chord_changes_per_sequence", "pitch_classes_per_chord")
"""The measures notebooks 04-05 draw along training, with the data's level."""
CURVE_LABELS = {"harmony": "note-in-chord", "harmony_triad": "note-in-triad",
                "chord_vendi": "chord Vendi (95% interval hatched)", "chord_changes_per_sequence": "chord changes / part",
                "pitch_classes_per_chord": "pitch classes / chord"}
CURVE_INTERVALS = {"chord_vendi": ("chord_vendi_low", "chord_vendi_high")}


def shipped_runs(name: str, seeds=SHIPPED_SEEDS) -> list[RLRun]:
    """The shipped runs of `name` for each seed that ships (an empty list if none does)."""
    return [load_run(shipped_path(name, s)) for s in seeds if shipped_path(name, s).is_file()]


def curve_set(frames: dict, run: RLRun) -> tuple:
    """The melodies (and the data's chords) a run's curves were measured on: its config's
    evaluation split, melody count and length (the same first songs of Nottingham's split)."""
    cfg = run.config
    return evaluation_set(frames, cfg.eval_melodies, cfg.eval_frames, split=cfg.eval_split)


def data_level(frames: dict | None, run: RLRun, ensemble=None) -> dict:
    """Every measure of the data's own chords on the melodies of `run`'s curves: the level its
    curves are drawn against. A shipped run carries it (measured when it was shipped, on the
    data of its own scale), so a notebook at another scale draws the right level; else it is
    measured on `frames`."""
    if run.data_level:
        return dict(run.data_level)
    x, y = curve_set(frames, run)
    return evaluate_parts(x, y, ensemble)


def measure_data_level(run: RLRun) -> dict:
    """The data level of `run`'s curves, on the data its scale trains on (for ship())."""
    frames = load_frames(DataConfig.preset(run.config.scale), None, progress=False)
    x, y = curve_set(frames, run)
    return {k: v for k, v in evaluate_parts(x, y).items() if isinstance(v, (int, float, list))}


def final_row(runs: list[RLRun]) -> dict:
    """Mean over seeds of each measure of the runs' last evaluation ({} without runs)."""
    rows = [r.evals[-1] for r in runs if r.evals]
    keys = [k for k, v in rows[0].items() if isinstance(v, (int, float)) and k != "update"] if rows else []
    return {k: sum(float(r[k]) for r in rows) / len(rows) for k in keys if all(r.get(k) is not None for r in rows)}


def final_table(shipped: dict, data: dict, start: dict) -> tuple[dict, dict, list[str]]:
    """{system: its shipped runs} -> (each system's mean final row, describe_drift of it against
    the data's level and the online MLE's `start`, the Markdown table rows)."""
    finals, summaries = {}, {}
    lines = ["| shipped system (seeds) | note-in-chord | note-in-triad | pitch classes / chord | chord Vendi × data "
             "| changes × data | drift | what it shows |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for name, runs in shipped.items():
        finals[name] = f = final_row(runs)
        summaries[name] = h = describe_drift(f, data, start)
        lines.append(f"| {name} ({len(runs)}) | {f['harmony']:.3f} | {f['harmony_triad']:.3f} | "
                     f"{f['pitch_classes_per_chord']:.2f} | {h['chord_vendi_vs_data']:.2f} | {h['changes_vs_data']:.2f} | "
                     f"{h['drift']:.2f} | {h['summary']} |")
    return finals, summaries, lines


SHIPPED_RESULTS = "ship-final.json"
"""assets/results/: the shipped runs measured on melodies no model trained on (docs/measure_ship.py)."""
SHIPPED_VALIDATION = "ship-validation.json"
"""assets/results/: every ship-scale run tried, at its last evaluation on the validation melodies,
with what it changed from the ship preset (docs/ship_decisions.py --json); the runs do not ship."""


def results_dir() -> Path:
    """assets/results/: the small measured files that ship beside the checkpoints."""
    return shipped_dir().parent / "results"


def shipped_file(name: str) -> dict | None:
    """A small shipped result file of assets/results/, read; None if it is not there."""
    path = results_dir() / name
    return json.loads(path.read_text()) if path.is_file() else None


def shipped_results() -> dict | None:
    """The shipped runs' final measurements (OpenEWLD with the data's level; melody-only held-out
    tunes), as docs/measure_ship.py wrote them; None if the file is not there."""
    return shipped_file(SHIPPED_RESULTS)


def shipped_validation() -> dict | None:
    """The ship-scale settings tried on validation melodies (SHIPPED_VALIDATION); None if absent."""
    return shipped_file(SHIPPED_VALIDATION)


def system_summary(results: dict, system: str, set_name: str) -> dict | None:
    """Mean and per-seed values of every measure of `system` on `set_name` ({measure: {"mean",
    "values"}}); None when no seed of it was measured."""
    rows = [v[set_name] for k, v in results["systems"].items()
            if (k == system or k.rsplit("-seed", 1)[0] == system) and set_name in v]
    if not rows:
        return None
    keys = [k for k, v in rows[0].items() if isinstance(v, (int, float))]
    return {k: {"mean": sum(r[k] for r in rows) / len(rows), "values": [r[k] for r in rows]} for k in keys}


def own_baseline(runs: list[dict], changes: dict) -> tuple[list[dict], bool]:
    """The ReaLchords runs of a validation table (shipped_validation()["runs"]) trained as a GAPT
    setting was, apart from what only GAPT has (D and R_adv's weight): a change to the reward,
    the melodies or the KL moves the baseline too, so the setting is judged against its own.
    -> (those runs, True), or the unchanged ReaLchords runs and False when none was trained."""
    shared = {k: v for k, v in changes.items() if k != "adversarial_weight" and not k.startswith("discriminator.")}
    own = [r for r in runs if r["system"] == "realchords" and r["changes"] == shared]
    if own:
        return own, True
    return [r for r in runs if r["system"] == "realchords" and not r["changes"]], False


def settings_against_own_baseline(validation: dict) -> dict[str, dict]:
    """Each GAPT setting of a validation table (shipped_validation()), its seeds averaged (a
    single seed can land anywhere in the range), against its own baseline (own_baseline) ->
    {label: {seeds, drift, harmony, harmony_triad, baseline_retrained, baseline_seeds,
    baseline_drift, baseline_harmony_triad, baseline_ok}}. baseline_ok: that baseline still has
    a hack to mitigate (drift >= ln 1.25) and a real harmony gain to keep (note-in-triad >= the
    online MLE's + 0.04), without which no comparison with it means anything."""
    runs, settings, out = validation["runs"], {}, {}
    for r in runs:
        if r["system"] == "gapt":
            settings.setdefault(json.dumps(r["changes"], sort_keys=True), []).append(r)
    mle_triad = validation["online_mle"]["harmony_triad"]
    for rs in settings.values():
        own, retrained = own_baseline(runs, rs[0]["changes"])
        v = dict(seeds=len(rs), baseline_retrained=retrained, baseline_seeds=len(own),
                 **{k: float(np.mean([r[k] for r in rs])) for k in ("drift", "harmony", "harmony_triad")},
                 **{f"baseline_{k}": float(np.mean([r[k] for r in own])) for k in ("drift", "harmony_triad")})
        v["baseline_ok"] = v["baseline_drift"] >= math.log(1.25) and v["baseline_harmony_triad"] >= mle_triad + 0.04
        out[", ".join(f"{k}={val}" for k, val in rs[0]["changes"].items()) or "the shipped preset"] = v
    return out


def meets_both(setting: dict) -> bool:
    """A setting of settings_against_own_baseline at most half its baseline's drift, at its
    note-in-triad - 0.01, against a baseline with a hack and a harmony gain."""
    return (setting["drift"] <= 0.5 * setting["baseline_drift"] and setting["baseline_ok"]
            and setting["harmony_triad"] >= setting["baseline_harmony_triad"] - 0.01)
