"""An ensemble built from the components of finished runs, without training anything.

The shipped course `rewards.pt` was made this way (docs/experiments-history.md): each
component taken from a finished run that trained it with the preset's recipe. A component is
taken only when its recipe -- the preset's schedule for its type -- matches the source run's,
so the result is what a fresh run of the preset would train, up to the randomness of training.
"""
from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

from ..errors import MinigaptError
from ..models.checkpoint import CHECKPOINT_NAME, load_checkpoint
from .ensemble import (KIND, RewardConfig, RewardEnsemble, component_names, config_dict, ensemble_from_checkpoint,
                       save_ensemble, schedule_for)


def component_recipe(kind: str, cfg: RewardConfig) -> dict:
    """What training one model of `kind` under `cfg` depends on: the config with that type's
    schedule, less the ensemble-level fields (which types and seeds, the per-type table)."""
    d = config_dict(schedule_for(kind, cfg))
    for key in ("types", "seeds", "steps_by_type", "scale"):
        d.pop(key, None)
    return d


def assemble_ensemble(cfg: RewardConfig, sources: dict[str, str | Path], out_dir: str | Path,
                      note: str) -> RewardEnsemble:
    """sources: component name ("contrastive/0", ...) -> the run folder of a finished ensemble
    that holds it. Writes out_dir/{model.pt, config.json, metrics.csv} as a training run would,
    with meta["assembled_from"] = note and each component's source. Every component of `cfg`
    must be sourced, from a run whose recipe for that type is the preset's (one line if not)."""
    names = component_names(cfg)
    missing = [n for n in names if n not in sources]
    if missing:
        raise MinigaptError(f"no source for reward component {missing[0]}")
    runs = {}
    for name in names:
        run = Path(sources[name])
        if run not in runs:
            ckpt = load_checkpoint(run / CHECKPOINT_NAME, kind=KIND)
            runs[run] = (ensemble_from_checkpoint(ckpt).eval(), ckpt.meta)
        ensemble, _ = runs[run]
        kind = name.split("/")[0]
        if name not in ensemble.names:
            raise MinigaptError(f"{run} has no reward component {name}")
        if component_recipe(kind, ensemble.cfg) != component_recipe(kind, cfg):
            raise MinigaptError(f"{run} trained {name} with another recipe than {cfg.scale}'s preset")
    out = RewardEnsemble(cfg, {n: runs[Path(sources[n])][0].component(n) for n in names})
    summary, normalisation = {}, {}
    for i, name in enumerate(out.names):
        ensemble, meta = runs[Path(sources[name])]
        j = ensemble.names.index(name)
        out.mean[i], out.std[i] = ensemble.mean[j], ensemble.std[j]
        normalisation[name] = [float(ensemble.mean[j]), float(ensemble.std[j])]
        summary[name] = meta.get("summary", {}).get(name, {})
    meta = {"summary": summary, "normalisation": normalisation, "complete": True,
            "seconds": round(sum(s.get("seconds", 0) for s in summary.values()), 1),
            "assembled_from": note, "sources": {n: str(sources[n]) for n in names}}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=2))
    _copy_metrics(names, sources, out_dir / "metrics.csv")
    save_ensemble(out, out_dir / CHECKPOINT_NAME, meta)
    return out.eval()


def _copy_metrics(names, sources, dest: Path) -> None:
    """Each component's training-curve rows from its source run's metrics.csv."""
    rows, columns = [], None
    for run in dict.fromkeys(Path(sources[n]) for n in names):
        path = run / "metrics.csv"
        if not path.is_file():
            continue
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            columns = columns or reader.fieldnames
            rows += [r for r in reader if r.get("model") in names and Path(sources[r["model"]]) == run]
    if columns:
        with open(dest, "w", newline="") as f:
            writer = csv.DictWriter(f, columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
