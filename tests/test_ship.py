"""Shipped checkpoints: float16 copies that load by name, a model card each, the discriminator
beside GAPT, and a course model never standing in for a smoke one."""
import pytest
import torch

from minigapt import ship
from minigapt.errors import MinigaptError
from minigapt.models.checkpoint import load_checkpoint, load_model, save_checkpoint
from minigapt.models.decoder import ModelConfig, OnlinePolicy
from minigapt.music.tokens import VOCAB
from minigapt.rl.gapt import ChordDiscriminator, DiscriminatorConfig, discriminator_path, load_discriminator

CFG = ModelConfig(n_layers=1, n_heads=2, d_model=32, max_len=34)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def course_runs(tmp_path):
    """A runs/course/ folder holding one tiny model per shipped run (GAPT with its discriminator)."""
    torch.manual_seed(0)
    runs = tmp_path / "runs" / "course"
    policy = OnlinePolicy(CFG).eval()
    for entry in ship.SHIPPED:
        rl = entry.run.endswith("-seed0")
        cfg = ({"system": "gapt", "algorithm": "ppo", "scale": "course", "seed": 0, "crop_frames": 128} if rl else
               {"scale": "course", "seed": 0, "steps": 7,
                "data": {"sources": {"pop909": 0.75, "nottingham": 0.25}, "crop_frames": 128,
                         "transpose": 6, "split_seed": 42, "split_fractions": [0.8, 0.1, 0.1]}})
        meta = ({"updates_done": 5, "complete": True, "seconds": 1.5,
                 "eval_history": [{"update": 5, "harmony": 0.5, "vendi": 3.25}]} if rl else
                {"steps_done": 7, "complete": True, "seconds": 2.0, "valid_harmony": 0.4321})
        save_checkpoint(runs / entry.run / "model.pt", policy, train_config=cfg, meta=meta)
    (runs / "gapt-seed0" / "metrics.csv").write_text("update,reward,d_acc\n1,0.5,0.75\n2,0.25,\n")
    (runs / "online-mle" / "metrics.csv").write_text("step,loss\n1,3.5\n2,2.5\n")
    d = ChordDiscriminator(DiscriminatorConfig(dim=32, n_layers=1, n_heads=2))
    save_checkpoint(discriminator_path(runs / "gapt-seed0"), d, meta={"events": {"warmup": 2, "gated": 1}})
    return runs, policy, d


def test_ship_writes_half_precision_checkpoints_cards_and_the_discriminator(course_runs, tmp_path):
    runs, policy, d = course_runs
    dest = tmp_path / "assets"
    sizes = ship.ship("course", dest, runs=runs)
    assert set(sizes) == {f"{e.name}.pt" for e in ship.SHIPPED} | {"gapt.discriminator.pt"}
    for entry in ship.SHIPPED:
        ckpt = load_checkpoint(dest / f"{entry.name}.pt")
        assert all(v.dtype == torch.float16 for v in ckpt.state_dict.values() if v.is_floating_point())
        assert ckpt.meta["shipped_from"] == f"runs/course/{entry.run}"
        card = (dest / f"{entry.name}.md").read_text()
        for must in ("| scale | course |", "| seed | 0 |", "wall time", "float16", "## Training config"):
            assert must in card, (entry.name, must)
    assert "valid_harmony: 0.4321" in (dest / "online-mle.md").read_text()
    assert "harmony 0.500, vendi 3.250" in (dest / "gapt.md").read_text()
    assert "pop909 75%, nottingham 25%" in (dest / "online-mle.md").read_text()
    assert "gapt.discriminator.pt" in (dest / "gapt.md").read_text()
    # float16 weights load into a float32 model and play (almost) the same logits
    x = torch.randint(4, VOCAB.size, (2, 9))
    loaded = load_model(dest / "gapt.pt", kind="online")
    assert next(loaded.parameters()).dtype == torch.float32
    assert torch.allclose(loaded(x), policy(x), atol=2e-2)
    assert isinstance(load_discriminator(dest / "gapt.pt"), ChordDiscriminator)
    # the RL run's per-update log travels inside the shipped file (notebooks plot training from it)
    from minigapt.rl.train import load_run
    assert load_run(dest / "gapt.pt").metrics == [{"update": 1.0, "reward": 0.5, "d_acc": 0.75},
                                                  {"update": 2.0, "reward": 0.25, "d_acc": None}]
    assert "metrics_history" not in load_checkpoint(dest / "online-mle.pt").meta
    from minigapt.plots import training_log
    log = training_log(dest / "online-mle.pt")  # a supervised run's log: notebook 02 draws its curves from it
    assert log["step"].tolist() == [1.0, 2.0] and log["loss"].tolist() == [3.5, 2.5]
    assert training_log(runs / "online-mle" / "model.pt")["loss"].tolist() == [3.5, 2.5]
    assert training_log(dest / "realchords.pt") is None  # no log was there to carry
    assert "metrics_csv" not in (dest / "online-mle.md").read_text()
    assert sum(sizes.values()) < sum(p.stat().st_size for p in runs.rglob("*.pt"))


def test_ship_refuses_missing_or_unfinished_runs(course_runs, tmp_path):
    runs, policy, _ = course_runs
    (runs / "realchords-seed0" / "model.pt").unlink()
    with pytest.raises(MinigaptError, match="realchords-seed0"):
        ship.ship("course", tmp_path / "a", runs=runs)
    save_checkpoint(runs / "realchords-seed0" / "model.pt", policy, train_config={"scale": "course"},
                    meta={"complete": False})
    with pytest.raises(MinigaptError, match="unfinished"):
        ship.ship("course", tmp_path / "b", runs=runs)


def test_discriminator_paths():
    from pathlib import Path
    assert discriminator_path(Path("runs/course/gapt-seed0/model.pt")) == Path("runs/course/gapt-seed0/discriminator.pt")
    assert discriminator_path(Path("assets/checkpoints/gapt.pt")) == Path("assets/checkpoints/gapt.discriminator.pt")
    assert discriminator_path(Path("x/gapt.discriminator.pt")) == Path("x/gapt.discriminator.pt")


def test_a_shipped_course_model_never_stands_in_for_a_smoke_one(tmp_path, monkeypatch):
    from minigapt.train import mle
    from minigapt.train.mle import TrainConfig

    torch.manual_seed(0)
    shipped = tmp_path / "assets"
    save_checkpoint(shipped / "online-mle.pt", OnlinePolicy(CFG), train_config=TrainConfig.preset("course"))
    monkeypatch.setattr(mle, "shipped_dir", lambda: shipped)
    trained = []
    monkeypatch.setattr(mle, "train_online", lambda cfg, *a, **k: trained.append(cfg.scale) or "trained")
    out = mle.train_or_load("online-mle", TrainConfig.preset("smoke"), runs=tmp_path / "runs", progress=False)
    assert out == "trained" and trained == ["smoke"]
    out = mle.train_or_load("online-mle", TrainConfig.preset("course"), runs=tmp_path / "runs", progress=False)
    assert isinstance(out, OnlinePolicy)


def test_shipped_log_text_only_at_its_own_scale(course_runs, tmp_path, monkeypatch):
    runs, _, _ = course_runs
    (runs / "rewards" / "metrics.csv").write_text("model,step,seconds\ncontrastive/0,1,2.5\n")
    dest = tmp_path / "assets"
    ship.ship("course", dest, runs=runs, names=["rewards"])
    monkeypatch.setattr(ship, "shipped_dir", lambda: dest)
    assert ship.shipped_log_text("rewards", "course") == "model,step,seconds\ncontrastive/0,1,2.5\n"
    assert ship.shipped_log_text("rewards", "smoke") is None
    assert ship.shipped_log_text("no-such-model", "course") is None


def test_shipped_reward_models_stand_in_only_for_their_own_recipe(tmp_path, monkeypatch):
    """A change of reward types or steps (the course preset changed once) trains anew rather
    than loading shipped models of another recipe."""
    from minigapt.rewards import train as reward_train
    from minigapt.rewards.ensemble import RewardConfig, RewardEnsemble, save_ensemble

    cfg = RewardConfig.preset("smoke")
    shipped = tmp_path / "assets"
    save_ensemble(RewardEnsemble(cfg), shipped / "rewards.pt")
    monkeypatch.setattr(reward_train, "shipped_dir", lambda: shipped)
    trained = []
    monkeypatch.setattr(reward_train, "train_rewards", lambda c, *a, **k: trained.append(c.types) or "trained")
    loaded = reward_train.train_or_load_rewards("rewards", RewardConfig.preset("smoke"), runs=tmp_path / "runs")
    assert isinstance(loaded, RewardEnsemble) and trained == []
    other = RewardConfig.preset("smoke")
    other.types = ("contrastive",)
    assert reward_train.train_or_load_rewards("rewards", other, runs=tmp_path / "runs") == "trained"
    assert trained == [("contrastive",)]
