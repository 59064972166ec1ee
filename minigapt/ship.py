"""Shipped checkpoints: finished runs copied into assets/checkpoints/ with a model card each
(the supervised stages from the course scale, the Table 1 RL runs from the ship scale).

A student who skips a stage loads these by name (`online-mle`, `realchords`, `gapt`, ...): the
library's train-or-load functions fall back to assets/checkpoints/<name>.pt when the student has
no run of their own at that scale. Weights are stored as float16 (the models compute in float32;
loading casts back) so that every stage fits in the repository's 30 MB budget. The metrics in
a model card are those its run measured (float32); the README's tables are measured on the
shipped float16 weights themselves.

`ship("course")` (CLI: `python -m minigapt ship`) rebuilds the folder from runs/course/;
`ship("ship", names=[...])` the RL runs from runs/ship/.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from .atomic import atomic_write
from .errors import MinigaptError
from .metrics_log import read_log
from .models.checkpoint import CHECKPOINT_NAME, load_checkpoint, runs_dir, shipped_dir
from .rl.gapt import discriminator_path
from .rl.shipped import measure_data_level
from .rl.train import load_run


@dataclass(frozen=True)
class ShippedModel:
    """One shipped checkpoint and the run it comes from."""

    name: str
    """The name it resolves by (assets/checkpoints/<name>.pt)."""
    run: str
    """Its run folder under runs/<scale>/."""
    stage: str
    """The notebook that trains it."""
    what: str
    """One line for the model card."""


SHIPPED = (
    ShippedModel("online-mle", "online-mle", "02_mle", "online chord policy, supervised (MLE)"),
    ShippedModel("offline-anchor", "offline-anchor", "02_mle", "offline model that sees the whole melody: RL's KL anchor"),
    ShippedModel("rewards", "rewards", "03_reward_models", "reward ensemble: contrastive + discriminative, harmony and rhythm, 2 seeds each"),
    ShippedModel("realchords", "realchords-seed0", "04_naive_rl", "ReaLchords baseline: PPO on the coherence reward, no entropy bonus"),
    ShippedModel("gapt-no-adv", "gapt-no-adv-seed0", "04_naive_rl", "GAPT without adversarial training (PPO + entropy bonus)"),
    ShippedModel("gapt", "gapt-seed0", "05_gapt", "GAPT: PPO + entropy bonus + the co-trained discriminator's reward"),
    # seeds 1 and 2 of the three Table 1 systems: notebooks 04-05 show 3 seeds without retraining
    *(ShippedModel(f"{system}-seed{seed}", f"{system}-seed{seed}", stage, f"{system}, seed {seed} (see {system}.md)")
      for system, stage in (("realchords", "04_naive_rl"), ("gapt-no-adv", "04_naive_rl"), ("gapt", "05_gapt"))
      for seed in (1, 2)),
    # the melody agent of Table 2 (its offline anchor is left out: it only serves RL training)
    ShippedModel("melody-mle", "melody-mle", "06_evaluation", "melody jamming agent, supervised (MLE): melody-first stream"),
    ShippedModel("melody-gapt", "melody-gapt-seed0", "06_evaluation",
                 "melody jamming agent post-trained with GAPT: mirrored rewards + adversarial reward"),
)
CARRIED_LOG = "metrics_csv"
"""Meta key of the metrics.csv text a shipped supervised checkpoint carries (RL runs carry
theirs parsed, as "metrics_history", beside their "eval_history", for rl.train.load_run)."""


def half_precision(state_dict: dict) -> dict:
    """Floating-point tensors to float16 (integer buffers untouched)."""
    return {k: v.half() if torch.is_floating_point(v) else v for k, v in state_dict.items()}


def _write_half(src: Path, dest: Path, extra_meta: dict) -> dict:
    payload = torch.load(src, map_location="cpu", weights_only=True)
    payload["state_dict"] = half_precision(payload["state_dict"])
    payload["meta"] = {**(payload.get("meta") or {}), **extra_meta}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write(dest, buffer.getvalue())
    return payload


def _scalars(d: dict) -> dict:
    return {k: v for k, v in d.items() if isinstance(v, (int, float, str, bool))
            and k not in ("complete", CARRIED_LOG)}


def model_card(entry: ShippedModel, payload: dict, size_bytes: int, extra: str = "") -> str:
    """The markdown card of one shipped checkpoint: data, scale, steps, wall time, metrics, seed."""
    cfg, meta = payload.get("train_config") or {}, payload.get("meta") or {}
    data = cfg.get("data") or {}
    params = sum(v.numel() for v in payload["state_dict"].values())
    steps = meta.get("updates_done", meta.get("steps_done", cfg.get("steps")))
    lines = [f"# {entry.name}", "", entry.what + ".", "",
             "| field | value |", "| --- | --- |",
             f"| file | `{entry.name}.pt` ({size_bytes / 1e6:.2f} MB, float16 weights) |",
             f"| kind | {payload['kind']} |",
             f"| parameters | {params:,} |",
             f"| scale | {cfg.get('scale', '?')} |",
             f"| seed | {cfg.get('seed', cfg.get('seeds', '?'))} |",
             f"| trained by | " + (f"`python -m minigapt train {cfg.get('system')} --scale ship --seed {cfg.get('seed')}`"
                                   if cfg.get("scale") == "ship" else f"notebooks/{entry.stage}.ipynb")
             + f" (run folder runs/{cfg.get('scale', '?')}/{entry.run}/) |",
             f"| steps / updates | {steps} |",
             f"| wall time | {meta.get('seconds', '?')} s (2-core CPU, one torch thread) |",
             f"| minigapt version | {payload.get('version')} |"]
    if data:
        mix = ", ".join(f"{k} {v:.0%}" for k, v in (data.get("sources") or {}).items())
        lines.append(f"| data | {mix} of training crops; {data.get('crop_frames')}-frame crops, "
                     f"transposition +-{data.get('transpose')}, split {data.get('split_fractions')} "
                     f"by song (seed {data.get('split_seed')}) |")
    elif "system" in cfg:
        base = meta.get("base", "online-mle")
        anchor = "melody-anchor" if base.startswith("melody") else "offline-anchor"
        lines.append(f"| data | crops of the training split its base model was trained on, "
                     f"{cfg.get('crop_frames')}-frame crops; starts from {base}, KL anchor {anchor} |")
    lines += ["", "## Metrics (measured by the run that trained it)", ""]
    scalars = _scalars({k: v for k, v in meta.items() if k not in ("seconds", "steps_done", "updates_done")})
    for k, v in scalars.items():
        lines.append(f"- {k}: {round(v, 4) if isinstance(v, float) else v}")
    evals = meta.get("eval_history") or []
    if evals:
        last = evals[-1]
        split = {"valid": "validation"}.get(cfg.get("eval_split", "test"), cfg.get("eval_split", "test"))
        lines.append(f"- final evaluation (update {last.get('update')}, Nottingham {split}, fixed melodies "
                     "and sampling seed): " + ", ".join(f"{k} {v:.3f}" for k, v in last.items()
                                                        if k != "update" and isinstance(v, (int, float))))
    summary = meta.get("summary")
    if isinstance(summary, dict):
        for model, s in summary.items():
            keys = [k for k in ("valid_acc", "valid_cos_true", "valid_cos_other", "valid_p_real_true",
                                "valid_p_real_fake") if k in s]
            lines.append(f"- {model}: " + ", ".join(f"{k} {s[k]:.3f}" for k in keys))
    if extra:
        lines += ["", extra]
    lines += ["", "## Training config", "", "```json", json.dumps(cfg, indent=1, default=str), "```", ""]
    return "\n".join(lines)


def ship(scale: str = "course", dest: str | Path | None = None, names=None, runs: str | Path | None = None) -> dict:
    """Copy the finished runs of `scale` into `dest` (assets/checkpoints/) as float16 checkpoints
    with model cards -> {name: size in bytes}. A missing or unfinished run is one MinigaptError line."""
    dest = Path(dest) if dest is not None else shipped_dir()
    runs = Path(runs) if runs is not None else runs_dir() / scale
    chosen = [e for e in SHIPPED if names is None or e.name in names]
    missing = [e.run for e in chosen if not (runs / e.run / CHECKPOINT_NAME).is_file()]
    if missing:
        raise MinigaptError(f"nothing to ship for {', '.join(missing)}: train them first (runs/{scale}/...)")
    dest.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for e in chosen:
        src = runs / e.run / CHECKPOINT_NAME
        ckpt = load_checkpoint(src)
        if not ckpt.meta.get("complete", True):
            raise MinigaptError(f"{src} is unfinished: let it train to the end before shipping it")
        stamp = {"shipped_from": f"runs/{scale}/{e.run}", "stored_as": "float16"}
        is_rl = "algorithm" in (ckpt.train_config or {})
        # the training log travels inside the file: the notebooks plot training from it
        log, carried = runs / e.run / "metrics.csv", {}
        if log.is_file():
            carried = {"metrics_history": read_log(log)} if is_rl else {CARRIED_LOG: log.read_text()}
        if is_rl and ckpt.kind == "online":  # a chord policy: the data's level on its curves' melodies too
            carried["data_level"] = measure_data_level(load_run(src))
        payload = _write_half(src, dest / f"{e.name}.pt", {**stamp, **carried})
        extra = ""
        d_src, d_dest = discriminator_path(src), discriminator_path(dest / f"{e.name}.pt")
        if d_src.is_file():  # GAPT: its discriminator too (notebook 05 shows what it sees)
            d_payload = _write_half(d_src, d_dest, stamp)
            sizes[d_dest.name] = d_dest.stat().st_size
            m = d_payload.get("meta") or {}
            extra = (f"Its discriminator ships beside it as `{d_dest.name}` ({sizes[d_dest.name] / 1e6:.2f} MB): "
                     f"D update events per phase {m.get('events')}, steps {m.get('steps')}.")
        size = (dest / f"{e.name}.pt").stat().st_size
        sizes[f"{e.name}.pt"] = size
        atomic_write(dest / f"{e.name}.md", model_card(e, payload, size, extra).encode())
    return sizes


def training_log_text(checkpoint) -> str | None:
    """The metrics.csv text of a checkpoint: the file beside a run's model.pt, else the copy a
    shipped supervised checkpoint carries (see ship()), else None."""
    checkpoint = Path(checkpoint)
    beside = checkpoint.parent / "metrics.csv"
    if checkpoint.name == CHECKPOINT_NAME and beside.is_file():
        return beside.read_text()
    return load_checkpoint(checkpoint).meta.get(CARRIED_LOG) if checkpoint.is_file() else None


def shipped_log_text(name: str, scale: str) -> str | None:
    """The training log a shipped checkpoint carries (rewards, online-mle, ...), if it exists and
    was trained at `scale`; None otherwise."""
    path = shipped_dir() / f"{name}.pt"
    if not path.is_file():
        return None
    ckpt = load_checkpoint(path)
    scale_of = (ckpt.train_config or {}).get("scale") or (ckpt.model_config or {}).get("scale")
    return training_log_text(path) if scale_of == scale else None
