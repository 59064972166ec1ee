"""Copy finished runs into assets/checkpoints/ (float16) with a model card each.

Maintainers run this after retraining: the supervised stages from runs/course/ (`make course`),
the RL runs from runs/ship/ (`python -m minigapt train NAME --scale ship --seed S`), e.g.
`ship --scale ship --names realchords gapt-no-adv gapt realchords-seed1 ...`. Students never need to.
"""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scale", default="course", help="which runs/<scale>/ to ship (default course)")
    parser.add_argument("--dest", default=None, metavar="DIR", help="target folder (default assets/checkpoints)")
    parser.add_argument("--names", nargs="+", default=None, metavar="NAME",
                        help="ship only these (shipped names, e.g. gapt gapt-seed1; default all)")


def run(args: argparse.Namespace) -> dict:
    from .. import ship

    sizes = ship.ship(args.scale, args.dest, names=args.names)
    return {"files": sizes, "total_mb": round(sum(sizes.values()) / 1e6, 2)}
