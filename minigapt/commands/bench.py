"""Measure generation speed: KV-cache speed-up, one live decode step, one live jam engine tick.

Random-init weights of the chosen scale's policy (speed does not depend on training). Each
benchmark is a function returning a dict of figures; add new ones to BENCHMARKS. torch and
numpy are imported inside the functions so that `minigapt --help` stays fast.
"""
from __future__ import annotations

import argparse
import dataclasses
import time
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
    import json

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


BENCHMARKS: dict[str, Callable[[argparse.Namespace], dict]] = {
    "kv_cache": bench_kv_cache,
    "decode_step": bench_decode_step,
    "jam_step": bench_jam_step,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scale", default="course", choices=SCALES,
                        help="whose policy size to time (default: course)")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), metavar="NAME",
                        help=f"run only these benchmarks ({', '.join(BENCHMARKS)})")
    parser.add_argument("--frames", type=int, default=256,
                        help="frames of the KV-cache stream (2 tokens each; default 256 = 512 tokens)")
    parser.add_argument("--repeats", type=int, default=3, help="KV-cache runs to take the best of")
    parser.add_argument("--decode-steps", type=int, default=400, help="live frames to time")
    parser.add_argument("--jam-frames", type=int, default=640,
                        help="frames of the scripted jam session timed by jam_step (default 640: 160 beats)")
    parser.add_argument("--threads", type=int, default=None,
                        help="PyTorch threads for every path (default: PyTorch's own choice)")
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> dict:
    check_scale(args.scale)
    if args.frames < 16 or args.decode_steps < 10 or args.repeats < 1 or args.jam_frames < 64:
        raise MinigaptError("--frames must be at least 16, --decode-steps at least 10, --repeats at least 1, "
                            "--jam-frames at least 64")
    if args.threads is not None and args.threads < 1:
        raise MinigaptError("--threads must be at least 1")
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)

    from ..models.decoder import count_parameters

    result = {"scale": args.scale, "device": "cpu", "torch_threads": torch.get_num_threads(),
              "policy_parameters": count_parameters(_policy(args.scale))}
    with torch.no_grad():
        for name in args.only or BENCHMARKS:
            result.update(BENCHMARKS[name](args))
    return result
