"""From parsed songs to training batches: splits, frames, crops on beats, transposition, mixing.

    cfg = DataConfig.preset("course")
    frames = load_frames(cfg)                       # split -> source -> [SongFrames]
    sampler = train_sampler(frames, cfg, seed=0)    # random crops, transposed, sources mixed
    batch = sampler.sample(64)                      # int64 [64, 2 * crop_frames + 2]
    valid = eval_batch(sum(frames["valid"].values(), []), cfg.crop_frames)

Transposition is a training-time augmentation only: validation and test crops are the songs
as written (eval_batch never transposes).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..presets import preset
from ..errors import MinigaptError, SkipSong
from ..music.song import Song
from ..music.tokens import PAD, VOCAB, chord_frames, interleave, melody_frames
from .catalog import DataNotFound, load_songs, notice

SPLITS = ("train", "valid", "test")
FRAMES_PER_BEAT = 4


@dataclass
class DataConfig:
    """What the models train on. Presets: smoke (CI), course (a laptop), paper (a GPU)."""

    sources: dict[str, float] = field(default_factory=lambda: {"pop909": 0.75, "nottingham": 0.25})
    """Dataset name -> mixing weight: the chance that a training crop comes from it. The paper
    mixes Hooktheory/POP909/Nottingham 0.6/0.3/0.1; Hooktheory is not freely downloadable, so
    we keep the paper's POP909:Nottingham ratio of 3:1, i.e. 0.75/0.25. Weights need not sum
    to 1; a source that cannot be found is dropped and the others renormalised."""
    crop_frames: int = 256
    """Frames (16th notes) per training crop; 256 = 16 bars of 4/4, the paper's length."""
    transpose: int = 6
    """Training crops are transposed by a random k in -transpose..+transpose semitones."""
    split_seed: int = 42
    """Seed of the random 80/10/10 split of each source (the paper's 42)."""
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    """Train/valid/test fractions, for sources without their own split (all but Hooktheory)."""
    max_units: int | None = None
    """Parse at most this many units (files / tunes / song folders) per source, evenly spread;
    None parses everything. Keeps the smoke scale fast."""
    workers: int = 2
    """Processes that parse a dataset the first time (later runs read the cache)."""

    @classmethod
    def preset(cls, scale: str) -> "DataConfig":
        return cls(**preset(scale, "data"))


@dataclass
class SongFrames:
    title: str
    source: str
    split: str  # "train" | "valid" | "test"
    melody: np.ndarray  # int64[T] melody frame tokens (ON_p/HOLD_p/SILENCE)
    chords: np.ndarray  # int64[T] chord frame tokens (ON_c/HOLD_c/SILENCE)
    bar_frames: int

    @property
    def n_frames(self) -> int:
        return len(self.melody)


def split_songs(songs: list[Song], seed: int = 42,
                fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> dict[str, list[Song]]:
    """Random train/valid/test split (a song that names its own split keeps it).

    Deterministic for a given list and seed; each song lands in exactly one split."""
    out: dict[str, list[Song]] = {s: [] for s in SPLITS}
    free = []
    for song in songs:
        if song.split is not None:
            if song.split not in out:
                raise MinigaptError(f"song {song.title!r} has unknown split {song.split!r}")
            out[song.split].append(song)
        else:
            free.append(song)
    order = np.random.default_rng(seed).permutation(len(free))
    n_train = int(round(fractions[0] * len(free)))
    n_valid = int(round(fractions[1] * len(free)))
    for rank, i in enumerate(order):
        split = "train" if rank < n_train else "valid" if rank < n_train + n_valid else "test"
        out[split].append(free[i])
    return out


def to_frames(songs: list[Song], split: str) -> list[SongFrames]:
    """Songs -> frame token arrays. A song whose melody leaves the vocabulary is dropped
    (parsers already skip those, so this is a safety net, announced once)."""
    frames, dropped = [], 0
    for s in songs:
        try:
            x, y = melody_frames(s), chord_frames(s)
        except SkipSong:
            dropped += 1
            continue
        frames.append(SongFrames(s.title, s.source, split, x, y, s.bar_frames))
    if dropped:
        notice(f"{dropped} song(s) with pitches outside the vocabulary left out of {split}")
    return frames


def load_frames(cfg: DataConfig, data_dir: str | Path | None = None,
                progress: bool = True) -> dict[str, dict[str, list[SongFrames]]]:
    """Parse (through the cache), split and tokenise every source of `cfg`.

    Returns split -> source name -> [SongFrames]. Songs without chords are left out (they
    cannot teach accompaniment). A source that is not found is dropped with a one-line notice;
    if none is found, the embedded "default" source is used instead, so that everything runs
    with no network and no data folder."""
    by_source: dict[str, list[Song]] = {}
    for name in cfg.sources:
        try:
            report = load_songs(name, data_dir, workers=cfg.workers, progress=progress,
                                max_units=cfg.max_units)
        except DataNotFound as exc:
            notice(f"skipping {name}: {exc}")
            continue
        by_source[name] = [s for s in report.songs if s.has_chords]
    if not by_source:
        notice(f"none of {', '.join(cfg.sources)} found: using the embedded default songs")
        report = load_songs("default", workers=cfg.workers, progress=progress,
                            max_units=cfg.max_units)
        by_source["default"] = [s for s in report.songs if s.has_chords]
    out: dict[str, dict[str, list[SongFrames]]] = {s: {} for s in SPLITS}
    for name, songs in by_source.items():
        for split, part in split_songs(songs, cfg.split_seed, cfg.split_fractions).items():
            out[split][name] = to_frames(part, split)
    return out


@lru_cache(maxsize=1)
def _transpose_tables(k_max: int) -> np.ndarray:
    """int64[2*k_max+1, vocab]: row k + k_max maps each token to itself transposed by k."""
    return np.stack([VOCAB.transpose_table(k) for k in range(-k_max, k_max + 1)]).astype(np.int64)


def _first_as_onset(part: np.ndarray) -> np.ndarray:
    """A crop starting inside a note or chord starts with its onset, as if the crop were a
    song of its own (what tokenising crop_song would give)."""
    if len(part) == 0:
        return part
    first = int(part[0])
    if VOCAB.is_onset[first] or not (VOCAB.is_melody[first] or VOCAB.is_chord[first]):
        return part  # an onset already, or SILENCE
    part = part.copy()
    part[0] = first - (VOCAB.n_pitches if VOCAB.is_melody[first] else VOCAB.n_chords)
    return part


def _crop_stream(sf: SongFrames, start: int, crop_frames: int, table: np.ndarray | None,
                 chord_first: bool) -> np.ndarray:
    """One crop as a stream: BOS, frames, EOS, then PAD up to 2*crop_frames + 2 tokens."""
    x = _first_as_onset(sf.melody[start:start + crop_frames])
    y = _first_as_onset(sf.chords[start:start + crop_frames])
    if table is not None:
        x, y = table[x], table[y]
    out = np.full(2 * crop_frames + 2, PAD, np.int64)
    stream = interleave(x, y, chord_first)
    out[:len(stream)] = stream
    return out


class CropSampler:
    """Random training crops: a source picked by weight, a song uniformly from it, a start on
    a beat uniformly over the song, a transposition uniformly in -transpose..+transpose."""

    def __init__(self, frames_by_source: dict[str, list[SongFrames]], weights: dict[str, float],
                 crop_frames: int, transpose: int = 0, chord_first: bool = True, seed: int = 0):
        self.names = [n for n in frames_by_source if frames_by_source[n] and weights.get(n, 0) > 0]
        if not self.names:
            raise MinigaptError("no songs to sample from (every source is empty or has weight 0)")
        w = np.array([weights[n] for n in self.names], float)
        self.probs = w / w.sum()
        self.frames = frames_by_source
        self.crop_frames, self.transpose, self.chord_first = crop_frames, transpose, chord_first
        self.tables = _transpose_tables(transpose) if transpose else None
        self.rng = np.random.default_rng(seed)

    def sample(self, batch_size: int) -> np.ndarray:
        """int64 [batch_size, 2*crop_frames + 2]: BOS ... EOS, PAD-padded."""
        out = np.empty((batch_size, 2 * self.crop_frames + 2), np.int64)
        picks = self.rng.choice(len(self.names), size=batch_size, p=self.probs)
        for b, src in enumerate(picks):
            songs = self.frames[self.names[src]]
            sf = songs[self.rng.integers(len(songs))]
            n_starts = max(sf.n_frames - self.crop_frames, 0) // FRAMES_PER_BEAT + 1
            start = FRAMES_PER_BEAT * int(self.rng.integers(n_starts))
            table = None
            if self.tables is not None:
                table = self.tables[self.rng.integers(len(self.tables))]
            out[b] = _crop_stream(sf, start, self.crop_frames, table, self.chord_first)
        return out


def train_sampler(frames: dict[str, dict[str, list[SongFrames]]], cfg: DataConfig,
                  chord_first: bool = True, seed: int = 0) -> CropSampler:
    """The sampler for training: the train split, cfg's weights (the default source, if that
    is what load_frames fell back to, gets weight 1) and transposition."""
    train = frames["train"]
    weights = {n: cfg.sources.get(n, 1.0 if n == "default" else 0.0) for n in train}
    return CropSampler(train, weights, cfg.crop_frames, cfg.transpose, chord_first, seed)


def eval_batch(frames: list[SongFrames], crop_frames: int, chord_first: bool = True,
               limit: int | None = None) -> np.ndarray:
    """Deterministic: one crop per song from frame 0, int64 [N, 2*crop_frames + 2], PAD-padded."""
    chosen = frames[:limit] if limit is not None else frames
    out = np.full((len(chosen), 2 * crop_frames + 2), PAD, np.int64)
    for i, sf in enumerate(chosen):
        out[i] = _crop_stream(sf, 0, crop_frames, None, chord_first)
    return out
