"""Diversity metrics: Vendi on known cases and against the authors' package; chord counts on
hand-made sequences and against a plain per-sequence reference."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from minigapt.errors import MinigaptError
from minigapt.eval.diversity import (chord_changes_per_sequence, chord_histogram_entropy,
                                     distinct_chords_per_sequence, diversity_summary, longest_hold,
                                     pad_rows, vendi_score)
from minigapt.music.tokens import PAD, SILENCE, VOCAB, chords_from_frames

ON, HOLD = VOCAB.chord_on, VOCAB.chord_hold


def chords(*events, n=None):
    out = []
    for name, length in events:
        out += [SILENCE] * length if name is None else [ON(name)] + [HOLD(name)] * (length - 1)
    return np.array(out + [PAD] * ((n or len(out)) - len(out)))


# --- Vendi ---------------------------------------------------------------------------------
def test_vendi_identical_rows_is_one():
    v = np.random.default_rng(0).normal(size=8)
    assert vendi_score(np.tile(v, (10, 1))) == pytest.approx(1.0)
    assert vendi_score(np.tile(v, (10, 1)) * np.arange(1, 11)[:, None]) == pytest.approx(1.0)  # scale-free


@pytest.mark.parametrize("n,d", [(5, 5), (4, 16)])
def test_vendi_orthogonal_rows_is_n(n, d):
    q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(d, d)))
    assert vendi_score(q[:n] * 3.0) == pytest.approx(n)


def test_vendi_two_clusters_is_two():
    e = np.array([[1.0, 0.0]] * 6 + [[0.0, 1.0]] * 6)
    assert vendi_score(e) == pytest.approx(2.0)


def test_vendi_primal_and_dual_paths_agree():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(40, 6))  # n > d: the d x d path
    zn = z / np.linalg.norm(z, axis=1, keepdims=True)
    eig = np.clip(np.linalg.eigvalsh(zn @ zn.T / len(z)), 0, None)
    eig = eig[eig > 1e-15]
    assert vendi_score(z) == pytest.approx(np.exp(-(eig * np.log(eig)).sum()), rel=1e-6)
    assert 1.0 <= vendi_score(z) <= 6.0


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # scipy.sparse.csr inside the package
@pytest.mark.parametrize("n,d", [(30, 8), (8, 30), (50, 50)])
def test_vendi_matches_the_authors_package(n, d):
    vendi = pytest.importorskip("vendi_score.vendi", reason="vendi-score not installed (pip install vendi-score)")
    z = np.random.default_rng(n + d).normal(size=(n, d))
    assert vendi_score(z) == pytest.approx(vendi.score_X(z), rel=1e-6)
    assert vendi_score(z) == pytest.approx(vendi.score_dual(z), rel=1e-6)


def test_vendi_bad_input_is_one_line_error():
    with pytest.raises(MinigaptError):
        vendi_score(np.zeros((0, 3)))
    with pytest.raises(MinigaptError):
        vendi_score(np.zeros((3, 3)))


# --- chord counts --------------------------------------------------------------------------
def test_counts_on_hand_made_sequences():
    y = [chords(("C", 4), (None, 2), ("C", 4), ("G", 6), ("C", 2)),  # C, C again, G, C
         chords(("F", 16)),
         chords((None, 5))]
    assert list(distinct_chords_per_sequence(y)) == [2, 1, 0]
    assert list(chord_changes_per_sequence(y)) == [2, 0, 0]  # C->G, G->C; re-striking C is no change
    assert list(longest_hold(y)) == [6, 16, 0]


def test_longest_hold_counts_restrikes_of_the_same_chord():
    y = chords(("C", 4), ("C", 4), ("C", 4), ("G", 4))
    assert longest_hold(y)[0] == 12
    assert chord_changes_per_sequence(y)[0] == 1


def test_histogram_entropy():
    assert chord_histogram_entropy([chords(("C", 16))]) == 0.0
    assert chord_histogram_entropy([chords(("C", 8), ("G", 8))]) == pytest.approx(np.log(2))
    # by duration vs by event: C held 12 frames once, G struck 4 times for 1 frame each
    y = [chords(("C", 12), *[("G", 1)] * 4)]
    p = np.array([12, 4]) / 16
    assert chord_histogram_entropy(y) == pytest.approx(-(p * np.log(p)).sum())
    p = np.array([1, 4]) / 5
    assert chord_histogram_entropy(y, onsets_only=True) == pytest.approx(-(p * np.log(p)).sum())
    assert chord_histogram_entropy([chords((None, 4))]) == 0.0


def test_variable_length_lists_and_arrays_agree():
    rows = [chords(("C", 4), ("G", 8)), chords(("Am", 20))]
    arr = pad_rows(rows)
    assert arr.shape == (2, 20) and arr[0, 12:].tolist() == [PAD] * 8
    assert list(distinct_chords_per_sequence(rows)) == list(distinct_chords_per_sequence(arr))
    assert pad_rows(rows[0]).shape == (1, 12)
    s = diversity_summary(rows, embeddings=np.eye(2))
    assert s["vendi"] == pytest.approx(2.0) and s["distinct_chords_per_sequence"] == 1.5


row_tokens = st.sampled_from([SILENCE, PAD, ON("C"), HOLD("C"), ON("G"), HOLD("G"), ON("Dm7"),
                              HOLD("Dm7"), VOCAB.melody_on(60)])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(row_tokens, min_size=24, max_size=24), min_size=1, max_size=6))
def test_vectorised_counts_match_a_plain_reference(rows):
    y = np.array(rows)
    for b, row in enumerate(y):
        ids = [int(VOCAB.chord_of[t]) for t in row]
        assert distinct_chords_per_sequence(y)[b] == len({i for i in ids if i >= 0})
        events = [e.chord for e in chords_from_frames(row)]  # the project's lenient decoder
        assert chord_changes_per_sequence(y)[b] == sum(a != b_ for a, b_ in zip(events, events[1:]))
        best = run = 0
        for t, i in enumerate(ids):
            run = run + 1 if i >= 0 and t > 0 and ids[t - 1] == i else (1 if i >= 0 else 0)
            best = max(best, run)
        assert longest_hold(y)[b] == best
