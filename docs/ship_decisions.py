"""The table behind the ship scale's settings: every ship-scale run in runs/ship/ at its last
evaluation (Nottingham validation melodies, as its config names them), beside the data's chords
on the same melodies: harmony both ways, pitch classes per chord, chord Vendi and chord changes
against the data's, the drift, and the optimiser's and D's diagnostics over the last 10 updates.

    MINIGAPT_DATA=../shared/data .venv/bin/python docs/ship_decisions.py [MORE_RUN_FOLDERS...]
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from minigapt.data.dataset import DataConfig, load_frames
from minigapt.eval.drift import drift
from minigapt.metrics_log import read_log
from minigapt.models.checkpoint import runs_dir
from minigapt.rl.shipped import data_level
from minigapt.rl.train import load_run


def main() -> None:
    roots = [Path(a) for a in sys.argv[1:]] or [runs_dir() / "ship"]  # more folders of runs: arguments
    folders = sorted(p.parent for root in roots for p in root.glob("*/eval.csv"))
    finished = next(f for f in folders if (f / "model.pt").is_file())
    frames = load_frames(DataConfig.preset("course"), None, progress=False)
    data = None
    print("| run | updates | note-in-chord | note-in-triad | pcs/chord | chord Vendi x data | changes x data | drift "
          "| approx-KL | clip frac | entropy | KL to anchor | D AUC |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for folder in folders:
        evals = read_log(folder / "eval.csv")
        metrics = read_log(folder / "metrics.csv")
        if data is None:
            data = data_level(frames, load_run(finished / "model.pt"))
            first = evals[0]
            print(f"| data's chords | - | {data['harmony']:.3f} | {data['harmony_triad']:.3f} | "
                  f"{data['pitch_classes_per_chord']:.2f} | 1.00 | 1.00 | 0.00 | | | | | |")
            print(f"| online MLE (update 0) | 0 | {first['harmony']:.3f} | {first['harmony_triad']:.3f} | "
                  f"{first['pitch_classes_per_chord']:.2f} | {first['chord_vendi'] / data['chord_vendi']:.2f} | "
                  f"{first['chord_changes_per_sequence'] / data['chord_changes_per_sequence']:.2f} | "
                  f"{drift(first, data):.2f} | | | | | |")
        last = evals[-1]
        tail = metrics[-10:]

        def avg(key):
            vals = [float(m[key]) for m in tail if m.get(key) not in (None, "")]
            return f"{np.mean(vals):.3g}" if vals else "-"
        print(f"| {folder.name} | {int(last['update'])} | {last['harmony']:.3f} | {last['harmony_triad']:.3f} | "
              f"{last['pitch_classes_per_chord']:.2f} | {last['chord_vendi'] / data['chord_vendi']:.2f} | "
              f"{last['chord_changes_per_sequence'] / data['chord_changes_per_sequence']:.2f} | {drift(last, data):.2f} | "
              f"{avg('approx_kl')} | {avg('clipfrac')} | {avg('entropy')} | {avg('kl_per_token')} | {avg('d_auc')} |")


if __name__ == "__main__":
    main()
