"""Training loops for the reward models: one plain loop for any type, and the ensemble.

Every reward model has `loss(x, y, generator) -> (loss, metrics)` on a batch of real pairs
(it makes its own fakes or in-batch negatives), so one loop trains them all: AdamW, linear
warmup then cosine decay to 10%, gradient clipping, a tqdm bar, validation metrics appended to
a CSV as it goes. Ctrl-C stops training early and keeps what was learnt so far.
`rewards_for_scale(scale)` is the one call the notebooks make (run folder runs/<scale>/rewards/).

Batches come from anything with `.sample(batch_size) -> int64 [B, 2T + 2]` chord-first streams
(data.dataset.CropSampler); validation pairs from data.dataset.eval_batch. A run writes
runs/<name>/{model.pt, config.json, metrics.csv}; `train_or_load_rewards` reuses it.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from ..config import resolve_device
from ..data.dataset import eval_batch, load_frames, train_sampler
from ..errors import MinigaptError
from ..models.checkpoint import CHECKPOINT_NAME, runs_dir, say_stale, shipped_dir
from ..models.decoder import count_parameters
from ..models.modes import eval_mode
from ..music.tokens import deinterleave_batch
from ..schedule import warmup_cosine
from ..store import same_recipe
from .ensemble import (RewardConfig, RewardEnsemble, build_reward_model, component_names, config_dict,
                       load_ensemble, save_ensemble, schedule_for)


# one CSV for every component: a fixed column set so rows of different model types line up
CSV_COLUMNS = ("model", "step", "seconds", "lr", "loss", "acc", "cos_true", "cos_other", "logit_scale",
               "p_real_true", "p_real_fake", "valid_loss", "valid_acc", "valid_cos_true",
               "valid_cos_other", "valid_p_real_true", "valid_p_real_fake")


def streams_to_frames(streams, chord_first: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Batched deinterleave of numpy streams -> melody frames x and chord frames y, [B, T]."""
    return deinterleave_batch(np.asarray(streams, dtype=np.int64), chord_first)


def lr_at(step: int, cfg: RewardConfig) -> float:
    """Linear warmup to cfg.lr, then cosine decay to 10% of it at the last step."""
    return warmup_cosine(step, cfg.lr, cfg.warmup_steps, cfg.steps, 0.1)


def evaluate_reward_model(model, x_valid, y_valid, batch_size: int, seed: int = 1234) -> dict:
    """Mean validation loss and metrics over fixed batches (fixed fakes: a seeded generator)."""
    gen = torch.Generator().manual_seed(seed)
    totals: dict[str, float] = {}
    n = 0
    with eval_mode(model), torch.no_grad():
        for i in range(0, len(x_valid) - 1, batch_size):
            xb, yb = x_valid[i:i + batch_size], y_valid[i:i + batch_size]
            if len(xb) < 2:
                break
            loss, metrics = model.loss(xb, yb, gen)
            for k, v in {"loss": loss.item(), **metrics}.items():
                totals[k] = totals.get(k, 0.0) + v * len(xb)
            n += len(xb)
    return {f"valid_{k}": v / max(n, 1) for k, v in totals.items()}


def train_reward_model(model, sampler, cfg: RewardConfig, seed: int = 0, x_valid=None, y_valid=None,
                       csv_path: str | Path | None = None, progress: bool = True,
                       name: str = "reward") -> list[dict]:
    """Train one reward model in place for cfg.steps; returns the logged rows (also in the CSV)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay,
                            betas=(0.9, 0.98))
    writer, csv_file = None, None
    rows: list[dict] = []
    model.train()
    bar = tqdm(range(cfg.steps), desc=name, disable=not progress, leave=False)
    t0 = time.perf_counter()
    try:
        for step in bar:
            x, y = streams_to_frames(sampler.sample(cfg.batch_size))
            for g in opt.param_groups:
                g["lr"] = lr_at(step, cfg)
            loss, metrics = model.loss(x, y, gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            bar.set_postfix(loss=f"{loss.item():.3f}", acc=f"{metrics['acc']:.2f}")
            last = step + 1 == cfg.steps
            if (step + 1) % cfg.eval_every == 0 or last:
                row = {"model": name, "step": step + 1, "seconds": round(time.perf_counter() - t0, 2),
                       "lr": lr_at(step, cfg), "loss": loss.item(), **metrics}
                if x_valid is not None:
                    row.update(evaluate_reward_model(model, x_valid, y_valid, cfg.batch_size))
                rows.append(row)
                if csv_path is not None:
                    if writer is None:
                        Path(csv_path).parent.mkdir(parents=True, exist_ok=True)
                        new = not Path(csv_path).exists()
                        csv_file = open(csv_path, "a", newline="")
                        writer = csv.DictWriter(csv_file, fieldnames=CSV_COLUMNS, extrasaction="ignore")
                        if new:
                            writer.writeheader()
                    writer.writerow(row)
                    csv_file.flush()
    finally:
        bar.close()
        if csv_file is not None:
            csv_file.close()
        model.eval()
    return rows


def train_reward_ensemble(cfg: RewardConfig, sampler_for_seed: Callable[[int], object], valid_streams,
                          out_dir: str | Path | None = None, progress: bool = True,
                          device: str | torch.device | None = None) -> RewardEnsemble:
    """Train every (type, seed) component, normalise on validation pairs; with out_dir, write
    out_dir/{model.pt, config.json, metrics.csv} (metrics appended as training goes).

    sampler_for_seed(seed) -> an object with .sample(batch_size) (e.g. a CropSampler seeded
    with `seed`, so the two seeds of a type also see different batches).
    Ctrl-C: the model being trained keeps what it learnt, untrained ones are left out.
    device: where the models train (None: MINIGAPT_DEVICE, else the CPU; "cuda" for the paper
    scale); batches are moved there. The ensemble comes back on the CPU."""
    device = resolve_device(device)
    x_valid, y_valid = streams_to_frames(valid_streams)
    x_valid, y_valid = x_valid[:cfg.valid_pairs], y_valid[:cfg.valid_pairs]
    out = Path(out_dir) if out_dir is not None else None
    steps = ", ".join(f"{t} {schedule_for(t, cfg).steps}" for t in cfg.types)
    print(f"reward models: {', '.join(component_names(cfg))}; steps: {steps}; batch "
          f"{cfg.batch_size}, dim {cfg.dim} x {cfg.n_layers} layers ({cfg.scale})")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=2))
        (out / "metrics.csv").unlink(missing_ok=True)
    models, summary, t0 = {}, {}, time.perf_counter()
    try:
        for name in component_names(cfg):
            kind, seed = name.split("/")[0], int(name.split("/")[1])
            torch.manual_seed(seed)
            models[name] = build_reward_model(kind, cfg).to(device)
            rows = train_reward_model(models[name], sampler_for_seed(seed), schedule_for(kind, cfg), seed, x_valid, y_valid,
                                      out / "metrics.csv" if out else None, progress, name)
            summary[name] = {"parameters": count_parameters(models[name]), **(rows[-1] if rows else {})}
            print(f"  {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in summary[name].items()
                                            if k.startswith("valid_")))
    except KeyboardInterrupt:
        print(f"\ninterrupted: keeping {len(models)} reward model(s): {', '.join(models)}")
    if not models:
        raise KeyboardInterrupt
    ensemble = RewardEnsemble(cfg, models).to(device)
    stats = ensemble.set_normalisation(x_valid, y_valid)
    meta = {"summary": summary, "normalisation": {n: list(ms) for n, ms in stats.items()},
            "complete": len(models) == len(component_names(cfg)),
            "seconds": round(time.perf_counter() - t0, 1)}
    if out is not None:
        save_ensemble(ensemble, out / CHECKPOINT_NAME, meta)
        print(f"saved {out / CHECKPOINT_NAME} ({meta['seconds']} s)")
    return ensemble.cpu().eval()


def train_rewards(cfg: RewardConfig, data=None, out_dir: str | Path | None = "runs/rewards", *,
                  data_dir=None, progress: bool = True, device: str | torch.device | None = None) -> RewardEnsemble:
    """The whole step: `data` = data.dataset.load_frames(cfg.data) output (loaded if None);
    crops from the train split, validation pairs from the valid split (one per song)."""
    if data is None:
        data = load_frames(cfg.data, data_dir, progress=progress)
    valid = [sf for songs in data.get("valid", {}).values() for sf in songs]
    if len(valid) < 2:
        raise MinigaptError("the reward models need at least 2 validation songs to normalise on")
    valid_streams = eval_batch(valid, cfg.data.crop_frames, limit=cfg.valid_pairs)
    return train_reward_ensemble(cfg, lambda seed: train_sampler(data, cfg.data, seed=seed),
                                 valid_streams, out_dir, progress, device)


def train_or_load_rewards(name: str = "rewards", cfg: RewardConfig | None = None, *, data=None,
                          data_dir=None, runs: str | Path | None = None, use_pretrained: bool = True,
                          retrain: bool = False, progress: bool = True,
                          device: str | torch.device | None = None) -> RewardEnsemble:
    """The reward ensemble called `name`: the student's own run (runs/<name>/) if trained with
    this very config, else the shipped checkpoint (assets/checkpoints/<name>.pt) if
    use_pretrained, else train it now into runs/<name>/ (on `device`; it comes back on the CPU)."""
    cfg = cfg or RewardConfig.preset("course")
    run_dir = (Path(runs) if runs is not None else runs_dir()) / name
    own, shipped = run_dir / CHECKPOINT_NAME, shipped_dir() / f"{name}.pt"
    stale = []  # what stood there but was trained with another config
    if own.is_file() and not retrain:
        ensemble = load_ensemble(own)
        if same_recipe(config_dict(ensemble.cfg), config_dict(cfg)):
            print(f"loaded your run {own}")
            return ensemble
        stale.append(f"{own} was trained with another config")
    if shipped.is_file() and use_pretrained and not retrain:
        ensemble = load_ensemble(shipped)
        if same_recipe(config_dict(ensemble.cfg), config_dict(cfg)):  # the same recipe (scale, types, steps)
            print(f"loaded the shipped reward models {shipped} ({cfg.scale} scale)")
            return ensemble
        stale.append(f"the shipped reward models {shipped} were trained with another config")
    for why in stale:
        say_stale(why, training=True)
    return train_rewards(cfg, data, run_dir, data_dir=data_dir, progress=progress, device=device)


def rewards_for_scale(scale: str, *, types=None, data=None, data_dir=None, use_pretrained: bool = True,
                      retrain: bool = False, progress: bool = True,
                      device: str | torch.device | None = None) -> RewardEnsemble:
    """The reward ensemble every notebook uses at `scale`: RewardConfig.preset(scale) (only
    `types`, if given), run folder runs/<scale>/rewards/ (notebook 03 trains it; later notebooks
    load it from there, else from the shipped checkpoint, else train it)."""
    cfg = RewardConfig.preset(scale)
    if types is not None:
        cfg.types = tuple(types)
        cfg.__post_init__()  # checks the type names
    return train_or_load_rewards("rewards", cfg, data=data, data_dir=data_dir, runs=runs_dir() / cfg.scale,
                                 use_pretrained=use_pretrained, retrain=retrain, progress=progress,
                                 device=device)
