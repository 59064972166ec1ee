"""Find a dataset, parse it in parallel (once), and report what was kept and what was skipped.

    report = load_songs("nottingham")          # or openewld, pop909, hooktheory, default,
    report.songs, report.skipped               # or a path to any ABC/MusicXML/MIDI file/folder

Every source module follows the contract in `minigapt.data` (find_units / parse_unit). Source
modules are imported lazily by name, so a source that is not installed is a one-line error.
"""
from __future__ import annotations

import importlib
import multiprocessing
import os
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from ..errors import MinigaptError, SkipSong
from ..music.song import Song
from . import cache
from .download import REMOTE, DataNotFound, download_dir
from .download import download as download_dataset

# dataset name -> module implementing the source contract; "files" reads any path
SOURCES = {
    "nottingham": "minigapt.data.nottingham",
    "openewld": "minigapt.data.openewld",
    "pop909": "minigapt.data.pop909",
    "hooktheory": "minigapt.data.hooktheory",
    "default": "minigapt.data.default",
    "files": "minigapt.data.files",
}

__all__ = ["ParseReport", "DataNotFound", "SOURCES", "resolve_data_dir", "load_songs",
           "source_module", "notice"]


@dataclass
class ParseReport:
    name: str  # dataset name or path
    songs: list[Song]
    songs_found: int  # songs the units held: kept + skipped
    skipped: dict[str, int]  # reason -> count
    seconds: float  # wall time of this call
    from_cache: bool
    source_dir: str | None
    units: int = 0  # units of parsing work (files, tunes, song folders)
    cache_file: str | None = None
    notes: list[str] = field(default_factory=list)  # one-line notices given on the way


def notice(message: str) -> None:
    """A one-line notice for the user (stderr, so --json output stays clean)."""
    print(f"minigapt: {message}", file=sys.stderr, flush=True)


def source_module(name: str) -> ModuleType:
    """The module implementing source `name`: MinigaptError if the name is unknown, its
    subclass DataNotFound if the module (or a package it needs) is not installed."""
    if name not in SOURCES:
        raise MinigaptError(f"unknown dataset {name!r}; choose one of "
                            f"{', '.join(s for s in SOURCES if s != 'files')} or give a file/folder path")
    path = SOURCES[name]
    try:
        return importlib.import_module(path)
    except ModuleNotFoundError as exc:
        if exc.name != path:  # a dependency of the source is missing: say which
            raise DataNotFound(f"dataset {name!r} needs the package {exc.name!r}: pip install it") from exc
        raise DataNotFound(f"dataset {name!r} is not available in this minigapt ({path} is missing)") from exc


def resolve_data_dir(name: str, data_dir: str | Path | None = None) -> Path | None:
    """The folder holding dataset `name`, or None if it is nowhere (or needs no folder).

    Looked for, in order: `data_dir` (the dataset folder itself, or a root holding <name>/;
    a folder the user gives always wins, even without the data in it), then $MINIGAPT_DATA
    (a root holding nottingham/ openewld/ pop909/ ...), then the download folder
    (~/.cache/minigapt/data/<name>)."""
    subdir = source_module(name).DEFAULT_SUBDIR
    if subdir is None:
        return None
    if data_dir is not None:
        given = Path(data_dir).expanduser()
        if not given.is_dir():
            raise DataNotFound(f"data folder {given} does not exist")
        # resolved, so the same folder named two ways shares one cache entry
        return (given / subdir if (given / subdir).is_dir() else given).resolve()
    env = os.environ.get("MINIGAPT_DATA")
    if env and (Path(env).expanduser() / subdir).is_dir():
        return (Path(env).expanduser() / subdir).resolve()
    if download_dir(name).is_dir():
        return download_dir(name)
    return None


def _where_we_looked(name: str) -> str:
    env = os.environ.get("MINIGAPT_DATA")
    places = ([f"$MINIGAPT_DATA/{name} ({env})"] if env else ["$MINIGAPT_DATA (unset)"])
    return ", ".join(places + [str(download_dir(name))])


def _find_root(name: str, data_dir, allow_download: bool, progress: bool) -> Path | None:
    root = resolve_data_dir(name, data_dir)
    if root is not None or source_module(name).DEFAULT_SUBDIR is None:
        return root
    if name in REMOTE and allow_download and not os.environ.get("MINIGAPT_OFFLINE"):
        try:
            return download_dataset(name, progress=progress)
        except DataNotFound as exc:  # offline: say where else we looked
            raise DataNotFound(f"{exc} [not found in {_where_we_looked(name)}]") from exc
    how = (f"run `python -m minigapt data --dataset {name} --download`, " if name in REMOTE else "")
    raise DataNotFound(f"{name} data not found (looked in {_where_we_looked(name)}): {how}"
                       f"set MINIGAPT_DATA to a folder holding {name}/ or pass --data-dir")


def _spread(units: list[str], max_units: int | None) -> list[str]:
    """At most max_units units, evenly spaced over the sorted list (every file represented)."""
    if max_units is None or len(units) <= max_units:
        return units
    if max_units <= 0:
        raise MinigaptError(f"max_units must be positive, got {max_units}")
    return [units[i * len(units) // max_units] for i in range(max_units)]


def _parse_unit(job: tuple[str, str]) -> list[Song | str]:
    """Worker: parse one unit; skips come back as their reason strings (SkipSong does not
    survive pickling with its reason intact) and a crashing parser as 'crash:Type: message'."""
    module_path, unit = job
    try:
        out = importlib.import_module(module_path).parse_unit(unit)
    except SkipSong as exc:
        return [exc.reason]
    except Exception as exc:  # the contract says never; count it rather than lose the run
        return ["crash:" + type(exc).__name__ + ": " + " ".join(str(exc).split())[:200]]
    return [s.reason if isinstance(s, SkipSong) else s for s in out]


def _ignore_sigint() -> None:
    # Ctrl-C reaches the whole process group: only the parent handles it (and terminates the
    # pool), so workers do not each print a traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _parse_all(module_path: str, units: list[str], workers: int, progress: bool, desc: str):
    from tqdm.auto import tqdm

    jobs = [(module_path, u) for u in units]
    with tqdm(total=len(jobs), desc=desc, unit="unit", disable=not progress) as bar:
        if workers <= 1 or len(jobs) <= 1:
            for job in jobs:
                yield job[1], _parse_unit(job)
                bar.update()
            return
        # fork on Linux: starts in milliseconds and needs no __main__ guard in user scripts
        method = "fork" if sys.platform.startswith("linux") else None
        ctx = multiprocessing.get_context(method)
        with ctx.Pool(min(workers, len(jobs)), initializer=_ignore_sigint) as pool:
            # chunksize 1 hands out units one by one, so slow units do not pile up on one worker
            for job, result in zip(jobs, pool.imap(_parse_unit, jobs, chunksize=1)):
                yield job[1], result
                bar.update()


def _collect(results) -> tuple[list[Song], dict[str, int], str | None]:
    """(songs, skip reason -> count sorted by count, first crash 'unit: message' or None)."""
    songs: list[Song] = []
    skipped: Counter[str] = Counter()
    crash = None
    for unit, out in results:
        for r in out:
            if isinstance(r, Song):
                songs.append(r)
            elif r.startswith("crash:"):
                kind, _, message = r.partition(": ")
                skipped[kind] += 1
                crash = crash or f"{unit}: {kind[6:]}: {message}"
            else:
                skipped[r] += 1
    return songs, dict(sorted(skipped.items(), key=lambda kv: (-kv[1], kv[0]))), crash


def _decode_payload(payload: dict) -> dict:
    return {**payload, "songs": cache.decode_songs(payload["songs"])}


def load_songs(name: str, data_dir: str | Path | None = None, *, cache_dir: str | Path | None = None,
               workers: int = 2, progress: bool = True, max_units: int | None = None,
               use_cache: bool = True, download: bool = True) -> ParseReport:
    """Parse dataset `name` (or a file/folder path) into Songs, through the on-disk cache.

    Raises MinigaptError (one line) for an unknown name, and its subclass DataNotFound when
    the data is not found (saying where we looked and how to get it)."""
    t0 = time.perf_counter()
    if name in SOURCES and name != "files":
        module = source_module(name)
        root = _find_root(name, data_dir, download, progress)
        source = name
    else:
        path = Path(name).expanduser()
        if not path.exists():
            if os.sep in name or path.suffix:
                raise DataNotFound(f"no such file or folder: {path}")
            source_module(name)  # raises "unknown dataset ..."
        module, root, source = source_module("files"), path.resolve(), "files"
    try:
        units = [str(u) for u in module.find_units(root)]
    except DataNotFound:
        raise
    except MinigaptError as exc:  # "no .abc files under DIR" and the like: the data is not there
        raise DataNotFound(str(exc)) from exc
    if not units:
        raise DataNotFound(f"no {source} songs found in {root}")
    units = _spread(units, max_units)
    notes: list[str] = []
    path = None
    if use_cache:
        key = cache.cache_key(source, module.PARSER_VERSION, units, max_units)
        path = cache.cache_path(cache.parsed_cache_dir(cache_dir), source, key)
        payload, problem = cache.read_cache(path, _decode_payload)
        if problem:
            notes.append(problem)
        if payload is not None:
            return ParseReport(name, payload["songs"], payload["songs_found"], payload["skipped"],
                               time.perf_counter() - t0, True, payload["source_dir"],
                               len(units), str(path), notes)
    label = Path(name).name if source == "files" else name
    songs, skipped, crash = _collect(_parse_all(module.__name__, units, workers, progress,
                                                f"parsing {label}"))
    found = len(songs) + sum(skipped.values())
    source_dir = str(root) if root is not None else None
    if crash:  # a parser bug, not bad data: tell its author, and cache nothing
        notes.append(f"the {source} parser crashed on "
                     f"{sum(v for k, v in skipped.items() if k.startswith('crash:'))} song(s), first {crash}")
        notice(notes[-1])
    elif path is not None:
        cache.write_cache(path, {"songs": cache.encode_songs(songs), "songs_found": found,
                                 "skipped": skipped, "source_dir": source_dir})
    return ParseReport(name, songs, found, skipped, time.perf_counter() - t0, False,
                       source_dir, len(units), str(path) if path else None, notes)
