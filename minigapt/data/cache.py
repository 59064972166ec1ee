"""Parsed songs on disk, so each dataset is parsed with music21 once, not on every run.

One file per (source, parser version, vocabulary, unit cap, source files). The key uses each
source file's (path, size, mtime_ns) rather than a content hash: stat-ing a few thousand files
takes milliseconds, hashing them would not, and an edited file changes both size or mtime.

A cache file is a fixed header (magic, payload length, sha256 of the payload) followed by a
pickle. A truncated or damaged file fails the length or checksum test (or the unpickle), is
announced in one line, deleted and re-parsed by the caller. Files are written to a temporary
name in the same folder and renamed into place with os.replace, which is atomic: a reader sees
the old file, the new file, or none, never half of one, even with concurrent writers.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import struct
import sys
from pathlib import Path

import minigapt
from ..atomic import atomic_write
from ..music.song import ChordEvent, Note, Song
from ..music.tokens import VOCAB

MAGIC = b"MGAPTC02"  # bump the digits when the file layout changes
_HEADER = struct.Struct("<8sQ32s")  # magic, payload length, sha256(payload)


def cache_root() -> Path:
    """~/.cache/minigapt (or $XDG_CACHE_HOME/minigapt): parsed songs and downloads live here."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "minigapt"


def parsed_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """Where parsed songs go: the argument, else $MINIGAPT_CACHE, else ~/.cache/minigapt/parsed."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("MINIGAPT_CACHE")
    return Path(env).expanduser() if env else cache_root() / "parsed"


def unit_files(units: list[str]) -> list[Path]:
    """The files the units name (before a trailing '#N'); a folder unit stands for its files."""
    paths: set[Path] = set()
    for unit in units:
        head, sep, tail = unit.rpartition("#")
        p = Path(head if sep and tail.isdigit() else unit)  # "file.abc#7" -> file.abc
        if p.is_dir():
            paths.update(f for f in p.rglob("*") if f.is_file())
        else:
            paths.add(p)
    return sorted(paths)


def cache_key(source: str, parser_version: str, units: list[str], max_units: int | None) -> str:
    """sha256 over everything that changes what parsing these units produces."""
    files = []
    for p in unit_files(units):
        st = p.stat()  # the contract says unit files exist; a vanished one is a real error
        files.append((str(p.resolve()), st.st_size, st.st_mtime_ns))
    key = {
        "magic": MAGIC.decode(),
        "source": source,
        "parser_version": str(parser_version),
        "vocab": VOCAB.hash,
        "minigapt": minigapt.__version__,
        "song_fields": [f.name for f in dataclasses.fields(Song)],  # a changed Song -> re-parse
        "max_units": max_units,
        "units": units,
        "files": files,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def cache_path(cache_dir: Path, source: str, key: str) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in source)[:40]
    return cache_dir / f"{safe}-{key[:20]}.pkl"


_SCALARS = [f.name for f in dataclasses.fields(Song) if f.name not in ("melody", "chords")]


def encode_songs(songs: list[Song]) -> list[tuple]:
    """Songs as plain tuples of ints and strings: unpickling these and rebuilding the Songs is
    ~5x faster than unpickling the dataclasses themselves (the cached-load time budget)."""
    return [(tuple(getattr(s, f) for f in _SCALARS),
             [v for n in s.melody for v in (n.start, n.end, n.pitch)],
             [(c.start, c.end, c.chord) for c in s.chords]) for s in songs]


def decode_songs(rows: list[tuple]) -> list[Song]:
    songs = []
    for scalars, melody, chords in rows:
        it = iter(melody)
        songs.append(Song(**dict(zip(_SCALARS, scalars)),
                          melody=[Note(a, b, p) for a, b, p in zip(it, it, it)],
                          chords=[ChordEvent(a, b, c) for a, b, c in chords]))
    return songs


def write_cache(path: Path, payload: object) -> None:
    """Pickle `payload` to `path` atomically (temp file in the same folder + os.replace)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    header = _HEADER.pack(MAGIC, len(data), hashlib.sha256(data).digest())
    atomic_write(path, header + data)  # a crash (or Ctrl-C) mid-write leaves no partial file behind


def _check(blob: bytes) -> bytes:
    """The payload of a cache file's bytes; ValueError saying what is wrong with it."""
    if len(blob) < _HEADER.size:
        raise ValueError("truncated header")
    magic, length, digest = _HEADER.unpack_from(blob)
    if magic != MAGIC:
        raise ValueError("not a minigapt cache file of this version")
    data = blob[_HEADER.size:]
    if len(data) != length:
        raise ValueError(f"truncated ({len(data)} of {length} bytes)")
    if hashlib.sha256(data).digest() != digest:
        raise ValueError("checksum mismatch")
    return data


def read_cache(path: Path, decode=None) -> tuple[object | None, str | None]:
    """(payload, None) for a healthy file; (None, None) when there is none; (None, problem)
    after announcing a damaged file in one line on stderr and deleting it. `decode(payload)`,
    if given, is applied inside the check, so a payload of the wrong shape counts as damage."""
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        return None, None
    try:
        payload = pickle.loads(_check(blob))
        return (decode(payload) if decode else payload), None
    except Exception as exc:  # any damage at all means: parse again
        why = " ".join(str(exc).split()) or type(exc).__name__
        problem = f"cache file {path} is damaged ({why}); deleting it and parsing again"
        print(f"minigapt: {problem}", file=sys.stderr)
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        return None, problem
