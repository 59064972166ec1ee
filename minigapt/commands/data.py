"""Parse a dataset (or any file/folder of songs) and print its statistics.

Also fetches the public datasets (--download) and checks a copy against the shipped manifest
(--verify). Parsing goes through the on-disk cache, so a second run takes about a second.
"""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, metavar="NAME",
                        help="nottingham | openewld | pop909 | hooktheory | default, "
                             "or a path to an ABC / MusicXML / MIDI file or folder")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="the dataset folder itself, or a folder holding <NAME>/ "
                             "(default: $MINIGAPT_DATA, then ~/.cache/minigapt/data)")
    parser.add_argument("--workers", type=int, default=2, metavar="N",
                        help="parallel parsing processes (1 = in this process)")
    parser.add_argument("--max-units", type=int, metavar="N",
                        help="parse at most N units (files/tunes/song folders), evenly spread")
    parser.add_argument("--no-cache", action="store_true", help="parse afresh, neither read nor write the cache")
    parser.add_argument("--no-download", action="store_true", help="never try to download a missing dataset")
    parser.add_argument("--download", action="store_true",
                        help="download the dataset (into --data-dir if given) and stop")
    parser.add_argument("--verify", action="store_true",
                        help="check the dataset folder against the shipped manifest and stop")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> dict:
    from ..errors import MinigaptError
    from ..data import catalog, download

    if args.download or args.verify:
        if args.dataset not in download.REMOTE:
            raise MinigaptError(f"--download/--verify know {', '.join(download.REMOTE)}, not {args.dataset!r}")
        if args.download:
            folder = download.download(args.dataset, args.data_dir, progress=not args.quiet)
        else:
            folder = catalog.resolve_data_dir(args.dataset, args.data_dir)
            if folder is None:
                raise catalog.DataNotFound(f"{args.dataset} data not found; pass --data-dir or use --download")
        return {"dataset": args.dataset, "folder": str(folder),
                "verified": download.verify(args.dataset, folder)}

    if args.workers < 1:
        raise MinigaptError("--workers must be at least 1")
    report = catalog.load_songs(args.dataset, args.data_dir, workers=args.workers,
                                progress=not args.quiet, max_units=args.max_units,
                                use_cache=not args.no_cache, download=not args.no_download)
    songs = report.songs
    with_chords = sum(1 for s in songs if s.has_chords)
    return {
        "dataset": report.name,
        "songs_found": report.songs_found,
        "songs_kept": len(songs),
        "skipped": report.skipped,
        "frames": sum(s.n_frames for s in songs),
        "distinct_chords": len({c.chord for s in songs for c in s.chords}),
        "with_chords": with_chords,
        "melody_only": len(songs) - with_chords,
        "units": report.units,
        "seconds": round(report.seconds, 3),
        "from_cache": report.from_cache,
        "source_dir": report.source_dir,
    }
