"""Metrics logs as CSV: the rows a training loop appends, and the columns plots read back."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from .atomic import atomic_write
from .errors import MinigaptError


def write_csv(path: Path, rows: list[dict]) -> None:
    """All rows, atomically (columns: the union of keys in first-seen order)."""
    cols = list(dict.fromkeys(k for r in rows for k in r))
    text = io.StringIO(newline="")
    w = csv.DictWriter(text, cols)
    w.writeheader()
    w.writerows(rows)
    atomic_write(path, text.getvalue().encode())


def read_log(path: Path) -> list[dict]:
    """The rows a training loop wrote (numbers as floats, blanks as None); [] when there is no file."""
    if not path.is_file():
        return []
    with path.open() as f:
        return [{k: (float(v) if v not in ("", None) else None) for k, v in r.items()} for r in csv.DictReader(f)]


def read_metrics_csv(path) -> dict[str, np.ndarray]:
    """A metrics CSV (header row, one row per logged step) -> column -> float array; blank or
    non-numeric cells become NaN (metrics logged at different rates leave blanks)."""
    path = Path(path)
    if not path.is_file():
        raise MinigaptError(f"no metrics file at {path}")
    return parse_metrics_csv(path.read_text())


def parse_metrics_csv(text: str) -> dict[str, np.ndarray]:
    """read_metrics_csv on the CSV's text."""
    rows = list(csv.DictReader(io.StringIO(text)))
    columns = rows[0].keys() if rows else []

    def number(s):
        try:
            return float(s)
        except (TypeError, ValueError):
            return np.nan
    return {c: np.array([number(r.get(c)) for r in rows], dtype=float) for c in columns}
