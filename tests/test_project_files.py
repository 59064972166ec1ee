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
