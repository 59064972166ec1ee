"""`make course`: run the notebooks in order with papermill and collect their results.

    python -m minigapt.course [--scale smoke|course|paper] [--only 03 05] [--from 04]

Each notebooks/NN_*.ipynb runs with SCALE and OUT_DIR=build/<scale>/<stem>/ injected after its
`parameters` cell (and INTERACTIVE=False where that cell defines INTERACTIVE, e.g. the live
jam), in the notebooks folder as a student's Lab would, on this Python's kernel. The executed
copy goes to build/<scale>/<stem>.ipynb. At the end every build/<scale>/*/results.json is
collected into build/<scale>/results.md (a table) and build/<scale>/results.json.
"""
from __future__ import annotations

import argparse
import ast
import json
import logging
import os
import re
import sys
import time
from fnmatch import fnmatch
from pathlib import Path

from .config import SCALES, check_scale
from .errors import MinigaptError
from .notebook_tools import RESULTS_FILE, to_jsonable

NOTEBOOK_NAME = re.compile(r"^\d\d_[A-Za-z0-9_]+\.ipynb$")  # not Lab's "-Copy1" copies
KERNEL_NAME = "minigapt"  # registered by the Makefile, pointing at the venv's python
TIMINGS_FILE = "timings.json"


def repo_root() -> Path:
    """The checkout this module lives in (editable install), else the current folder."""
    here = Path(__file__).resolve().parents[1]
    return here if (here / "notebooks").is_dir() else Path.cwd()


def find_notebooks(notebooks_dir: Path) -> list[Path]:
    """notebooks/NN_name.ipynb, in order; anything else there (scratch, copies) is ignored."""
    if not notebooks_dir.is_dir():
        return []
    return sorted(p for p in notebooks_dir.iterdir() if NOTEBOOK_NAME.match(p.name))


def pick_kernel() -> str:
    """'minigapt' when that kernel runs this very Python, else 'python3' (which
    jupyter_client maps to this Python): notebooks must run where minigapt is installed."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    except NoSuchKernel:
        return "python3"
    return KERNEL_NAME if spec.argv and spec.argv[0] == sys.executable else "python3"


def parameter_names(notebook: Path) -> set[str]:
    """Names assigned in the notebook's `parameters`-tagged cell (empty if none)."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            try:
                tree = ast.parse(source)
            except SyntaxError:
                return set()
            return {t.id for node in ast.walk(tree) if isinstance(node, (ast.Assign, ast.AnnAssign))
                    for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                    if isinstance(t, ast.Name)}
    return set()


def notebook_parameters(notebook: Path, scale: str, out_dir: Path) -> dict:
    params = {"SCALE": scale, "OUT_DIR": str(out_dir)}
    if "INTERACTIVE" in parameter_names(notebook) or notebook.name.startswith("07"):
        params["INTERACTIVE"] = False  # nobody is at the keyboard during `make course`
    return params


def _first_line(text: str, limit: int = 60, skip_comments: bool = False) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    code = [ln for ln in lines if not ln.startswith("#")] if skip_comments else lines
    line = (code or lines or [""])[0]
    return (line[:limit - 3] + "...") if len(line) > limit else line


def _last_started_cell(executed: Path) -> str:
    """' in cell In [n] (first line)' for the last cell the kernel started, from the executed
    copy (a timeout or a dead kernel does not say which cell it was in); '' if unknown."""
    try:
        cells = json.loads(executed.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return ""
    started = [c for c in cells if c.get("cell_type") == "code" and c.get("execution_count")]
    if not started:
        return ""
    cell = started[-1]
    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    return f" in cell In [{cell['execution_count']}] ({_first_line(source, skip_comments=True)!r})"


def _failure_line(notebook: Path, executed: Path, err: Exception) -> str:
    """One line naming the notebook, the failing cell and the error."""
    import papermill

    if isinstance(err, papermill.PapermillExecutionError):
        cell = f"cell In [{err.exec_count}]" if err.exec_count else f"cell #{err.cell_index}"
        return (f"{notebook.name} failed in {cell} ({_first_line(err.source, skip_comments=True)!r}): "
                f"{err.ename}: {_first_line(err.evalue, 160)} (executed copy: {executed})")
    return (f"{notebook.name} failed{_last_started_cell(executed)}: {type(err).__name__}: "
            f"{_first_line(str(err), 160)} (executed copy: {executed})")


def run_notebook(notebook: Path, executed: Path, parameters: dict, *, kernel: str | None = None,
                 progress: bool = False, log_output: bool = False,
                 cell_timeout: float | None = None) -> float:
    """Execute `notebook` with `parameters` into `executed`; returns the seconds it took.
    A failing cell (or one running past `cell_timeout` seconds) raises MinigaptError with one
    line naming the notebook and the cell."""
    import papermill

    executed.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(notebook), str(executed), parameters=parameters,
            kernel_name=kernel or pick_kernel(), language="python", cwd=str(notebook.parent),
            progress_bar=progress, log_output=log_output, start_timeout=120,
            execution_timeout=cell_timeout)
    except Exception as err:  # any failure becomes one line; the executed copy has the rest
        raise MinigaptError(_failure_line(notebook, executed, err)) from err
    return time.perf_counter() - start


def collect_results(build_dir: Path) -> dict[str, dict]:
    """{notebook stem: its results.json} for every build_dir/*/results.json, in order."""
    collected = {}
    for path in sorted(build_dir.glob(f"*/{RESULTS_FILE}")):
        try:
            collected[path.parent.name] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            collected[path.parent.name] = {"unreadable_results_json": str(err)}
    return collected


def _flatten(prefix: str, value) -> list[tuple[str, object]]:
    if isinstance(value, dict) and value:
        return [row for k, v in value.items() for row in _flatten(f"{prefix}.{k}" if prefix else str(k), v)]
    return [(prefix, value)]


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        short = json.dumps(value)
        return short if len(short) <= 40 else f"[{len(value)} values]"
    text = ("" if value is None else str(value)).replace("\n", " ")
    return ((text[:57] + "...") if len(text) > 60 else text).replace("|", "\\|")


ROWS_PER_NOTEBOOK = 22
"""results.md shows at most this many results per notebook; results.json keeps them all."""
HEADLINES = {
    "04": ("hacks.*.summary", "shipped.hacks.*.summary", "remeasured.*.harmony.mean",
           "remeasured.*.harmony_triad.mean", "remeasured.*.chord_vendi.mean"),
    "05": ("shipped.summary.*.summary", "shipped.summary.*.drift", "closing.*.*.drift", "closing.*.*.harmony"),
    "06": ("claims_agreed", "claims_checked"),
}
"""Per notebook (number prefix): result keys (fnmatch patterns) shown first."""
SKIPPED = ("*curve*", "*configs*", "*coordinates*", "*checkpoint*", "*example*", "*files*", "*pareto*",
           "*tsne*", "*_seconds*", "*seconds.*", "*paper*", "*.sd", "*.values", "*_ci*", "*_low", "*_high")
"""Result keys too long or too technical for the page (they stay in results.json)."""


def headline_rows(stem: str, values: dict) -> tuple[list[tuple[str, object]], int]:
    """(the rows results.md shows for one notebook, how many it leaves to results.json)."""
    rows = [(k, v) for k, v in _flatten("", values) if not isinstance(v, (list, dict))]
    first = HEADLINES.get(stem[:2], ())
    ranked = [r for pattern in first for r in rows if fnmatch(r[0], pattern)]
    rest = [r for r in rows if r not in ranked and not any(fnmatch(r[0], p) for p in SKIPPED)]
    shown = list(dict.fromkeys(ranked + rest))[:ROWS_PER_NOTEBOOK]
    return shown, len(rows) - len(shown)


def results_markdown(scale: str, results: dict[str, dict], seconds: dict[str, float]) -> str:
    """A page for people: per notebook a short table of its main results (the full key dump
    stays in results.json), then the time each notebook took."""
    lines = [f"# minigapt results at scale `{scale}`", "",
             f"The main results of each notebook; every key is in build/{scale}/results.json "
             "and in each notebook's own results.json.", ""]
    for stem, values in results.items():
        shown, left = headline_rows(stem, values)
        lines += [f"## {stem}", "", "| result | value |", "| --- | --- |"]
        lines += [f"| {key} | {_cell(value)} |" for key, value in shown]
        if left:
            lines.append(f"| ... | {left} more in {stem}/results.json |")
        lines.append("")
    if seconds:
        lines += ["## Time per notebook", "", "| notebook | seconds |", "| --- | --- |"]
        lines += [f"| {stem} | {s:.1f} |" for stem, s in sorted(seconds.items())]
        lines.append(f"| total | {sum(seconds.values()):.1f} |")
    return "\n".join(lines) + "\n"


def write_summary(build_dir: Path, scale: str, new_seconds: dict[str, float]) -> dict:
    """Merge this run's timings with earlier ones and write results.md / results.json."""
    build_dir.mkdir(parents=True, exist_ok=True)
    timings_path = build_dir / TIMINGS_FILE
    seconds = json.loads(timings_path.read_text()) if timings_path.is_file() else {}
    seconds.update(new_seconds)
    timings_path.write_text(json.dumps(seconds, indent=2, sort_keys=True) + "\n")
    results = collect_results(build_dir)
    summary = {"scale": scale, "results": results, "seconds": seconds,
               "total_seconds": round(sum(seconds.values()), 1)}
    (build_dir / "results.json").write_text(
        json.dumps(to_jsonable(summary), indent=2, sort_keys=True) + "\n")
    (build_dir / "results.md").write_text(results_markdown(scale, results, seconds))
    return summary


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}m{seconds % 60:04.1f}s"


def run_course(scale: str, root: Path, *, only: list[str] | None = None, start_from: str | None = None,
               log_output: bool = False) -> dict:
    """Run the selected notebooks in order at `scale`; stops at the first failure
    (MinigaptError) after writing the summary of what did run."""
    check_scale(scale)
    if log_output:  # papermill logs cell output through `logging`
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    notebooks = find_notebooks(root / "notebooks")
    if only:
        notebooks = [nb for nb in notebooks if any(nb.name.startswith(p) for p in only)]
    if start_from:
        notebooks = [nb for nb in notebooks if nb.name >= start_from]
    build_dir = root / "build" / scale
    if not notebooks:
        print(f"minigapt course: no notebooks to run in {root / 'notebooks'}")
    kernel = pick_kernel() if notebooks else None
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    try:
        for i, nb in enumerate(notebooks, 1):
            print(f"[{i}/{len(notebooks)}] {nb.name} at scale {scale} "
                  f"({_minutes(time.perf_counter() - start)} so far)", flush=True)
            executed = build_dir / nb.name
            params = notebook_parameters(nb, scale, build_dir / nb.stem)
            # a failed run must not leave an earlier run's results to be collected as its own
            (build_dir / nb.stem / RESULTS_FILE).unlink(missing_ok=True)
            seconds[nb.stem] = round(run_notebook(
                nb, executed, params, kernel=kernel, progress=sys.stderr.isatty(),
                log_output=log_output), 1)
            print(f"    done in {seconds[nb.stem]:.1f} s -> {executed}", flush=True)
    finally:
        summary = write_summary(build_dir, scale, seconds)
    print(f"minigapt course: {len(seconds)} notebook(s) in {_minutes(time.perf_counter() - start)}; "
          f"results in {build_dir / 'results.md'}")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minigapt.course", description=__doc__.split("\n")[0])
    parser.add_argument("--scale", default=os.environ.get("SCALE", "course"), choices=SCALES)
    parser.add_argument("--only", nargs="+", metavar="NN", help="run only notebooks starting with these")
    parser.add_argument("--from", dest="start_from", metavar="NN", help="start at this notebook")
    parser.add_argument("--root", type=Path, default=None, help="repository root (default: this checkout)")
    parser.add_argument("--log-output", action="store_true", help="print the notebooks' output as they run")
    args = parser.parse_args(argv)
    try:
        run_course(args.scale, args.root or repo_root(), only=args.only,
                   start_from=args.start_from, log_output=args.log_output)
    except MinigaptError as err:
        print(f"minigapt course: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("minigapt course: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
