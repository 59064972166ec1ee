"""Chord changes inside held melody notes, on parts whose answer is known by construction."""
import numpy as np
import pytest

from minigapt.errors import MinigaptError
from minigapt.eval.diversity import chord_changes_per_sequence
from minigapt.eval.timing import chord_change_frames, changes_inside_notes, hold_over_late_changes
from minigapt.music.tokens import PAD, SILENCE, VOCAB

ON, HOLD = VOCAB.chord_on, VOCAB.chord_hold
NAMES = ["C", "F", "G", "Am"]


def melody(pitches, length=4):
    """Notes of `length` frames each."""
    return np.array([VOCAB.melody_on(p) if k == 0 else VOCAB.melody_hold(p) for p in pitches for k in range(length)])


def part(starts, names, n):
    """A chord part: chord names[i] from frame starts[i] on."""
    y = np.full(n, PAD)
    for i, (s, name) in enumerate(zip(starts, names)):
        end = starts[i + 1] if i + 1 < len(starts) else n
        y[s:end] = [ON(name)] + [HOLD(name)] * (end - s - 1)
    return y


def test_changes_on_onsets_are_not_inside_notes():
    x = melody([60, 62, 64, 65, 67, 69])
    y = part([0, 4, 8, 12, 16, 20], NAMES + NAMES[:2], len(x))
    assert chord_changes_per_sequence(y)[0] == 5
    assert changes_inside_notes(x, y)[0] == 0


@pytest.mark.parametrize("lag", [1, 2, 3])
def test_a_part_that_reacts_late_changes_inside_every_note(lag):
    x = melody([60, 62, 64, 65, 67, 69])
    y = part([0] + [4 * k + lag for k in range(1, 6)], NAMES + NAMES[:2], len(x))
    assert changes_inside_notes(x, y)[0] == 5 == chord_changes_per_sequence(y)[0]


def test_held_chord_and_restrikes_have_no_changes():
    x = melody([60, 62, 64, 65])
    held = part([0], ["C"], len(x))
    restruck = part([0, 5, 9, 13], ["C"] * 4, len(x))  # re-strikes inside notes: not changes
    assert changes_inside_notes(np.stack([x, x]), np.stack([held, restruck])).tolist() == [0, 0]
    assert not chord_change_frames(restruck).any()


def test_changes_in_rests_are_not_inside_notes():
    x = np.concatenate([melody([60]), [SILENCE] * 4, melody([64])])
    y = part([0, 6, 8], ["C", "F", "G"], len(x))  # frame 6 is a rest, frame 8 an onset
    assert changes_inside_notes(x, y)[0] == 0
    y2 = part([0, 2, 8], ["C", "F", "G"], len(x))  # frame 2 holds the first note
    assert changes_inside_notes(x, y2)[0] == 1


def test_rows_are_counted_apart_and_shapes_must_match():
    x = melody([60, 62])
    a, b = part([0, 4], ["C", "G"], 8), part([0, 5], ["G", "C"], 8)
    # b's first chord must not be read as a change from a's last one
    assert changes_inside_notes(np.stack([x, x]), np.stack([a, b])).tolist() == [0, 1]
    with pytest.raises(MinigaptError, match="differ in shape"):
        changes_inside_notes(x[None], np.stack([a, b]))


def test_taking_back_late_changes_holds_the_chord_before():
    x = melody([60, 62, 64])
    late = part([0, 5, 8], ["C", "F", "G"], len(x))  # F comes a frame late, G on its onset
    chained = part([0, 5, 6, 8], ["C", "F", "Am", "G"], len(x))  # two late ones in a row
    restruck = part([0, 5, 6, 8], ["C", "F", "F", "G"], len(x))  # F re-struck: a change once the first F is gone
    on_time = part([0, 4, 8], ["C", "F", "G"], len(x))
    kept = hold_over_late_changes(np.stack([x] * 4), np.stack([late, chained, restruck, on_time]))
    assert kept[0].tolist() == kept[1].tolist() == kept[2].tolist() == part([0, 8], ["C", "G"], len(x)).tolist()
    assert kept[3].tolist() == on_time.tolist()
    assert changes_inside_notes(np.stack([x] * 4), kept).tolist() == [0, 0, 0, 0]
    with pytest.raises(MinigaptError):
        hold_over_late_changes(x[:4], late)
