"""Note-in-chord harmony on hand-computed cases."""
import numpy as np
import pytest
import torch

from minigapt.eval.harmony import harmony_per_beat, note_in_chord_hits, note_in_chord_ratio
from minigapt.music.tokens import BOS, EOS, PAD, SILENCE, VOCAB

ON, HOLD = VOCAB.melody_on, VOCAB.melody_hold
C_ON, C_HOLD = VOCAB.chord_on, VOCAB.chord_hold


def test_hand_computed_sequence():
    # frame:   0 (E in C)  1 (hold E)   2 (F in C)  3 (rest)   4 (G in Am)  5 (A in Am) 6 (PAD)  7 (no chord)
    melody = [ON(64), HOLD(64), ON(65), SILENCE, ON(67), ON(81), PAD, ON(60)]
    chords = [C_ON("C"), C_HOLD("C"), C_HOLD("C"), C_HOLD("C"), C_ON("Am"), C_HOLD("Am"), C_HOLD("Am"), SILENCE]
    hit, valid = note_in_chord_hits(melody, chords)
    assert valid[0].tolist() == [True, True, True, False, True, True, False, False]
    assert hit[0].tolist() == [True, True, False, False, False, True, False, False]
    assert note_in_chord_ratio(melody, chords) == pytest.approx(3 / 5)


def test_pooled_over_sequences_not_averaged():
    melody = np.array([[ON(60), HOLD(60), HOLD(60), HOLD(60)],  # 4 valid frames, all hits
                       [ON(61), PAD, PAD, PAD]])  # 1 valid frame, a miss (C# not in C)
    chords = np.full((2, 4), C_HOLD("C"))
    assert note_in_chord_ratio(melody, chords) == pytest.approx(4 / 5)  # not (1 + 0) / 2
    assert note_in_chord_ratio(torch.as_tensor(melody), torch.as_tensor(chords)) == pytest.approx(0.8)


def test_specials_and_wrong_kinds_are_skipped():
    melody = [BOS, EOS, PAD, SILENCE, C_ON("C"), ON(60)]
    chords = [C_ON("C")] * 5 + [ON(60)]  # a melody token where a chord belongs: not a chord
    assert note_in_chord_hits(melody, chords)[1].sum() == 0
    assert np.isnan(note_in_chord_ratio(melody, chords))
    with pytest.raises(ValueError):
        note_in_chord_ratio([ON(60)], [C_ON("C"), C_ON("C")])


def test_every_chord_quality_contains_its_own_root():
    names = VOCAB.chord_names
    from minigapt.music.chords import split_chord_name
    melody = [ON(60 + split_chord_name(c)[0]) for c in names]
    assert note_in_chord_ratio(melody, [C_ON(c) for c in names]) == 1.0


def test_harmony_per_beat():
    # two sequences, 3 beats of 4 frames (the last beat partly missing)
    m = np.full((2, 10), HOLD(60))
    c = np.full((2, 10), C_HOLD("C"))
    c[0, 4:8] = C_HOLD("C#")  # beat 1 of sequence 0: all misses
    m[1, 4:8] = SILENCE  # beat 1 of sequence 1: nothing valid, left out of the mean
    m[:, 8:] = SILENCE  # beat 2: nothing valid anywhere
    m[1, 0:2] = HOLD(61)  # beat 0 of sequence 1: 2 misses of 4
    per_beat = harmony_per_beat(m, c)
    assert per_beat.shape == (3,)
    assert per_beat[0] == pytest.approx((1.0 + 0.5) / 2)
    assert per_beat[1] == pytest.approx(0.0)
    assert np.isnan(per_beat[2])
