"""The coherence reward R_coh(x, y): an ensemble of reward models (paper 3.4, C.2-C.3).

Four types (contrastive, discriminative, and their rhythm-only variants), each trained with a
few seeds. Their scores live on different scales (a cosine in [-1, 1], a probability in
[0, 1]), so each component is normalised by the mean and std of its scores on real pairs of the
validation split, z = (s - mean) / std, and R_coh is the mean of the z's: 0 means "as coherent
as a typical data pair", -1 "one std worse". (The authors sum raw scores with weight 1; the
normalisation keeps one type from dominating only because its scale is larger.) The stats are
stored in the checkpoint. Any subset of components can be switched off with `use`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..config import json_data
from ..data.dataset import DataConfig
from ..errors import MinigaptError
from ..models.checkpoint import load_checkpoint, resolve_checkpoint, save_checkpoint
from ..models.modes import eval_mode
from ..presets import preset, supervised_scale
from .contrastive import ContrastiveReward
from .discriminative import DiscriminativeReward
from .encoders import as_tokens

REWARD_TYPES = ("contrastive", "discriminative", "rhythm_contrastive", "rhythm_discriminative")


@dataclass
class RewardConfig:
    """Reward models: architecture, training and ensemble. Presets: smoke, course, paper."""

    data: DataConfig = field(default_factory=lambda: DataConfig.preset("course"))
    """Training crops (sources, mixing, crop length, transposition); validation pairs too."""
    types: tuple[str, ...] = REWARD_TYPES
    """Which reward types to train and put in the ensemble (any subset of REWARD_TYPES)."""
    seeds: tuple[int, ...] = (0, 1)
    """One model per type and seed (the authors: 2 seeds, 8 reward terms)."""
    dim: int = 64
    """Width of every encoder."""
    n_layers: int = 2
    """Transformer blocks per encoder."""
    n_heads: int = 4
    """Attention heads (dim must be a multiple)."""
    ff_mult: int = 4
    """MLP width = ff_mult * dim inside each block."""
    dropout: float = 0.1
    """Dropout while training (always off when scoring: eval mode)."""
    frames_per_position: int = 4
    """Frames packed into one encoder position (4 = a beat: ~4x faster on a CPU; paper: 1)."""
    proj_dim: int = 64
    """Size of the contrastive embeddings (also what the Vendi score is computed on)."""
    contrastive_pooling: str = "mean"
    """'mean' over frames or 'first' ([CLS]) for the contrastive towers."""
    discriminative_pooling: str = "first"
    """Pooling before the discriminative classifier ('first' = [CLS], as the authors)."""
    key_matched_fakes: float = 0.5
    """Fraction of the discriminative reward's re-paired fakes moved into their melody's key,
    so it must judge harmony rather than key (training crops are transposed at random; the
    authors: 0)."""
    temperature_init: float = 0.07
    """Initial InfoNCE temperature (a learnable 1/T starts at 1/0.07, capped at 100)."""
    batch_size: int = 64
    """Crops per training step (InfoNCE negatives come from the batch)."""
    steps: int = 400
    """Optimiser steps per model (of the types not in steps_by_type)."""
    steps_by_type: dict[str, int] | None = None
    """Steps for some types instead (the paper trains its full-input contrastive model 8,000
    steps, the rhythm-only one 2,500); their warmup and eval cadence scale in proportion."""
    lr: float = 1e-3
    """Peak AdamW learning rate (linear warmup, cosine decay to 10%)."""
    warmup_steps: int = 40
    """Steps of linear warmup."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    grad_clip: float = 1.0
    """Gradient-norm clip."""
    eval_every: int = 50
    """Validation metrics every this many steps (written to the CSV)."""
    valid_pairs: int = 256
    """Validation crops used for metrics and for the normalisation stats."""
    scale: str = "course"
    """The preset this config came from (informational)."""

    @classmethod
    def preset(cls, scale: str) -> "RewardConfig":
        scale = supervised_scale(scale)  # ship: the course's reward models
        return cls(DataConfig.preset(scale), scale=scale, **preset(scale, "rewards"))

    def __post_init__(self):
        if isinstance(self.data, dict):  # read back from a checkpoint
            self.data = DataConfig(**self.data)
        self.types, self.seeds = tuple(self.types), tuple(self.seeds)
        self.steps_by_type = dict(self.steps_by_type) if self.steps_by_type else None
        bad = [t for t in self.types if t not in REWARD_TYPES]
        if bad:
            raise MinigaptError(f"unknown reward type {bad[0]!r}; choose from {', '.join(REWARD_TYPES)}")


def schedule_for(kind: str, cfg: RewardConfig) -> RewardConfig:
    """cfg with the steps of `kind` (steps_by_type), its warmup and eval cadence in proportion."""
    steps = (cfg.steps_by_type or {}).get(kind, cfg.steps)
    if steps == cfg.steps:
        return cfg
    scale = steps / cfg.steps
    return dataclasses.replace(cfg, steps=steps, warmup_steps=max(1, round(cfg.warmup_steps * scale)),
                               eval_every=max(1, round(cfg.eval_every * scale)))


def build_reward_model(kind: str, cfg: RewardConfig) -> nn.Module:
    """A fresh (untrained) reward model of one type."""
    arch = dict(dim=cfg.dim, n_layers=cfg.n_layers, n_heads=cfg.n_heads, ff_mult=cfg.ff_mult,
                dropout=cfg.dropout, rhythm=kind.startswith("rhythm_"),
                frames_per_position=cfg.frames_per_position)
    if kind.endswith("contrastive"):
        return ContrastiveReward(proj_dim=cfg.proj_dim, pooling=cfg.contrastive_pooling,
                                 temperature_init=cfg.temperature_init, **arch)
    if kind.endswith("discriminative"):
        return DiscriminativeReward(pooling=cfg.discriminative_pooling,
                                    key_matched_fakes=cfg.key_matched_fakes, **arch)
    raise MinigaptError(f"unknown reward type {kind!r}")


def config_dict(cfg: RewardConfig) -> dict:
    """A config as plain JSON data: what "the same recipe" compares (a saved one reads back equal)."""
    return json_data(cfg)


def fingerprint(ensemble) -> str | None:
    """A short hash of what an ensemble is (its config and components): an RL run records the
    one it was trained on, and stands in only for that one. None for an object without a config."""
    cfg = getattr(ensemble, "cfg", None)
    if cfg is None:
        return None

    what = json.dumps({"config": config_dict(cfg), "names": list(getattr(ensemble, "names", []))}, sort_keys=True)
    return hashlib.sha1(what.encode()).hexdigest()[:12]


def component_names(cfg: RewardConfig) -> list[str]:
    return [f"{kind}/{seed}" for kind in cfg.types for seed in cfg.seeds]


class RewardEnsemble(nn.Module):
    """Components named "<type>/<seed>"; buffers `mean`, `std` hold the normalisation stats."""

    def __init__(self, cfg: RewardConfig, models: dict[str, nn.Module] | None = None):
        super().__init__()
        self.cfg = cfg
        self.names = component_names(cfg) if models is None else list(models)
        models = models or {n: build_reward_model(n.split("/")[0], cfg) for n in self.names}
        self.components = nn.ModuleDict({n.replace("/", "_"): models[n] for n in self.names})
        self.register_buffer("mean", torch.zeros(len(self.names)))
        self.register_buffer("std", torch.ones(len(self.names)))

    def component(self, name: str) -> nn.Module:
        return self.components[name.replace("/", "_")]

    def select(self, use=None) -> list[str]:
        """Component names matching `use`: None = all; else names ("contrastive/0") or types
        ("rhythm_discriminative") to keep."""
        if use is None:
            return list(self.names)
        use = {use} if isinstance(use, str) else set(use)
        chosen = [n for n in self.names if n in use or n.split("/")[0] in use]
        if not chosen:
            raise MinigaptError(f"no reward component matches {sorted(use)}; have {', '.join(self.names)}")
        return chosen

    def raw_scores(self, x, y, use=None, chunk: int = 256) -> dict[str, torch.Tensor]:
        """{name: float [B]} unnormalised scores, computed in eval mode in chunks of `chunk`."""
        x, y = as_tokens(x, self.mean.device), as_tokens(y, self.mean.device)  # where the models are
        out = {}
        with eval_mode(self), torch.no_grad():
            for name in self.select(use):
                model = self.component(name)
                out[name] = torch.cat([model.score(x[i:i + chunk], y[i:i + chunk]).float().cpu()
                                       for i in range(0, len(x), chunk)])
        return out

    def normalised_scores(self, x, y, use=None, chunk: int = 256) -> dict[str, torch.Tensor]:
        raw = self.raw_scores(x, y, use, chunk)
        idx = {n: i for i, n in enumerate(self.names)}
        return {n: (s - self.mean[idx[n]].cpu()) / self.std[idx[n]].cpu() for n, s in raw.items()}

    def score(self, x, y, use=None, chunk: int = 256) -> torch.Tensor:
        """R_coh: float [B], the mean of the selected components' normalised scores."""
        z = self.normalised_scores(x, y, use, chunk)
        return torch.stack(list(z.values())).mean(0)

    def set_normalisation(self, x_valid, y_valid) -> dict[str, tuple[float, float]]:
        """Mean/std of every component's scores on real validation pairs -> the buffers."""
        raw = self.raw_scores(x_valid, y_valid)
        for i, n in enumerate(self.names):
            self.mean[i] = raw[n].mean()
            self.std[i] = raw[n].std().clamp(min=1e-6) if len(raw[n]) > 1 else 1.0
        return {n: (float(self.mean[i]), float(self.std[i])) for i, n in enumerate(self.names)}

    def embed_chords(self, y, chunk: int = 256) -> torch.Tensor:
        """Chord-tower embeddings of the first contrastive component (what Vendi is computed on)."""
        return self._embed("embed_chords", y, chunk)

    def embed_melodies(self, x, chunk: int = 256) -> torch.Tensor:
        """Melody-tower embeddings of the same component (the melody agent's Vendi score)."""
        return self._embed("embed_melody", x, chunk)

    def _embed(self, tower: str, a, chunk: int) -> torch.Tensor:
        name = next((n for n in self.names if n.split("/")[0] == "contrastive"), None)
        if name is None:
            raise MinigaptError(f"this reward ensemble has no contrastive model to {tower.replace('_', ' ')} with")
        model, a = self.component(name), as_tokens(a, self.mean.device)
        with eval_mode(self), torch.no_grad():
            return torch.cat([getattr(model, tower)(a[i:i + chunk]).cpu() for i in range(0, len(a), chunk)])


# --- checkpoints: models/checkpoint.py's format and checks, rebuilt from the saved names -------
KIND = "reward_ensemble"


def save_ensemble(ensemble: RewardEnsemble, path: str | Path, meta: dict | None = None) -> Path:
    """Weights, RewardConfig, component names (meta["names"]) and normalisation stats."""
    return save_checkpoint(path, ensemble, train_config=ensemble.cfg, kind=KIND,
                           meta={**(meta or {}), "names": list(ensemble.names)})


def load_ensemble(name_or_path: str | Path = "rewards", device: str | torch.device = "cpu",
                  scale: str = "course") -> RewardEnsemble:
    """A saved ensemble (a path, a run folder, runs/<scale>/<name>/ or a shipped <name>.pt), in
    eval mode. A missing, damaged or mismatched file is one MinigaptError line."""
    path = resolve_checkpoint(name_or_path, scale)
    return ensemble_from_checkpoint(load_checkpoint(path, kind=KIND)).to(device).eval()


def ensemble_from_checkpoint(ckpt) -> RewardEnsemble:
    """The RewardEnsemble a loaded reward checkpoint holds (for callers that also need its meta)."""
    cfg = RewardConfig(**ckpt.model_config)
    names = ckpt.meta.get("names") or component_names(cfg)
    ens = RewardEnsemble(cfg, {n: build_reward_model(n.split("/")[0], cfg) for n in names})
    try:
        ens.load_state_dict(ckpt.state_dict)
    except RuntimeError as e:
        raise MinigaptError(f"checkpoint {ckpt.path} does not match its reward config: "
                            f"{str(e).splitlines()[0][:160]}") from None
    return ens
