"""Measure generation speed: KV-cache speed-up and the time of one live decode step.

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


BENCHMARKS: dict[str, Callable[[argparse.Namespace], dict]] = {
    "kv_cache": bench_kv_cache,
    "decode_step": bench_decode_step,
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
    parser.add_argument("--threads", type=int, default=None,
                        help="PyTorch threads for every path (default: PyTorch's own choice)")
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> dict:
    check_scale(args.scale)
    if args.frames < 16 or args.decode_steps < 10 or args.repeats < 1:
        raise MinigaptError("--frames must be at least 16, --decode-steps at least 10, --repeats at least 1")
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
