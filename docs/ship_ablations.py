"""The paper's ablations (Tables 7, 8, 9) at course scale, as notebook 06 measures them, into a
small shipped file (assets/results/course-ablations.json) that 06 shows when its own runs of them
do not exist. The runs themselves do not ship.

    # 1. train each run (two at a time on two cores), seed 0, course scale:
    for n in realchords gapt-no-adv gapt grpo grpo-adv gapt-dxy gapt-coh2 gapt-rules2 gapt-adv2 \\
             gapt-no-rules gapt-invalid-only; do
        MINIGAPT_DATA=../shared/data .venv/bin/python -m minigapt train $n --scale course --seed 0; done
    # 2. measure them: notebook 06 at course scale (loads the runs, trains nothing)
    MINIGAPT_DATA=../shared/data .venv/bin/papermill notebooks/06_evaluation.ipynb /tmp/06.ipynb -p SCALE course
    # 3. keep what Tables 7-9 show
    .venv/bin/python docs/ship_ablations.py build/course/06_evaluation/results.json
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from minigapt.atomic import atomic_write
from minigapt.rl.shipped import results_dir

ROWS = ["online-mle", "realchords", "gapt-no-adv", "gapt", "grpo", "grpo-adv", "gapt-dxy", "gapt-coh2",
        "gapt-rules2", "gapt-adv2", "gapt-no-rules", "gapt-invalid-only", "ground truth"]
OUT_NAME = "course-ablations.json"


def main() -> None:
    results = json.loads(Path(sys.argv[1]).read_text())
    missing = [n for n in ROWS if n not in results["table1"]]
    if missing:
        sys.exit(f"error: {sys.argv[1]} has no rows for {', '.join(missing)}: train them first (see this script's doc)")
    keep = dict(scale=results["scale"], seeds=results["seeds"], ablation_seeds=results["ablation_seeds"],
                eval_sets=results["eval_sets"], eval_source=results["eval_source"],
                table1={n: results["table1"][n] for n in ROWS}, hack=results["hack"],
                configs={n: results["configs"][n] for n in ROWS if n in results["configs"]},
                train_seconds={n: results["train_seconds"][n] for n in ROWS if n in results["train_seconds"]})
    out = results_dir() / OUT_NAME
    atomic_write(out, (json.dumps(keep, indent=1) + "\n").encode())
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
