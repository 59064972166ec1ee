"""Train (or resume) one named RL run: `python -m minigapt train gapt --scale ship --seed 1`.

The run's recipe is its row of the presets table (minigapt/presets.py) at that scale; --set
changes any RLConfig value (`--set updates=60 --set discriminator.tau=0.6`). The run lives in
runs/<scale>/<name>-seed<seed>/ and is resumable: stop it at any time (Ctrl-C, --stop-after N)
and the same command continues it from its last finished update to the same result.
"""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="a named run (presets.RUNS): realchords, gapt-no-adv, gapt, grpo, ...")
    parser.add_argument("--scale", default="course", help="smoke | course | ship | paper (default course)")
    parser.add_argument("--seed", type=int, default=0, help="the run's seed (default 0)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="change an RLConfig value, e.g. updates=60 or discriminator.tau=0.6 (repeatable)")
    parser.add_argument("--as", dest="run_name", default=None, metavar="NAME",
                        help="the run's own name (its folder runs/<scale>/NAME-seed<seed>/), for a variant made with --set")
    parser.add_argument("--stop-after", type=int, default=None, metavar="N",
                        help="stop (resumable) once N updates are done")
    parser.add_argument("--retrain", action="store_true", help="train anew even if a finished run exists")
    parser.add_argument("--device", default=None, help="cpu, cuda, auto (default: $MINIGAPT_DEVICE, else cpu)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")


def run(args: argparse.Namespace) -> dict:
    import torch

    from ..config import check_scale
    from ..errors import MinigaptError
    from ..presets import override, parse_changes
    from ..rl.systems import config_for, train_named

    check_scale(args.scale)
    changes = parse_changes(args.set)
    override(config_for(args.name, args.scale, args.seed), **changes)  # a bad name or value: one line, now
    if args.stop_after is not None and args.stop_after < 1:
        raise MinigaptError("--stop-after must be at least 1")
    torch.set_num_threads(max(1, args.threads))
    run = train_named(args.name, args.scale, seed=args.seed, changes=changes,
                      retrain=args.retrain, stop_after=args.stop_after, device=args.device, run_name=args.run_name)
    last = run.evals[-1] if run.evals else {}
    done = len(run.metrics) if run.metrics else None
    return {"name": args.run_name or args.name, "recipe": args.name, "scale": args.scale, "seed": args.seed, "checkpoint": str(run.path),
            "updates_done": done, "updates": run.config.updates,
            "complete": done is None or done >= run.config.updates,
            "seconds": run.seconds, "last_eval": last}
