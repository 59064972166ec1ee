"""Checkpoints: round trip, name resolution, and one-line errors for anything that does not fit."""
import os

import pytest
import torch

import minigapt
from minigapt.errors import MinigaptError
from minigapt.models.anchor import OfflineAnchor
from minigapt.models.checkpoint import (load_checkpoint, load_model, resolve_checkpoint,
                                        save_checkpoint)
from minigapt.models.decoder import ModelConfig, OnlinePolicy, ValueModel
from minigapt.music.tokens import VOCAB

CFG = ModelConfig(n_layers=1, n_heads=2, d_model=32, max_len=34)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = OnlinePolicy(CFG)
    path = save_checkpoint(tmp_path / "run" / "model.pt", model, train_config={"steps": 3},
                           meta={"steps_done": 3})
    return model, path


def one_line_error(fn, *match):
    with pytest.raises(MinigaptError) as info:
        fn()
    message = str(info.value)
    assert "\n" not in message and len(message) < 400, message
    for m in match:
        assert m in message, message
    return message


def rewrite(path, **changes):
    d = torch.load(path, weights_only=True)
    d.update(changes)
    torch.save(d, path)


def test_round_trip_keeps_weights_and_configs(saved):
    model, path = saved
    assert not any(p.name.endswith(".tmp") for p in path.parent.iterdir())  # atomic: no leftovers
    ckpt = load_checkpoint(path, kind="online")
    assert ckpt.vocab_hash == VOCAB.hash and ckpt.version == minigapt.__version__
    assert ckpt.train_config == {"steps": 3} and ckpt.meta["steps_done"] == 3
    loaded = load_model(path, kind="online")
    assert isinstance(loaded, OnlinePolicy) and not loaded.training
    assert loaded.head is None and loaded.cfg == model.cfg
    x = torch.randint(4, VOCAB.size, (2, 9))
    model.eval()
    assert torch.equal(loaded(x), model(x))
    anchor_path = save_checkpoint(path.parent / "anchor.pt", OfflineAnchor(CFG))
    assert isinstance(load_model(anchor_path), OfflineAnchor)
    critic = ValueModel(model)
    torch.nn.init.normal_(critic.value.weight)
    critic_path = save_checkpoint(path.parent / "critic.pt", critic)
    assert torch.equal(load_model(critic_path, kind="critic")(x), critic(x))


def test_names_resolve_to_own_run_then_shipped(saved, tmp_path, monkeypatch):
    _, path = saved
    monkeypatch.setenv("MINIGAPT_RUNS", str(tmp_path))
    one_line_error(lambda: resolve_checkpoint("run"), "at scale 'course'")  # runs/<name>/ is no scale's
    assert resolve_checkpoint(path.parent) == path  # a run folder
    assert resolve_checkpoint(str(path)) == path  # a file
    one_line_error(lambda: resolve_checkpoint("no-such-model"), "no-such-model", "train it")
    rl_run = tmp_path / "course" / "gapt-seed0"  # an RL system's name finds its seed-0 run
    rl_run.mkdir(parents=True)
    (rl_run / "model.pt").write_bytes(path.read_bytes())
    assert resolve_checkpoint("gapt") == rl_run / "model.pt"


def test_mismatches_say_what_differs(saved):
    _, path = saved
    one_line_error(lambda: load_checkpoint(path, kind="offline"), "'online'", "'offline'")
    rewrite(path, vocab_hash="0123456789ab")
    one_line_error(lambda: load_checkpoint(path), "vocabulary 0123456789ab", VOCAB.hash)
    rewrite(path, vocab_hash=VOCAB.hash, version="97.0.0")
    one_line_error(lambda: load_checkpoint(path), "97.0.0", minigapt.__version__)
    minor = minigapt.__version__.split(".")[0] + ".999.0"
    rewrite(path, version=minor)
    assert load_checkpoint(path).version == minor  # a minor version difference is fine


def test_weights_that_do_not_fit_the_config(saved):
    _, path = saved
    rewrite(path, model_config={**load_checkpoint(path).model_config, "d_model": 64})
    one_line_error(lambda: load_model(path), "does not match", "(32, 32) vs (64, 64)")


def test_corrupted_truncated_and_foreign_files(saved, tmp_path):
    _, path = saved
    data = path.read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    one_line_error(lambda: load_checkpoint(truncated), "corrupted or truncated")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(os.urandom(2000))
    one_line_error(lambda: load_checkpoint(garbage), "corrupted or truncated")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    one_line_error(lambda: load_checkpoint(foreign), "not a minigapt checkpoint")
    one_line_error(lambda: load_checkpoint(tmp_path / "missing.pt"), "not found")


def test_a_name_resolves_at_one_scale_then_to_the_shipped_file_never_to_another_scale(tmp_path, monkeypatch):
    from minigapt.models import checkpoint as ck

    runs, shipped = tmp_path / "runs", tmp_path / "assets"
    monkeypatch.setenv("MINIGAPT_RUNS", str(runs))
    monkeypatch.setattr(ck, "shipped_dir", lambda: shipped)
    smoke = runs / "smoke" / "online-mle" / ck.CHECKPOINT_NAME
    smoke.parent.mkdir(parents=True)
    smoke.write_bytes(b"x")
    with pytest.raises(MinigaptError, match="at scale 'course'"):
        ck.resolve_checkpoint("online-mle", "course")  # a smoke run never stands in for a course model
    assert ck.resolve_checkpoint("online-mle", "smoke") == smoke
    shipped.mkdir()
    (shipped / "online-mle.pt").write_bytes(b"x")
    assert ck.resolve_checkpoint("online-mle", "course") == shipped / "online-mle.pt"
    own = runs / "course" / "gapt-seed0" / ck.CHECKPOINT_NAME
    own.parent.mkdir(parents=True)
    own.write_bytes(b"x")
    (shipped / "gapt.pt").write_bytes(b"x")
    assert ck.resolve_checkpoint("gapt", "course") == own  # your run first: an RL name means its seed 0


def test_the_test_session_writes_runs_outside_the_checkout(repo_root):
    from minigapt.models.checkpoint import runs_dir

    assert repo_root.resolve() not in runs_dir().resolve().parents
