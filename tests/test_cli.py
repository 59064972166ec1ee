"""The command line: subcommands listed, JSON keys of `data`, one-line errors with exit 2."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from minigapt import cli
from minigapt.data import catalog

REPO = Path(__file__).resolve().parents[1]
DATA_KEYS = {"songs_found", "songs_kept", "skipped", "frames", "distinct_chords", "seconds",
             "from_cache", "source_dir", "with_chords", "melody_only"}


def run_cli(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "MINIGAPT_OFFLINE": "1", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "minigapt", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_help_lists_subcommands():
    r = run_cli("--help")
    assert r.returncode == 0
    for name in cli.COMMANDS:
        assert name in r.stdout


@pytest.mark.parametrize("args, expect", [
    (["data", "--dataset", "nosuch", "--json"], "unknown dataset 'nosuch'"),
    (["data", "--dataset", "nottingham", "--data-dir", "/no/such/dir", "--json"], "does not exist"),
    (["data", "--dataset", "/no/such/file.abc", "--json"], "no such file"),
    (["data", "--dataset", "hooktheory", "--download"], "--download/--verify know"),
    (["train", "nosuch", "--json"], "unknown run name 'nosuch'"),
    (["train", "gapt", "--scale", "huge", "--json"], "unknown scale 'huge'"),
    (["train", "gapt", "--scale", "smoke", "--set", "updatez=3", "--json"], "no field 'updatez'"),
    (["train", "gapt", "--scale", "smoke", "--set", "updates", "--json"], "NAME=VALUE"),
])
def test_bad_input_is_one_line_exit_2(args, expect):
    r = run_cli(*args)
    assert r.returncode == 2, r.stderr
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expect in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_offline_download_exit_2(tmp_path):
    r = run_cli("data", "--dataset", "pop909", "--download", env_extra={"XDG_CACHE_HOME": str(tmp_path)})
    assert r.returncode == 2 and r.stderr.startswith("error: cannot download pop909 (offline?)")


def test_data_json_keys_in_process(monkeypatch, tmp_path, capsys):
    """`data --json` on the fake source of test_catalog: one JSON object with the keys."""
    import test_catalog as fake_source

    monkeypatch.setitem(catalog.SOURCES, "fake", fake_source.__name__)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("MINIGAPT_CACHE", str(tmp_path / "cache"))
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "a.txt").write_text("\n".join(fake_source.LINES) + "\n")
    code = cli.main(["data", "--dataset", "fake", "--data-dir", str(tmp_path), "--workers", "1",
                     "--json", "--quiet"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and DATA_KEYS <= set(out)
    assert out["songs_found"] == 5 and out["songs_kept"] == 4 and out["skipped"] == {"bad_line": 1}
    assert out["distinct_chords"] == 5 and out["with_chords"] == 4 and out["melody_only"] == 0
    assert out["frames"] == 16 * 2 + 16 * 4 + 16 + 16 * 2 and out["from_cache"] is False
    cli.main(["data", "--dataset", "fake", "--data-dir", str(tmp_path), "--quiet"])
    text = capsys.readouterr().out
    assert "songs_kept: 4" in text and "bad_line: 1" in text


def test_data_json_on_real_nottingham():
    data = Path(os.environ.get("MINIGAPT_DATA") or REPO.parent / "shared" / "data")
    if not (data / "nottingham").is_dir():
        pytest.skip("no real Nottingham folder (set MINIGAPT_DATA)")
    try:
        catalog.source_module("nottingham")
    except catalog.DataNotFound as e:
        pytest.skip(f"nottingham source not available: {e}")
    r = run_cli("data", "--dataset", "nottingham", "--data-dir", str(data), "--max-units", "12",
                "--json", "--quiet")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert DATA_KEYS <= set(out)
    assert out["songs_found"] == 12 and out["songs_kept"] + sum(out["skipped"].values()) == 12
    assert out["frames"] > 0 and out["distinct_chords"] > 3
    assert out["source_dir"] == str((data / "nottingham").resolve())
