"""Supervised (maximum-likelihood) training of the online policy and the offline anchor.

    cfg = TrainConfig.preset("course")
    policy = train_or_load("online-mle", cfg)            # own run, else shipped, else train
    anchor = train_or_load("offline-anchor", cfg, kind="offline")

One plain loop for both models (paper 3.1, C.1): AdamW, linear warmup then cosine decay to
`min_lr_ratio`, gradient clipping, a tqdm bar, metrics appended to <out_dir>/metrics.csv as
they go, the config printed at the start and saved beside the checkpoint (config.json), a
checkpoint on Ctrl-C (training then returns the model it has so far), and resume.pt about once a
minute, from which a stopped run continues to the result of an uninterrupted one (train/resume.py).

The policy learns every token of the chord-first stream (chords *and* melody); the anchor learns
only the chords, given the whole melody. Other kinds of model register their own recipe
(`register_trainer`: the melody agent of minigapt.agents and its offline model, which read the
melody-first stream). At course scale some policy crops open in a wrong key
(TrainConfig.wrong_key_start): the policy chooses its first chords before it hears the melody,
and a plain MLE policy keeps following such an opening.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..config import json_data, resolve_device
from ..data.dataset import DataConfig, eval_batch, load_frames, train_sampler
from ..errors import MinigaptError
from ..eval.harmony import note_in_chord_ratio
from ..generate import rollout_online
from ..models.anchor import OfflineAnchor
from ..models.checkpoint import (CHECKPOINT_NAME, build_model, load_checkpoint, runs_dir, save_checkpoint,
                                 say_stale, shipped_dir)
from ..models.decoder import ModelConfig, OnlinePolicy, count_parameters
from ..models.modes import eval_mode
from ..music.tokens import EOS, PAD, VOCAB, deinterleave_batch
from ..music.tokens import frames_from_streams  # noqa: F401 (notebooks import it from here)
from ..presets import override, preset, supervised_scale
from ..schedule import warmup_cosine
from ..store import same_recipe
from .resume import RESUME_FILE, load_progress, save_progress

TRANSPOSE_TABLES = np.stack([VOCAB.transpose_table(k) for k in range(12)]).astype(np.int64)

METRIC_FIELDS = ["step", "loss", "chord_loss", "melody_loss", "lr", "seconds",
                 "valid_loss", "valid_chord_loss", "valid_harmony", "valid_melody_loss"]


@dataclass
class TrainConfig:
    """Everything one supervised run depends on (saved with its checkpoint)."""

    model: ModelConfig = field(default_factory=ModelConfig)
    """The network (its max_len is set from data.crop_frames: the context it is trained on)."""
    data: DataConfig = field(default_factory=DataConfig)
    """Sources, mixing, crop length, transposition."""
    steps: int = 1000
    """Optimiser steps."""
    batch_size: int = 32
    """Crops per step."""
    lr: float = 1e-3
    """Peak learning rate (after warmup)."""
    min_lr_ratio: float = 0.1
    """The cosine schedule ends at lr * min_lr_ratio."""
    warmup_steps: int = 100
    """Linear warmup from 0 to lr."""
    weight_decay: float = 0.01
    """AdamW decoupled weight decay on matrices (not on norms)."""
    betas: tuple[float, float] = (0.9, 0.95)
    """AdamW betas."""
    grad_clip: float = 1.0
    """Clip the global gradient norm to this."""
    eval_every: int = 200
    """Validation loss (and online harmony for the policy) every this many steps and at the end."""
    eval_songs: int = 64
    """Validation songs used (one crop each, from the start)."""
    wrong_key_start: float = 0.0
    """Chance that a policy training crop opens in the wrong key: the chords of its first
    1..wrong_key_frames frames are transposed by 1-11 semitones in the *input* (those targets
    are not learnt; the first true chord after them becomes an onset). The policy picks its
    first chords before hearing the melody, so its own opening is often in a wrong key, and a
    plain MLE policy then follows its own chords; this teaches it to return to the melody's
    key. 0 = plain MLE (the paper's)."""
    wrong_key_frames: int = 32
    """Longest wrong-key opening, in frames."""
    seed: int = 0
    """Seeds the initialisation and the crop sampler."""
    scale: str = "course"
    """The preset this config came from (informational)."""

    def __post_init__(self):
        if isinstance(self.model, dict):
            self.model = ModelConfig.from_dict(self.model)
        if isinstance(self.data, dict):
            self.data = DataConfig(**self.data)
        # the context is what it is trained on: BOS + 2 tokens per frame + EOS (a copy, so a
        # ModelConfig shared between configs is never changed behind their back)
        self.model = dataclasses.replace(self.model, max_len=2 * self.data.crop_frames + 2)

    @classmethod
    def preset(cls, scale: str) -> "TrainConfig":
        scale = supervised_scale(scale)  # ship: the course's MLE
        fields = preset(scale, "mle")
        data = override(DataConfig.preset(scale), **fields.pop("data", {}))
        return cls(ModelConfig.preset(scale), data, scale=scale, **fields)


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warmup, then cosine from lr down to lr * min_lr_ratio at the last step."""
    return warmup_cosine(step, cfg.lr, cfg.warmup_steps, cfg.steps, cfg.min_lr_ratio)


# --- losses ------------------------------------------------------------------------------------
def _mean(ce: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (ce * mask).sum() / mask.sum().clamp(min=1)


def policy_losses(model: OnlinePolicy, streams: torch.Tensor,
                  inputs: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Cross-entropy over every next token of the streams (PAD targets ignored); chord_loss and
    melody_loss split it by position (chord positions are the odd stream indices). `inputs`:
    streams fed to the model instead of `streams` (see wrong_key_opening)."""
    inp, tgt = (streams if inputs is None else inputs)[:, :-1], streams[:, 1:]
    logits = model(inp)
    ce = F.cross_entropy(logits.flatten(0, 1).float(), tgt.flatten(), reduction="none").view_as(tgt)
    real = (tgt != PAD).float()
    odd = (torch.arange(1, streams.shape[1], device=streams.device) % 2 == 1)[None]
    frame = real * (tgt != EOS).float()
    return {"loss": _mean(ce, real), "chord_loss": _mean(ce, frame * odd),
            "melody_loss": _mean(ce, frame * ~odd)}


def wrong_key_opening(streams: np.ndarray, p: float, max_frames: int,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Chord-first streams [B, 2T+2] -> (inputs, targets): in a fraction p of rows the chords
    of the first k frames (k uniform in 1..max_frames) are transposed by 1-11 semitones in the
    inputs; in the targets that opening is PAD (not learnt), and the chord of frame k becomes
    an onset in both (the policy should *play* the right chord after a wrong one)."""
    inputs, targets = streams.copy(), streams.copy()
    n_frames = (streams.shape[1] - 2) // 2
    for b in np.flatnonzero(rng.random(len(streams)) < p):
        k = int(rng.integers(1, min(max_frames, n_frames - 1) + 1))
        pos = 1 + 2 * np.arange(k)  # chord positions of frames 0..k-1
        inputs[b, pos] = TRANSPOSE_TABLES[int(rng.integers(1, 12))][streams[b, pos]]
        targets[b, 1:2 * k + 1] = PAD
        first = int(streams[b, 1 + 2 * k])
        if VOCAB.is_chord[first] and not VOCAB.is_onset[first]:
            inputs[b, 1 + 2 * k] = targets[b, 1 + 2 * k] = first - VOCAB.n_chords
    return inputs, targets


def anchor_losses(model: OfflineAnchor, streams: torch.Tensor) -> dict[str, torch.Tensor]:
    """Cross-entropy of the chords given the whole melody (PAD chords ignored)."""
    melody, chords = frames_from_streams(streams)
    logits = model.chord_logits(melody, chords)
    ce = F.cross_entropy(logits.flatten(0, 1).float(), chords.flatten(), reduction="none").view_as(chords)
    loss = _mean(ce, (chords != PAD).float())
    return {"loss": loss, "chord_loss": loss}


# --- the loop ----------------------------------------------------------------------------------
def describe(cfg: TrainConfig) -> str:
    """The config as a few readable lines (printed at the start of a run)."""
    d = dataclasses.asdict(cfg)
    model, data = d.pop("model"), d.pop("data")
    line = lambda name, x: f"{name}: " + " ".join(f"{k}={v}" for k, v in x.items())  # noqa: E731
    return "\n".join([line("model", model), line("data", data), line("train", d)])


def online_harmony(model, streams: torch.Tensor, chord_first: bool = True) -> float:
    """Note-in-chord when the model plays its part online (seed 0) against the other part of
    the streams (for a chord policy: the melodies; for the melody agent: the chords)."""
    given, _ = deinterleave_batch(streams)  # the second slot of each frame: the part not played
    played = torch.cat([rollout_online(model, g, seed=0).chords for g in given.split(64)])
    return note_in_chord_ratio(*((given, played) if chord_first else (played, given)))


@dataclass(frozen=True)
class Trainer:
    """How one kind of model learns by MLE."""

    build: Callable
    """ModelConfig -> a fresh model."""
    losses: Callable
    """(model, streams [, inputs]) -> {"loss": ..., and parts among METRIC_FIELDS}."""
    chord_first: bool = True
    """The stream order its crops come in (False: melody first)."""
    plays_online: bool = False
    """Validate by its online harmony too (online_harmony)."""


TRAINERS: dict[str, Trainer] = {
    "online": Trainer(OnlinePolicy, policy_losses, plays_online=True),
    "offline": Trainer(OfflineAnchor, anchor_losses),
}


def register_trainer(kind: str, trainer: Trainer) -> None:
    TRAINERS[kind] = trainer


@torch.no_grad()
def _validate(model, kind: str, valid: torch.Tensor | None, cfg: TrainConfig) -> dict:
    if valid is None or len(valid) == 0:
        return {}
    valid = valid.to(next(model.parameters()).device)
    trainer = TRAINERS[kind]
    losses: dict[str, float] = {}
    with eval_mode(model):
        for chunk in valid.split(cfg.batch_size):
            for k, v in trainer.losses(model, chunk).items():
                losses[k] = losses.get(k, 0.0) + float(v) * len(chunk)
        out = {f"valid_{k}": v / len(valid) for k, v in losses.items() if f"valid_{k}" in METRIC_FIELDS}
        if trainer.plays_online:  # what matters in the end: harmony when playing online
            out["valid_harmony"] = online_harmony(model, valid, trainer.chord_first)
    return out


def _round_robin(by_source: dict[str, list]) -> list:
    """One song from each source in turn, so a prefix of the list covers all sources."""
    lists = [list(v) for v in by_source.values() if v]
    out = []
    for i in range(max((len(x) for x in lists), default=0)):
        out += [x[i] for x in lists if i < len(x)]
    return out


def _train(kind: str, cfg: TrainConfig, data, out_dir, *, data_dir=None, progress: bool = True,
           device=None, stop_after: int | None = None):
    """Train one model on `device` (None: MINIGAPT_DEVICE, else the CPU) -> the model on the CPU.
    A run stopped before (resume.pt in out_dir, same kind and config) continues where it was;
    stop_after stops after that many steps, as a closed laptop would (the tests')."""

    device = resolve_device(device)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    trainer = TRAINERS[kind]
    model = trainer.build(cfg.model)
    model.to(device)
    loss_fn = trainer.losses
    n_params = count_parameters(model)
    print(f"training the {kind} model on {device}: {n_params:,} parameters, {cfg.steps} steps\n"
          f"{describe(cfg)}")
    (out_dir / "config.json").write_text(json.dumps(
        {"kind": kind, "parameters": n_params, "train_config": dataclasses.asdict(cfg)}, indent=2))

    if data is None:
        data = load_frames(cfg.data, data_dir, progress=progress)
    sampler = train_sampler(data, cfg.data, chord_first=trainer.chord_first, seed=cfg.seed)
    opening_rng = np.random.default_rng(cfg.seed + 1)
    valid_frames = _round_robin(data.get("valid", {}))  # every source in the first eval_songs
    valid = torch.from_numpy(eval_batch(valid_frames, cfg.data.crop_frames, trainer.chord_first,
                                        limit=cfg.eval_songs)) if valid_frames else None
    if valid is not None and trainer.plays_online:
        melody, chords = deinterleave_batch(valid, trainer.chord_first)
        print(f"validation: {len(valid)} crops, ground-truth harmony {note_in_chord_ratio(melody, chords):.3f}")

    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=cfg.betas)
    rngs = {"sampler": sampler.rng, "openings": opening_rng}
    start, spent, last = load_progress(out_dir / RESUME_FILE, kind, cfg, model, opt, rngs)
    metrics_path = out_dir / "metrics.csv"
    _keep_rows(metrics_path, start)

    t0, saved_at = time.perf_counter() - spent, time.perf_counter()
    meta = {"steps_done": start, "complete": False}
    bar = tqdm(total=cfg.steps, initial=start, desc=f"{kind} MLE", disable=not progress)
    try:
        model.train()
        for step in range(start, cfg.steps):
            if stop_after is not None and step >= stop_after:
                break
            lr = lr_at(step, cfg)
            for group in opt.param_groups:
                group["lr"] = lr
            batch = sampler.sample(cfg.batch_size)
            if kind == "online" and cfg.wrong_key_start > 0:
                inputs, targets = wrong_key_opening(batch, cfg.wrong_key_start, cfg.wrong_key_frames,
                                                    opening_rng)
                out = policy_losses(model, torch.from_numpy(targets).to(device),
                                    torch.from_numpy(inputs).to(device))
            else:
                out = loss_fn(model, torch.from_numpy(batch).to(device))
            opt.zero_grad(set_to_none=True)
            out["loss"].backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            row = {"step": step + 1, "lr": lr, "seconds": round(time.perf_counter() - t0, 3),
                   **{k: round(float(v.detach()), 5) for k, v in out.items()}}
            if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
                last = _validate(model, kind, valid, cfg)
                row.update({k: round(v, 5) for k, v in last.items()})
            with open(metrics_path, "a", newline="") as f:
                csv.DictWriter(f, METRIC_FIELDS).writerow(row)
            meta["steps_done"] = step + 1
            if "valid_loss" in row or time.perf_counter() - saved_at > 60 or step + 1 == stop_after:
                save_progress(out_dir / RESUME_FILE, kind, cfg, model, opt, rngs, step + 1,
                              time.perf_counter() - t0, last)
                saved_at = time.perf_counter()
            bar.update(1)
            bar.set_postfix(loss=f"{row['loss']:.3f}", **{k: f"{v:.3f}" for k, v in last.items()})
        meta["complete"] = meta["steps_done"] == cfg.steps
    except KeyboardInterrupt:
        print(f"\ninterrupted after {meta['steps_done']} steps: saving what we have")
    finally:
        bar.close()
    meta.update({"seconds": round(time.perf_counter() - t0, 1), "parameters": n_params, **last})
    save_checkpoint(out_dir / CHECKPOINT_NAME, model, train_config=cfg, meta=meta)
    if meta["complete"]:
        (out_dir / RESUME_FILE).unlink(missing_ok=True)
    print(f"saved {out_dir / CHECKPOINT_NAME} ({meta['steps_done']} steps, {meta['seconds']} s)")
    return model.cpu().eval()


def _keep_rows(metrics_path: Path, steps: int) -> None:
    """metrics.csv with its header and the rows of the first `steps` steps only (a resumed run
    rewrites the steps it lost)."""
    rows = []
    if steps and metrics_path.is_file():
        with open(metrics_path, newline="") as f:
            rows = [r for r in csv.DictReader(f) if int(r["step"]) <= steps]
    with open(metrics_path, "w", newline="") as f:
        writer = csv.DictWriter(f, METRIC_FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def train_online(cfg: TrainConfig, data=None, out_dir="runs/online-mle", *, data_dir=None,
                 progress: bool = True, device=None) -> OnlinePolicy:
    """Train the online policy on all tokens. `data` = load_frames(cfg.data) output (loaded if
    None). Writes out_dir/{model.pt, config.json, metrics.csv}; returns the model (eval mode)."""
    return _train("online", cfg, data, out_dir, data_dir=data_dir, progress=progress, device=device)


def train_offline(cfg: TrainConfig, data=None, out_dir="runs/offline-anchor", *, data_dir=None,
                  progress: bool = True, device=None) -> OfflineAnchor:
    """Train the offline anchor on the chords given the whole melody (same files as above)."""
    return _train("offline", cfg, data, out_dir, data_dir=data_dir, progress=progress, device=device)


POLICY_ONLY_FIELDS = ("wrong_key_start", "wrong_key_frames")  # the anchor's training ignores them


def _normalised(cfg, kind: str = "online") -> dict:
    """A config as plain JSON data for comparison: a saved one gets the defaults of fields added
    since it was saved; fields that do not change this kind's training are left out."""
    if isinstance(cfg, dict):
        names = {f.name for f in dataclasses.fields(TrainConfig)}
        try:
            cfg = TrainConfig(**{k: v for k, v in cfg.items() if k in names})
        except (TypeError, ValueError):
            return json_data(cfg)
    d = json_data(cfg)
    if kind != "online":
        for name in POLICY_ONLY_FIELDS:
            d.pop(name, None)
    return d


def train_or_load(name: str, cfg: TrainConfig, *, kind: str = "online", data=None, data_dir=None,
                  runs: str | Path | None = None, use_pretrained: bool = True,
                  retrain: bool = False, progress: bool = True, device=None,
                  train_missing: bool = True):
    """The model called `name`: the student's own run (runs/<name>/) if it was trained with this
    very config, else the shipped checkpoint (assets/checkpoints/<name>.pt) if use_pretrained,
    else train it now (into runs/<name>/, on `device`: see _train), or return None when not
    train_missing. Models come back on the CPU."""
    if kind not in TRAINERS:
        raise MinigaptError(f"kind must be one of {', '.join(map(repr, TRAINERS))}, not {kind!r}")
    run_dir = Path(runs) if runs is not None else runs_dir()
    run_dir = run_dir / name
    own, shipped = run_dir / CHECKPOINT_NAME, shipped_dir() / f"{name}.pt"
    stale = None  # your own run there, trained with another config
    if own.is_file() and not retrain:
        ckpt = load_checkpoint(own, kind=kind)
        resumable = not ckpt.meta.get("complete", True) and (run_dir / RESUME_FILE).is_file() and train_missing
        if same_recipe(_normalised(ckpt.train_config or {}, kind), _normalised(cfg, kind)) and not resumable:
            done = ckpt.meta.get("steps_done", "?")
            note = "" if ckpt.meta.get("complete", True) else f" (interrupted: {done} of {cfg.steps} steps)"
            print(f"loaded your run {own}{note}")
            return build_model(ckpt)
        stale = None if resumable else f"{own} was trained with another config"
    if shipped.is_file() and use_pretrained and not retrain:
        ckpt = load_checkpoint(shipped, kind=kind)
        if same_recipe(_normalised(ckpt.train_config or {}, kind), _normalised(cfg, kind)):
            print(f"loaded the shipped checkpoint {shipped} ({cfg.scale} scale)")
            return build_model(ckpt)
        stale = stale or f"the shipped {shipped} was trained with another config"
    if not train_missing and not retrain:
        say_stale(stale, training=False)
        return None
    say_stale(stale, training=True)
    if retrain:
        (run_dir / RESUME_FILE).unlink(missing_ok=True)
    if kind in ("online", "offline"):
        train = train_online if kind == "online" else train_offline
        return train(cfg, data, run_dir, data_dir=data_dir, progress=progress, device=device)
    return _train(kind, cfg, data, run_dir, data_dir=data_dir, progress=progress, device=device)
