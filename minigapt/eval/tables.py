"""Result tables across systems, seeds and evaluation sets (paper Tables 1 and 6-10).

One shape for all of them, so a notebook, results.json and a test read them the same way:

    table[system][eval_set][metric] = {"mean": float, "sd": float | None, "values": [one per seed]}

`sd` is the sample standard deviation over seeds (None with a single value: one seed, the
online MLE, the data's chords); a seed that produced no number (NaN, None) is kept in `values`
as None and left out of mean and sd. `markdown_table` renders one evaluation set of such a
table, with the paper's numbers in their own columns so ours are never mixed with theirs.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np


def _number(v) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def mean_sd(values: Iterable) -> dict:
    """{mean, sd, values} of numbers over seeds (None and NaN kept as None, left out of both)."""
    vals = [_number(v) for v in values]
    ok = [v for v in vals if v is not None]
    mean = sum(ok) / len(ok) if ok else None
    sd = math.sqrt(sum((v - mean) ** 2 for v in ok) / (len(ok) - 1)) if len(ok) > 1 else None
    return {"mean": mean, "sd": sd, "values": vals}


def column(rows: Iterable[Mapping], key: str):
    """The values of `key` across rows (a training log, one dict per update) as a float array,
    NaN where a row has none."""
    return np.array([np.nan if r.get(key) is None else r[key] for r in rows], dtype=float)


def summarise(per_seed: Mapping[str, Mapping[str, list[Mapping]]], metrics: Iterable[str] | None = None) -> dict:
    """system -> eval set -> [metric dict per seed] -> system -> eval set -> metric -> mean_sd.
    metrics: which to keep (default: every numeric key any seed reported, in first-seen order;
    an interval, a [low, high] pair, is one seed's and is not averaged)."""
    out = {}
    for system, by_set in per_seed.items():
        out[system] = {}
        for eval_set, rows in by_set.items():
            keys = list(metrics) if metrics is not None else list(dict.fromkeys(
                k for r in rows for k, v in r.items() if not isinstance(v, (list, tuple))))
            out[system][eval_set] = {k: mean_sd([r.get(k) for r in rows]) for k in keys}
    return out


def fmt(stat: Mapping | None, digits: int = 3) -> str:
    """'0.512 ± 0.013' (or '0.512' for one value, '–' for none)."""
    if not stat or stat.get("mean") is None:
        return "–"
    text = f"{stat['mean']:.{digits}f}"
    return text if stat.get("sd") is None else f"{text} ± {stat['sd']:.{digits}f}"


def markdown(header: list[str], rows: list[list], align: str | None = None) -> str:
    """A Markdown table; align: one character per column, 'l' or 'r' (default: first left, rest right)."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---" if a == "l" else "---:" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown_table(table: Mapping, eval_set: str, metrics: list[str], *, systems: list[str] | None = None,
                   labels: Mapping[str, str] | None = None, digits: Mapping[str, int] | None = None,
                   paper: Mapping | None = None, paper_metrics: list[str] | None = None,
                   paper_missing: str = "–") -> str:
    """One evaluation set of a summarised table as Markdown: a row per system, ours first, then
    the paper's columns. paper: system -> eval set -> metric -> number or text (e.g. "N/A")."""
    labels, digits = labels or {}, digits or {}
    systems = [s for s in (systems or list(table)) if eval_set in table.get(s, {})]
    paper_metrics = paper_metrics or []
    header = ["system"] + [labels.get(m, m) for m in metrics] + [f"paper: {labels.get(m, m)}" for m in paper_metrics]
    rows = []
    for s in systems:
        row = [labels.get(s, s)] + [fmt(table[s][eval_set].get(m), digits.get(m, 3)) for m in metrics]
        for m in paper_metrics:
            v = ((paper or {}).get(s) or {}).get(eval_set, {}).get(m)
            row.append(paper_missing if v is None else (f"{v:.{digits.get(m, 3)}f}" if isinstance(v, (int, float)) else v))
        rows.append(row)
    return markdown(header, rows)
