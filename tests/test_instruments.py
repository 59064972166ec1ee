"""The instruments that judge reward hacking, on cases with known answers: the melody's key,
note-in-triad, the key-relative chord Vendi and the reference parts (a held tonic, tonic and
dominant per bar). Hand-made cases first, then the real test melodies, where a diversity score
must rank a held chord far below the data's chords and follow the sampling temperature."""
from __future__ import annotations

import numpy as np
import pytest

from minigapt.eval.chord_vendi import PARTS, chord_vendi, progression_features
from minigapt.eval.harmony import note_in_chord_ratio, note_in_triad_ratio
from minigapt.eval.reference_parts import held_most_frequent, held_tonic, tonic_dominant
from minigapt.music.keys import estimate_key
from minigapt.music.tokens import PAD, VOCAB

ON, HOLD = VOCAB.melody_on, VOCAB.melody_hold
C_ON, C_HOLD = VOCAB.chord_on, VOCAB.chord_hold


def scale_melody(tonic_midi: int, minor: bool = False, bars: int = 4) -> np.ndarray:
    """A scale up and down with the tonic stressed, in quarter notes (4 frames each)."""
    steps = [0, 2, 3, 5, 7, 8, 10, 12] if minor else [0, 2, 4, 5, 7, 9, 11, 12]
    notes = [0, 0] + steps + steps[::-1] + [0, 7, 0, 7, 0, 0]
    out = []
    for k in notes[:bars * 4]:
        out += [ON(tonic_midi + k)] + [HOLD(tonic_midi + k)] * 3
    return np.array(out, np.int64)


def chords_part(names_per_bar: list[str]) -> np.ndarray:
    out = []
    for name in names_per_bar:
        out += [C_ON(name)] + [C_HOLD(name)] * 15
    return np.array(out, np.int64)


def test_the_key_of_a_scale_follows_its_transposition():
    tonic, minor = estimate_key(np.stack([scale_melody(60), scale_melody(67), scale_melody(57, minor=True)]))
    assert tonic.tolist() == [0, 7, 9] and minor.tolist() == [False, False, True]
    assert estimate_key(np.full((1, 16), PAD))[0].tolist() == [0]  # no notes: C, no crash


def test_note_in_triad_gives_no_credit_for_a_seventh():
    x = np.array([[ON(65)] + [HOLD(65)] * 15])  # F over G7: in the chord (its 7th), not in its triad
    y = chords_part(["G7"])[None]
    assert note_in_chord_ratio(x, y) == 1.0 and note_in_triad_ratio(x, y) == 0.0
    y_triad = chords_part(["G"])[None]
    assert note_in_chord_ratio(x, y_triad) == note_in_triad_ratio(x, y_triad) == 0.0


def test_reference_parts_are_what_they_say():
    x = np.stack([scale_melody(60), scale_melody(57, minor=True)])
    held = held_tonic(x)
    assert held[0, 0] == C_ON("C") and (held[0, 1:] == C_HOLD("C")).all()
    assert held[1, 0] == C_ON("Am")
    alt = tonic_dominant(x)
    assert alt[0, 0] == C_ON("C") and alt[0, 16] == C_ON("G") and alt[0, 32] == C_ON("C")
    assert alt[1, 16] == C_ON("E")  # the dominant of A minor is E major
    y = np.stack([chords_part(["F", "F", "C", "F"]), chords_part(["Am", "E", "Am", "Am"])])
    most = held_most_frequent(x, y)
    assert most[0, 0] == C_ON("F") and most[1, 0] == C_ON("Am")
    x_pad = x.copy()
    x_pad[:, 40:] = PAD
    assert (held_tonic(x_pad)[:, 40:] == PAD).all()  # no chord past the melody's end


def test_chord_vendi_counts_progressions_not_keys():
    keys = [60, 62, 64, 65, 67, 69, 59, 61]
    x = np.stack([scale_melody(k) for k in keys])
    assert chord_vendi(x, held_tonic(x)).score == pytest.approx(1.0)  # eight keys, one part: I held
    progressions = [["I", "IV", "V", "I"], ["I", "vi", "ii", "V"], ["I", "V", "vi", "IV"], ["I", "iii", "IV", "V"]]
    degree = {"I": (0, ""), "ii": (2, "m"), "iii": (4, "m"), "IV": (5, ""), "V": (7, ""), "vi": (9, "m")}
    from minigapt.music.chords import chord_name
    y = np.stack([chords_part([chord_name(k + degree[d][0], degree[d][1]) for d in progressions[i % 4]])
                  for i, k in enumerate(keys)])
    four = chord_vendi(x, y).score
    assert 3.0 < four <= 4.0 + 1e-9  # four progressions, each in two keys
    shift = VOCAB.transpose_table(5)
    assert chord_vendi(shift[x], shift[y]).score == pytest.approx(four)


def test_chord_vendi_scores_a_fixed_number_of_parts_with_an_interval():
    rng = np.random.default_rng(0)
    x = np.stack([scale_melody(60)] * 200)
    names = ["C", "F", "G", "Am", "Dm", "Em", "G7", "E"]
    y = np.stack([chords_part(list(rng.choice(names, 4))) for _ in range(200)])
    cv = chord_vendi(x, y, seed=1)
    assert cv.parts == PARTS and cv.available == 200
    assert cv.low <= cv.score <= cv.high and cv.low < cv.high
    assert cv.score <= PARTS
    assert chord_vendi(x[:10], y[:10]).parts == 10  # fewer parts than PARTS: all of them
    f = progression_features(x[:3], np.full((3, 64), PAD))
    assert np.allclose(f @ f.T, 1.0)  # parts with no chord are one kind of part


# --- on the real test melodies (skip without the datasets) ----------------------------------
@pytest.fixture(scope="module")
def real_sets(data_root):
    from minigapt.data.dataset import DataConfig, load_frames
    from minigapt.rl.evaluation import evaluation_set

    frames = load_frames(DataConfig.preset("course"), data_root, progress=False)
    sets = {source: evaluation_set(frames, 102, 128, source=source) for source in ("nottingham", "pop909")}
    if any(len(x) < PARTS for x, _ in sets.values()):
        pytest.skip("too few test melodies for a chord_vendi at PARTS parts")
    return sets


@pytest.mark.parametrize("source", ["nottingham", "pop909"])
def test_a_held_chord_scores_far_below_the_data(real_sets, source):
    x, y = real_sets[source]
    data = chord_vendi(x, y).score
    assert chord_vendi(x, held_tonic(x)).score <= 0.3 * data
    assert chord_vendi(x, held_most_frequent(x, y)).score <= 0.3 * data
    assert chord_vendi(x, tonic_dominant(x)).score <= 0.5 * data


@pytest.mark.parametrize("source", ["nottingham", "pop909"])
def test_transposing_melodies_and_chords_together_changes_nothing(real_sets, source):
    x, y = real_sets[source]
    shift = VOCAB.transpose_table(-3)
    keep = ~((shift[x] == PAD) & (x != PAD)).any(1)  # melodies that stay inside the pitch range
    assert keep.sum() >= PARTS
    a, b = chord_vendi(x[keep], y[keep]).score, chord_vendi(shift[x[keep]], shift[y[keep]]).score
    assert abs(a - b) / a < 0.01


def test_chord_vendi_follows_the_sampling_temperature(real_sets, repo_root, one_torch_thread):
    from minigapt.models.checkpoint import load_model
    from minigapt.rl.evaluation import sample_accompaniments

    shipped = repo_root / "assets" / "checkpoints" / "online-mle.pt"
    if not shipped.is_file():
        pytest.skip("no shipped online MLE policy in this checkout")
    policy = load_model(shipped, kind="online")
    x = real_sets["nottingham"][0]
    scores = [chord_vendi(*sample_accompaniments(policy, x, 1, t, seed=7)).score for t in (0.4, 0.7, 1.0)]
    assert scores[0] < scores[1] < scores[2], scores


def test_drift_is_zero_for_the_data_and_names_collapse_and_busyness():
    from minigapt.eval.drift import describe_drift, drift

    data = {"chord_vendi": 20.0, "chord_changes_per_sequence": 10.0, "harmony": 0.75, "harmony_triad": 0.72,
            "pitch_classes_per_chord": 3.2}
    mle = dict(data, harmony=0.44, harmony_triad=0.42)
    assert drift(data, data) == 0.0
    assert drift(dict(data, chord_vendi=25.0), data) == pytest.approx(np.log(1.25))
    held = dict(mle, chord_vendi=2.0, chord_changes_per_sequence=0.5)
    busy = dict(mle, chord_vendi=22.0, chord_changes_per_sequence=30.0)
    sevenths = dict(mle, chord_vendi=20.0, harmony=0.52, harmony_triad=0.43, pitch_classes_per_chord=3.7)
    assert describe_drift(held, data, mle)["kind"] == "collapse"
    assert describe_drift(busy, data, mle)["kind"] == "busyness"
    assert describe_drift(sevenths, data, mle)["kind"] == "denser chords"
    assert describe_drift(data, data, mle)["kind"] == "none"


def test_busyness_says_how_many_changes_start_inside_held_notes():
    from minigapt.eval.drift import describe_drift

    data = {"chord_vendi": 20.0, "chord_changes_per_sequence": 10.0, "chord_changes_inside_notes": 1.0,
            "harmony": 0.75, "harmony_triad": 0.72, "pitch_classes_per_chord": 3.2}
    mle = dict(data, harmony=0.44, harmony_triad=0.42)
    busy = dict(mle, chord_vendi=22.0, chord_changes_per_sequence=30.0, chord_changes_inside_notes=18.0)
    summary = describe_drift(busy, data, mle)["summary"]
    assert "60% of them inside a held melody note (the data's: 10%)" in summary, summary
    without = {k: v for k, v in busy.items() if k != "chord_changes_inside_notes"}
    assert "inside" not in describe_drift(without, data, mle)["summary"]
