"""Rule penalties on hand-made sequences: each term, its boundaries, and the batched total."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from minigapt.music.tokens import BOS, EOS, PAD, SILENCE, VOCAB
from minigapt.rewards.penalties import (PenaltyWeights, TERMS, chord_part_ends, early_stop_penalty,
                                        invalid_penalty, melody_lengths, repetition_penalty, rule_penalty,
                                        silence_frames, silence_penalty)

ON, HOLD = VOCAB.chord_on, VOCAB.chord_hold


def melody(n: int, pitch: int = 60) -> np.ndarray:
    """n frames of sounding melody: a note every 4 frames."""
    x = np.array([VOCAB.melody_hold(pitch)] * n)
    x[::4] = VOCAB.melody_on(pitch)
    return x


def chords(*events, n: int | None = None) -> np.ndarray:
    """chords(("C", 4), (None, 2), ("G", 8)) -> ON/HOLD frames; None = SILENCE; PAD up to n."""
    out = []
    for name, length in events:
        out += [SILENCE] * length if name is None else [ON(name)] + [HOLD(name)] * (length - 1)
    out += [PAD] * ((n or len(out)) - len(out))
    return np.array(out)


def test_clean_sequence_has_no_penalty():
    x, y = melody(32), chords(("C", 16), ("G", 16))
    total, terms = rule_penalty(x, y)
    assert total.shape == (1,) and total[0] == 0
    assert set(terms) == set(TERMS) and all(v[0] == 0 for v in terms.values())


@pytest.mark.parametrize("bad", [BOS, VOCAB.melody_on(64), VOCAB.melody_hold(60)])
def test_invalid_token_in_chord_part(bad):
    y = chords(("C", 32))
    y[10] = bad
    assert invalid_penalty(melody(32), y)[0] == -10
    assert rule_penalty(melody(32), y)[1]["invalid"][0] == -10  # once per sequence, not per token
    y[11] = bad
    assert invalid_penalty(melody(32), y)[0] == -10


def test_invalid_is_only_checked_before_the_chord_part_ends():
    y = chords(("C", 20))
    y = np.concatenate([y, [EOS, VOCAB.melody_on(60)] + [PAD] * 10])
    x = melody(32)
    assert invalid_penalty(x, y)[0] == 0  # after EOS: missing (early stop), not invalid
    assert early_stop_penalty(x, y)[0] == pytest.approx(-0.1 * 12)
    assert chord_part_ends(x, y)[0] == 20


def test_silence_exactly_4_percent_is_free_one_more_frame_is_not():
    x = melody(100)
    y = chords(("C", 100))
    y[20:24] = SILENCE  # 4 frames of 100 = 4%: not more than 4%
    assert silence_penalty(x, y)[0] == 0
    y[24] = SILENCE  # 5%
    assert silence_penalty(x, y)[0] == pytest.approx(-0.5)
    assert silence_frames(x, y)[0].sum() == 5


def test_silence_first_8_frames_are_exempt():
    x = melody(100)
    y = chords((None, 8), ("C", 92))  # 8 silent frames, all exempt
    assert silence_penalty(x, y)[0] == 0
    y[8:13] = SILENCE  # frame 8 is the first that counts: 5 frames > 4%
    assert silence_penalty(x, y)[0] == pytest.approx(-0.5)
    assert not silence_frames(x, y)[0, :8].any()


def test_silence_only_counts_while_the_melody_sounds():
    x = melody(100)
    x[40:60] = SILENCE
    y = chords(("C", 100))
    y[40:60] = SILENCE  # both silent: a rest, fine
    assert silence_penalty(x, y)[0] == 0


def test_early_stop_per_missing_frame():
    x = melody(50)
    assert early_stop_penalty(x, chords(("C", 40), n=50))[0] == pytest.approx(-1.0)
    y = np.concatenate([chords(("C", 45)), [EOS] + [PAD] * 4])
    assert early_stop_penalty(x, y)[0] == pytest.approx(-0.5)
    assert early_stop_penalty(x, chords(("C", 50)))[0] == 0
    # chords past the melody's end are not a problem, and not counted
    x_short = np.concatenate([melody(30), [PAD] * 20])
    assert melody_lengths(x_short)[0] == 30
    assert rule_penalty(x_short, chords(("C", 50)))[0][0] == 0


def test_repetition_run_of_4_is_free_run_of_5_is_not():
    x = melody(40)
    assert repetition_penalty(x, chords(*[("C", 8)] * 4, ("G", 8)))[0] == 0
    assert repetition_penalty(x, chords(*[("C", 8)] * 5))[0] == pytest.approx(-0.5)
    assert repetition_penalty(melody(48), chords(*[("C", 8)] * 6))[0] == pytest.approx(-0.6)


def test_repetition_counts_events_not_frames_and_runs_separately():
    x = melody(200)
    assert repetition_penalty(x, chords(("C", 200)))[0] == 0  # one long held chord: one event
    y = chords(*[("C", 2)] * 5, (None, 4), *[("C", 2)] * 2, ("G", 2), *[("C", 2)] * 5, n=200)
    # silence does not break a run: C x7, then G, then C x5 -> -(7 + 5) / 10
    assert repetition_penalty(x, y)[0] == pytest.approx(-1.2)


def test_repetition_ignores_chords_after_the_chord_part_ends():
    x = melody(40)
    y = chords(*[("C", 4)] * 4, n=40)  # 4 events, then PAD
    y[20:] = ON("C")  # would make a run of 24, but they lie after the end
    assert repetition_penalty(x, y)[0] == 0


def test_weights_are_configurable():
    w = PenaltyWeights(invalid=-1, repetition=-1.0, repetition_max_run=2, silence_threshold=0.0,
                       silence_grace_frames=0, early_stop=-2.0)
    x = melody(20)
    y = chords((None, 1), *[("C", 3)] * 3, n=20)
    y[5] = BOS
    total, terms = rule_penalty(x, y, w)
    assert terms["invalid"][0] == -1
    assert terms["silence"][0] == pytest.approx(-0.1)
    assert terms["early_stop"][0] == pytest.approx(-2.0 * 10)
    assert total[0] == pytest.approx(sum(terms[t][0] for t in TERMS))


chord_tokens = st.sampled_from([SILENCE, PAD, EOS, BOS, VOCAB.melody_on(60), ON("C"), HOLD("C"),
                                ON("G"), HOLD("G"), ON("Am")])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 48), st.lists(chord_tokens, min_size=48, max_size=48)),
                min_size=1, max_size=5))
def test_batch_equals_rows_and_penalties_are_never_positive(rows):
    x = np.stack([np.concatenate([melody(n), [PAD] * (48 - n)]) for n, _ in rows])
    y = np.array([r for _, r in rows])
    total, terms = rule_penalty(x, y)
    assert total.shape == (len(rows),) and np.all(total <= 0)
    for b in range(len(rows)):
        one_total, one_terms = rule_penalty(x[b], y[b])
        assert one_total[0] == pytest.approx(total[b])
        for t in TERMS:
            assert one_terms[t][0] == pytest.approx(terms[t][b])
