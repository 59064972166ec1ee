"""`python -m minigapt bench`: the RL benchmarks' JSON keys at smoke scale, one-line errors.

Figures are checked for shape (present, positive, finite), never against a clock.
"""
from __future__ import annotations

import json
import math

import pytest
import torch

from minigapt import cli


@pytest.fixture
def restore_threads():
    threads = torch.get_num_threads()  # --threads 1 sets it for the whole test process
    yield
    torch.set_num_threads(threads)


def bench(capsys, *args: str) -> tuple[int, str, str]:
    status = cli.main(["bench", "--scale", "smoke", "--threads", "1", *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_rl_benchmarks_json(capsys, restore_threads):
    status, out, err = bench(capsys, "--only", "rollout", "ppo_update", "--repeats", "1", "--json")
    assert status == 0, err
    result = json.loads(out)
    for key in ("rollout_chord_frames_per_s", "rollout_batch", "rollout_frames",
                "ppo_update_s_per_1k_chord_tokens", "ppo_chord_tokens"):
        assert key in result, key
        assert isinstance(result[key], (int, float)) and math.isfinite(result[key]) and result[key] > 0, key
    assert result["rollout_batch"] == 8 and result["rollout_frames"] == 32  # RLConfig.preset("smoke")
    assert result["ppo_chord_tokens"] == 8 * 32  # every frame of every melody is a chord token
    assert result["torch_threads"] == 1
    assert "kv_cache_speedup" not in result  # --only runs only those


@pytest.mark.parametrize("args, expect", [
    (["--repeats", "0"], "--repeats at least 1"),
    (["--parse-workers", "0"], "--parse-workers must be at least 1"),
    (["--data-dir", "/no/such/dir"], "is not a folder"),
])
def test_bad_argument_is_one_line_exit_2(capsys, restore_threads, args, expect):
    status, out, err = bench(capsys, "--only", "rollout", *args, "--json")
    assert status == 2 and out == ""
    assert err.startswith("error: ") and expect in err and len(err.strip().splitlines()) == 1, err


def test_data_load_without_data_says_why(capsys, restore_threads, tmp_path):
    (tmp_path / "empty").mkdir()
    status, out, err = bench(capsys, "--only", "data_load", "--data-dir", str(tmp_path / "empty"), "--json")
    assert status == 0, err
    result = json.loads(out)
    assert result["nottingham_first_parse_s"] is None and result["nottingham_cached_load_s"] is None
    assert isinstance(result["nottingham_data"], str) and result["nottingham_data"]
