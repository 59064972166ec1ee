"""An RL run's whole state in one file, so a stopped run continues to the very result an
uninterrupted one reaches.

resume.pt holds what the next update depends on: the actor, the critic, their optimisers,
GAPT's discriminator with its optimiser and schedule counters, every random stream (torch's
global one, the rollout and minibatch generators, the melody sampler's numpy generator) and
the logs so far. It is written atomically after every finished update, so a process killed in
the middle of an update loses that update only.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_write
from ..config import json_data
from .config import config_from_dict

RESUME_FILE = "resume.pt"


def _config_key(cfg) -> str:
    return json.dumps(json_data(cfg), sort_keys=True)


def _same_config(saved: str | None, cfg) -> bool:
    """Whether a saved config key is this config's, fields added since it was saved taking
    their defaults (a newer minigapt resumes an older run unless a setting really differs)."""
    if saved is None:
        return False
    try:
        return _config_key(config_from_dict(json.loads(saved))) == _config_key(cfg)
    except (TypeError, ValueError):
        return saved == _config_key(cfg)


def _stream_state(stream):
    if isinstance(stream, torch.Generator):
        return stream.get_state()
    return stream.rng.bit_generator.state  # a CropSampler: its numpy generator


def _set_stream_state(stream, state) -> None:
    if isinstance(stream, torch.Generator):
        stream.set_state(state)
    else:
        stream.rng.bit_generator.state = state


def save_state(path, cfg, actor, critic, actor_opt, critic_opt, adversary, streams: dict, run, meta: dict) -> Path:
    """Write the run's state after meta["updates_done"] updates to `path` (atomically)."""
    state = {
        "config": _config_key(cfg), "reward_ensemble": meta.get("reward_ensemble"),
        "updates_done": meta["updates_done"], "meta": dict(meta),
        "actor": actor.state_dict(), "actor_opt": actor_opt.state_dict(),
        "critic": critic.state_dict() if critic is not None else None,
        "critic_opt": critic_opt.state_dict() if critic_opt is not None else None,
        "torch_rng": torch.get_rng_state(),
        "streams": {name: _stream_state(s) for name, s in streams.items() if s is not None},
        "metrics": run.metrics, "evals": run.evals,
    }
    if getattr(adversary, "d", None) is not None:
        state["adversary"] = {"d": adversary.d.state_dict(), "opt": adversary.opt.state_dict(),
                              "generator": adversary.generator.get_state(),
                              "recent_adv": list(adversary.recent_adv),
                              "steps": dict(adversary.steps), "events": dict(adversary.events)}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return atomic_write(path, buffer.getvalue())


def load_state(path, cfg, reward_ensemble, actor, critic, actor_opt, critic_opt, adversary, streams: dict,
               run, meta: dict) -> int:
    """Restore everything save_state wrote, in place, if `path` holds a run of this very config
    and reward ensemble -> the number of updates already done (0: start afresh)."""
    path = Path(path)
    if not path.is_file():
        return 0
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception:  # a file cut short by a crash before atomic writes, or not ours
        print(f"{path} is unreadable: starting the run afresh")
        return 0
    if not _same_config(state.get("config"), cfg) or state.get("reward_ensemble") != reward_ensemble:
        print(f"{path} belongs to another config or reward ensemble: starting the run afresh")
        return 0
    device = next(actor.parameters()).device
    actor.load_state_dict(state["actor"])
    actor_opt.load_state_dict(state["actor_opt"])
    if critic is not None:
        critic.load_state_dict(state["critic"])
        critic_opt.load_state_dict(state["critic_opt"])
    torch.set_rng_state(state["torch_rng"])
    for name, s in state["streams"].items():
        if streams.get(name) is not None:
            _set_stream_state(streams[name], s)
    if adversary is not None and "adversary" in state:
        a = state["adversary"]
        adversary.d.load_state_dict(a["d"])
        adversary.opt.load_state_dict(a["opt"])
        adversary.generator.set_state(a["generator"])
        adversary.recent_adv[:] = a["recent_adv"]
        adversary.steps.update(a["steps"])
        adversary.events.update(a["events"])
    run.metrics[:] = state["metrics"]
    run.evals[:] = state["evals"]
    meta.update(state["meta"])
    actor.to(device)
    done = int(state["updates_done"])
    print(f"resuming {path.parent.name} from update {done} of {cfg.updates}")
    return done
