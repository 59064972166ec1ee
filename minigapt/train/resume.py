"""What a supervised run's resume.pt holds (resume_file.py writes and reads it; the RL loop's
counterpart is rl/resume.py): the model, its optimiser, every random stream the next step reads
(torch's global one, the crop sampler's and the wrong-key openings' numpy generators), the step
and the last validation. It is written about once a minute and at every validation, and removed
when the run completes, so a run stopped at a step boundary continues to the very model an
uninterrupted run reaches.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..config import json_data
from ..resume_file import RESUME_FILE, random_state, read_state, same_config, set_random_state, write_state

__all__ = ["RESUME_FILE", "load_progress", "save_progress"]


def save_progress(path, kind: str, cfg, model, opt, rngs: dict, step: int, seconds: float, last: dict) -> Path:
    """Write the state after `step` finished steps to `path` (atomically)."""
    return write_state(path, {
        "kind": kind, "config": json_data(cfg), "step": step, "seconds": seconds, "last": dict(last),
        "model": model.state_dict(), "opt": opt.state_dict(), "torch_rng": torch.get_rng_state(),
        "rngs": {name: random_state(g) for name, g in rngs.items()}})


def load_progress(path, kind: str, cfg, model, opt, rngs: dict) -> tuple[int, float, dict]:
    """Restore what save_progress wrote, in place, if `path` holds a run of this very kind and
    config -> (steps done, seconds spent, last validation); (0, 0.0, {}) to start afresh."""
    state = read_state(path)
    if state is None:
        return 0, 0.0, {}
    if state.get("kind") != kind or not same_config(state.get("config"), cfg):
        print(f"{path} belongs to another config: starting the run afresh")
        return 0, 0.0, {}
    device = next(model.parameters()).device
    model.load_state_dict(state["model"])
    model.to(device)
    opt.load_state_dict(state["opt"])
    torch.set_rng_state(state["torch_rng"])
    for name, g in rngs.items():
        set_random_state(g, state["rngs"][name])
    print(f"resuming {Path(path).parent.name} from step {state['step']} of {cfg.steps}")
    return int(state["step"]), float(state["seconds"]), dict(state["last"])
