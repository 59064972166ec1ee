"""Shared test set-up: where the real datasets are, one parse cache for the whole suite.

Environment variables are set at import so that subprocesses (the CLI, papermill kernels,
pytest-xdist workers) see the same ones:
- MINIGAPT_DATA: <repo>/../shared/data when unset and that folder exists (tests that need it
  skip with a reason otherwise; see the `data_root` fixture).
- MINIGAPT_CACHE: a folder in the system's temp dir (one per checkout) when unset, so datasets
  parsed by one test file (or one run) are reused by the next.
- MINIGAPT_RUNS: a fresh temporary folder per test session when unset: tests (notebook smoke runs
  included) never write into the checkout's runs/, where a smoke model could later be mistaken
  for a course one.
MINIGAPT_AUDIO_BACKEND is left as the caller set it. matplotlib draws with Agg in-process.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"

if not os.environ.get("MINIGAPT_DATA") and DEFAULT_DATA.is_dir():
    os.environ["MINIGAPT_DATA"] = str(DEFAULT_DATA)
if not os.environ.get("MINIGAPT_CACHE"):
    checkout = hashlib.sha1(str(REPO_ROOT).encode()).hexdigest()[:10]
    os.environ["MINIGAPT_CACHE"] = str(Path(tempfile.gettempdir()) / f"minigapt-test-cache-{checkout}")
if not os.environ.get("MINIGAPT_RUNS"):
    os.environ["MINIGAPT_RUNS"] = tempfile.mkdtemp(prefix="minigapt-test-runs-")

try:  # no window, no GUI toolkit: tests only save or inspect figures
    import matplotlib

    matplotlib.use("Agg")
except ImportError:
    pass


def pytest_report_header(config):
    data = os.environ.get("MINIGAPT_DATA") or "not set (tests needing real data skip)"
    return [f"minigapt data: {data}", f"minigapt cache: {os.environ['MINIGAPT_CACHE']}",
            f"minigapt runs: {os.environ['MINIGAPT_RUNS']}"]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The folder holding the real datasets (nottingham/, openewld/, pop909/); skips if absent."""
    root = os.environ.get("MINIGAPT_DATA")
    if not root or not Path(root).is_dir():
        pytest.skip(f"real datasets not found: set MINIGAPT_DATA or provide {DEFAULT_DATA}")
    return Path(root)


@pytest.fixture(scope="session")
def dataset_dir(data_root):
    """dataset_dir("nottingham") -> that dataset's folder under the data root, or a skip."""

    def find(name: str) -> Path:
        folder = data_root / name
        if not folder.is_dir():
            pytest.skip(f"dataset {name!r} not found in {data_root}")
        return folder

    return find


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    """The suite's shared parse cache (MINIGAPT_CACHE), created on first use."""
    folder = Path(os.environ["MINIGAPT_CACHE"])
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models gain nothing from threads, and on a busy machine threads wait on each other.
    Modules that train or sample tiny models opt in with
    `pytestmark = pytest.mark.usefixtures("one_torch_thread")`."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
