"""What the late chord changes buy: the shipped policies' parts as played, and the same parts
with every change that starts inside a held melody note taken back (eval.timing's
hold_over_late_changes: the chord before holds on).

    MINIGAPT_DATA=../shared/data .venv/bin/python docs/late_changes.py [openewld|valid256]
    ... late_changes.py valid256 NAME=PATH ...   # other online policies only (probes), merged
                                                 # into docs/late-changes-<set>-probes.json

Parts are sampled exactly as docs/measure_ship.py samples them (2 per melody, its seed), so
the "as played" rows repeat that script's numbers. Writes docs/late-changes-<set>.json and
prints a table: harmony, note-in-triad, changes per part (and the share inside held notes) and
drift, played vs taken back. The offline anchor, which hears the whole melody, is the first row.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from measure_ship import SEEDS, checkpoint, sets_for
from minigapt.eval.drift import drift, late_share
from minigapt.eval.measures import evaluate_parts
from minigapt.eval.timing import hold_over_late_changes
from minigapt.generate import sample_offline
from minigapt.models.checkpoint import load_model, shipped_dir
from minigapt.rl.evaluation import EVAL_SEED, sample_accompaniments

KEYS = ("harmony", "harmony_triad", "chord_vendi", "chord_changes_per_sequence", "chord_changes_inside_notes")
SUPERVISED = ("offline-anchor", "online-mle")  # one shipped checkpoint each


def main() -> None:
    which = sys.argv[1] if len(sys.argv) > 1 else "openewld"
    torch.set_num_threads(1)
    x, y = sets_for("valid256" if which == "valid256" else "final")["nottingham" if which == "valid256" else "openewld"]
    data = {k: evaluate_parts(x, y)[k] for k in KEYS}
    probes = dict(arg.split("=", 1) for arg in sys.argv[2:])
    target = Path(f"docs/late-changes-{which}{'-probes' if probes else ''}.json")
    out = {"set": which, "data": data, "systems": {}}
    if probes and target.is_file():
        out["systems"] = json.loads(target.read_text())["systems"]
    for system in probes or ("offline-anchor", "online-mle", "realchords", "gapt-no-adv", "gapt"):
        rows = {"played": [], "taken back": []}
        for seed in (0,) if system in SUPERVISED or probes else SEEDS:
            path = (Path(probes[system]) if probes else
                    shipped_dir() / f"{system}.pt" if system in SUPERVISED else checkpoint(system, seed))
            if path is None:
                print(f"{system}-seed{seed}: not trained yet")
                continue
            if system == "offline-anchor":  # hears the whole melody: the timing an online policy cannot have
                mx = np.repeat(x, 2, axis=0)
                my = sample_offline(load_model(path, kind="offline"), mx, seed=EVAL_SEED).numpy()
            else:
                mx, my = sample_accompaniments(load_model(path, kind="online"), x, 2, 1.0, EVAL_SEED)
            for kind, parts in (("played", my), ("taken back", hold_over_late_changes(mx, my))):
                m = evaluate_parts(mx, parts)
                rows[kind].append({k: float(m[k]) for k in KEYS})
        out["systems"][system] = rows
    target.write_text(json.dumps(out, indent=1) + "\n")
    print(f"\n{which} (data: {data['chord_changes_per_sequence']:.1f} changes per part)\n"
          "| system | parts | note-in-chord | note-in-triad | changes per part | of them inside a held note | drift |\n"
          "|---|---|---:|---:|---:|---:|---:|")
    for system, rows in out["systems"].items():
        for kind, ms in rows.items():
            mean = {k: float(np.mean([m[k] for m in ms])) for k in KEYS}
            print(f"| {system} | {kind} | {mean['harmony']:.3f} | {mean['harmony_triad']:.3f} | "
                  f"{mean['chord_changes_per_sequence']:.1f} | {late_share(mean):.2f} | {drift(mean, data):.2f} |")


if __name__ == "__main__":
    main()
