"""Songs <-> frames <-> tokens (paper 4.1).

Per 16th-note frame the melody is ON_p (a note of MIDI pitch p starts), HOLD_p (it sounds on) or
SILENCE; the chord part likewise ON_c / HOLD_c / SILENCE for chord c. The chord policy reads the
interleaved chord-first stream [BOS, y0, x0, y1, x1, ..., EOS] (frames from 0): the chord of frame t is
predicted before the melody of frame t is seen, which is what makes the model *online*. The
melody agent reads the mirror, melody-first stream.

The vocabulary is fixed (every chord the chord vocabulary can name, every melody pitch in
[PITCH_MIN, PITCH_MAX]) so checkpoints work across datasets; `VOCAB.hash` identifies it.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..errors import SkipSong
from .chords import all_chord_names, chord_name, chord_pitch_classes, split_chord_name, triad_pitch_classes
from .song import ChordEvent, Note, Song

PAD, BOS, EOS, SILENCE = 0, 1, 2, 3
PITCH_MIN, PITCH_MAX = 21, 108  # the piano's range
TRANSPOSE_MAX = 6  # training transpositions are -6..+6; parsers keep a margin for them


@dataclass(frozen=True)
class Vocab:
    """Token ids: specials, then melody ON/HOLD per pitch, then chord ON/HOLD per chord."""

    chord_names: tuple[str, ...] = tuple(all_chord_names())
    pitch_min: int = PITCH_MIN
    pitch_max: int = PITCH_MAX

    @property
    def n_pitches(self) -> int:
        return self.pitch_max - self.pitch_min + 1

    @property
    def n_chords(self) -> int:
        return len(self.chord_names)

    @property
    def melody_on0(self) -> int:
        return 4

    @property
    def melody_hold0(self) -> int:
        return 4 + self.n_pitches

    @property
    def chord_on0(self) -> int:
        return 4 + 2 * self.n_pitches

    @property
    def chord_hold0(self) -> int:
        return self.chord_on0 + self.n_chords

    @property
    def size(self) -> int:
        return self.chord_hold0 + self.n_chords

    @cached_property
    def chord_index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.chord_names)}

    def melody_on(self, pitch: int) -> int:
        return self.melody_on0 + pitch - self.pitch_min

    def melody_hold(self, pitch: int) -> int:
        return self.melody_hold0 + pitch - self.pitch_min

    def chord_on(self, name: str) -> int:
        return self.chord_on0 + self.chord_index[name]

    def chord_hold(self, name: str) -> int:
        return self.chord_hold0 + self.chord_index[name]

    # --- vectorised lookups, used by models, metrics and rewards -------------------------
    @cached_property
    def token_names(self) -> list[str]:
        names = ["PAD", "BOS", "EOS", "SILENCE"]
        names += [f"ON_{p}" for p in range(self.pitch_min, self.pitch_max + 1)]
        names += [f"HOLD_{p}" for p in range(self.pitch_min, self.pitch_max + 1)]
        names += [f"ON_{c}" for c in self.chord_names]
        names += [f"HOLD_{c}" for c in self.chord_names]
        return names

    @cached_property
    def hash(self) -> str:
        return hashlib.sha256("\n".join(self.token_names).encode()).hexdigest()[:12]

    @cached_property
    def is_chord(self) -> np.ndarray:
        """bool[size]: token is ON_c or HOLD_c."""
        a = np.zeros(self.size, bool)
        a[self.chord_on0:] = True
        return a

    @cached_property
    def is_melody(self) -> np.ndarray:
        a = np.zeros(self.size, bool)
        a[self.melody_on0:self.chord_on0] = True
        return a

    @cached_property
    def is_onset(self) -> np.ndarray:
        a = np.zeros(self.size, bool)
        a[self.melody_on0:self.melody_hold0] = True
        a[self.chord_on0:self.chord_hold0] = True
        return a

    @cached_property
    def pitch_of(self) -> np.ndarray:
        """int[size]: MIDI pitch of a melody token, -1 otherwise."""
        a = np.full(self.size, -1, np.int64)
        p = np.arange(self.pitch_min, self.pitch_max + 1)
        a[self.melody_on0:self.melody_hold0] = p
        a[self.melody_hold0:self.chord_on0] = p
        return a

    @cached_property
    def chord_of(self) -> np.ndarray:
        """int[size]: chord id of a chord token, -1 otherwise."""
        a = np.full(self.size, -1, np.int64)
        ids = np.arange(self.n_chords)
        a[self.chord_on0:self.chord_hold0] = ids
        a[self.chord_hold0:] = ids
        return a

    def _pc_mask(self, pitch_classes) -> np.ndarray:
        m = np.zeros((self.n_chords, 12), bool)
        for i, c in enumerate(self.chord_names):
            m[i, list(pitch_classes(c))] = True
        return m

    @cached_property
    def chord_pc_mask(self) -> np.ndarray:
        """bool[n_chords, 12]: pitch classes of each chord."""
        return self._pc_mask(chord_pitch_classes)

    @cached_property
    def triad_pc_mask(self) -> np.ndarray:
        """bool[n_chords, 12]: pitch classes of each chord reduced to its triad."""
        return self._pc_mask(triad_pitch_classes)

    def transpose_table(self, semitones: int) -> np.ndarray:
        """int[size]: token -> the same token transposed (melody pitch +k, chord root +k).
        Melody pitches pushed out of range map to PAD (callers keep a margin to avoid it)."""
        t = np.arange(self.size)
        for p in range(self.pitch_min, self.pitch_max + 1):
            q = p + semitones
            ok = self.pitch_min <= q <= self.pitch_max
            t[self.melody_on(p)] = self.melody_on(q) if ok else PAD
            t[self.melody_hold(p)] = self.melody_hold(q) if ok else PAD
        for c in self.chord_names:
            root, quality = split_chord_name(c)
            d = chord_name(root + semitones, quality)
            t[self.chord_on(c)] = self.chord_on(d)
            t[self.chord_hold(c)] = self.chord_hold(d)
        return t

    def describe(self, token: int) -> str:
        return self.token_names[int(token)]


VOCAB = Vocab()


# --- song <-> frames --------------------------------------------------------------------
def melody_frames(song: Song, vocab: Vocab = VOCAB) -> np.ndarray:
    """int64[n_frames] of melody tokens. Raises SkipSong if a pitch is out of range."""
    x = np.full(song.n_frames, SILENCE, np.int64)
    for n in song.melody:
        if not vocab.pitch_min <= n.pitch <= vocab.pitch_max:
            raise SkipSong("pitch_out_of_range", f"MIDI pitch {n.pitch}")
        x[n.start] = vocab.melody_on(n.pitch)
        x[n.start + 1:n.end] = vocab.melody_hold(n.pitch)
    return x


def chord_frames(song: Song, vocab: Vocab = VOCAB) -> np.ndarray:
    """int64[n_frames] of chord tokens."""
    y = np.full(song.n_frames, SILENCE, np.int64)
    for c in song.chords:
        y[c.start] = vocab.chord_on(c.chord)
        y[c.start + 1:c.end] = vocab.chord_hold(c.chord)
    return y


def notes_from_frames(x: np.ndarray, vocab: Vocab = VOCAB) -> list[Note]:
    """Melody frame tokens -> notes. Lenient: a HOLD that does not continue the sounding
    pitch starts a new note; anything that is not a melody token is silence."""
    notes: list[Note] = []
    cur: list | None = None  # [start, pitch]
    for t, tok in enumerate(np.asarray(x).tolist()):
        p = int(vocab.pitch_of[tok])
        onset = vocab.is_onset[tok]
        if cur is not None and (p < 0 or onset or p != cur[1]):
            notes.append(Note(cur[0], t, cur[1]))
            cur = None
        if p >= 0 and cur is None:
            cur = [t, p]
    if cur is not None:
        notes.append(Note(cur[0], len(x), cur[1]))
    return notes


def chords_from_frames(y: np.ndarray, vocab: Vocab = VOCAB) -> list[ChordEvent]:
    """Chord frame tokens -> chord events (lenient like notes_from_frames)."""
    events: list[ChordEvent] = []
    cur: list | None = None  # [start, chord id]
    for t, tok in enumerate(np.asarray(y).tolist()):
        c = int(vocab.chord_of[tok])
        onset = vocab.is_onset[tok]
        if cur is not None and (c < 0 or onset or c != cur[1]):
            events.append(ChordEvent(cur[0], t, vocab.chord_names[cur[1]]))
            cur = None
        if c >= 0 and cur is None:
            cur = [t, c]
    if cur is not None:
        events.append(ChordEvent(cur[0], len(y), vocab.chord_names[cur[1]]))
    return events


# --- frames <-> interleaved streams -------------------------------------------------------
def interleave(melody: np.ndarray, chords: np.ndarray, chord_first: bool = True) -> np.ndarray:
    """[BOS, y0, x0, ..., y_{T-1}, x_{T-1}, EOS] (chord_first) or [BOS, x0, y0, ..., EOS]."""
    T = len(melody)
    out = np.empty(2 * T + 2, np.int64)
    out[0], out[-1] = BOS, EOS
    first, second = (chords, melody) if chord_first else (melody, chords)
    out[1:-1:2] = first
    out[2:-1:2] = second
    return out


def deinterleave(stream: np.ndarray, chord_first: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of interleave -> (melody frames, chord frames). A trailing EOS/PAD run is cut."""
    s = np.asarray(stream)
    if len(s) and s[0] == BOS:
        s = s[1:]
    stop = np.flatnonzero((s == EOS) | (s == PAD))
    if len(stop):
        s = s[:stop[0]]
    s = s[: len(s) // 2 * 2]
    first, second = s[0::2], s[1::2]
    return (second, first) if chord_first else (first, second)


def deinterleave_batch(streams, chord_first: bool = True):
    """Batched deinterleave of [B, 2T + 2] streams (BOS ... EOS, PAD-padded; numpy or torch) ->
    (melody frames, chord frames), each [B, T], EOS turned into PAD so each row is PAD after its
    end. A 1-D stream is treated as a batch of one."""
    s = streams[None] if streams.ndim == 1 else streams
    body = s[:, 1:1 + (s.shape[1] - 1) // 2 * 2]
    body = body.clone() if hasattr(body, "clone") else body.copy()
    body[body == EOS] = PAD
    first, second = body[:, 0::2], body[:, 1::2]
    return (second, first) if chord_first else (first, second)


def frames_from_streams(streams):
    """Chord-first streams [B, 2T + 2] (numpy or torch) -> (melody, chord) frames [B, T], EOS
    turned into PAD: what a training crop becomes for rollouts and the reward models."""
    return deinterleave_batch(streams)


def song_to_tokens(song: Song, chord_first: bool = True, vocab: Vocab = VOCAB) -> np.ndarray:
    return interleave(melody_frames(song, vocab), chord_frames(song, vocab), chord_first)


def tokens_to_song(stream: np.ndarray, chord_first: bool = True, title: str = "decoded",
                   vocab: Vocab = VOCAB) -> Song:
    x, y = deinterleave(stream, chord_first)
    return Song(title=title, source="tokens", melody=notes_from_frames(x, vocab),
                chords=chords_from_frames(y, vocab), n_frames=len(x))
