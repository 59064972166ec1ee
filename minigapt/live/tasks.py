"""Scripted players for the paper's user-study tasks, played through the same engine as a person.

Notebook 07 cannot ask anyone to play during `make course`, so these players stand in, sending
timestamped note on/off events (with a little human timing jitter) to a JamEngine, one frame at a
time, exactly as the widget would:

* `FixedMelody`: a known tune played as written (the user study's "fixed melody" task; here
  Beethoven's "Ode to Joy", public domain).
* `Improviser`: a seeded improvisation over I-vi-IV-V in one major key that *modulates* to a
  second key midway. How many beats a policy needs before its chords fit the new key is the
  live version of the paper's perturbation experiment (Fig. 6): `beats_to_adapt`.
* `CoImproviser`: a player who listens: on each beat it plays a tone of the chord the policy is
  playing, and passing tones in between, so the policy and the player follow each other.

A player only decides which notes start at a frame, given the chord it hears there (what the
engine committed for that frame), so any player works with `run_session`.
"""
from __future__ import annotations

import heapq
import time
from dataclasses import dataclass, field

import numpy as np

from .. import FRAMES_PER_BEAT
from ..music.chords import chord_pitch_classes
from ..music.song import Note
from ..music.tokens import PAD, SILENCE, VOCAB
from .record import JamRecord

BAR = 4 * FRAMES_PER_BEAT
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
# Ode to Joy in C, (MIDI pitch, frames): 16 bars of 4/4
_ODE_A = [(64, 4), (64, 4), (65, 4), (67, 4), (67, 4), (65, 4), (64, 4), (62, 4), (60, 4), (60, 4), (62, 4), (64, 4)]
_ODE = (_ODE_A + [(64, 6), (62, 2), (62, 8)] + _ODE_A + [(62, 6), (60, 2), (60, 8)]
        + [(62, 4), (62, 4), (64, 4), (60, 4), (62, 4), (64, 2), (65, 2), (64, 4), (60, 4),
           (62, 4), (64, 2), (65, 2), (64, 4), (62, 4), (60, 4), (62, 4), (55, 8)]
        + _ODE_A + [(62, 6), (60, 2), (60, 8)])
# the rhythm of one beat, in frames (negative: a rest)
_RHYTHMS = ([4], [2, 2], [3, 1], [1, 1, 2], [2, 1, 1], [-2, 2], [4])
_RHYTHM_P = np.array([0.3, 0.3, 0.1, 0.1, 0.1, 0.05, 0.05])


def ode_to_joy(transpose: int = 0) -> list[Note]:
    notes, t = [], 0
    for pitch, length in _ODE:
        notes.append(Note(t, t + length, pitch + transpose))
        t += length
    return notes


def _triad(tonic: int, degree: int) -> list[int]:
    """Pitch classes of the diatonic triad on scale degree `degree` (0-based) of a major key."""
    return [(tonic + MAJOR_SCALE[(degree + k) % 7]) % 12 for k in (0, 2, 4)]


def _nearest(pitch_classes, prev: int, lo: int = 57, hi: int = 81, rng=None, leap_p: float = 0.0) -> int:
    """The pitch of one of `pitch_classes` nearest to `prev` within [lo, hi] (sometimes a leap)."""
    candidates = [p for p in range(lo, hi + 1) if p % 12 in set(pitch_classes)]
    if rng is not None and leap_p and rng.random() < leap_p:
        return int(rng.choice(candidates))
    candidates.sort(key=lambda p: (abs(p - prev), p))
    near = candidates[:2] if rng is not None else candidates[:1]
    return int(near[int(rng.integers(len(near)))] if rng is not None else near[0])


class FixedMelody:
    """Plays a given list of notes (frames), whatever it hears."""
    name = "fixed melody"

    def __init__(self, notes: list[Note] | None = None):
        self.notes = notes if notes is not None else ode_to_joy()
        self._by_start: dict[int, list[tuple[int, int]]] = {}
        for n in self.notes:
            self._by_start.setdefault(n.start, []).append((n.pitch, n.end - n.start))

    @property
    def n_frames(self) -> int:
        return max(n.end for n in self.notes)

    def notes_at(self, frame: int, chord: int | None) -> list[tuple[int, int]]:
        return self._by_start.get(frame, [])


@dataclass
class Improviser:
    """A seeded improvisation over I-vi-IV-V, one bar per chord; `keys` lists (from frame,
    tonic pitch class) so it can modulate. Its notes do not depend on what it hears."""
    n_frames: int
    keys: list[tuple[int, int]] = field(default_factory=lambda: [(0, 0)])
    seed: int = 0
    name: str = "modulating improvisation"

    def __post_init__(self):
        rng = np.random.default_rng(self.seed)
        progression = (0, 5, 3, 4)  # I vi IV V
        notes, prev, t = [], 67, 0
        while t < self.n_frames:
            tonic = self.tonic_at(t)
            bar = t // BAR
            chord = _triad(tonic, progression[bar % 4])
            scale = [(tonic + i) % 12 for i in MAJOR_SCALE]
            rhythm = _RHYTHMS[rng.choice(len(_RHYTHMS), p=_RHYTHM_P)]
            for k, length in enumerate(rhythm):
                if length > 0 and t < self.n_frames:
                    strong = k == 0 and t % FRAMES_PER_BEAT == 0
                    pcs = chord if strong or rng.random() < 0.4 else scale
                    prev = _nearest(pcs, prev, rng=rng, leap_p=0.1 if strong else 0.0)
                    notes.append(Note(t, min(t + length, self.n_frames), prev))
                t += abs(length)
        self.notes = notes
        self._fixed = FixedMelody(notes)

    def tonic_at(self, frame: int) -> int:
        return [tonic for start, tonic in self.keys if start <= frame][-1]

    def notes_at(self, frame: int, chord: int | None) -> list[tuple[int, int]]:
        return self._fixed.notes_at(frame, chord)


class CoImproviser:
    """Listens to the chords: each beat starts on a tone of the chord sounding (the nearest to
    its last note), the offbeats walk through the chord or pass by step in `tonic`'s scale."""
    name = "co-improvisation"

    def __init__(self, n_frames: int, tonic: int = 0, seed: int = 0):
        self.n_frames, self.tonic = n_frames, tonic
        self.rng = np.random.default_rng(seed)
        self.prev = 67
        self._rhythm: list[int] = []  # the current beat's remaining note lengths
        self._pending: dict[int, list[tuple[int, int]]] = {}

    def _chord_pcs(self, chord: int | None) -> list[int]:
        c = VOCAB.chord_of[chord] if chord is not None and chord not in (PAD, SILENCE) else -1
        return sorted(chord_pitch_classes(VOCAB.chord_names[c])) if c >= 0 else _triad(self.tonic, 0)

    def notes_at(self, frame: int, chord: int | None) -> list[tuple[int, int]]:
        if frame >= self.n_frames:
            return []
        if frame % FRAMES_PER_BEAT == 0:  # a new beat: choose its rhythm, start on a chord tone
            rhythm = list(_RHYTHMS[self.rng.choice(len(_RHYTHMS), p=_RHYTHM_P)])
            t = frame
            self._pending = {}
            for k, length in enumerate(rhythm):
                if length > 0:
                    self._pending[t] = [(k, length)]
                t += abs(length)
        starts = self._pending.pop(frame, [])
        out = []
        pcs = self._chord_pcs(chord)
        scale = [(self.tonic + i) % 12 for i in MAJOR_SCALE]
        for k, length in starts:
            if k == 0 or self.rng.random() < 0.6:
                self.prev = _nearest(pcs, self.prev, rng=self.rng, leap_p=0.1 if k == 0 else 0.0)
            else:
                self.prev = _nearest(scale, self.prev + int(self.rng.choice([-2, -1, 1, 2])), rng=None)
            out.append((self.prev, min(length, self.n_frames - frame)))
        return out


@dataclass
class SessionLog:
    """What run_session measured besides the record."""
    tick_ms: list[float]
    views: int


def run_session(engine, player, n_frames: int, *, jitter_s: float = 0.01, seed: int = 0,
                model: str = "", title: str = "") -> tuple[JamRecord, SessionLog]:
    """Play `player` through `engine` for n_frames frames, as the browser would: at each frame the
    player hears the chord committed for it and starts its notes (timing jittered by jitter_s
    seconds), the events go in, then the engine ticks. Returns the record and tick timings."""
    rng = np.random.default_rng(seed)
    fs = engine.frame_s
    queue: list[tuple[float, int, bool, int]] = []  # (time, order, on, pitch)
    order, ticks = 0, []
    engine.tick(0)
    for f in range(n_frames):
        for pitch, length in player.notes_at(f, engine.chord_at(f)):
            on = f * fs + rng.normal(0, jitter_s)
            off = (f + length - 0.25) * fs + rng.normal(0, jitter_s)  # a hair before the next note
            heapq.heappush(queue, (on, order, True, pitch))
            heapq.heappush(queue, (max(off, on + 0.01), order + 1, False, pitch))
            order += 2
        while queue and queue[0][0] < (f + 1) * fs:
            t, _, is_on, pitch = heapq.heappop(queue)
            (engine.note_on if is_on else engine.note_off)(pitch, t)
        t0 = time.perf_counter()
        engine.tick(f + 1)
        ticks.append(1000 * (time.perf_counter() - t0))
    record = JamRecord.from_engine(engine, model=model, title=title or player.name, until=n_frames)
    return record, SessionLog(ticks, len(ticks))


# --- the modulation task's measure ------------------------------------------------------------
def in_key(chord_token: int, tonic: int) -> bool | None:
    """Whether a chord token's pitch classes all lie in `tonic`'s major scale (None: no chord)."""
    tok = int(chord_token)
    c = VOCAB.chord_of[tok] if 0 <= tok < VOCAB.size else -1
    if c < 0:
        return None
    return chord_pitch_classes(VOCAB.chord_names[c]) <= {(tonic + i) % 12 for i in MAJOR_SCALE}


def key_fit_per_beat(chords, tonic: int) -> np.ndarray:
    """float[n_beats]: share of each beat's chord frames whose chord lies in `tonic`'s major key
    (NaN where no chord sounds)."""
    y = np.asarray(chords, np.int64)
    out = np.full(len(y) // FRAMES_PER_BEAT, np.nan)
    for b in range(len(out)):
        fits = [in_key(t, tonic) for t in y[b * FRAMES_PER_BEAT:(b + 1) * FRAMES_PER_BEAT]]
        fits = [f for f in fits if f is not None]
        if fits:
            out[b] = float(np.mean(fits))
    return out


def beats_to_adapt(chords, change_frame: int, tonic: int, window_beats: int = 4,
                   threshold: float = 0.75) -> int | None:
    """Beats from the key change until the chords fit the new key: the first beat b at or after
    the change whose chords lie in `tonic`'s major key (most of its frames) and from which at
    least `threshold` of the chord frames of the next `window_beats` beats do too, minus the
    change's beat. None: not within the session."""
    fit = key_fit_per_beat(chords, tonic)
    m = change_frame // FRAMES_PER_BEAT
    for b in range(m, len(fit) - window_beats + 1):
        w = fit[b:b + window_beats]
        w = w[np.isfinite(w)]
        if np.isfinite(fit[b]) and fit[b] >= 0.5 and w.mean() >= threshold:
            return b - m
    return None
