"""The project's top-level files keep their promises: clean notebooks with one literal
`parameters` cell, requirements.txt and environment.yml in step, the CLI entry point, CI."""
from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
NB_IDS = [nb.name for nb in NOTEBOOKS]

# conda name -> PyPI name, and conda-only entries with no PyPI counterpart
CONDA_TO_PYPI = {"pytorch": "torch"}
CONDA_ONLY = {"python", "pip", "fluidsynth"}  # fluidsynth there is the C library


def load_notebook(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def source_of(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def non_literal_statements(source: str) -> list[str]:
    """Statements of a parameters cell that are not `NAME = <literal>` (empty if all are)."""
    bad = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):
            value = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            value = node.value
        else:
            bad.append(ast.unparse(node))
            continue
        try:
            ast.literal_eval(value)
        except ValueError:
            bad.append(ast.unparse(node))
    return bad


# --- notebooks ------------------------------------------------------------------------------

def test_literal_check_tells_literals_from_code():
    ok = 'SCALE = "smoke"  # smoke | course | paper\nSEED = 0\nLR: float = -3e-4\nSIZES = (1, 2)\nUSE = None\n'
    assert non_literal_statements(ok) == []
    assert non_literal_statements("STEPS = 2 * 50") == ["STEPS = 2 * 50"]
    assert non_literal_statements("import os") == ["import os"]
    assert non_literal_statements("OUT = Path('x')\nA = B = 1") == ["OUT = Path('x')"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NB_IDS)
def test_notebook_is_named_for_the_course(path):
    assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name), \
        f"{path.name}: notebooks are named NN_snake_case.ipynb so `make course` runs them in order"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NB_IDS)
def test_notebook_committed_without_outputs(path):
    for i, cell in enumerate(code_cells(load_notebook(path))):
        assert not cell.get("outputs"), f"{path.name}: code cell {i} has outputs (clear them)"
        assert cell.get("execution_count") is None, f"{path.name}: code cell {i} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NB_IDS)
def test_notebook_has_one_literal_parameters_cell_first(path):
    nb = load_notebook(path)
    cells = code_cells(nb)
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged 'parameters', want exactly 1"
    assert cells and cells[0] is tagged[0], f"{path.name}: the parameters cell must be the first code cell"
    source = source_of(tagged[0])
    assert non_literal_statements(source) == [], \
        f"{path.name}: the parameters cell holds literals only (derived values go in the next cell)"
    names = {t.id for node in ast.parse(source).body for t in
             (node.targets if isinstance(node, ast.Assign) else [node.target])}
    assert {"SCALE", "OUT_DIR"} <= names, f"{path.name}: parameters cell must define SCALE and OUT_DIR"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NB_IDS)
def test_notebook_last_code_cell_writes_results(path):
    last = source_of(code_cells(load_notebook(path))[-1])
    assert "write_results(" in last or "results.json" in last, \
        f"{path.name}: the last code cell writes OUT_DIR/results.json (notebook_tools.write_results)"


# --- requirements.txt and environment.yml ---------------------------------------------------

def pip_requirements() -> dict[str, Requirement]:
    reqs = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        # setuptools reads this file for pyproject's dependencies: plain requirements only
        assert "#" not in line and not line.startswith("-"), f"requirements.txt: {line!r}"
        req = Requirement(line)
        reqs[canonicalize_name(req.name)] = req
    return reqs


def conda_spec_to_pep440(spec: str) -> str:
    """'==2.13.0=cpu*' -> '==2.13.0'; '=2.4' (conda's fuzzy match) -> '==2.4.*'; '>=2.4' as is."""
    spec = spec.replace(" ", "")
    if spec.startswith("=="):
        return "==" + spec[2:].split("=")[0]
    if spec.startswith("="):
        version = spec[1:].split("=")[0]
        return "==" + (version if version.endswith("*") else version + ".*")
    return spec


def conda_requirements() -> dict[str, SpecifierSet]:
    yaml = pytest.importorskip("yaml")
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    assert "conda-forge" in env["channels"]
    specs = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):  # the pip: section
            for line in dep.get("pip", []):
                if not line.startswith("-"):
                    req = Requirement(line)
                    specs[canonicalize_name(req.name)] = req.specifier
            continue
        name, spec = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*(.*)", dep.strip()).groups()
        if name in CONDA_ONLY:
            continue
        specs[canonicalize_name(CONDA_TO_PYPI.get(name, name))] = SpecifierSet(conda_spec_to_pep440(spec))
    return specs


def lowest_version(spec: SpecifierSet) -> str | None:
    lows = [s.version.rstrip(".*") for s in spec if s.operator in (">=", "==", "~=")]
    return min(lows, key=lambda v: tuple(int(x) for x in v.split(".")), default=None)


def test_conda_spec_translation():
    assert conda_spec_to_pep440("==2.13.0=cpu*") == "==2.13.0"
    assert conda_spec_to_pep440("=2.4") == "==2.4.*"
    assert conda_spec_to_pep440(">=1.3,<2") == ">=1.3,<2"


def test_requirements_and_environment_list_the_same_packages():
    pip, conda = pip_requirements(), conda_requirements()
    assert set(pip) == set(conda), (f"only in requirements.txt: {sorted(set(pip) - set(conda))}; "
                                    f"only in environment.yml: {sorted(set(conda) - set(pip))}")


def test_requirements_and_environment_bounds_agree():
    pip, conda = pip_requirements(), conda_requirements()
    for name in sorted(set(pip) & set(conda)):
        low_pip, low_conda = lowest_version(pip[name].specifier), lowest_version(conda[name])
        assert low_pip, f"requirements.txt: {name} needs a tested lower bound"
        assert low_pip == low_conda, f"{name}: lower bound {low_pip} (pip) vs {low_conda} (conda)"
        assert pip[name].specifier.contains(low_conda) and conda[name].contains(low_pip), name


def test_torch_is_pinned_and_fluidsynth_is_the_right_package():
    reqs = pip_requirements()
    assert str(reqs["torch"].specifier) == "==2.13.0", "a looser torch spec pulls multi-GB CUDA builds"
    assert "pyfluidsynth" in reqs and "fluidsynth" not in reqs, "PyPI's `fluidsynth` is an unrelated package"


# --- pyproject, Makefile, CI ----------------------------------------------------------------

def test_pyproject_gives_the_package_and_cli():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["minigapt"] == "minigapt.cli:main"
    assert project["project"]["requires-python"] == ">=3.10"
    assert project["tool"]["setuptools"]["dynamic"]["dependencies"]["file"] == ["requirements.txt"]
    markers = " ".join(project["tool"]["pytest"]["ini_options"]["markers"])
    assert "slow:" in markers and "browser:" in markers


def test_makefile_has_the_documented_targets():
    text = (REPO / "Makefile").read_text()
    for target in ("test", "course", "lab", "bench", "clean"):
        assert re.search(rf"^{target}:", text, re.M), f"Makefile: no `{target}` target"
    assert "--no-install-recommends fluidsynth" in text
    assert "ipykernel install" in text and "--name minigapt" in text


def test_ci_script_runs_make_test():
    script = REPO / ".ci" / "run"
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in text
    assert re.search(r"^make test\b", text, re.M)
    assert os.access(script, os.X_OK), ".ci/run must be executable (chmod +x)"


def test_assets_fit_the_budget_and_every_checkpoint_has_a_model_card(repo_root):
    assets = repo_root / "assets"
    total = sum(p.stat().st_size for p in assets.rglob("*") if p.is_file())
    assert total <= 30e6, f"assets/ holds {total / 1e6:.1f} MB (budget 30 MB)"
    policies = [p for p in (assets / "checkpoints").glob("*.pt") if not p.name.endswith(".discriminator.pt")]
    for p in policies:
        card = p.with_suffix(".md")
        assert card.is_file(), f"{p.name} has no model card"
        assert "| scale |" in card.read_text() and "| seed |" in card.read_text(), card.name
    for d in (assets / "checkpoints").glob("*.discriminator.pt"):  # a discriminator sits beside its policy
        assert d.with_name(d.name.replace(".discriminator.pt", ".pt")).is_file(), d.name


# --- exercises and their answer key ---------------------------------------------------------

EXERCISE = re.compile(r"^#+ *Exercise (\d+)\b", re.M)  # "# Exercise 3: ..." in code, "### Exercise 5 ..." in Markdown
SOLUTIONS = REPO / "notebooks" / "solutions"


def exercise_numbers(nb: dict) -> set[int]:
    return {int(n) for c in nb["cells"] for n in EXERCISE.findall(source_of(c))}


def exercise_code_cells(nb: dict) -> list[str]:
    return [source_of(c) for c in code_cells(nb) if EXERCISE.search(source_of(c))]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NB_IDS)
def test_notebook_has_at_least_two_exercises(path):
    nb = load_notebook(path)
    cells = [c for c in nb["cells"] if EXERCISE.search(source_of(c))]
    assert len(cells) >= 2, f"{path.name}: {len(cells)} exercise cell(s) (a line '# Exercise N: ...'), want >= 2"
    numbers = sorted(exercise_numbers(nb))
    assert numbers == list(range(1, len(numbers) + 1)), f"{path.name}: exercises numbered {numbers}, want 1..n"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NB_IDS)
def test_answer_key_covers_every_exercise(path):
    key = SOLUTIONS / f"{path.stem}.md"
    assert key.is_file(), f"notebooks/solutions/{key.name} is missing: the answer key of {path.name}"
    text = key.read_text(encoding="utf-8")
    for n in sorted(exercise_numbers(load_notebook(path))):
        assert re.search(rf"^#+ *Exercise {n}\b", text, re.M), f"{key.name}: no '## Exercise {n}' section"


def test_answer_key_has_a_readme_and_no_notebooks():
    assert (SOLUTIONS / "README.md").is_file()
    assert not list(SOLUTIONS.rglob("*.ipynb")), "the answer key is Markdown: no notebook runs under `make course`"
    stems = {p.stem for p in NOTEBOOKS}
    extra = {p.stem for p in SOLUTIONS.glob("*.md")} - stems - {"README"}
    assert not extra, f"notebooks/solutions/ has keys for no notebook: {sorted(extra)}"


def revealed_too_early(source: str, secret: str = "truth") -> list[str]:
    """Where an exercise cell could show the expected value to a student whose answer is wrong:
    a `check(...)` whose message or hint is an f-string (it is raised on a wrong answer), or an
    f-string formatting `secret` (the expected value, by the notebooks' convention) on a line
    before the cell's last `check` (which only passes a right answer on)."""
    tree = ast.parse(source)
    checks = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "check"]
    problems = []
    for call in checks:
        for arg in [*call.args[1:], *(k.value for k in call.keywords)]:
            if any(isinstance(n, ast.FormattedValue) for n in ast.walk(arg)):
                problems.append(f"line {arg.lineno}: check() message or hint formats a value: {ast.unparse(arg)[:60]}")
    last_check = max((c.lineno for c in checks), default=0)
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr) and node.lineno <= last_check and any(
                isinstance(n, ast.Name) and n.id == secret for n in ast.walk(node)):
            problems.append(f"line {node.lineno}: formats {secret} before the check passes")
    return problems


def test_reveal_detector_catches_an_echoed_answer():
    leaky = 'if a is not ...:\n    truth = 3\n    check(a == truth, f"{truth} changes", hint="recount")\n'
    assert revealed_too_early(leaky)
    early = 'truth = 3\nprint(f"the answer is {truth}")\ncheck(a == truth, "right")\n'
    assert revealed_too_early(early)
    hint = 'check(a == t, "right", hint=f"it is {t}")\n'
    assert revealed_too_early(hint)
    fine = 'truth = 3\ncheck(a == truth, "right", hint="not yet: recount")\nprint(f"{truth} changes")\n'
    assert revealed_too_early(fine) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NB_IDS)
def test_exercise_checks_do_not_reveal_the_answer(path):
    for source in exercise_code_cells(load_notebook(path)):
        problems = revealed_too_early(source)
        first = next(line for line in source.splitlines() if EXERCISE.match(line))
        assert not problems, f"{path.name}, {first[:40]!r}: " + "; ".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NB_IDS)
def test_unanswered_exercises_only_report(path):
    """Each exercise cell, left as committed, reports 'not attempted yet' (so `make course` runs it):
    its answer is `...` or its function a stub returning None."""
    for source in exercise_code_cells(load_notebook(path)):
        first = next(line for line in source.splitlines() if EXERCISE.match(line))
        assert "not attempted yet" in source or "check_implementation(" in source, \
            f"{path.name}, {first[:40]!r}: say 'not attempted yet' while unanswered"
