"""Measure speed and memory: generation (KV cache, live decode step, jam engine tick), RL (rollouts,
one PPO update), data loading (first parse vs cache) and the peak memory of a GAPT run.

Random-init weights of the chosen scale's models (speed does not depend on training). Each
benchmark is a function returning a dict of figures; add new ones to BENCHMARKS. The slow ones
(data_load, gapt_memory: tens of seconds each at course scale) are skipped by --quick. torch
and numpy are imported inside the functions so that `minigapt --help` stays fast.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from ..config import SCALES, check_scale
from ..errors import MinigaptError


def _policy(scale: str, max_len: int | None = None, seed: int = 0):
    import torch

    from ..models.decoder import OnlinePolicy
    from ..train.mle import TrainConfig

    cfg = TrainConfig.preset(scale).model  # the context a trained policy of this scale has
    if max_len is not None:
        cfg = dataclasses.replace(cfg, max_len=max_len)
    torch.manual_seed(seed)
    return OnlinePolicy(cfg).eval()


def bench_melody(n_frames: int, seed: int = 0):
    """A plausible melody (int64 [n_frames]): notes of 1-4 frames (onset then holds), some rests."""
    import numpy as np

    from ..music.tokens import VOCAB

    rng = np.random.default_rng(seed)
    out, t = np.empty(n_frames, np.int64), 0
    while t < n_frames:
        length = int(rng.integers(1, 5))
        if rng.random() < 0.15:
            out[t:t + length] = 3  # SILENCE
        else:
            p = int(rng.integers(60, 80))
            out[t] = VOCAB.melody_on(p)
            out[t + 1:t + length] = VOCAB.melody_hold(p)
        t += length
    return out


def bench_kv_cache(args) -> dict:
    """Tokens/s of online generation with the KV cache vs recomputing the whole context every
    frame (a full forward of the same model, same threads), on one stream of 2 * frames tokens
    (no window slide), batch 1; best of --repeats. The cached path is the one generation uses
    (NumPy decode step at batch 1, models/fast_decode.py); the PyTorch cached path is timed too
    (kv_cache_speedup_torch_path) to show what the per-call overhead costs."""
    from .. import generate
    from ..generate import rollout_online

    model = _policy(args.scale, max_len=2 * args.frames + 2, seed=args.seed)
    melody = bench_melody(args.frames, args.seed)[None]
    rollout_online(model, melody[:, :16], seed=args.seed)  # warm-up (allocations, kernels)
    paths = {"cached": (True, True), "torch_cached": (True, False), "recompute": (False, False)}
    timings = {name: [] for name in paths}
    try:
        for _ in range(args.repeats):  # best of N: other processes only ever slow a run down
            for name, (use_cache, numpy_decode) in paths.items():
                generate.NUMPY_DECODE = numpy_decode
                t0 = time.perf_counter()
                rollout_online(model, melody, seed=args.seed, use_cache=use_cache)
                timings[name].append(time.perf_counter() - t0)
    finally:
        generate.NUMPY_DECODE = True
    best = {k: min(v) for k, v in timings.items()}
    tokens = 2 * args.frames
    return {"stream_tokens": tokens,
            "kv_cached_tokens_per_s": round(tokens / best["cached"], 1),
            "recompute_tokens_per_s": round(tokens / best["recompute"], 1),
            "kv_cache_speedup": round(best["recompute"] / best["cached"], 2),
            "kv_cache_speedup_torch_path": round(best["recompute"] / best["torch_cached"], 2)}


def bench_decode_step(args) -> dict:
    """Milliseconds of one live frame (feed the player's melody token, sample the next chord)
    with the scale's trained context, so that window slides (every 8 frames once the context
    is full) are part of the distribution."""
    import numpy as np

    from ..generate import OnlineSession

    model = _policy(args.scale, seed=args.seed)
    melody = bench_melody(args.decode_steps + 8, args.seed + 1)
    session = OnlineSession(model, temperature=1.0, seed=args.seed)
    session.next_chord()
    for tok in melody[:8]:  # warm-up
        session.step(int(tok))
    ms = []
    for tok in melody[8:]:
        t0 = time.perf_counter()
        session.step(int(tok))
        ms.append(1000 * (time.perf_counter() - t0))
    ms = np.array(ms)
    return {"decode_step_ms_median": round(float(np.median(ms)), 3),
            "decode_step_ms_p99": round(float(np.percentile(ms, 99)), 3),
            "decode_step_ms_max": round(float(ms.max()), 3),
            "decode_steps": len(ms), "decode_context_tokens": model.cfg.max_len}


BROWSER_ROUND_TRIP = "build/bench/browser_round_trip.json"  # written by tests/test_browser.py


def _jam_policy(scale: str, seed: int):
    """The scale's GAPT policy, else its online MLE policy, else a fresh one of the scale's size
    (a checkpoint of another size is passed over), and what it is, for the JSON."""
    from ..live.models import find_checkpoint
    from ..models.checkpoint import load_model
    from ..train.mle import TrainConfig

    want = TrainConfig.preset(scale).model
    for name in ("gapt", "online-mle"):
        path = find_checkpoint(name, scale)
        if path is not None:
            model = load_model(path, kind="online")
            if model.cfg == want:
                return model, f"{name} ({path})"
    return _policy(scale, seed=seed), f"untrained {scale}-size policy (no trained gapt or online-mle found)"


def bench_jam_step(args) -> dict:
    """Milliseconds the live jam engine spends per frame (`JamEngine.tick`, batch 1, CPU, one
    PyTorch thread), with the user study's settings (80 BPM, temperature 0.8, lookahead and commit
    4 beats, 8 beats listening, the offline anchor filling the intro when there is one): feeding
    the frame that ended, a quarter of the beat's plan, and pieces of window slides. A scripted
    improviser plays --jam-frames frames, past the context so that slides are included; ticks of
    the listen-only intro (the anchor's one-off fill among them) are reported apart. Adds the
    browser round trip that tests/test_browser.py measured last, when there is one."""
    import numpy as np
    import torch

    from ..live.engine import JamConfig, JamEngine
    from ..live.models import find_checkpoint
    from ..live.tasks import Improviser
    from ..models.checkpoint import load_model, repo_root

    policy, which = _jam_policy(args.scale, args.seed)
    anchor_path = find_checkpoint("offline-anchor", args.scale)
    anchor = load_model(anchor_path, kind="offline") if anchor_path is not None else None
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        engine = JamEngine(policy, JamConfig(seed=args.seed), anchor=anchor)
        player = Improviser(args.jam_frames, keys=[(0, 0), (args.jam_frames // 2, 6)], seed=args.seed)
        fs, ms = engine.frame_s, []
        engine.tick(0)
        for f in range(args.jam_frames):
            for pitch, length in player.notes_at(f, engine.chord_at(f)):
                engine.note_on(pitch, f * fs)
                engine.note_off(pitch, (f + length - 0.25) * fs)
            t0 = time.perf_counter()
            engine.tick(f + 1)
            ms.append(1000 * (time.perf_counter() - t0))
    finally:
        torch.set_num_threads(threads)
    intro, ms = np.array(ms[:engine.listen]), np.array(ms[engine.listen:])
    out = {"jam_step_ms_median": round(float(np.median(ms)), 3),
           "jam_step_ms_p99": round(float(np.percentile(ms, 99)), 3),
           "jam_step_ms_max": round(float(ms.max()), 3),
           "jam_intro_step_ms_max": round(float(intro.max()), 3) if len(intro) else None,
           "jam_ticks": int(len(ms)), "jam_frame_ms": round(1000 * fs, 1), "jam_policy": which,
           "jam_intro": "offline anchor" if anchor is not None else "silence",
           "jam_window_slides": engine.session.slides, "jam_context_frames": (policy.cfg.max_len - 2) // 2,
           "jam_torch_threads": 1}
    measured = repo_root() / BROWSER_ROUND_TRIP
    if measured.is_file():
        try:
            rt = json.loads(measured.read_text())
            out.update({f"browser_{k}": v for k, v in rt.items()})
        except (OSError, ValueError):
            pass
    return out


def _rl_melodies(args):
    """The scale's RLConfig (realchords: the PPO recipe every course system shares) and one
    update's worth of plausible melodies [rollouts_per_update, crop_frames]."""
    import numpy as np
    import torch

    from ..rl.config import RLConfig

    cfg = RLConfig.preset(args.scale, seed=args.seed)
    melody = np.stack([bench_melody(cfg.crop_frames, args.seed + i) for i in range(cfg.rollouts_per_update)])
    return cfg, torch.as_tensor(melody)


def bench_rollout(args) -> dict:
    """Chord frames per second of `generate.rollout_online` (the RL collect stage, KV-cached) on a
    random-init policy of the scale: a batch of RLConfig.preset(scale).rollouts_per_update
    plausible melodies of crop_frames frames each, at the preset's temperature and mask_invalid;
    best of --repeats (the first run also pays for allocations)."""
    from ..generate import rollout_online

    cfg, melody = _rl_melodies(args)
    policy = _policy(args.scale, seed=args.seed)
    best, frames = float("inf"), 0
    for i in range(args.repeats):
        t0 = time.perf_counter()
        r = rollout_online(policy, melody, temperature=cfg.temperature, seed=args.seed + i,
                           mask_invalid=cfg.mask_invalid)
        best = min(best, time.perf_counter() - t0)
        frames = int(r.sampled.sum())
    return {"rollout_chord_frames_per_s": round(frames / best, 1), "rollout_batch": int(melody.shape[0]),
            "rollout_frames": int(melody.shape[1])}


def bench_ppo_update(args) -> dict:
    """Seconds per 1000 chord tokens of one PPO update (`rl.ppo.ppo_update`: values and GAE, then
    the preset's epochs x minibatches of actor and critic steps) on one batch of episodes
    collected as in `rollout` (rl.ppo.collect) and scored against a random-init offline
    anchor of the scale (score_policy). Random sequence rewards become token rewards
    (ppo.token_rewards, whitened as the preset says), so no reward model is needed; the
    critic and optimisers are built as rl/train.py builds them. Only ppo_update is timed; best of
    --repeats on the same batch (the actor moves between repeats, the work does not)."""
    import torch

    from ..models.anchor import OfflineAnchor
    from ..models.decoder import ValueModel
    from ..music.tokens import PAD
    from ..rl.ppo import collect, ppo_update, score_policy, standardise, token_rewards
    from ..train.mle import TrainConfig

    cfg, melody = _rl_melodies(args)
    actor = _policy(args.scale, seed=args.seed)  # eval mode: RL runs with dropout off
    torch.manual_seed(args.seed + 1)
    anchor = OfflineAnchor(TrainConfig.preset(args.scale).model).eval()
    critic = ValueModel(actor).eval()
    actor_opt = torch.optim.Adam(actor.parameters(), lr=cfg.actor_lr, betas=cfg.betas)
    critic_opt = torch.optim.Adam(critic.parameters(), lr=cfg.critic_lr, betas=cfg.betas)
    generator = torch.Generator().manual_seed(args.seed)
    # the data's chords are GAPT's "real" side only; PPO never reads them
    ep = collect(actor, melody, torch.full_like(melody, PAD), cfg, generator)
    score_policy(actor, anchor, ep, cfg)
    ep.sequence_reward = torch.randn(len(ep), generator=generator)
    reward = standardise(ep.sequence_reward) if cfg.whiten_rewards else ep.sequence_reward
    ep.token_rewards = token_rewards(reward, ep.kl, ep.mask, cfg.kl_coef)
    tokens = int(ep.mask.sum())
    best = float("inf")
    with torch.enable_grad():  # run() times everything else under no_grad
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            ppo_update(actor, critic, ep, actor_opt, critic_opt, cfg, generator)
            best = min(best, time.perf_counter() - t0)
    return {"ppo_update_s_per_1k_chord_tokens": round(best / (tokens / 1000), 4),
            "ppo_chord_tokens": tokens,
            "ppo_minibatches_per_update": cfg.epochs * (len(ep) // cfg.minibatch_size)}


def _short_reason(exc: Exception) -> str:
    """'nottingham data not found (looked in ...)' without the how-to-get-it advice."""
    text = " ".join(str(exc).split())
    return text.split("): ", 1)[0] + ")" if "): " in text else text


def bench_data_load(args) -> dict:
    """Seconds to parse Nottingham (--data-dir, else $MINIGAPT_DATA, else the download folder;
    never downloads) into a fresh temporary cache with --parse-workers processes (first parse),
    then to load it back from that cache (cached load): `data.catalog.load_songs` both times, as
    `minigapt data` does. The scale's unit cap applies (smoke parses 24 tunes, course all). The
    parser module (music21) is imported before timing; the per-process ABC file cache is
    cleared before each timing, so both are what a fresh process would spend."""
    from ..data import catalog
    from ..data.dataset import DataConfig

    out = {"nottingham_first_parse_s": None, "nottingham_cached_load_s": None}
    try:
        module = catalog.source_module("nottingham")
    except catalog.DataNotFound as exc:  # music21 missing
        return {**out, "nottingham_data": _short_reason(exc)}
    kwargs = dict(workers=args.parse_workers, progress=False,
                  max_units=DataConfig.preset(args.scale).max_units, download=False)
    with tempfile.TemporaryDirectory(prefix="minigapt-bench-cache-") as cache:
        timings, reports = [], []
        for _ in range(2):
            if hasattr(module, "_tunes_cached"):  # the ABC files' tunes, cached per process
                module._tunes_cached.cache_clear()
            t0 = time.perf_counter()
            try:
                reports.append(catalog.load_songs("nottingham", args.data_dir, cache_dir=cache, **kwargs))
            except catalog.DataNotFound as exc:
                return {**out, "nottingham_data": _short_reason(exc)}
            timings.append(time.perf_counter() - t0)
    first, again = reports
    out.update(nottingham_first_parse_s=round(timings[0], 3), nottingham_data=first.source_dir,
               nottingham_songs=len(first.songs), nottingham_units=first.units,
               nottingham_parse_workers=args.parse_workers)
    if again.from_cache:
        out["nottingham_cached_load_s"] = round(timings[1], 3)
    else:  # a parser crash caches nothing (its notes say why)
        why = "; ".join(first.notes) or "unknown reason"
        out["nottingham_data"] = f"{first.source_dir}: not cached ({why})"
    return out


GAPT_MEMORY_UPDATES = 3


def gapt_memory_child(scale: str, seed: int, threads: int | None, data_dir: str | None, out_dir: str) -> dict:
    """Run in a fresh process by bench_gapt_memory: random-init models of the scale (policy,
    offline anchor, the RewardConfig's reward ensemble, GAPT's discriminator via adversary_for),
    the training frames load_frames gives, and GAPT_MEMORY_UPDATES updates of the scale's GAPT
    preset (no evaluation) -> peak resident memory figures, also written to out_dir/memory.json."""
    import resource

    import torch

    from ..data.dataset import DataConfig, load_frames
    from ..models.anchor import OfflineAnchor
    from ..models.decoder import OnlinePolicy
    from ..rewards.ensemble import RewardConfig, RewardEnsemble
    from ..rl.config import RLConfig
    from ..rl.gapt import adversary_for
    from ..rl.train import train_rl
    from ..train.mle import TrainConfig

    def peak_mb() -> float:  # ru_maxrss is in KB on Linux
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    if threads is not None:
        torch.set_num_threads(threads)
    t0 = time.perf_counter()
    frames = load_frames(DataConfig.preset(scale), data_dir, progress=False)
    train = frames["train"]
    n_songs = sum(len(v) for v in train.values())
    if list(train) == ["default"]:
        data = f"embedded default songs ({n_songs} train; no dataset found)"
    else:
        where = data_dir or os.environ.get("MINIGAPT_DATA") or "the download folder"
        data = f"{' + '.join(train)} ({n_songs} train songs) from {where}"
    model_cfg = TrainConfig.preset(scale).model
    torch.manual_seed(seed)
    policy, anchor = OnlinePolicy(model_cfg).eval(), OfflineAnchor(model_cfg).eval()
    ensemble = RewardEnsemble(RewardConfig.preset(scale)).eval()
    cfg = RLConfig.preset(scale, "gapt", seed=seed, updates=GAPT_MEMORY_UPDATES, eval_every=10**9,
                          checkpoint_every=10**9)
    before = peak_mb()
    train_rl(cfg, policy, anchor, ensemble, frames, Path(out_dir) / "run", eval_melodies=None,
             adversary=adversary_for(cfg), progress=False)
    result = {"gapt_peak_rss_mb": peak_mb(), "gapt_peak_rss_before_updates_mb": before,
              "gapt_memory_updates": GAPT_MEMORY_UPDATES, "gapt_memory_data": data,
              "gapt_memory_seconds": round(time.perf_counter() - t0, 1)}
    (Path(out_dir) / "memory.json").write_text(json.dumps(result))
    return result


def bench_gapt_memory(args) -> dict:
    """Peak resident memory (MB, ru_maxrss) of a GAPT run of the scale, measured in a fresh
    Python process (so nothing this process loaded counts): loading the training frames
    (MINIGAPT_DATA / --data-dir when set, else the embedded default songs; never downloads),
    random-init policy, anchor, reward ensemble and discriminator, then 3 updates of the GAPT
    preset with the discriminator's first warm-up step and no evaluation (gapt_memory_child).
    The peak before the updates (data and models alone) is reported too."""
    repo = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "MINIGAPT_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (repo, os.environ.get("PYTHONPATH")) if p)}
    with tempfile.TemporaryDirectory(prefix="minigapt-bench-gapt-") as out_dir:
        code = ("import sys, json; from minigapt.commands.bench import gapt_memory_child; "
                "gapt_memory_child(*json.loads(sys.argv[1]))")
        argv = json.dumps([args.scale, args.seed, args.threads, args.data_dir, out_dir])
        try:
            r = subprocess.run([sys.executable, "-c", code, argv], env=env, capture_output=True, text=True,
                               timeout=1800)
        except subprocess.TimeoutExpired:
            raise MinigaptError("gapt_memory: the measuring process ran over 30 minutes") from None
        result = Path(out_dir) / "memory.json"
        if r.returncode != 0 or not result.is_file():
            last = (r.stderr.strip().splitlines() or ["no output"])[-1]
            raise MinigaptError(f"gapt_memory: the measuring process failed (exit {r.returncode}): {last}")
        return json.loads(result.read_text())


SLOW_BENCHMARKS = ("data_load", "gapt_memory")  # left out by --quick


BENCHMARKS: dict[str, Callable[[argparse.Namespace], dict]] = {
    "kv_cache": bench_kv_cache,
    "decode_step": bench_decode_step,
    "jam_step": bench_jam_step,
    "rollout": bench_rollout,
    "ppo_update": bench_ppo_update,
    "data_load": bench_data_load,
    "gapt_memory": bench_gapt_memory,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scale", default="course", choices=SCALES,
                        help="whose policy size to time (default: course)")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), metavar="NAME",
                        help=f"run only these benchmarks ({', '.join(BENCHMARKS)})")
    parser.add_argument("--frames", type=int, default=256,
                        help="frames of the KV-cache stream (2 tokens each; default 256 = 512 tokens)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs to take the best of (kv_cache, rollout, ppo_update; default 3)")
    parser.add_argument("--decode-steps", type=int, default=400, help="live frames to time")
    parser.add_argument("--jam-frames", type=int, default=640,
                        help="frames of the scripted jam session timed by jam_step (default 640: 160 beats)")
    parser.add_argument("--threads", type=int, default=None,
                        help="PyTorch threads for every path (default: PyTorch's own choice)")
    parser.add_argument("--quick", action="store_true",
                        help=f"leave out the slow benchmarks ({', '.join(SLOW_BENCHMARKS)}) unless --only names them")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="data_load and gapt_memory: the data folder (default: $MINIGAPT_DATA, then the "
                             "download folder; gapt_memory falls back on the embedded default songs)")
    parser.add_argument("--parse-workers", type=int, default=2, metavar="N",
                        help="data_load: parsing processes for the first parse (default 2, as `minigapt data`)")
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> dict:
    check_scale(args.scale)
    if args.frames < 16 or args.decode_steps < 10 or args.repeats < 1 or args.jam_frames < 64:
        raise MinigaptError("--frames must be at least 16, --decode-steps at least 10, --repeats at least 1, "
                            "--jam-frames at least 64")
    if args.threads is not None and args.threads < 1:
        raise MinigaptError("--threads must be at least 1")
    if args.parse_workers < 1:
        raise MinigaptError("--parse-workers must be at least 1")
    if args.data_dir is not None and not Path(args.data_dir).expanduser().is_dir():
        raise MinigaptError(f"--data-dir {args.data_dir} is not a folder")
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)

    from ..models.decoder import count_parameters

    result = {"scale": args.scale, "device": "cpu", "torch_threads": torch.get_num_threads(),
              "policy_parameters": count_parameters(_policy(args.scale))}
    with torch.no_grad():
        for name in args.only or [n for n in BENCHMARKS if not (args.quick and n in SLOW_BENCHMARKS)]:
            result.update(BENCHMARKS[name](args))
    return result
