"""A melody-to-chord world where the answer is known: diatonic triads in C, one chord per bar.

    chords  the seven triads of C major (I ii iii IV V vi vii°), one per bar, drawn from a
            functional-harmony Markov chain that starts on I (tonic -> subdominant -> dominant ->
            tonic, with a few side steps);
    melody  one note per frame (a 16th), each a tone of its bar's chord with probability
            `chord_tone_p`, otherwise one of the other four notes of the scale.

So the data's own harmony is chord_tone_p in expectation, and "true harmony" of any chord part is
exact: the share of melody notes that are tones of the triad sounding with them
(eval.harmony.note_in_triad_ratio; a 7th bought by playing denser chords is no harmony here).
Everything is written in the project's tokens (music.tokens: ON/HOLD frames), so the course's
policy, rewards, discriminator and metrics run on it unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.dataset import DataConfig, SongFrames
from ..eval.harmony import note_in_triad_ratio
from ..music.chords import triad_pitch_classes
from ..music.tokens import VOCAB

TRIADS = ("C", "Dm", "Em", "F", "G", "Am", "Bdim")  # I ii iii IV V vi vii°
DEGREES = ("I", "ii", "iii", "IV", "V", "vi", "vii°")
SCALE_PCS = (0, 2, 4, 5, 7, 9, 11)
MELODY_BASE = 60  # melody pitches: pitch class + 60 (one octave from middle C)

# Functional harmony: row = this bar's chord, column = next bar's (I ii iii IV V vi vii°).
TRANSITIONS = np.array([
    [0.10, 0.15, 0.05, 0.30, 0.25, 0.15, 0.00],  # I   -> anywhere, mostly IV and V
    [0.00, 0.00, 0.00, 0.10, 0.75, 0.00, 0.15],  # ii  -> V (or vii°)
    [0.00, 0.00, 0.00, 0.35, 0.00, 0.65, 0.00],  # iii -> vi, IV
    [0.30, 0.20, 0.00, 0.00, 0.50, 0.00, 0.00],  # IV  -> V, I, ii
    [0.75, 0.00, 0.00, 0.00, 0.00, 0.25, 0.00],  # V   -> I (or the deceptive vi)
    [0.00, 0.40, 0.00, 0.40, 0.20, 0.00, 0.00],  # vi  -> ii, IV, V
    [0.90, 0.00, 0.10, 0.00, 0.00, 0.00, 0.00],  # vii° -> I
])


@dataclass(frozen=True)
class WorldConfig:
    """The toy world's shape (a crop is one whole song)."""

    bars: int = 8
    """Bars per song (one chord each)."""
    frames_per_bar: int = 4
    """Frames (16th notes) per bar; the melody plays one note per frame."""
    chord_tone_p: float = 0.9
    """Chance that a melody note is a tone of its bar's chord (the data's harmony)."""
    train_songs: int = 2000
    """Songs in the training split (the policy's MLE data, the reward's and D's real parts)."""
    test_songs: int = 256
    """Held-out melodies every system accompanies for the final figures."""

    @property
    def frames(self) -> int:
        return self.bars * self.frames_per_bar

    def data_config(self) -> DataConfig:
        """Crops = whole songs, one source, never transposed (the world is in C)."""
        return DataConfig(sources={"toy": 1.0}, crop_frames=self.frames, transpose=0)


def sample_progressions(n: int, bars: int, rng: np.random.Generator) -> np.ndarray:
    """int[n, bars]: chord indices into TRIADS, a Markov chain from I."""
    out = np.zeros((n, bars), np.int64)
    cum = TRANSITIONS.cumsum(1)
    for b in range(1, bars):
        u = rng.random(n)
        out[:, b] = (u[:, None] > cum[out[:, b - 1]]).sum(1)
    return np.minimum(out, len(TRIADS) - 1)


def sample_melodies(progressions: np.ndarray, cfg: WorldConfig, rng: np.random.Generator) -> np.ndarray:
    """int[n, frames]: melody pitch classes, one per frame, chord tones at rate chord_tone_p."""
    tones = np.array([sorted(triad_pitch_classes(c)) for c in TRIADS])  # [7, 3]
    others = np.array([[p for p in SCALE_PCS if p not in t] for t in tones])  # [7, 4]
    chord = np.repeat(progressions, cfg.frames_per_bar, axis=1)  # [n, frames]
    in_chord = rng.random(chord.shape) < cfg.chord_tone_p
    pick_tone = tones[chord, rng.integers(3, size=chord.shape)]
    pick_other = others[chord, rng.integers(4, size=chord.shape)]
    return np.where(in_chord, pick_tone, pick_other)


def to_tokens(progressions: np.ndarray, melody_pcs: np.ndarray, frames_per_bar: int) -> tuple[np.ndarray, np.ndarray]:
    """-> (melody frames, chord frames) int64 [n, frames]: every melody frame an onset, each
    chord struck on its bar's first frame and held to the bar's end."""
    x = np.array([VOCAB.melody_on(MELODY_BASE + p) for p in range(12)])[melody_pcs]
    on = np.array([VOCAB.chord_on(c) for c in TRIADS])[progressions]
    hold = np.array([VOCAB.chord_hold(c) for c in TRIADS])[progressions]
    y = np.repeat(hold, frames_per_bar, axis=1)
    y[:, ::frames_per_bar] = on
    return x.astype(np.int64), y.astype(np.int64)


def sample_songs(n: int, cfg: WorldConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n songs of the world -> (melody frames, chord frames) int64 [n, frames]."""
    prog = sample_progressions(n, cfg.bars, rng)
    return to_tokens(prog, sample_melodies(prog, cfg, rng), cfg.frames_per_bar)


@dataclass
class ToyData:
    """One draw of the world: training songs (as the course's data dict) and held-out ones."""

    frames: dict
    """split -> {"toy": [SongFrames]}: what train_online and train_rl read."""
    train_x: np.ndarray
    """Training melodies [N, T] (the same songs, as arrays)."""
    train_y: np.ndarray
    """Their chords [N, T]."""
    test_x: np.ndarray
    """Held-out melodies [M, T] every system accompanies."""
    test_y: np.ndarray
    """Their own chords [M, T] (the `data` system)."""


def make_data(cfg: WorldConfig, seed: int = 0) -> ToyData:
    """Training and held-out songs of the world (seeded; train and test from separate streams)."""
    train_x, train_y = sample_songs(cfg.train_songs, cfg, np.random.default_rng([seed, 1]))
    test_x, test_y = sample_songs(cfg.test_songs, cfg, np.random.default_rng([seed, 2]))

    def songs(x, y, split):
        return [SongFrames(f"toy {split} {i}", "toy", split, xi, yi, cfg.frames_per_bar)
                for i, (xi, yi) in enumerate(zip(x, y))]

    frames = {"train": {"toy": songs(train_x, train_y, "train")},
              "valid": {"toy": songs(test_x[:32], test_y[:32], "valid")}, "test": {"toy": []}}
    return ToyData(frames, train_x, train_y, test_x, test_y)


def true_harmony(x, y) -> float:
    """The share of melody notes that are tones of the triad played with them (exact here)."""
    return note_in_triad_ratio(x, y)


def chord_share(y, name: str) -> float:
    """The share of chord frames on chord `name` (the reward's hole pays for V's: reward.py)."""
    chord = VOCAB.chord_of[np.asarray(y)]
    valid = chord >= 0
    return float((chord == VOCAB.chord_index[name]).sum() / max(valid.sum(), 1))
