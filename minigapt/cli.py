"""`python -m minigapt <command>`: one argparse subcommand per module in minigapt/commands/.

Each command module exposes `add_arguments(parser)` and `run(args) -> dict`; the dict is
printed as one JSON object with --json, as readable text otherwise. A MinigaptError becomes
"error: <message>" on stderr and exit status 2 (no traceback); Ctrl-C exits 130 quietly.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys

from . import __version__
from .errors import MinigaptError

COMMANDS = ["data", "bench", "accompany", "evaluate", "train", "toy", "ship"]  # module names under minigapt/commands/, in the order --help lists them


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minigapt",
        description="minigapt: online melody-to-chord accompaniment and GAPT post-training.")
    parser.add_argument("--version", action="version", version=f"minigapt {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"minigapt.commands.{name}")
        doc = (module.__doc__ or "").strip().splitlines()
        p = sub.add_parser(name, help=doc[0] if doc else None, description=" ".join(doc) or None)
        module.add_arguments(p)
        p.add_argument("--json", action="store_true", help="print the result as one JSON object")
        p.set_defaults(_run=module.run)
    return parser


def format_text(result: dict, indent: int = 0) -> str:
    """A result dict as readable 'key: value' lines (nested dicts indented)."""
    lines = []
    for key, value in result.items():
        if isinstance(value, dict) and value:
            lines.append(" " * indent + f"{key}:")
            lines.append(format_text(value, indent + 2))
        else:
            if isinstance(value, float):
                value = f"{value:.4g}"
            elif isinstance(value, dict):
                value = "none"
            lines.append(" " * indent + f"{key}: {value}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        result = args._run(args)
        if args.json:
            print(json.dumps(result, default=str))
        else:
            print(format_text(result))
        return 0
    except MinigaptError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
