"""Atomic writes: the new bytes appear whole, or the old file stays and no temp file is left."""
import pytest

from minigapt.atomic import atomic_write


def test_atomic_write_replaces_whole_and_cleans_up_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "sub" / "f.bin"
    assert atomic_write(target, b"old") == target and target.read_bytes() == b"old"

    def boom(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr("minigapt.atomic.os.replace", boom)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in target.parent.iterdir()] == ["f.bin"]
