"""The toy world: reward hacking and GAPT where the right answer is known, in about a minute.

Diatonic triads in C, one per bar from a functional-harmony chain, melodies with chord tones at a
known rate (minigapt/toy/). Trains the online MLE and the RL systems (realchords, gapt-no-adv,
gapt) with the course's own code on a learned reward that has a deliberate hole, and measures
every system on held-out melodies. A progress line per trained system goes to stderr.
"""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seeds", type=int, default=3, metavar="N", help="seeds 0..N-1 (default 3)")
    parser.add_argument("--updates", type=int, default=None, metavar="N",
                        help="RL updates per system (default: the toy config's)")


def run(args: argparse.Namespace) -> dict:
    from ..errors import MinigaptError
    from ..toy.config import ToyConfig
    from ..toy.run import run_toy

    if args.seeds < 1:
        raise MinigaptError("--seeds must be at least 1")
    if args.updates is not None and args.updates < 1:
        raise MinigaptError("--updates must be at least 1")
    cfg = ToyConfig() if args.updates is None else ToyConfig().replace(updates=args.updates)
    summary, _ = run_toy(cfg, seeds=tuple(range(args.seeds)))
    return summary
