"""Atomic file writes: a reader (or a crash, or Ctrl-C) never sees half a file.

The bytes go to a temporary file in the same folder, are flushed to disk, and replace the
target in one os.replace; on any failure the temporary file is removed and the old file stays.
Caches, checkpoints, results.json and the RL logs all write through here.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically (its folder is created if needed); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
