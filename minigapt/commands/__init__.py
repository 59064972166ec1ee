"""Subcommands of `python -m minigapt`: each module exposes `add_arguments(parser)` and
`run(args) -> dict`, and is listed in minigapt.cli.COMMANDS."""
