"""Train and measure every system of the toy world with the course's own code.

For each seed: a fresh draw of the world, its learned reward (with the hole), the online MLE
(train.mle.train_online on the world's songs), then each RL system through rl.train.train_rl,
the loop the course runs, with the toy's reward in place of the reward ensemble and the MLE as
the anchor. Every system then accompanies the same held-out melodies once, online. What the
defaults measure: docs/experiments.md ("The toy world").
"""
from __future__ import annotations

import contextlib
import io
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from ..config import json_data
from ..errors import MinigaptError
from ..eval.chord_vendi import chord_vendi
from ..generate import rollout_online
from ..rl.gapt import adversary_for
from ..rl.task import RLTask
from ..rl.train import train_rl
from ..train.mle import TrainConfig, train_online
from .config import TOY_SYSTEMS, ToyConfig
from .reward import HOLE_CHORD, fit_reward
from .world import ToyData, chord_share, make_data, true_harmony

SYSTEMS = ("data", "online-mle") + TOY_SYSTEMS


def batch_stats(ep, reward) -> dict[str, float]:
    """Per-update diagnostics of the toy (metrics.csv): true harmony, diversity, the hole."""
    x, y = ep.given.cpu().numpy(), ep.played.cpu().numpy()
    return {"harmony": true_harmony(x, y), "chord_vendi": chord_vendi(x, y, draws=1).score,
            "hole_share": chord_share(y, HOLE_CHORD), "learned_reward": float(reward.learned(x, y).mean())}


def toy_task(cfg: ToyConfig) -> RLTask:
    """The course's chord task, reading the toy world's data and logging its diagnostics."""
    return RLTask(data=lambda scale: cfg.world.data_config(), stats=batch_stats, progress_key="chord_vendi")


@dataclass
class SystemResult:
    """One system of one seed, measured on the held-out melodies."""

    harmony: float
    """True harmony (note-in-triad) of its parts."""
    chord_vendi: float
    """Key-relative chord Vendi of its parts (eval.chord_vendi)."""
    reward: float
    """Mean R_coh of its parts (the learned reward, hole included)."""
    hole_share: float
    """Share of its chord frames on V (what the reward's hole pays for)."""
    chords: np.ndarray
    """Its chord frames [M, T] for the held-out melodies."""
    d_accuracy: float | None = None
    """Its discriminator's accuracy, held-out real parts against its own (None without D)."""
    metrics: list[dict] = field(default_factory=list)
    """One row per RL update (train_rl's metrics.csv)."""
    seconds: float = 0.0
    """Wall time of its training."""

    def summary(self) -> dict:
        out = {k: getattr(self, k) for k in ("harmony", "chord_vendi", "reward", "hole_share")}
        if self.d_accuracy is not None:
            out["d_accuracy"] = self.d_accuracy
        return out


@dataclass
class ToyRun:
    """Every system of one seed."""

    seed: int
    data: ToyData
    reward: object
    data_batch_vendi: float
    """The data's chord Vendi at one RL batch's number of parts (the curves' reference)."""
    systems: dict[str, SystemResult] = field(default_factory=dict)
    policies: dict[str, torch.nn.Module] = field(default_factory=dict)


def measure(data: ToyData, reward, chords: np.ndarray, d=None) -> dict:
    """The held-out figures of chord parts for data.test_x (and D's accuracy on them)."""
    x = data.test_x
    out = {"harmony": true_harmony(x, chords), "chord_vendi": chord_vendi(x, chords).score,
           "reward": float(reward.score(x, chords).mean()), "hole_share": chord_share(chords, HOLE_CHORD)}
    if d is not None:
        with torch.no_grad():
            xt = torch.as_tensor(x)
            p_real = d.prob_real(xt, torch.as_tensor(data.test_y))
            p_fake = d.prob_real(xt, torch.as_tensor(chords))
        out["d_accuracy"] = float(((p_real > 0.5).float().mean() + (p_fake <= 0.5).float().mean()) / 2)
    return out


def accompany(policy, data: ToyData, seed: int) -> np.ndarray:
    """The policy's chords for the held-out melodies, online, one sample each."""
    return rollout_online(policy, data.test_x, seed=seed).chords.numpy()


_MLE_CACHE: dict = {}  # (seed, world, policy, steps, lr) -> the trained MLE, for this process


def train_mle(cfg: ToyConfig, data: ToyData, seed: int, out_dir: Path):
    """The online MLE on the world's songs (the course's train_online; its prints kept quiet).
    Trained once per process for each seed and recipe: RL copies it, so settings that change only
    the RL (the explorer's) reuse it."""
    key = (seed, repr(cfg.world), repr(cfg.policy), cfg.mle_steps, cfg.mle_lr)
    if key not in _MLE_CACHE:
        _MLE_CACHE[key] = _train_mle(cfg, data, seed, out_dir)
    return _MLE_CACHE[key]


def _train_mle(cfg: ToyConfig, data: ToyData, seed: int, out_dir: Path):
    tcfg = TrainConfig(model=cfg.policy, data=cfg.world.data_config(), steps=cfg.mle_steps, batch_size=32,
                       lr=cfg.mle_lr, warmup_steps=max(1, cfg.mle_steps // 10), eval_every=cfg.mle_steps,
                       eval_songs=32, seed=seed, scale="toy")
    with contextlib.redirect_stdout(io.StringIO()):
        return train_online(tcfg, data.frames, out_dir, progress=False)


def train_system(cfg: ToyConfig, system: str, seed: int, mle, reward, data: ToyData, out_dir: Path):
    """One RL system through the course's train_rl -> (policy, metrics rows, D or None).
    gapt-no-adv also gets a discriminator: it trains on the usual schedule but its reward
    weight is 0, so it only watches (how well it could tell the policy from the data)."""
    rl_cfg = cfg.rl_config(system, seed)
    adversary = adversary_for(rl_cfg) if system != "realchords" else None
    with contextlib.redirect_stdout(io.StringIO()):
        run = train_rl(rl_cfg, mle, mle, reward, data.frames, out_dir, adversary=adversary,
                       progress=False, task=toy_task(cfg))
    return run.policy, run.metrics, (adversary.d if adversary is not None else None)


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_seed(cfg: ToyConfig, seed: int, systems=SYSTEMS, out_dir=None, log=say, keep_policies=False) -> ToyRun:
    """Every system in `systems` for one seed; one progress line per trained system via `log`."""
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        raise MinigaptError(f"unknown toy system {unknown[0]!r}; choose from {', '.join(SYSTEMS)}")
    torch.manual_seed(seed)
    data = make_data(cfg.world, seed)
    reward = fit_reward(data.train_x, data.train_y, cfg.hole, seed)
    batch_vendi = chord_vendi(data.test_x, data.test_y, parts=cfg.rollouts_per_update).score
    run = ToyRun(seed, data, reward, batch_vendi)
    with contextlib.ExitStack() as stack:
        folder = Path(out_dir) if out_dir is not None else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        if "data" in systems:
            run.systems["data"] = SystemResult(**measure(data, reward, data.test_y), chords=data.test_y)
        t0 = time.perf_counter()
        mle = train_mle(cfg, data, seed, folder / f"online-mle-seed{seed}")
        for system in systems:
            if system == "data":
                continue
            t = time.perf_counter()
            if system == "online-mle":
                policy, metrics, d, t = mle, [], None, t0
            else:
                policy, metrics, d = train_system(cfg, system, seed, mle, reward, data,
                                                  folder / f"{system}-seed{seed}")
            chords = accompany(policy, data, seed)
            result = SystemResult(**measure(data, reward, chords, d), chords=chords, metrics=metrics,
                                  seconds=time.perf_counter() - t)
            run.systems[system] = result
            if keep_policies:
                run.policies[system] = policy
            log(f"toy seed {seed} {system:<11} harmony {result.harmony:.3f}  chord_vendi "
                f"{result.chord_vendi:5.2f}  reward {result.reward:+.2f}  ({result.seconds:.1f} s)")
    return run


def summarise(runs: list[ToyRun]) -> dict[str, dict]:
    """system -> its figures averaged over seeds, and each seed's (key `seeds`)."""
    out = {}
    for name in runs[0].systems:
        per_seed = [r.systems[name].summary() for r in runs]
        mean = {k: round(float(np.mean([s[k] for s in per_seed])), 4) for k in per_seed[0]}
        out[name] = {**mean, "seeds": [{k: round(v, 4) for k, v in s.items()} for s in per_seed]}
    return out


def run_toy(cfg: ToyConfig | None = None, seeds=(0, 1, 2), systems=SYSTEMS, log=say) -> tuple[dict, list[ToyRun]]:
    """Every system over `seeds` -> (summary: systems.<name>.{...}, seconds, config), the runs."""
    cfg = cfg or ToyConfig()
    torch.set_num_threads(1)  # the toy is small: one thread is fastest and leaves the others free
    t0 = time.perf_counter()
    with threadpool_limits(1):  # numpy's BLAS too (chord_vendi's eigenvalues)
        runs = [run_seed(cfg, seed, systems, log=log) for seed in seeds]
    return {"systems": summarise(runs), "seeds": list(seeds), "updates": cfg.updates,
            "config": json_data(cfg), "seconds": round(time.perf_counter() - t0, 1)}, runs
