"""Which policies the jam plays, by name, at a scale: your runs first, then shipped checkpoints.

The live jam trains nothing. A name ("online-mle", "realchords", "gapt", or a path) resolves to
runs/<scale>/<name>/ or runs/<scale>/<name>-seed0/ (the notebooks' layout), then, outside the
smoke scale, to a shipped checkpoint (`resolve_checkpoint`), never to another scale's run. When a model is
missing the jam still runs: at `smoke` with a fresh, untrained model of the smoke size (its
chords mean nothing; smoke only checks the plumbing), otherwise with the online MLE policy
instead, and the returned `JamModel.note` says so.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import MinigaptError
from ..models.checkpoint import CHECKPOINT_NAME, load_model, resolve_checkpoint, runs_dir

MODEL_LABELS = {"online-mle": "Online MLE", "realchords": "ReaLchords", "gapt": "GAPT",
                "gapt-no-adv": "GAPT w/o adv."}
"""The systems the jam offers by default (the paper's live comparison), with display names."""
JAM_MODELS = ("online-mle", "realchords", "gapt")


@dataclass
class JamModel:
    name: str  # what was asked for
    model: object  # the policy (eval mode)
    checkpoint: str | None  # the file it came from; None for an untrained stand-in
    note: str = ""  # what was used instead, if anything

    @property
    def label(self) -> str:
        return MODEL_LABELS.get(self.name, self.name)


def _own_run(name: str, scale: str) -> Path | None:
    for folder in (runs_dir() / scale / name, runs_dir() / scale / f"{name}-seed0"):
        if (folder / CHECKPOINT_NAME).is_file():
            return folder / CHECKPOINT_NAME
    return None


def find_checkpoint(name: str, scale: str) -> Path | None:
    """The checkpoint file `name` means at `scale`, or None."""
    p = Path(name)
    if p.suffix == ".pt" or p.is_dir():
        try:
            return resolve_checkpoint(p)
        except MinigaptError:
            return None
    own = _own_run(name, scale)
    if own is not None or scale == "smoke":  # smoke never picks up a bigger run
        return own
    try:
        return resolve_checkpoint(name, scale)
    except MinigaptError:
        return None


def untrained_policy(scale: str = "smoke", seed: int = 0):
    """A fresh policy of the scale's size (seeded), for when no trained one exists."""
    import torch

    from ..models.decoder import ModelConfig, OnlinePolicy

    torch.manual_seed(seed)
    return OnlinePolicy(ModelConfig.preset(scale)).eval()


def load_jam_model(name: str, scale: str, seed: int = 0) -> JamModel:
    """The policy called `name` at `scale` (see the module docstring for the fallbacks)."""
    path = find_checkpoint(name, scale)
    if path is not None:
        return JamModel(name, load_model(path, kind="online"), str(path))
    if scale == "smoke":
        return JamModel(name, untrained_policy("smoke", seed), None,
                        f"no smoke run of {name!r}: an untrained smoke-size policy stands in")
    if name != "online-mle":
        fallback = find_checkpoint("online-mle", scale)
        if fallback is not None:
            return JamModel(name, load_model(fallback, kind="online"), str(fallback),
                            f"no {name!r} run yet (notebooks 04-05 train it): the online MLE policy plays instead")
    raise MinigaptError(f"no trained policy for {name!r} at scale {scale!r}: run notebook 02 (and 04-05), "
                        "or give a checkpoint path")


def load_jam_anchor(scale: str):
    """The offline anchor that fills the listen-only intro, or None (the intro is then silent)."""
    path = find_checkpoint("offline-anchor", scale)
    return load_model(path, kind="offline") if path is not None else None
