"""Small helpers every notebook uses: its output folder, its results.json, self-checks.

Each notebook ends by writing `OUT_DIR/results.json`; `make course` collects those files into
one table and the notebook smoke tests read them. Kept free of torch so it imports instantly.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping

from .atomic import atomic_write
from .errors import MinigaptError

RESULTS_FILE = "results.json"


def out_dir(path: str | os.PathLike) -> Path:
    """The notebook's output folder, created if missing."""
    folder = Path(path).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def to_jsonable(value: Any, where: str = "results") -> Any:
    """`value` with numpy/torch numbers and arrays, paths, tuples, sets and dataclasses turned
    into plain JSON types. Non-finite floats become None (JSON has no NaN)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        return [to_jsonable(v, where) for v in sorted(value, key=repr)]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value), where)
    # numpy scalars and arrays, torch tensors: duck-typed so neither has to be imported here
    if hasattr(value, "tolist"):
        return to_jsonable(value.tolist(), where)
    if hasattr(value, "item"):
        return to_jsonable(value.item(), where)
    raise MinigaptError(f"{where}: cannot write a {type(value).__name__} to JSON; "
                        "convert it to a number, string, list or dict")


def write_results(folder: str | os.PathLike, results: Mapping[str, Any]) -> Path:
    """Write `results` to `folder/results.json` atomically (a reader never sees half a file);
    returns the file's path."""
    if not isinstance(results, Mapping):
        raise MinigaptError(f"results must be a dict, got {type(results).__name__}")
    folder = out_dir(folder)
    text = json.dumps(to_jsonable(results), indent=2, sort_keys=True, allow_nan=False)
    return atomic_write(folder / RESULTS_FILE, (text + "\n").encode("utf-8"))


def read_results(folder: str | os.PathLike) -> dict:
    """The dict a notebook wrote with `write_results` (e.g. to reuse an earlier notebook's)."""
    path = Path(folder) / RESULTS_FILE
    if not path.is_file():
        raise MinigaptError(f"no {RESULTS_FILE} in {folder}: run the notebook that writes it first")
    return json.loads(path.read_text(encoding="utf-8"))


def check(condition: Any, message: str, hint: str = "") -> None:
    """A self-check for exercises: prints '✓ message' when `condition` holds, otherwise raises
    an AssertionError saying what was expected and, if given, a hint."""
    if condition:
        print(f"✓ {message}")
        return
    raise AssertionError(f"✗ {message}" + (f" (hint: {hint})" if hint else ""))


def _plain(value: Any) -> Any:
    """A torch tensor or numpy array/scalar as plain Python (lists, floats, bools); tuples of
    them element by element. Duck-typed, so that torch need not be imported here."""
    if hasattr(value, "detach"):
        value = value.detach().cpu()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _same(got: Any, expected: Any, atol: float) -> bool:
    """Whether `got` matches `expected`: booleans and strings exactly, numbers and (nested)
    lists of numbers within atol (+ 1e-5 relative), NaN matching NaN, shapes equal."""
    got, expected = _plain(got), _plain(expected)
    if isinstance(expected, (bool, str)) or expected is None:
        return type(got) is type(expected) and got == expected
    import numpy as np

    try:
        a, b = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    except (TypeError, ValueError):
        return False
    return a.shape == b.shape and bool(np.allclose(a, b, atol=atol, rtol=1e-5, equal_nan=True))


def check_implementation(name: str, mine: Any, reference: Any, cases: Mapping[str, tuple],
                         atol: float = 1e-6) -> int | None:
    """Self-check of an implement-it exercise: calls the student's `mine` and the library's
    `reference` on every case (label -> tuple of arguments) and prints one line per case, ✓ or ✗,
    never the expected value.

    Returns None, printing '<name> not attempted yet', while `mine` raises NotImplementedError or
    returns None (the stub's default); otherwise the number of cases passed, raising an
    AssertionError after the last case if any failed."""
    failed, first = [], True
    for label, args in cases.items():
        try:
            got = mine(*args)
        except NotImplementedError:
            got = None
        except Exception as exc:  # the student's code broke on this case: say how, and go on
            failed.append(label)
            print(f"✗ {label}: your function raised {type(exc).__name__}: {exc}")
            first = False
            continue
        if got is None and first:
            print(f"{name} not attempted yet")
            return None
        first = False
        ok = got is not None and _same(got, reference(*args), atol)
        if not ok:
            failed.append(label)
        print(f"{'✓' if ok else '✗'} {label}")
    if failed:
        raise AssertionError(f"✗ {name}: {len(failed)} of {len(cases)} cases differ from the library "
                             f"({', '.join(failed)}); fix them and run the cell again")
    print(f"✓ {name}: all {len(cases)} cases agree with the library")
    return len(cases)


def header_table(costs: Mapping[str, str], current: str | None = None):
    """A small Markdown table of what the notebook costs at each scale, the current one in
    bold, for the notebook's first cells: header_table({"smoke": "10 s", "course": "4 min"})."""
    from IPython.display import Markdown

    rows = ["| scale | cost |", "| --- | --- |"]
    for scale, cost in costs.items():
        mark = "**" if scale == current else ""
        rows.append(f"| {mark}{scale}{mark} | {mark}{cost}{mark} |")
    return Markdown("\n".join(rows))


def duration(seconds: float) -> str:
    """'2.5 min' or '42.0 s': how long a step took, as the notebooks print it."""
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.1f} s"
