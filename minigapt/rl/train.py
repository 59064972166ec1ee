"""The RL loop around rl/ppo.py's method: per-update learning rates, logs, evaluation,
checkpoints and device moves.

    for update in range(cfg.updates):
        1. collect      the policy plays along with a batch of training crops   (ppo.collect)
        2. score        old log-probs, KL to the anchor, entropy               (ppo.score_policy)
        3. reward       alpha R_coh + beta R_rules + gamma R_adv               (task.rewards)
        4-6. update     PPO (ppo.ppo_update) or Dr.GRPO (grpo.grpo_update)
        7. adversary    GAPT's discriminator may step, after the rewards        (ppo.discriminator_update)

Every update appends a row to metrics.csv; every eval_every updates the policy accompanies the
fixed evaluation melodies (eval.csv). A NaN anywhere stops the run with one line and leaves the
last good checkpoint in place; Ctrl-C saves what was learnt. Which part the policy plays comes
from an `RLTask` (rl/task.py).

Runs resume: after every update the whole state (networks, optimisers, D and its schedule,
every random stream, the logs) goes to resume.pt, atomically. A run stopped anywhere (Ctrl-C,
a closed laptop, a killed process) continues from its last finished update when started again
with the same config, and ends exactly where an uninterrupted run ends (rl/resume.py).
"""
from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..config import json_data, resolve_device
from ..metrics_log import read_log, write_csv
from ..data.dataset import train_sampler
from ..models.checkpoint import build_model, load_checkpoint, runs_dir, save_checkpoint, say_stale, shipped_dir
from ..models.decoder import ValueModel
from ..rewards.ensemble import fingerprint
from ..rewards.rhythm import slow_down_share
from ..schedule import warmup_cosine
from ..store import same_recipe
from .config import RLConfig, config_from_dict
from .gapt import discriminator_path
from .grpo import grpo_update
from .resume import RESUME_FILE, load_state, save_state
from .ppo import NonFiniteError, collect, discriminator_update, ppo_update, score_policy
from .task import CHORD_TASK, RLTask

CHECKPOINT_NAME = "model.pt"


@dataclass
class RLRun:
    """A trained (or loaded) RL policy and its history."""

    policy: torch.nn.Module
    config: RLConfig
    metrics: list[dict] = field(default_factory=list)  # one row per update
    evals: list[dict] = field(default_factory=list)  # one row per evaluation (update 0 = the start)
    path: Path | None = None
    seconds: float = 0.0
    data_level: dict | None = None  # a shipped run: the data's chords measured on its curves' melodies


def _round(d: dict) -> dict:
    """Floats rounded; a [low, high] interval becomes two columns, key_low and key_high (CSV cells)."""
    out = {}
    for k, v in d.items():
        if isinstance(v, (list, tuple)) and len(v) == 2:
            out[f"{k}_low"], out[f"{k}_high"] = v
        else:
            out[k] = v
    return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in out.items()}


def train_rl(cfg: RLConfig, policy, anchor, ensemble, data, out_dir, *, eval_melodies=None,
             adversary=None, progress: bool = True, base: str = "online-mle",
             task: RLTask = CHORD_TASK, device=None, stop_after: int | None = None) -> RLRun:
    """Post-train a copy of `policy` (an online MLE policy) with RL. `data`: load_frames output
    (training melodies come from its train split); `eval_melodies`: melody frames [N, T] for the
    periodic evaluation (rl.evaluation.evaluation_melodies), or None for none (the melody
    agent's task: chord frames). Writes out_dir/{model.pt, metrics.csv, eval.csv, config.json}.
    device: where the networks run (None: MINIGAPT_DEVICE, else the CPU; config.resolve_device);
    the anchor and the ensemble visit it for the run and the policy comes back on the CPU.
    A resume.pt of this very config in out_dir: the run continues from it. stop_after: stop
    (resumable) once this many updates are done, e.g. to split a long run over sessions."""
    device = resolve_device(device)  # a GPU that is not there: one line, nothing written
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)  # minibatch order (and, on the CPU, sampling)
    sampling = generator if device.type == "cpu" else torch.Generator(device).manual_seed(cfg.seed)
    actor = copy.deepcopy(policy).to(device).eval()  # dropout off for RL, in actor, critic and anchor
    anchor.eval()
    critic = ValueModel(actor).to(device).eval() if cfg.algorithm == "ppo" else None
    actor_opt = torch.optim.Adam(actor.parameters(), lr=cfg.actor_lr, betas=cfg.betas)
    critic_opt = torch.optim.Adam(critic.parameters(), lr=cfg.critic_lr, betas=cfg.betas) if critic else None
    data_cfg = dataclasses.replace(task.data(cfg.scale), crop_frames=cfg.crop_frames)
    sampler = train_sampler(data, data_cfg, seed=cfg.seed)
    (out_dir / "config.json").write_text(json.dumps({"rl_config": dataclasses.asdict(cfg), "base": base},
                                                    indent=2, default=str))

    run = RLRun(actor, cfg, path=out_dir / CHECKPOINT_NAME)
    meta = {"system": cfg.system, "seed": cfg.seed, "updates_done": 0, "complete": False, "base": base,
            "reward_ensemble": fingerprint(ensemble)}  # R_coh is part of the recipe (train_or_load_rl)
    saved_at = None

    def evaluate(update: int) -> None:
        if eval_melodies is None:
            return
        row = {"update": update, **task.evaluate(actor, eval_melodies, ensemble, cfg.eval_samples,
                                                 cfg.temperature, mask_invalid=cfg.mask_invalid)}
        run.evals.append(_round(row))
        write_csv(out_dir / "eval.csv", run.evals)

    def save(complete: bool) -> None:
        nonlocal saved_at
        meta.update(complete=complete, seconds=round(time.perf_counter() - t0, 1),
                    eval_history=run.evals)
        save_checkpoint(run.path, actor, train_config=cfg, meta=meta)
        if getattr(adversary, "d", None) is not None:  # GAPT: D too ("what the discriminator sees")
            save_checkpoint(discriminator_path(out_dir), adversary.d, train_config=cfg,
                            meta={"steps": dict(adversary.steps), "events": dict(adversary.events),
                                  "updates_done": meta["updates_done"]})
        saved_at = meta["updates_done"]

    streams = {"generator": generator, "sampling": sampling, "sampler": sampler}
    start = load_state(out_dir / RESUME_FILE, cfg, meta["reward_ensemble"], actor, critic, actor_opt,
                       critic_opt, adversary, streams, run, meta)
    t0 = time.perf_counter() - meta.get("seconds", 0.0)
    bar = tqdm(total=cfg.updates, initial=start, desc=f"{cfg.system} seed {cfg.seed}", disable=not progress)
    update = start
    homes = _move_to(device, anchor, ensemble, getattr(adversary, "d", None))  # back in `finally`
    try:
        if start == 0:
            evaluate(0)
        for update in range(start, cfg.updates):
            if stop_after is not None and update >= stop_after:
                break
            lrs = {}
            for name, opt, lr in (("actor", actor_opt, cfg.actor_lr), ("critic", critic_opt, cfg.critic_lr)):
                if opt is not None:
                    lrs[f"{name}_lr"] = warmup_cosine(update, lr, cfg.warmup_updates, cfg.updates, cfg.min_lr_ratio)
                    for g in opt.param_groups:
                        g["lr"] = lrs[f"{name}_lr"]
            group = cfg.group_size if cfg.algorithm == "grpo" else 1
            x, y_real = slow_down_share(*task.sample(sampler, cfg.rollouts_per_update, group),
                                        cfg.half_tempo_share, group)
            ep = collect(actor, x.to(device), y_real.to(device), cfg, sampling)  # 1. collect
            score_policy(actor, anchor, ep, cfg)                      # 2. score
            task.rewards(ep, ensemble, cfg, adversary)                # 3. reward
            if cfg.algorithm == "ppo":                                # 4-6. update
                stats = ppo_update(actor, critic, ep, actor_opt, critic_opt, cfg, generator)
            else:
                stats = grpo_update(actor, ep, actor_opt, cfg, generator)
            adv_stats = discriminator_update(adversary, ep, update) if adversary is not None else {}  # 7.
            row = {"update": update + 1, "seconds": time.perf_counter() - t0, **lrs,
                   "reward": float(ep.sequence_reward.mean()),
                   **{k: float(v.mean()) for k, v in ep.reward_terms.items()},
                   "kl_per_token": float(ep.kl.sum() / ep.mask.sum().clamp(min=1)),
                   **stats, **task.stats(ep, ensemble), **adv_stats}
            run.metrics.append(_round(row))
            write_csv(out_dir / "metrics.csv", run.metrics)
            meta["updates_done"] = update + 1
            if (update + 1) % cfg.eval_every == 0 or update + 1 == cfg.updates:
                evaluate(update + 1)
            if (update + 1) % cfg.checkpoint_every == 0 and update + 1 < cfg.updates:
                save(False)
            meta["seconds"] = round(time.perf_counter() - t0, 1)
            save_state(out_dir / RESUME_FILE, cfg, actor, critic, actor_opt, critic_opt, adversary,
                       streams, run, meta)
            bar.update(1)
            bar.set_postfix(reward=f"{row['reward']:+.2f}", harmony=f"{row['harmony']:.2f}",
                            distinct=f"{row[task.progress_key]:.1f}")
        done = meta["updates_done"] == cfg.updates
        save(done)
        if done:
            (out_dir / RESUME_FILE).unlink(missing_ok=True)  # model.pt holds the finished run
    except NonFiniteError as e:
        bar.close()
        kept = f"last good checkpoint {run.path} (update {saved_at})" if saved_at is not None else \
            "no checkpoint was saved yet"
        raise NonFiniteError(f"{e} at update {update + 1}: RL stopped; {kept}") from None
    except KeyboardInterrupt:
        print(f"\ninterrupted after {meta['updates_done']} updates: saving what we have "
              f"(run it again to resume from update {meta['updates_done']})")
        save(False)
    finally:
        bar.close()
        actor.cpu()
        _move_home(homes)  # the anchor, ensemble and discriminator go back where they came from
    run.seconds = meta["seconds"]
    print(f"saved {run.path} ({meta['updates_done']} updates, {run.seconds} s)")
    return run


def _move_to(device, *models) -> list[tuple]:
    """Move the torch modules among `models` to `device` -> [(module, where it was)], for _move_home."""
    homes = []
    for model in models:
        if isinstance(model, torch.nn.Module):
            first = next(itertools.chain(model.parameters(), model.buffers()), None)
            homes.append((model, first.device if first is not None else torch.device("cpu")))
            model.to(device)
    return homes


def _move_home(homes: list[tuple]) -> None:
    for model, home in homes:
        model.to(home)


def run_name(system: str, seed: int) -> str:
    return f"{system}-seed{seed}"


def shipped_path(name: str, seed: int = 0) -> Path:
    """assets/checkpoints/<name>.pt for seed 0, <name>-seed<k>.pt for the others."""
    return shipped_dir() / (f"{name}.pt" if seed == 0 else f"{run_name(name, seed)}.pt")


def _normalised(cfg) -> dict:
    """A config as plain JSON data for comparison: a saved one gets the defaults of newer
    fields, and settings the run never used are left out (the discriminator of a run without
    an adversarial reward, the group size of a PPO run), so changing them retrains nothing."""
    if isinstance(cfg, dict):
        try:
            cfg = config_from_dict(cfg)
        except (TypeError, ValueError):
            return json_data(cfg)
    d = json_data(cfg)
    if not cfg.adversarial_weight:
        d.pop("discriminator")
    if cfg.algorithm == "ppo":
        d.pop("group_size")
    return d


def load_run(path, cfg: RLConfig | None = None, kind: str = "online") -> RLRun:
    """An RL run from its checkpoint (and the CSVs beside it, when there); kind: the policy's
    checkpoint kind ("melody" for the melody agent)."""
    ckpt = load_checkpoint(path, kind=kind)
    policy = build_model(ckpt).eval()
    cfg = cfg or config_from_dict(ckpt.train_config or {})
    folder = Path(path).parent
    evals = read_log(folder / "eval.csv") or ckpt.meta.get("eval_history", [])
    metrics = read_log(folder / "metrics.csv") or ckpt.meta.get("metrics_history", [])  # shipped: kept inside
    return RLRun(policy, cfg, metrics, evals, Path(path),
                 ckpt.meta.get("seconds", 0.0), ckpt.meta.get("data_level"))


def train_or_load_rl(cfg: RLConfig, policy, anchor, ensemble, data, *, eval_melodies=None,
                     adversary_factory=None, name: str | None = None, runs: str | Path | None = None,
                     use_pretrained: bool = True, retrain: bool = False, progress: bool = True,
                     train_missing: bool = True, task: RLTask = CHORD_TASK,
                     base: str = "online-mle", device=None, stop_after: int | None = None) -> RLRun | None:
    """The run runs/<scale>/<name>-seed<seed>/ (name: the system's) if it finished with this
    very config, else the shipped checkpoint assets/checkpoints/<name>.pt (seed 0) or
    <name>-seed<k>.pt if it was trained with this very config and use_pretrained, else train
    it now (or return None when not train_missing: "evaluate what exists"). `adversary_factory()`
    builds GAPT's discriminator when the run needs one; `task`, `base` and `device` go to train_rl."""
    name = name or cfg.system
    kind = getattr(policy, "kind", "online")
    folder = (Path(runs) if runs is not None else runs_dir() / cfg.scale) / run_name(name, cfg.seed)
    own = folder / CHECKPOINT_NAME
    rewards = fingerprint(ensemble)
    stale = None  # why your own run there does not stand in, if there is one
    if own.is_file() and not retrain:
        ckpt = load_checkpoint(own, kind=kind)
        same_config = same_recipe(_normalised(ckpt.train_config or {}), _normalised(cfg))
        same_rewards = same_recipe({}, {}, ckpt.meta, {"reward_ensemble": rewards})
        if ckpt.meta.get("complete") and same_config and same_rewards:
            print(f"loaded your run {own}")
            return load_run(own, cfg, kind)
        stale = f"{own} " + ("is unfinished or was trained with another config" if same_rewards else
                             "was trained on other reward models")
    shipped = shipped_path(name, cfg.seed)
    if shipped.is_file() and use_pretrained and not retrain:
        ckpt = load_checkpoint(shipped, kind=kind)
        if same_recipe(_normalised(ckpt.train_config or {}), _normalised(cfg), ckpt.meta,
                       {"reward_ensemble": rewards}):  # same config, scale, seed and R_coh
            print(f"loaded the shipped checkpoint {shipped}")
            return load_run(shipped, kind=kind)
    if not train_missing and not retrain:
        say_stale(stale, training=False)
        return None
    if not (folder / RESUME_FILE).is_file():  # else train_rl says whether it resumes
        say_stale(stale, training=True)
    adversary = adversary_factory() if adversary_factory is not None and cfg.adversarial_weight else None
    return train_rl(cfg, policy, anchor, ensemble, data, folder, eval_melodies=eval_melodies,
                    adversary=adversary, progress=progress, base=base, task=task, device=device,
                    stop_after=stop_after)
