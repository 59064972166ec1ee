"""`python -m minigapt evaluate`: a policy run online over a folder of melody-only files."""
from __future__ import annotations

import json

import pytest
import torch

from minigapt.models.checkpoint import save_checkpoint
from minigapt.models.decoder import ModelConfig, OnlinePolicy
from minigapt.rewards.ensemble import RewardConfig, RewardEnsemble, save_ensemble

from test_cli import run_cli

TUNE = """X:{n}
T:Tune {n}
M:4/4
L:1/8
K:{key}
{notes}|
"""


@pytest.fixture(scope="module")
def melody_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("melodies")
    two = TUNE.format(n=1, key="G", notes="GABc d2B2|c2A2 G4") + "\n" + \
        TUNE.format(n=2, key="D", notes="DEFG A2F2|G2E2 D4")
    (folder / "two_tunes.abc").write_text(two)
    (folder / "one.abc").write_text(TUNE.format(n=3, key="C", notes="CDEF G2E2|F2D2 C4|E2G2 c4"))
    return folder


@pytest.fixture(scope="module")
def tiny_model_and_rewards(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    policy = OnlinePolicy(ModelConfig(n_layers=1, n_heads=2, d_model=32, max_len=130))
    save_checkpoint(folder / "policy.pt", policy)
    ensemble = RewardEnsemble(RewardConfig.preset("smoke"))
    save_ensemble(ensemble, folder / "rewards.pt")
    return folder / "policy.pt", folder / "rewards.pt"


def test_evaluate_json_on_melody_only_abc_files(melody_folder, tiny_model_and_rewards):
    policy, rewards = tiny_model_and_rewards
    r = run_cli("evaluate", "--model", str(policy), "--melodies", str(melody_folder), "--rewards", str(rewards),
                "--seed", "3", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for key in ("model", "sequences", "frames", "harmony", "vendi", "distinct_chords_per_sequence",
                "pitch_classes_per_chord"):
        assert key in out, key
    assert out["sequences"] == 3  # a two-tune file counts twice
    assert out["frames"] == 2 * 32 + 48  # 2 bars of 16ths, twice, and 3 bars
    assert 0 <= out["harmony"] <= 1 and 1 <= out["vendi"] <= 3
    assert 3 <= out["pitch_classes_per_chord"] <= 7 and out["distinct_chords_per_sequence"] >= 1
    again = json.loads(run_cli("evaluate", "--model", str(policy), "--melodies", str(melody_folder),
                               "--rewards", str(rewards), "--seed", "3", "--json").stdout)
    assert again["harmony"] == out["harmony"]  # seeded
    short = json.loads(run_cli("evaluate", "--model", str(policy), "--melodies", str(melody_folder),
                               "--rewards", str(rewards), "--max-frames", "16", "--json").stdout)
    assert short["frames"] == 3 * 16


def test_evaluate_bad_input_is_one_line(tmp_path, tiny_model_and_rewards):
    policy, _ = tiny_model_and_rewards
    (tmp_path / "empty").mkdir()
    for args, expect in ((["--melodies", str(tmp_path / "empty")], "no ABC, MusicXML or MIDI files"),
                         (["--melodies", str(tmp_path / "nope.abc")], "no such file"),
                         (["--melodies", str(tmp_path / "empty"), "--max-frames", "0"], "--max-frames")):
        r = run_cli("evaluate", "--model", str(policy), *args, "--json")
        assert r.returncode == 2 and r.stderr.startswith("error: ") and expect in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1


def test_evaluate_reports_every_instrument_and_the_file_it_loaded(melody_folder, tiny_model_and_rewards):
    policy, rewards = tiny_model_and_rewards
    out = json.loads(run_cli("evaluate", "--model", str(policy), "--melodies", str(melody_folder), "--rewards",
                             str(rewards), "--samples", "2", "--json").stdout)
    for key in ("checkpoint", "harmony", "harmony_triad", "vendi", "chord_vendi", "chord_vendi_ci",
                "pitch_classes_per_chord", "chord_changes_per_sequence", "harmony_ci"):
        assert key in out, key
    assert out["checkpoint"] == str(policy.resolve())
    assert out["sequences"] == 3 and out["parts"] == 6 and out["samples_per_melody"] == 2
    assert out["harmony_triad"] <= out["harmony"] + 1e-9  # a triad holds no more notes than its chord
    low, high = out["chord_vendi_ci"]
    assert low <= out["chord_vendi"] <= high


def test_evaluate_reference_parts_need_no_model(melody_folder, tiny_model_and_rewards):
    _, rewards = tiny_model_and_rewards
    held = json.loads(run_cli("evaluate", "--model", "held-tonic", "--melodies", str(melody_folder),
                              "--rewards", str(rewards), "--json").stdout)
    assert held["checkpoint"] == "held-tonic" and held["chord_changes_per_sequence"] == 0
    assert held["distinct_chords_per_sequence"] == 1 and held["pitch_classes_per_chord"] == 3
    # three tunes in G, D and C major: their held tonics are one key-relative part, "I" held
    assert held["chord_vendi"] == pytest.approx(1.0)
    alt = json.loads(run_cli("evaluate", "--model", "tonic-dominant", "--melodies", str(melody_folder),
                             "--rewards", str(rewards), "--json").stdout)
    assert alt["distinct_chords_per_sequence"] == 2 and alt["chord_changes_per_sequence"] >= 1


def test_evaluate_data_on_melody_only_files_is_one_line(melody_folder):
    r = run_cli("evaluate", "--model", "data", "--melodies", str(melody_folder), "--json")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "melodies only" in r.stderr, r.stderr


def test_evaluate_finds_the_shipped_rewards_by_default(melody_folder, repo_root):
    if not (repo_root / "assets" / "checkpoints" / "rewards.pt").is_file():
        pytest.skip("no shipped reward ensemble in this checkout")
    out = json.loads(run_cli("evaluate", "--model", "held-tonic", "--melodies", str(melody_folder), "--json").stdout)
    assert out["vendi"] is not None and out["vendi_embedding"].endswith("rewards.pt")


def test_accompany_says_which_checkpoint_it_played(melody_folder, tiny_model_and_rewards, tmp_path):
    policy, _ = tiny_model_and_rewards
    r = run_cli("accompany", "--model", str(policy), "--melody", str(melody_folder / "one.abc"),
                "--out", str(tmp_path / "out.mid"), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["checkpoint"] == str(policy.resolve()) and (tmp_path / "out.mid").is_file()
    missing = run_cli("accompany", "--model", "no-such-model", "--scale", "smoke", "--melody",
                      str(melody_folder / "one.abc"), "--out", str(tmp_path / "x.mid"), "--json")
    assert missing.returncode == 2 and "at scale 'smoke'" in missing.stderr
