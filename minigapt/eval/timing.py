"""When the chords change, measured against the melody: on a note's onset, or inside a note.

A part that accompanies in time changes chord where the melody strikes a note: in the data few
changes fall inside a held note (docs/experiments.md, section g, measures how few). An online
policy that cannot anticipate can still buy note-in-chord by *reacting*: it hears a new note, and
a frame later switches to a chord that contains it. Each such change lands inside a held note.
This module counts them, so "busyness" can be told apart from keeping up.

    changes_inside_notes(x, y)   # int[B]: chord changes that start inside a held melody note
    hold_over_late_changes(x, y) # the part with those changes taken back

A change is counted as in diversity.chord_changes_per_sequence: a chord event whose name
differs from the previous event's (a re-strike of the same chord is not a change).
"""
from __future__ import annotations

import numpy as np

from ..errors import MinigaptError
from ..music.tokens import VOCAB, Vocab
from ..rewards.penalties import chord_event_starts
from ..rewards.rhythm import HOLD_TABLE
from .diversity import pad_rows


def chord_change_frames(chord_frames, vocab: Vocab = VOCAB) -> np.ndarray:
    """bool[B, T]: a chord change starts at this frame (an event whose chord name differs from
    the previous event's in the same row; the first event of a row is not a change)."""
    y = pad_rows(chord_frames)
    starts = chord_event_starts(y, vocab)
    rows, cols = np.nonzero(starts)  # row-major: events in time order
    ids = vocab.chord_of[y[rows, cols]]
    changed = np.zeros(len(ids), bool)
    changed[1:] = (ids[1:] != ids[:-1]) & (rows[1:] == rows[:-1])
    out = np.zeros(y.shape, bool)
    out[rows[changed], cols[changed]] = True
    return out


def changes_inside_notes(melody_frames, chord_frames, vocab: Vocab = VOCAB) -> np.ndarray:
    """int[B]: chord changes that start on a frame where the melody holds a note it struck on
    an earlier frame (not on the note's onset, not in a rest)."""
    y, held = _with_held_notes(melody_frames, chord_frames, vocab)
    return (chord_change_frames(y, vocab) & held).sum(1)


def _with_held_notes(melody_frames, chord_frames, vocab: Vocab) -> tuple[np.ndarray, np.ndarray]:
    """(chord frames [B, T], bool [B, T]: the melody holds a note struck on an earlier frame)."""
    x, y = pad_rows(melody_frames), pad_rows(chord_frames)
    if x.shape != y.shape:
        raise MinigaptError(f"melody and chords differ in shape: {x.shape} vs {y.shape}")
    return y, vocab.is_melody[x] & ~vocab.is_onset[x]


def hold_over_late_changes(melody_frames, chord_frames, vocab: Vocab = VOCAB) -> np.ndarray:
    """Chord frames with every change that starts inside a held note taken back: the chord that
    was sounding holds on until the next chord event. What is left changes only on onsets and
    in rests, so measuring both parts prices what the late changes bought."""
    y, held = _with_held_notes(melody_frames, chord_frames, vocab)
    y = y.copy()
    # a re-strike that followed a taken-back change becomes a change itself: repeat until none is
    # left (each pass removes events, so this ends)
    while (late := chord_change_frames(y, vocab) & held).any():
        starts = chord_event_starts(y, vocab)
        for b, t in zip(*np.nonzero(late)):  # row-major: earlier changes first, so holds chain
            later = np.flatnonzero(starts[b, t + 1:])
            end = t + 1 + later[0] if len(later) else y.shape[1]
            y[b, t:end] = HOLD_TABLE[y[b, t - 1]]
    return y
