"""A training run's whole state in one file, resume.pt, so a stopped run continues to the very
result an uninterrupted one reaches. This module says how the file is written, read and matched
to a config; train/resume.py (supervised) and rl/resume.py (RL) say what goes in it.
"""
from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import torch

from .atomic import atomic_write
from .config import json_data

RESUME_FILE = "resume.pt"


def write_state(path, state: dict) -> Path:
    """Save `state` to `path` atomically: a process killed mid-write leaves the last file whole."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return atomic_write(path, buffer.getvalue())


def read_state(path) -> dict | None:
    """The state in `path`; None (saying why, when there is a file) to start afresh."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception:  # not ours, or cut short by a crash before atomic writes
        print(f"{path} is unreadable: starting the run afresh")
        return None


def _with_defaults(defaults, saved):
    """`saved` (JSON data) with the fields it lacks taken from `defaults` (a config dataclass,
    nested ones too) and fields since removed dropped."""
    if not dataclasses.is_dataclass(defaults) or not isinstance(saved, dict):
        return saved
    return {f.name: _with_defaults(getattr(defaults, f.name), saved[f.name]) if f.name in saved
            else json_data(getattr(defaults, f.name)) for f in dataclasses.fields(defaults)}


def same_config(saved: dict | str | None, cfg) -> bool:
    """Whether `saved` (a config dataclass as json_data, or that as a JSON string) is `cfg`,
    fields added since it was saved taking their defaults: a newer minigapt resumes an older run
    unless a setting differs."""
    if isinstance(saved, str):
        saved = json.loads(saved)
    if not isinstance(saved, dict):
        return False
    return _with_defaults(type(cfg)(), saved) == json_data(cfg)


def random_state(stream):
    """The state of a torch generator, a numpy generator, or an object holding one as `.rng`."""
    if isinstance(stream, torch.Generator):
        return stream.get_state()
    return getattr(stream, "rng", stream).bit_generator.state


def set_random_state(stream, state) -> None:
    if isinstance(stream, torch.Generator):
        stream.set_state(state)
    else:
        getattr(stream, "rng", stream).bit_generator.state = state
