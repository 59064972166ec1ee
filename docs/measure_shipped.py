"""Re-measure every shipped checkpoint with the instruments of minigapt.eval.measures.

    MINIGAPT_DATA=../shared/data .venv/bin/python docs/measure_shipped.py [--split test|valid]

Sets: Nottingham and POP909 (the course data's test or validation split, 128 frames) and
OpenEWLD (every lead sheet with chords, 256 frames; never trained on). Each policy accompanies
every melody twice (seeded); the data's own chords and the two reference parts are scored on the
same melodies. Writes docs/shipped-<split>.json and prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from minigapt.data.dataset import DataConfig, eval_batch, load_frames
from minigapt.eval.measures import evaluate_parts
from minigapt.eval.reference_parts import reference_part
from minigapt.models.checkpoint import load_model, shipped_dir
from minigapt.music.tokens import frames_from_streams
from minigapt.rewards.ensemble import load_ensemble
from minigapt.rl.evaluation import EVAL_SEED, evaluation_set, sample_accompaniments
from minigapt.rl.experiment import openewld_songs

MODELS = ["online-mle"] + [f"{s}{k}" for s in ("realchords", "gapt-no-adv", "gapt") for k in ("", "-seed1", "-seed2")]
KEYS = ["harmony", "harmony_triad", "pitch_classes_per_chord", "chord_vendi", "chord_vendi_ci", "vendi",
        "chord_changes_per_sequence", "distinct_chords_per_sequence", "longest_hold", "coherence"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="test")
    args = ap.parse_args()
    torch.set_num_threads(1)
    frames = load_frames(DataConfig.preset("course"), None, progress=False)
    sets = {src: evaluation_set(frames, 102, 128, source=src, split=args.split) for src in ("nottingham", "pop909")}
    songs = openewld_songs()
    if songs is not None:
        x, y = frames_from_streams(torch.as_tensor(eval_batch(songs, 256)))
        sets["openewld"] = (x.numpy(), y.numpy())
    ensemble = load_ensemble(shipped_dir() / "rewards.pt")
    out = {"split": args.split, "samples": 2, "seed": EVAL_SEED, "sets": {k: len(v[0]) for k, v in sets.items()},
           "systems": {}}
    for name in ["data", "held-tonic", "tonic-dominant", *MODELS]:
        t0 = time.perf_counter()
        row = {}
        for src, (x, y_data) in sets.items():
            if name == "data":
                m = evaluate_parts(x, y_data, ensemble)
            elif name in ("held-tonic", "tonic-dominant"):
                m = evaluate_parts(x, reference_part(name, x), ensemble)
            else:
                policy = load_model(shipped_dir() / f"{name}.pt", kind="online")
                m = evaluate_parts(*sample_accompaniments(policy, x, 2, 1.0, EVAL_SEED), ensemble)
            row[src] = {k: m.get(k) for k in KEYS}
        out["systems"][name] = row
        print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)
        Path(f"docs/shipped-{args.split}.json").write_text(json.dumps(out, indent=1) + "\n")
    for src in sets:
        print(f"\n{src} ({args.split})\n| system | harmony | triad | pcs/chord | chord_vendi (x data) | changes | vendi |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        d = out["systems"]["data"][src]
        for name, row in out["systems"].items():
            r = row[src]
            print(f"| {name} | {r['harmony']:.3f} | {r['harmony_triad']:.3f} | {r['pitch_classes_per_chord']:.2f} | "
                  f"{r['chord_vendi']:.1f} ({r['chord_vendi'] / d['chord_vendi']:.2f}) | "
                  f"{r['chord_changes_per_sequence']:.1f} | {r['vendi']:.2f} |")


if __name__ == "__main__":
    main()
