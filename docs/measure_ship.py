"""Measure the ship-scale RL runs (3 seeds each) beside the online MLE and the data.

    MINIGAPT_DATA=../shared/data .venv/bin/python docs/measure_ship.py valid   # settings: validation
    ... measure_ship.py valid256 gapt,realchords part.json   # validation at the test's length
    MINIGAPT_DATA=../shared/data .venv/bin/python docs/measure_ship.py final   # results: never-seen sets
    ... measure_ship.py final gapt,online-mle part.json   # some systems only, into another file
    ... measure_ship.py merge part1.json part2.json       # -> assets/results/ship-final.json

valid: Nottingham and POP909 validation melodies (128 frames), where settings are chosen.
valid256: every Nottingham validation melody at 256 frames, the final sets' length.
slow: the same melodies (and their chords) at half tempo, 256 frames: long notes, as in
OpenEWLD's lead sheets (54 melody onsets per 256 frames against Nottingham's 84).
final: OpenEWLD (every lead sheet with chords, 256 frames; never trained on; its chords give the
data's level) and 497 melody-only folk tunes from music21's corpus (minigapt/data/heldout.py;
256 frames; harmony only, there are no chords to compare with).
Models come from assets/checkpoints/<name>[-seed<s>].pt when that is a ship-scale run, else from
runs/ship/<name>-seed<s>/model.pt.
Each policy accompanies every melody twice (seeded). Writes docs/ship-valid.json (valid) or
assets/results/ship-final.json (final: notebooks 05-06 and the README read it) and prints
markdown tables, the drift |ln(chord_vendi / data's)| + |ln(changes / data's)| and the checks
the reproduction is judged by.
"""
from __future__ import annotations

import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from minigapt.commands.evaluate import read_melodies
from minigapt.data.dataset import DataConfig, eval_batch, load_frames
from minigapt.data.heldout import copy_heldout
from minigapt.eval.drift import drift
from minigapt.eval.measures import evaluate_parts
from minigapt.models.checkpoint import load_checkpoint, load_model, runs_dir, shipped_dir
from minigapt.music.tokens import frames_from_streams
from minigapt.rewards.ensemble import load_ensemble
from minigapt.rewards.rhythm import half_tempo
from minigapt.rl.evaluation import EVAL_SEED, evaluation_set, sample_accompaniments
from minigapt.rl.experiment import openewld_songs
from minigapt.rl.shipped import SHIPPED_RESULTS, results_dir, shipped_path

ONLY = tuple(sys.argv[2].split(",")) if len(sys.argv) > 2 else ("online-mle", "realchords", "gapt-no-adv", "gapt")
SYSTEMS = tuple(s for s in ONLY if s != "online-mle")
SEEDS = (0, 1, 2)
FINAL = results_dir() / SHIPPED_RESULTS  # assets/results/ship-final.json
KEYS = ("harmony", "harmony_triad", "pitch_classes_per_chord", "chord_vendi", "chord_vendi_ci",
        "chord_changes_per_sequence", "chord_changes_inside_notes", "distinct_chords_per_sequence",
        "longest_hold", "coherence")


def checkpoint(name: str, seed: int) -> Path | None:
    """The shipped checkpoint when it is a ship-scale run (what users get: float16), else your run."""
    own = runs_dir() / "ship" / f"{name}-seed{seed}" / "model.pt"
    shipped = shipped_path(name, seed)
    if shipped.is_file() and (load_checkpoint(shipped).train_config or {}).get("scale") == "ship":
        return shipped
    return own if own.is_file() else None


def sets_for(mode: str) -> dict:
    if mode.startswith("valid") or mode == "slow":
        frames = load_frames(DataConfig.preset("course"), None, progress=False)
        if mode in ("valid256", "slow"):  # every Nottingham validation melody, 256 frames
            x, y = evaluation_set(frames, 10_000, 256, source="nottingham", split="valid")
            return {"nottingham": (x, y)} if mode == "valid256" else {"nottingham-slow": (half_tempo(x), half_tempo(y))}
        return {src: evaluation_set(frames, 102, 128, source=src, split="valid") for src in ("nottingham", "pop909")}
    x, y = frames_from_streams(torch.as_tensor(eval_batch(openewld_songs(), 256)))
    folder = copy_heldout(Path(tempfile.mkdtemp()) / "heldout")
    hx, _, _ = read_melodies(str(folder), 256, with_chords=False)
    return {"openewld": (x.numpy(), y.numpy()), "heldout": (hx, None)}


def mean(rows: list[dict], key: str) -> float:
    return float(np.mean([r[key] for r in rows]))


def merge(parts: list[str]) -> None:
    """Several partial measurements of the same sets -> assets/results/ship-final.json."""
    out = None
    for part in parts:
        d = json.loads(Path(part).read_text())
        if out is None:
            out = d
        else:
            assert d["sets"] == out["sets"] and d["seed"] == out["seed"], f"{part} measured other sets"
            out["systems"].update(d["systems"])
    FINAL.parent.mkdir(parents=True, exist_ok=True)
    FINAL.write_text(json.dumps(out, indent=1) + "\n")
    report(out)


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "valid"
    if mode == "merge":
        return merge(sys.argv[2:])
    torch.set_num_threads(1)
    sets = sets_for(mode)
    ensemble = load_ensemble(shipped_dir() / "rewards.pt")
    out = {"mode": mode, "samples": 2, "seed": EVAL_SEED, "sets": {k: len(v[0]) for k, v in sets.items()},
           "systems": {}}
    models = {"online-mle": shipped_dir() / "online-mle.pt"} if "online-mle" in ONLY else {}
    models.update({f"{s}-seed{k}": checkpoint(s, k) for s in SYSTEMS for k in SEEDS})
    for src, (x, y) in sets.items():
        if y is not None:
            out["systems"].setdefault("data", {})[src] = {k: evaluate_parts(x, y, ensemble).get(k) for k in KEYS}
    for name, path in models.items():  # the data's own chords are always measured
        if path is None:
            print(f"{name}: not trained yet", flush=True)
            continue
        t0 = time.perf_counter()
        policy = load_model(path, kind="online")
        out["systems"][name] = {"checkpoint": str(path)}
        for src, (x, _) in sets.items():
            m = evaluate_parts(*sample_accompaniments(policy, x, 2, 1.0, EVAL_SEED), ensemble)
            out["systems"][name][src] = {k: m.get(k) for k in KEYS}
        print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)
        target = Path(sys.argv[3] if len(sys.argv) > 3 else
                      f"docs/ship-{mode}.json" if mode.startswith("valid") or mode == "slow" else FINAL)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(out, indent=1) + "\n")
    report(out)


def report(out: dict) -> None:
    systems = out["systems"]
    for src in out["sets"]:
        data = systems.get("data", {}).get(src)
        print(f"\n{src}\n| system | harmony | triad | pcs/chord | chord_vendi (x data) | changes (x data) | drift |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name, row in systems.items():
            r = row.get(src)
            if r is None:
                continue
            kv = f"{r['chord_vendi']:.1f}" + (f" ({r['chord_vendi'] / data['chord_vendi']:.2f})" if data else "")
            ch = f"{r['chord_changes_per_sequence']:.1f}" + (
                f" ({r['chord_changes_per_sequence'] / data['chord_changes_per_sequence']:.2f})" if data else "")
            dr = f"{drift(r, data):.3f}" if data else "-"
            print(f"| {name} | {r['harmony']:.3f} | {r['harmony_triad']:.3f} | {r['pitch_classes_per_chord']:.2f} "
                  f"| {kv} | {ch} | {dr} |")
    # the reproduction's checks, on the means over the seeds that exist
    by = {s: [systems[f"{s}-seed{k}"] for k in SEEDS if f"{s}-seed{k}" in systems]
          for s in ("realchords", "gapt-no-adv", "gapt")}
    if not by["realchords"] or not by["gapt"] or "online-mle" not in systems:
        return
    print("\nchecks (mean over seeds:", {s: len(v) for s, v in by.items()}, ")")
    for src in out["sets"]:
        rc, ga, mle = ([r[src] for r in by["realchords"]], [r[src] for r in by["gapt"]], systems["online-mle"][src])
        print(f"- {src}: realchords triad {mean(rc, 'harmony_triad'):.3f} vs MLE {mle['harmony_triad']:.3f} "
              f"(gain {mean(rc, 'harmony_triad') - mle['harmony_triad']:+.3f}, needs >= +0.04); "
              f"gapt - realchords: harmony {mean(ga, 'harmony') - mean(rc, 'harmony'):+.3f}, "
              f"triad {mean(ga, 'harmony_triad') - mean(rc, 'harmony_triad'):+.3f} (need >= -0.01)")
        data = systems.get("data", {}).get(src)
        if data:
            keys = ("chord_vendi", "chord_changes_per_sequence")  # a system's drift: of its means over seeds
            d_rc = drift({k: mean(rc, k) for k in keys}, data)
            d_ga = drift({k: mean(ga, k) for k in keys}, data)
            kv = mean(ga, "chord_vendi") / data["chord_vendi"]
            print(f"  drift realchords {d_rc:.3f} (needs >= ln 1.25 = {math.log(1.25):.3f}), gapt {d_ga:.3f} "
                  f"(needs <= {0.5 * d_rc:.3f}); gapt chord_vendi {kv:.2f}x data (needs 0.8-1.25)")


if __name__ == "__main__":
    main()
