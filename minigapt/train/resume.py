"""A supervised run's state in one file, so a run stopped at a step boundary continues to the
very model an uninterrupted run reaches (the RL loop's counterpart is rl/resume.py).

resume.pt holds the model, its optimiser, every random stream the next step reads (torch's
global one, the crop sampler's and the wrong-key openings' numpy generators), the step and the
last validation. It is written atomically, about once a minute and at every validation, and
removed when the run completes.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import torch

from ..atomic import atomic_write
from ..config import json_data

RESUME_FILE = "resume.pt"


def _key(kind: str, cfg) -> str:
    return json.dumps({"kind": kind, "config": json_data(cfg)}, sort_keys=True)


def save_progress(path, kind: str, cfg, model, opt, rngs: dict, step: int, seconds: float, last: dict) -> Path:
    """Write the state after `step` finished steps to `path` (atomically)."""
    state = {"key": _key(kind, cfg), "step": step, "seconds": seconds, "last": dict(last),
             "model": model.state_dict(), "opt": opt.state_dict(), "torch_rng": torch.get_rng_state(),
             "rngs": {name: g.bit_generator.state for name, g in rngs.items()}}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return atomic_write(path, buffer.getvalue())


def load_progress(path, kind: str, cfg, model, opt, rngs: dict) -> tuple[int, float, dict]:
    """Restore what save_progress wrote, in place, if `path` holds a run of this very kind and
    config -> (steps done, seconds spent, last validation); (0, 0.0, {}) to start afresh."""
    path = Path(path)
    if not path.is_file():
        return 0, 0.0, {}
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception:  # not ours, or cut short before atomic writes
        print(f"{path} is unreadable: starting the run afresh")
        return 0, 0.0, {}
    if state.get("key") != _key(kind, cfg):
        print(f"{path} belongs to another config: starting the run afresh")
        return 0, 0.0, {}
    device = next(model.parameters()).device
    model.load_state_dict(state["model"])
    model.to(device)
    opt.load_state_dict(state["opt"])
    torch.set_rng_state(state["torch_rng"])
    for name, g in rngs.items():
        g.bit_generator.state = state["rngs"][name]
    print(f"resuming {path.parent.name} from step {state['step']} of {cfg.steps}")
    return int(state["step"]), float(state["seconds"]), dict(state["last"])
