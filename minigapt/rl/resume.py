"""What an RL run's resume.pt holds (resume_file.py writes and reads it): what the next update
depends on, so a stopped run continues to the very result an uninterrupted one reaches. That is
the actor, the critic, their optimisers, GAPT's discriminator with its optimiser and schedule
counters, every random stream (torch's global one, the rollout and minibatch generators, the
melody sampler's numpy generator) and the logs so far. It is written after every finished
update, so a process killed in the middle of an update loses that update only.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..config import json_data
from ..resume_file import RESUME_FILE, random_state, read_state, same_config, set_random_state, write_state

__all__ = ["RESUME_FILE", "load_state", "save_state"]


def save_state(path, cfg, actor, critic, actor_opt, critic_opt, adversary, streams: dict, run, meta: dict) -> Path:
    """Write the run's state after meta["updates_done"] updates to `path` (atomically)."""
    state = {
        "config": json_data(cfg), "reward_ensemble": meta.get("reward_ensemble"),
        "updates_done": meta["updates_done"], "meta": dict(meta),
        "actor": actor.state_dict(), "actor_opt": actor_opt.state_dict(),
        "critic": critic.state_dict() if critic is not None else None,
        "critic_opt": critic_opt.state_dict() if critic_opt is not None else None,
        "torch_rng": torch.get_rng_state(),
        "streams": {name: random_state(s) for name, s in streams.items() if s is not None},
        "metrics": run.metrics, "evals": run.evals,
    }
    if getattr(adversary, "d", None) is not None:
        state["adversary"] = {"d": adversary.d.state_dict(), "opt": adversary.opt.state_dict(),
                              "generator": adversary.generator.get_state(),
                              "recent_adv": list(adversary.recent_adv),
                              "steps": dict(adversary.steps), "events": dict(adversary.events)}
    return write_state(path, state)


def load_state(path, cfg, reward_ensemble, actor, critic, actor_opt, critic_opt, adversary, streams: dict,
               run, meta: dict) -> int:
    """Restore everything save_state wrote, in place, if `path` holds a run of this very config
    and reward ensemble -> the number of updates already done (0: start afresh)."""
    state = read_state(path)
    if state is None:
        return 0
    if not same_config(state.get("config"), cfg) or state.get("reward_ensemble") != reward_ensemble:
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
            set_random_state(streams[name], s)
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
    print(f"resuming {Path(path).parent.name} from update {done} of {cfg.updates}")
    return done
