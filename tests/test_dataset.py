"""dataset: presets, splits, frames, crops on beats, transposition (train only), mixing,
and load_frames' fallback to the embedded default source."""
from __future__ import annotations

import types

import numpy as np
import pytest

from minigapt.config import SCALES
from minigapt.data import catalog, dataset
from minigapt.data.dataset import (CropSampler, DataConfig, eval_batch, load_frames, split_songs,
                                   to_frames, train_sampler)
from minigapt.errors import MinigaptError
from minigapt.music.song import ChordEvent, Note, Song
from minigapt.music.tokens import BOS, EOS, PAD, SILENCE, VOCAB, deinterleave

CHORDS = ["C", "F", "G7", "Am", "Dm7", "Ebmaj7"]


def make_song(i: int, n_frames: int = 96, source: str = "toy", split=None, base: int = 60) -> Song:
    """A song whose notes last 3 frames (so crops often start mid-note) and chords 12 frames."""
    rng = np.random.default_rng(i)
    melody = [Note(t, t + 3, base + int(rng.integers(0, 12))) for t in range(0, n_frames, 3)]
    chords = [ChordEvent(t, min(t + 12, n_frames), CHORDS[int(rng.integers(len(CHORDS)))])
              for t in range(0, n_frames, 12)]
    return Song(f"{source}-{i}", source, melody, chords, n_frames, split=split)


def test_presets():
    for scale in SCALES:
        cfg = DataConfig.preset(scale)
        assert cfg.crop_frames % 4 == 0 and cfg.transpose == 6 and cfg.split_seed == 42
        assert cfg.sources == {"pop909": 0.75, "nottingham": 0.25}
    assert DataConfig.preset("smoke").crop_frames == 64 and DataConfig.preset("smoke").max_units
    assert DataConfig.preset("course").crop_frames == 128
    assert DataConfig.preset("paper").crop_frames == 256 and DataConfig.preset("paper").max_units is None
    with pytest.raises(MinigaptError):
        DataConfig.preset("huge")


def test_split_deterministic_disjoint_and_sized():
    songs = [make_song(i) for i in range(200)]
    a = split_songs(songs, seed=42)
    b = split_songs(songs, seed=42)
    c = split_songs(songs, seed=7)
    titles = {k: [s.title for s in v] for k, v in a.items()}
    assert titles == {k: [s.title for s in v] for k, v in b.items()}
    assert titles != {k: [s.title for s in v] for k, v in c.items()}
    assert [len(a[k]) for k in ("train", "valid", "test")] == [160, 20, 20]
    all_titles = sum(titles.values(), [])
    assert sorted(all_titles) == sorted(s.title for s in songs)  # each song exactly once


def test_split_honours_a_songs_own_split():
    songs = [make_song(i, split="test") for i in range(5)] + [make_song(i + 5) for i in range(10)]
    out = split_songs(songs)
    assert {s.title for s in songs[:5]} <= {s.title for s in out["test"]}
    assert sum(len(v) for v in out.values()) == 15


def test_to_frames_drops_out_of_range_songs(capsys):
    ok = make_song(1)
    bad = Song("bad", "toy", [Note(0, 4, 200)], [], 4)
    frames = to_frames([ok, bad], "train")
    assert [f.title for f in frames] == ["toy-1"] and "1 song" in capsys.readouterr().err
    f = frames[0]
    assert f.melody.dtype == np.int64 and len(f.melody) == len(f.chords) == ok.n_frames


def _is_transposed_window(stream, sf, crop, chord_first=True):
    """(start, k) such that the stream is sf's frames [start, start+crop) transposed by k."""
    x, y = deinterleave(stream, chord_first)
    tables = dataset._transpose_tables(6)
    for k in range(-6, 7):
        table = tables[k + 6]
        for start in range(0, max(sf.n_frames - crop, 0) + 1, 4):
            wx = dataset._first_as_onset(sf.melody[start:start + crop])
            wy = dataset._first_as_onset(sf.chords[start:start + crop])
            if np.array_equal(table[wx], x) and np.array_equal(table[wy], y):
                return start, k
    return None


def test_crops_shape_beats_and_transposition():
    frames = to_frames([make_song(i, 96) for i in range(4)], "train")
    sampler = CropSampler({"toy": frames}, {"toy": 1.0}, crop_frames=32, transpose=6, seed=3)
    batch = sampler.sample(40)
    assert batch.shape == (40, 66) and batch.dtype == np.int64
    assert (batch[:, 0] == BOS).all() and (batch[:, -1] == EOS).all()
    ks = set()
    for row in batch:
        assert (row != PAD).all()  # transposition stayed inside the vocabulary
        hit = [_is_transposed_window(row, sf, 32) for sf in frames]
        start, k = next(h for h in hit if h is not None)
        assert start % 4 == 0
        ks.add(k)
        x, y = deinterleave(row)
        assert VOCAB.is_onset[y[0]] and (VOCAB.is_onset[x[0]] or x[0] == SILENCE)
    assert len(ks) >= 5  # several transpositions are drawn


def test_no_transposition_outside_training():
    cfg = DataConfig(sources={"toy": 1.0}, crop_frames=32)
    songs = {"toy": [make_song(i) for i in range(20)]}
    frames = {split: {"toy": to_frames(part, split)}
              for split, part in split_songs(songs["toy"]).items()}
    train = train_sampler(frames, cfg, seed=0)
    assert train.transpose == 6 and train.frames is frames["train"]
    shifted = [_is_transposed_window(r, sf, 32) for r in train.sample(10) for sf in frames["train"]["toy"]]
    assert any(h is not None and h[1] != 0 for h in shifted)
    for split in ("valid", "test"):
        batch = eval_batch(frames[split]["toy"], 32)
        for row, sf in zip(batch, frames[split]["toy"]):
            x, y = deinterleave(row)
            assert np.array_equal(x, sf.melody[:32]) and np.array_equal(y, sf.chords[:32])


def test_short_songs_are_pad_padded_after_eos():
    sf = to_frames([make_song(0, n_frames=20)], "valid")
    batch = eval_batch(sf, 32)
    assert batch.shape == (1, 66)
    assert batch[0, 41] == EOS and (batch[0, 42:] == PAD).all() and (batch[0, :41] != PAD).all()
    sampler = CropSampler({"toy": sf}, {"toy": 1}, 32, transpose=0, seed=0)
    assert (sampler.sample(3) == batch).all()  # only one possible crop: start 0
    assert eval_batch(sf * 5, 32, limit=2).shape == (2, 66)


def test_chord_first_order():
    sf = to_frames([make_song(0)], "valid")[0]
    a, b = eval_batch([sf], 16)[0], eval_batch([sf], 16, chord_first=False)[0]
    assert a[1] == sf.chords[0] and a[2] == sf.melody[0]
    assert b[1] == sf.melody[0] and b[2] == sf.chords[0]


def test_mixing_weights_roughly_respected():
    low = to_frames([make_song(i, base=40, source="low") for i in range(3)], "train")
    high = to_frames([make_song(i, base=80, source="high") for i in range(3)], "train")
    sampler = CropSampler({"low": low, "high": high, "none": []},
                          {"low": 0.75, "high": 0.25, "none": 1.0}, 16, seed=1)
    batch = sampler.sample(4000)
    pitch = VOCAB.pitch_of[batch[:, 2]]  # first melody token
    frac_low = float(np.mean(pitch < 60))
    assert abs(frac_low - 0.75) < 0.03
    with pytest.raises(MinigaptError):
        CropSampler({"none": []}, {"none": 1.0}, 16)


def test_load_frames_falls_back_to_default(monkeypatch, tmp_path, capsys):
    """No source found anywhere, no network: the embedded default source is used."""
    fake_default = types.ModuleType("fake_default_source")
    fake_default.PARSER_VERSION, fake_default.DEFAULT_SUBDIR = "1", None
    unit_file = tmp_path / "unit.txt"
    unit_file.write_text("x")
    fake_default.find_units = lambda root: [f"{unit_file}#{i}" for i in range(10)]
    fake_default.parse_unit = lambda unit: [make_song(int(unit.rsplit("#", 1)[1]), source="default")]
    monkeypatch.setitem(__import__("sys").modules, "fake_default_source", fake_default)
    monkeypatch.setitem(catalog.SOURCES, "default", "fake_default_source")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("MINIGAPT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MINIGAPT_OFFLINE", "1")
    monkeypatch.delenv("MINIGAPT_DATA", raising=False)
    cfg = DataConfig(sources={"nottingham": 0.5, "pop909": 0.5}, crop_frames=32, workers=1)
    frames = load_frames(cfg, progress=False)
    err = capsys.readouterr().err
    assert "using the embedded default" in err and "skipping nottingham" in err
    assert all(line.startswith("minigapt: ") for line in err.strip().splitlines())
    assert set(frames) == {"train", "valid", "test"}
    assert sum(len(v["default"]) for v in frames.values()) == 10
    assert frames["train"]["default"][0].source == "default"
    assert train_sampler(frames, cfg).sample(2).shape == (2, 66)
