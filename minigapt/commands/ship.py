"""Copy the finished course runs into assets/checkpoints/ (float16) with a model card each.

Maintainers run this after retraining the course (`make course`); students never need to.
"""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scale", default="course", help="which runs/<scale>/ to ship (default course)")
    parser.add_argument("--dest", default=None, metavar="DIR", help="target folder (default assets/checkpoints)")


def run(args: argparse.Namespace) -> dict:
    from .. import ship

    sizes = ship.ship(args.scale, args.dest)
    return {"files": sizes, "total_mb": round(sum(sizes.values()) / 1e6, 2)}
