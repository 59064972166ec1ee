"""Supervised training: losses, schedule, a smoke run that learns, Ctrl-C, train-or-load."""
import csv
import dataclasses
import json

import numpy as np
import pytest
import torch

import minigapt.train.mle as mle
from minigapt.data.dataset import DataConfig, eval_batch, load_frames, to_frames
from minigapt.eval.harmony import note_in_chord_ratio
from minigapt.models.checkpoint import load_checkpoint
from minigapt.models.decoder import ModelConfig, OnlinePolicy
from minigapt.music.song import ChordEvent, Note, Song, normalize_song
from minigapt.music.tokens import BOS, EOS, PAD, VOCAB, interleave
from minigapt.train.mle import (TrainConfig, frames_from_streams, lr_at, policy_losses,
                                train_offline, train_online, train_or_load)

PROGRESSION = [("C", [60, 64, 67]), ("F", [65, 69, 72]), ("G7", [67, 71, 74]), ("Am", [69, 72, 76])]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def synthetic_songs(n, seed=0, bars=4):
    """Melodies that arpeggiate their chord, one chord per bar: learnable in a few steps."""
    rng = np.random.default_rng(seed)
    songs = []
    for i in range(n):
        notes, chords = [], []
        for b in range(bars):
            name, pitches = PROGRESSION[rng.integers(len(PROGRESSION))]
            chords.append(ChordEvent(16 * b, 16 * b + 16, name))
            notes += [Note(16 * b + 4 * k, 16 * b + 4 * k + 4, int(rng.choice(pitches))) for k in range(4)]
        songs.append(normalize_song(Song(f"s{i}", "synthetic", notes, chords, 16 * bars)))
    return songs


@pytest.fixture(scope="module")
def data():
    songs = synthetic_songs(40)
    return {"train": {"synthetic": to_frames(songs[:32], "train")},
            "valid": {"synthetic": to_frames(songs[32:], "valid")}, "test": {}}


def tiny_config(steps=40, **train):
    return TrainConfig(model=ModelConfig(n_layers=1, n_heads=2, d_model=32, dropout=0.0),
                       data=DataConfig(sources={"synthetic": 1.0}, crop_frames=32, transpose=2),
                       steps=steps, batch_size=8, lr=3e-3, warmup_steps=4, eval_every=20, eval_songs=4,
                       scale="smoke", **train)


def read_metrics(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_presets_and_context_follow_the_crop():
    for scale in ("smoke", "course", "paper"):
        cfg = TrainConfig.preset(scale)
        assert cfg.model.max_len == 2 * cfg.data.crop_frames + 2
    course = TrainConfig.preset("course")
    # the course policy plays a 512-token live stream (the bench's) without sliding its window,
    # and ModelConfig's own preset says the same context as the one it is trained with
    assert ModelConfig.preset("course").max_len == course.model.max_len >= 512 + 2
    paper = TrainConfig.preset("paper")
    assert (paper.lr, paper.batch_size, paper.steps) == (1e-4, 64, 11000)
    again = TrainConfig(**json.loads(json.dumps(dataclasses.asdict(paper))))
    assert again.model == paper.model and again.data.crop_frames == paper.data.crop_frames


def test_lr_schedule_warms_up_then_decays_to_the_floor():
    cfg = tiny_config(steps=100)
    lrs = [lr_at(s, cfg) for s in range(100)]
    assert lrs[0] == pytest.approx(cfg.lr / 4) and lrs[3] == pytest.approx(cfg.lr)
    assert all(a >= b for a, b in zip(lrs[3:], lrs[4:]))
    assert lrs[-1] == pytest.approx(cfg.lr * cfg.min_lr_ratio, rel=0.01)


def test_losses_split_chord_and_melody_positions():
    torch.manual_seed(0)
    model = OnlinePolicy(ModelConfig(n_layers=1, n_heads=2, d_model=32)).eval()
    x = np.array([VOCAB.melody_on(60), VOCAB.melody_hold(60), VOCAB.melody_on(62)])
    y = np.array([VOCAB.chord_on("C"), VOCAB.chord_hold("C"), VOCAB.chord_on("G")])
    stream = np.full(12, PAD)
    stream[:8] = interleave(x, y)
    batch = torch.as_tensor(stream)[None]
    out = policy_losses(model, batch)
    logp = torch.log_softmax(model(batch[:, :-1]), -1)[0]
    nll = -logp[torch.arange(11), batch[0, 1:]]  # nll[j] predicts stream[j + 1]
    assert out["chord_loss"].item() == pytest.approx(nll[[0, 2, 4]].mean().item(), abs=1e-5)
    assert out["melody_loss"].item() == pytest.approx(nll[[1, 3, 5]].mean().item(), abs=1e-5)
    assert out["loss"].item() == pytest.approx(nll[:7].mean().item(), abs=1e-5)  # EOS counts, PAD not
    melody, chords = frames_from_streams(batch)
    assert melody[0, :3].tolist() == x.tolist() and chords[0, :3].tolist() == y.tolist()
    assert (melody[0, 3:] == PAD).all() and (chords[0, 3:] == PAD).all()  # EOS became PAD


def test_smoke_training_learns_and_writes_its_files(data, tmp_path):
    model = train_online(tiny_config(), data, tmp_path / "online", progress=False)
    rows = read_metrics(tmp_path / "online" / "metrics.csv")
    assert len(rows) == 40 and list(rows[0]) == mle.METRIC_FIELDS
    loss = [float(r["loss"]) for r in rows]
    assert np.mean(loss[-5:]) < np.mean(loss[:5]) - 1.0, loss
    valid = [r for r in rows if r["valid_loss"]]
    assert [r["step"] for r in valid] == ["20", "40"] and float(valid[-1]["valid_harmony"]) >= 0
    config = json.loads((tmp_path / "online" / "config.json").read_text())
    assert config["kind"] == "online" and config["train_config"]["steps"] == 40
    ckpt = load_checkpoint(tmp_path / "online" / "model.pt", kind="online")
    assert ckpt.meta["complete"] and ckpt.meta["steps_done"] == 40
    assert not model.training


def test_offline_anchor_learns(data, tmp_path):
    train_offline(tiny_config(steps=30), data, tmp_path / "offline", progress=False)
    rows = read_metrics(tmp_path / "offline" / "metrics.csv")
    loss = [float(r["loss"]) for r in rows]
    assert np.mean(loss[-5:]) < np.mean(loss[:5]) - 1.0, loss
    assert rows[-1]["melody_loss"] == "" and rows[-1]["valid_harmony"] == ""
    assert load_checkpoint(tmp_path / "offline" / "model.pt").kind == "offline"


def test_ctrl_c_saves_a_checkpoint_and_returns(data, tmp_path, monkeypatch):
    real = mle.train_sampler

    def interrupting_sampler(*args, **kwargs):
        sampler, calls = real(*args, **kwargs), [0]
        sample = sampler.sample

        def sample_then_interrupt(n):
            calls[0] += 1
            if calls[0] == 4:
                raise KeyboardInterrupt
            return sample(n)
        sampler.sample = sample_then_interrupt
        return sampler

    monkeypatch.setattr(mle, "train_sampler", interrupting_sampler)
    model = train_online(tiny_config(), data, tmp_path / "cut", progress=False)
    assert isinstance(model, OnlinePolicy)
    ckpt = load_checkpoint(tmp_path / "cut" / "model.pt")
    assert ckpt.meta["steps_done"] == 3 and not ckpt.meta["complete"]
    assert len(read_metrics(tmp_path / "cut" / "metrics.csv")) == 3


@pytest.mark.parametrize("kind", ["online", "offline"])
def test_a_stopped_run_resumes_to_the_uninterrupted_result(data, tmp_path, kind, capsys):
    cfg = tiny_config(steps=30)
    whole = mle._train(kind, cfg, data, tmp_path / "whole", progress=False)
    mle._train(kind, cfg, data, tmp_path / "cut", progress=False, stop_after=13)  # a laptop closed
    assert (tmp_path / "cut" / mle.RESUME_FILE).is_file()
    assert not load_checkpoint(tmp_path / "cut" / "model.pt").meta["complete"]
    # train_or_load continues it (it would load a finished run of this config)
    resumed = train_or_load("cut", cfg, kind=kind, data=data, runs=tmp_path, progress=False)
    assert "from step 13 of 30" in capsys.readouterr().out  # continued, not started again
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
    drop = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert drop(read_metrics(tmp_path / "cut" / "metrics.csv")) == drop(read_metrics(tmp_path / "whole" / "metrics.csv"))
    assert load_checkpoint(tmp_path / "cut" / "model.pt").meta["complete"]
    assert not (tmp_path / "cut" / mle.RESUME_FILE).exists()  # a finished run keeps only its checkpoint


def test_a_resume_file_of_another_config_is_not_used(data, tmp_path, capsys):
    mle._train("online", tiny_config(steps=30), data, tmp_path, progress=False, stop_after=5)
    mle._train("online", tiny_config(steps=31), data, tmp_path, progress=False, stop_after=2)
    assert "another config" in capsys.readouterr().out
    assert len(read_metrics(tmp_path / "metrics.csv")) == 2


def test_a_resume_file_from_before_a_field_was_added_is_still_used(data, tmp_path, capsys):
    """Its config lacks a field added since, at its default: the run goes on where it stopped."""
    cfg = tiny_config(steps=30)
    mle._train("online", cfg, data, tmp_path, progress=False, stop_after=5)
    path = tmp_path / mle.RESUME_FILE
    state = torch.load(path, weights_only=False)
    assert state["config"]["grad_clip"] == mle.TrainConfig().grad_clip
    del state["config"]["grad_clip"]
    torch.save(state, path)
    mle._train("online", cfg, data, tmp_path, progress=False, stop_after=7)
    assert "from step 5 of 30" in capsys.readouterr().out
    assert len(read_metrics(tmp_path / "metrics.csv")) == 7


def test_train_or_load_prefers_the_own_run_with_the_same_config(data, tmp_path, monkeypatch):
    cfg = tiny_config(steps=6)
    first = train_or_load("m", cfg, data=data, runs=tmp_path, progress=False)
    calls = []
    monkeypatch.setattr(mle, "_train", lambda *a, **k: calls.append(a) or "trained")
    again = train_or_load("m", cfg, data=data, runs=tmp_path, progress=False)
    assert calls == [] and isinstance(again, OnlinePolicy)
    x = torch.randint(4, VOCAB.size, (1, 9))
    assert torch.equal(again(x), first(x))
    assert train_or_load("m", tiny_config(steps=7), data=data, runs=tmp_path) == "trained"
    assert train_or_load("m", cfg, data=data, runs=tmp_path, retrain=True) == "trained"
    with pytest.raises(Exception, match="online"):
        train_or_load("m", cfg, kind="offline", data=data, runs=tmp_path)


def test_real_data_smoke_run(data_root, tmp_path):
    """A few real Nottingham tunes: the ground truth harmonises well and the loss falls."""
    dcfg = DataConfig(sources={"nottingham": 1.0}, crop_frames=32, transpose=1, max_units=16)
    frames = load_frames(dcfg, data_root, progress=False)
    crops = torch.as_tensor(eval_batch(frames["train"]["nottingham"], 32))
    assert crops[:, 0].eq(BOS).all() and (crops == EOS).sum() == len(crops)
    melody, chords = frames_from_streams(crops)
    assert note_in_chord_ratio(melody, chords) > 0.6
    # with wrong-key openings (the course preset's), so that path trains on real data too
    cfg = dataclasses.replace(tiny_config(steps=30, wrong_key_start=0.5, wrong_key_frames=8), data=dcfg)
    train_online(cfg, frames, tmp_path / "real", progress=False)
    loss = [float(r["loss"]) for r in read_metrics(tmp_path / "real" / "metrics.csv")]
    assert np.mean(loss[-5:]) < np.mean(loss[:5]) - 0.5, loss


def test_wrong_key_opening_transposes_only_the_opening_chords_and_hides_their_targets():
    from minigapt.train.mle import wrong_key_opening

    rng = np.random.default_rng(0)
    T = 40
    melody = np.array([VOCAB.melody_on(60 + t % 12) for t in range(T)])
    chords = np.array([VOCAB.chord_on0 + 1 if t % 8 == 0 else VOCAB.chord_hold0 + 1 for t in range(T)])
    streams = np.tile(interleave(melody, chords, True), (64, 1))
    same_in, same_tgt = wrong_key_opening(streams, 0.0, 16, rng)
    assert (same_in == streams).all() and (same_tgt == streams).all()  # p = 0: plain MLE
    inputs, targets = wrong_key_opening(streams, 1.0, 16, rng)
    assert (inputs[:, 2::2] == streams[:, 2::2]).all()  # the melody is never touched
    lengths = set()
    for b in range(len(streams)):
        k = int((targets[b, 1:-1:2] == PAD).sum())  # hidden opening chords
        lengths.add(k)
        assert 1 <= k <= 16 and (targets[b, 1:2 * k + 1] == PAD).all()
        opening_in, opening_true = inputs[b, 1:2 * k:2], streams[b, 1:2 * k:2]
        assert (VOCAB.chord_of[opening_in] != VOCAB.chord_of[opening_true]).all()  # another key
        assert (VOCAB.is_onset[opening_in] == VOCAB.is_onset[opening_true]).all()  # same rhythm
        assert VOCAB.is_onset[inputs[b, 2 * k + 1]] and inputs[b, 2 * k + 1] == targets[b, 2 * k + 1]
        assert VOCAB.chord_of[targets[b, 2 * k + 1]] == VOCAB.chord_of[streams[b, 2 * k + 1]]
        assert (targets[b, 2 * k + 2:] == streams[b, 2 * k + 2:]).all()
    assert len(lengths) > 5  # openings of many lengths


def test_a_run_saved_before_a_config_field_existed_still_loads(tmp_path):
    cfg = tiny_config(steps=2)
    saved = dataclasses.asdict(cfg)
    saved.pop("wrong_key_start"), saved.pop("wrong_key_frames")  # as an older version saved it
    assert mle._normalised(saved) == mle._normalised(cfg)
    assert mle._normalised(dict(saved, steps=3)) != mle._normalised(cfg)
    # a policy-only field changes which policy run matches, not which anchor run does
    other = dataclasses.replace(cfg, wrong_key_start=0.5)
    assert mle._normalised(saved) != mle._normalised(other)
    assert mle._normalised(saved, "offline") == mle._normalised(other, "offline")
