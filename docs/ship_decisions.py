"""The table behind the ship scale's settings: every ship-scale run in runs/ship/ at its last
evaluation (Nottingham validation melodies, as its config names them), beside the data's chords
on the same melodies: harmony both ways, pitch classes per chord, chord Vendi and chord changes
against the data's, the drift, and the optimiser's and D's diagnostics over the last 10 updates.
With --json, also writes the rows (and what each run changed from the ship preset) for notebook
05's "what else was tried" section: assets/results/ship-validation.json.

    MINIGAPT_DATA=../shared/data .venv/bin/python docs/ship_decisions.py [--json PATH] [MORE_RUN_FOLDERS...]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from minigapt.atomic import atomic_write
from minigapt.data.dataset import DataConfig, load_frames
from minigapt.eval.drift import drift
from minigapt.metrics_log import read_log
from minigapt.models.checkpoint import runs_dir
from minigapt.rl.config import RLConfig
from minigapt.rl.shipped import data_level
from minigapt.rl.train import load_run

DIAGNOSTICS = ("approx_kl", "clipfrac", "entropy", "kl_per_token", "d_auc")
IGNORED = {"seed", "system"}  # differ between runs of one recipe without changing it


def changes_from_preset(cfg: RLConfig) -> dict:
    """The fields a run's config sets differently from the ship preset of its system."""
    ours, preset = cfg.flat_fields(), RLConfig.preset("ship", cfg.system).flat_fields()
    unused = "discriminator." if cfg.adversarial_weight == 0 else None  # D's settings matter only with R_adv
    return {k: v for k, v in ours.items()
            if k not in IGNORED and preset.get(k) != v and not (unused and k.startswith(unused))}


def run_row(folder: Path, data: dict) -> dict:
    last, tail = read_log(folder / "eval.csv")[-1], read_log(folder / "metrics.csv")[-10:]
    cfg = load_run(folder / "model.pt").config
    row = dict(run=folder.name, system=cfg.system, seed=cfg.seed, changes=changes_from_preset(cfg),
               updates=int(last["update"]), finished=int(last["update"]) == cfg.updates, harmony=last["harmony"], harmony_triad=last["harmony_triad"],
               pitch_classes_per_chord=last["pitch_classes_per_chord"],
               chord_vendi_vs_data=last["chord_vendi"] / data["chord_vendi"],
               changes_vs_data=last["chord_changes_per_sequence"] / data["chord_changes_per_sequence"],
               drift=drift(last, data))
    for key in DIAGNOSTICS:
        vals = [float(m[key]) for m in tail if m.get(key) not in (None, "")]
        row[key] = float(np.mean(vals)) if vals else None
    return row


def main() -> None:
    args = sys.argv[1:]
    out = Path(args.pop(args.index("--json") + 1)) if "--json" in args else None
    args = [a for a in args if a != "--json"]
    roots = [runs_dir() / "ship", *map(Path, args)]  # more folders of runs: arguments
    folders = sorted({p.parent for root in roots for p in root.glob("*/eval.csv") if (p.parent / "model.pt").is_file()},
                     key=lambda f: f.name)
    frames = load_frames(DataConfig.preset("course"), None, progress=False)
    first_run = load_run(folders[0] / "model.pt")
    data = data_level(frames, first_run)
    start = read_log(folders[0] / "eval.csv")[0]
    rows = [run_row(f, data) for f in folders]
    stopped = [r["run"] for r in rows if not r["finished"]]
    rows = [r for r in rows if r.pop("finished")]  # runs stopped early: not comparable at their last update
    cfg = first_run.config
    print("| run | updates | note-in-chord | note-in-triad | pcs/chord | chord Vendi x data | changes x data | drift "
          "| approx-KL | clip frac | entropy | KL to anchor | D AUC |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| data's chords | - | {data['harmony']:.3f} | {data['harmony_triad']:.3f} | "
          f"{data['pitch_classes_per_chord']:.2f} | 1.00 | 1.00 | 0.00 | | | | | |")
    print(f"| online MLE (update 0) | 0 | {start['harmony']:.3f} | {start['harmony_triad']:.3f} | "
          f"{start['pitch_classes_per_chord']:.2f} | {start['chord_vendi'] / data['chord_vendi']:.2f} | "
          f"{start['chord_changes_per_sequence'] / data['chord_changes_per_sequence']:.2f} | "
          f"{drift(start, data):.2f} | | | | | |")
    for r in rows:
        diag = " | ".join("-" if r[k] is None else f"{r[k]:.3g}" for k in DIAGNOSTICS)
        print(f"| {r['run']} | {r['updates']} | {r['harmony']:.3f} | {r['harmony_triad']:.3f} | "
              f"{r['pitch_classes_per_chord']:.2f} | {r['chord_vendi_vs_data']:.2f} | {r['changes_vs_data']:.2f} | "
              f"{r['drift']:.2f} | {diag} |")
    if stopped:
        print(f"left out, stopped before their last update: {', '.join(stopped)}")
    if out:
        keep = ("harmony", "harmony_triad", "pitch_classes_per_chord", "chord_vendi", "chord_changes_per_sequence")
        atomic_write(out, (json.dumps(dict(
            split=cfg.eval_split, melodies=cfg.eval_melodies, samples=cfg.eval_samples, frames=cfg.eval_frames,
            data={k: data[k] for k in keep}, online_mle={k: start[k] for k in keep} | {"drift": drift(start, data)},
            runs=rows), indent=1) + "\n").encode())
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
