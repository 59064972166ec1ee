"""Rule penalties added to the RL reward (paper 3.4 / C.3; sizes from the authors' code).

Each penalty is a small pure numpy function of melody frames x and chord frames y, both int64
[B, T] (or [T] for one sequence), PAD after the end. A sequence's length is the melody's: the
frames before the melody's first PAD/EOS. The chord part *ends* at its own first PAD/EOS (capped
at that length); what lies after is "missing" (early stop) and is not looked at otherwise.

| term        | when                                                              | size              |
| ----------- | ----------------------------------------------------------------- | ----------------- |
| invalid     | a special (BOS) or melody token where a chord token belongs        | -10 per sequence  |
| silence     | chord SILENCE while the melody sounds, frames >= 8, only if such    | -0.1 per frame    |
|             | frames are more than 4% of the sequence's frames                   |                   |
| early_stop  | the chord part ends before the melody                              | -0.1 per frame    |
| repetition  | the same chord name more than 4 chord events in a row              | -(run length)/10  |

Decisions the table leaves open: SILENCE between two events does not break a repetition run
(the rule counts chord *events* in a row); a HOLD that does not continue the sounding chord is
read as a new event, like the lenient decoder in music/tokens.py, not as invalid output.

The melody agent (minigapt.agents) is judged by the same rules mirrored, `part="melody"`: x is
then the chord part it was given, y its melody; an event is a note and its name the pitch;
invalid = a chord or special token in the melody, silence = rests while a chord sounds,
repetition = the same pitch struck again and again. `MELODY_WEIGHTS` moves two thresholds to
where the data's melodies sit (measured on 128-frame crops of the train splits): POP909
melodies rest for a median 38% of the frames under a chord, so silence is charged only above
50% (23% of POP909 crops are charged, no Nottingham or OpenEWLD crop), and a pitch struck 5-6
times in a row is common (the 95th percentile of the longest run), so only runs above 8 are
charged (under 1% of the crops of each source).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import MinigaptError
from ..music.tokens import EOS, PAD, SILENCE, VOCAB, Vocab


@dataclass
class PenaltyWeights:
    """Sizes and thresholds of the rule penalties (defaults: the authors' code)."""

    invalid: float = -10.0
    """Added once to a sequence holding any special or melody token in its chord part."""
    silence: float = -0.1
    """Per chord-SILENCE frame while the melody sounds (once the threshold is passed)."""
    silence_threshold: float = 0.04
    """Silence is only penalised when offending frames are more than this fraction of frames."""
    silence_grace_frames: int = 8
    """The first frames are exempt: an online model may wait before its first chord."""
    early_stop: float = -0.1
    """Per frame between the chord part's end (PAD/EOS) and the melody's end."""
    repetition: float = -0.1
    """Times the run length, for each run of the same chord longer than `repetition_max_run`."""
    repetition_max_run: int = 4
    """Longest run of identical chord events that is still free."""


TERMS = ("invalid", "silence", "early_stop", "repetition")
MELODY_WEIGHTS = PenaltyWeights(silence_threshold=0.5, repetition_max_run=8)
"""The melody agent's thresholds (see the module docstring)."""


def part_tables(part: str, vocab: Vocab = VOCAB) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The judged part's lookups: (bool[size] its tokens, int[size] the event name of a token
    (chord id or MIDI pitch, -1 otherwise), bool[size] the other part's tokens)."""
    if part == "chord":
        return vocab.is_chord, vocab.chord_of, vocab.is_melody
    if part == "melody":
        return vocab.is_melody, vocab.pitch_of, vocab.is_chord
    raise MinigaptError(f"part must be 'chord' or 'melody', not {part!r}")


def _as_2d(a) -> np.ndarray:
    a = np.asarray(a, dtype=np.int64)
    return a[None] if a.ndim == 1 else a


def _first_stop(a: np.ndarray) -> np.ndarray:
    """int[B]: index of the first PAD/EOS in each row (the row length if none)."""
    stop = (a == PAD) | (a == EOS)
    return np.where(stop.any(1), stop.argmax(1), a.shape[1])


def melody_lengths(x) -> np.ndarray:
    """int[B]: frames before the melody's first PAD/EOS: the sequence length."""
    return _first_stop(_as_2d(x))


def chord_part_ends(x, y) -> np.ndarray:
    """int[B]: where the chord part ends: its first PAD/EOS, at most the melody length."""
    x, y = _as_2d(x), _as_2d(y)
    return np.minimum(_first_stop(y), melody_lengths(x))


def _before(ends: np.ndarray, T: int) -> np.ndarray:
    """bool[B, T]: frame t < ends[b]."""
    return np.arange(T)[None, :] < ends[:, None]


def chord_event_starts(y, vocab: Vocab = VOCAB, part: str = "chord") -> np.ndarray:
    """bool[B, T]: a chord event starts at this frame (an ON token, or a chord token that does
    not continue the chord sounding just before: a lenient reading of a stray HOLD)."""
    y = _as_2d(y)
    c = part_tables(part, vocab)[1][y]
    prev = np.concatenate([np.full((len(y), 1), -1), c[:, :-1]], axis=1)
    return (c >= 0) & (vocab.is_onset[y] | (c != prev))


def invalid_penalty(x, y, w: PenaltyWeights = PenaltyWeights(), vocab: Vocab = VOCAB,
                    part: str = "chord") -> np.ndarray:
    x, y = _as_2d(x), _as_2d(y)
    allowed = part_tables(part, vocab)[0][y] | (y == SILENCE)
    bad = ~allowed & _before(chord_part_ends(x, y), y.shape[1])
    return np.where(bad.any(1), w.invalid, 0.0)


def silence_frames(x, y, w: PenaltyWeights = PenaltyWeights(), vocab: Vocab = VOCAB,
                   part: str = "chord") -> np.ndarray:
    """bool[B, T]: the frames the silence penalty charges (all False for a sequence under the
    threshold). RL code may place the penalty on these frames' chord tokens."""
    x, y = _as_2d(x), _as_2d(y)
    T = y.shape[1]
    offending = ((y == SILENCE) & part_tables(part, vocab)[2][x] & _before(chord_part_ends(x, y), T)
                 & (np.arange(T)[None, :] >= w.silence_grace_frames))
    n = offending.sum(1)
    # n / L is correctly rounded, so "exactly 4%" compares equal to 0.04 and is not charged
    over = n / np.maximum(melody_lengths(x), 1) > w.silence_threshold
    return offending & over[:, None]


def silence_penalty(x, y, w: PenaltyWeights = PenaltyWeights(), vocab: Vocab = VOCAB,
                    part: str = "chord") -> np.ndarray:
    return w.silence * silence_frames(x, y, w, vocab, part).sum(1)


def early_stop_penalty(x, y, w: PenaltyWeights = PenaltyWeights()) -> np.ndarray:
    x, y = _as_2d(x), _as_2d(y)
    return w.early_stop * (melody_lengths(x) - chord_part_ends(x, y))


def chord_event_runs(y, vocab: Vocab = VOCAB, part: str = "chord") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of identical chord events, row by row (silence between events does not break a
    run) -> (row, chord id, run length), one entry per run, rows in order."""
    y = _as_2d(y)
    rows, cols = np.nonzero(chord_event_starts(y, vocab, part))  # row-major: events in time order
    ids = part_tables(part, vocab)[1][y[rows, cols]]
    if len(ids) == 0:
        return rows, ids, np.zeros(0, np.int64)
    new_run = np.ones(len(ids), bool)
    new_run[1:] = (ids[1:] != ids[:-1]) | (rows[1:] != rows[:-1])
    starts = np.flatnonzero(new_run)
    lengths = np.diff(np.append(starts, len(ids)))
    return rows[starts], ids[starts], lengths


def repetition_penalty(x, y, w: PenaltyWeights = PenaltyWeights(), vocab: Vocab = VOCAB,
                       part: str = "chord") -> np.ndarray:
    x, y = _as_2d(x), _as_2d(y)
    played = np.where(_before(chord_part_ends(x, y), y.shape[1]), y, PAD)
    rows, _, lengths = chord_event_runs(played, vocab, part)
    long = lengths > w.repetition_max_run
    charged = np.bincount(rows[long], weights=lengths[long], minlength=len(y))
    return w.repetition * charged


def rule_penalty(x, y, weights: PenaltyWeights | None = None, vocab: Vocab = VOCAB,
                 part: str = "chord") -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """All rule penalties -> (float[B] per-sequence total, {term: float[B]} breakdown).
    Every value is <= 0. part="melody": y is a melody over the chords x, and the weights
    default to MELODY_WEIGHTS."""
    w = weights or (MELODY_WEIGHTS if part == "melody" else PenaltyWeights())
    terms = {
        "invalid": invalid_penalty(x, y, w, vocab, part),
        "silence": silence_penalty(x, y, w, vocab, part),
        "early_stop": early_stop_penalty(x, y, w),
        "repetition": repetition_penalty(x, y, w, vocab, part),
    }
    total = np.sum([terms[t] for t in TERMS], axis=0)
    return total, terms
