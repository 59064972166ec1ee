"""Checkpoints: one .pt file holding the weights and everything needed to trust them.

Each file carries the model kind ("online", "offline", ...), the model config, the training
config, the vocabulary hash and the minigapt version that wrote it. Loading checks them and
fails with one line saying what differs, because a checkpoint read against another vocabulary
would load without error and then play nonsense. Files are written atomically (temp file +
rename) so an interrupted save never leaves a half-written checkpoint behind.

Model names resolve, at one scale, to the student's own run first (runs/<scale>/<name>/model.pt),
then to a shipped checkpoint (assets/checkpoints/<name>.pt), never to another scale's run.
"""
from __future__ import annotations

import dataclasses
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from .. import __version__
from ..atomic import atomic_write
from ..errors import MinigaptError
from ..music.tokens import VOCAB
from .anchor import OfflineAnchor
from .decoder import ModelConfig, OnlinePolicy, ValueModel

FORMAT = 1
CHECKPOINT_NAME = "model.pt"  # inside a run folder

# kind -> builder(model_config dict) -> nn.Module; later modules register their own kinds
MODEL_BUILDERS: dict[str, Callable[[dict], torch.nn.Module]] = {
    "online": lambda d: OnlinePolicy(ModelConfig.from_dict(d)),
    "offline": lambda d: OfflineAnchor(ModelConfig.from_dict(d)),
    "critic": lambda d: ValueModel(OnlinePolicy(ModelConfig.from_dict(d))),
}


def register_model_kind(kind: str, builder: Callable[[dict], torch.nn.Module]) -> None:
    MODEL_BUILDERS[kind] = builder


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def runs_dir() -> Path:
    """Where training runs go: $MINIGAPT_RUNS, else <repo>/runs."""
    return Path(os.environ.get("MINIGAPT_RUNS") or repo_root() / "runs")


def shipped_dir() -> Path:
    return repo_root() / "assets" / "checkpoints"


def say_stale(why: str | None, training: bool) -> None:
    """The train-or-load helpers' one line on a checkpoint that stood there but does not stand in
    (`why`, None if there was none): '...: training anew' only when the caller trains now."""
    if why:
        print(f"{why}: {'training anew' if training else 'not trained here (skipped)'}")


@dataclass
class Checkpoint:
    kind: str
    model_config: dict
    train_config: dict | None
    state_dict: dict
    vocab_hash: str
    version: str
    meta: dict = field(default_factory=dict)
    path: Path | None = None


def _as_dict(cfg) -> dict | None:
    if cfg is None or isinstance(cfg, dict):
        return cfg
    return dataclasses.asdict(cfg)


def save_checkpoint(path, model: torch.nn.Module, *, train_config=None, meta: dict | None = None,
                    kind: str | None = None) -> Path:
    """Write model weights + configs + vocabulary hash + version to `path`, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "kind": kind or model.kind,
        "model_config": _as_dict(model.cfg),
        "train_config": _as_dict(train_config),
        "vocab_hash": VOCAB.hash,
        "version": __version__,
        "meta": dict(meta or {}),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return atomic_write(path, buffer.getvalue())


def load_checkpoint(path, *, kind: str | None = None) -> Checkpoint:
    """Read and check a checkpoint; any problem is one MinigaptError line."""
    path = Path(path)
    if not path.is_file():
        raise MinigaptError(f"checkpoint {path} not found")
    try:
        d = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated zip, bad pickle, not a torch file at all ...
        reason = str(e).strip().splitlines()[0][:120] if str(e).strip() else type(e).__name__
        raise MinigaptError(f"checkpoint {path} is corrupted or truncated ({reason}); "
                            "delete it and train again") from None
    needed = {"format", "kind", "model_config", "vocab_hash", "version", "state_dict"}
    if not isinstance(d, dict) or not needed <= d.keys():
        raise MinigaptError(f"{path} is not a minigapt checkpoint (missing "
                            f"{', '.join(sorted(needed - set(d) if isinstance(d, dict) else needed))})")
    problems = []
    if kind is not None and d["kind"] != kind:
        problems.append(f"it holds a {d['kind']!r} model, expected {kind!r}")
    if d["vocab_hash"] != VOCAB.hash:
        problems.append(f"vocabulary {d['vocab_hash']} != this minigapt's {VOCAB.hash}")
    if str(d["version"]).split(".")[0] != __version__.split(".")[0]:
        problems.append(f"written by minigapt {d['version']}, this is {__version__}")
    if d["format"] != FORMAT:
        problems.append(f"file format {d['format']} != {FORMAT}")
    if problems:
        raise MinigaptError(f"checkpoint {path} does not fit: " + "; ".join(problems))
    return Checkpoint(d["kind"], d["model_config"], d.get("train_config"), d["state_dict"],
                      d["vocab_hash"], d["version"], d.get("meta") or {}, path)


def build_model(ckpt: Checkpoint, device="cpu") -> torch.nn.Module:
    """The model a checkpoint describes, with its weights, in eval mode."""
    if ckpt.kind not in MODEL_BUILDERS:
        raise MinigaptError(f"checkpoint {ckpt.path} holds an unknown model kind {ckpt.kind!r}")
    try:
        model = MODEL_BUILDERS[ckpt.kind](ckpt.model_config)
    except (TypeError, ValueError) as e:
        raise MinigaptError(f"checkpoint {ckpt.path} has a bad model config: {e}") from None
    own, saved = model.state_dict(), ckpt.state_dict
    diffs = [f"missing {k}" for k in own.keys() - saved.keys()]
    diffs += [f"unexpected {k}" for k in saved.keys() - own.keys()]
    diffs += [f"{k} {tuple(saved[k].shape)} vs {tuple(own[k].shape)}" for k in own.keys() & saved.keys()
              if own[k].shape != saved[k].shape]
    if diffs:
        raise MinigaptError(f"checkpoint {ckpt.path} does not match its model config: {len(diffs)} "
                            f"tensor(s) differ, e.g. " + ", ".join(sorted(diffs)[:3]))
    model.load_state_dict(saved)
    return model.to(device).eval()


def resolve_checkpoint(name_or_path, scale: str = "course") -> Path:
    """A model name or path -> checkpoint file. A path: the .pt file, or a run folder's model.pt.
    A name, at `scale`: runs/<scale>/<name>/model.pt, runs/<scale>/<name>-seed0/model.pt (an RL
    system's name means its seed-0 run), then assets/checkpoints/<name>.pt. Nothing else: a
    smoke run never stands in for a course model, nor the other way round."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    if p.is_dir() and (p / CHECKPOINT_NAME).is_file():
        return p / CHECKPOINT_NAME
    name = str(name_or_path)
    candidates = (runs_dir() / scale / name / CHECKPOINT_NAME, runs_dir() / scale / f"{name}-seed0" / CHECKPOINT_NAME,
                  shipped_dir() / f"{name}.pt")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise MinigaptError(f"no model {name!r} at scale {scale!r}: looked in {runs_dir() / scale}/{name}[-seed0]/ "
                        f"and {shipped_dir() / (name + '.pt')}; train it (notebook 02) or give a checkpoint path")


def load_model(name_or_path, *, kind: str | None = None, device="cpu", scale: str = "course") -> torch.nn.Module:
    """Resolve (at `scale`), check and build a model in one call (eval mode)."""
    return build_model(load_checkpoint(resolve_checkpoint(name_or_path, scale), kind=kind), device)
