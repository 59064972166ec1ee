import numpy as np
from hypothesis import given, settings, strategies as st

from minigapt.music.chords import all_chord_names
from minigapt.music.song import ChordEvent, Note, Song, crop_song, normalize_song, transpose_song
from minigapt.music.tokens import (BOS, EOS, PAD, SILENCE, VOCAB, chord_frames, deinterleave, interleave,
                                   melody_frames, song_to_tokens, tokens_to_song)

CHORDS = all_chord_names()


@st.composite
def songs(draw, max_frames=96):
    n = draw(st.integers(1, max_frames))
    notes = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, 12), st.integers(30, 100)),
                          max_size=30))
    chords = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, 16), st.sampled_from(CHORDS)),
                           max_size=12))
    song = Song("random", "hypothesis", [Note(s, s + d, p) for s, d, p in notes],
                [ChordEvent(s, s + d, c) for s, d, c in chords], n)
    return normalize_song(song, n_frames=n)


@settings(max_examples=200, deadline=None)
@given(songs())
def test_song_tokens_song_round_trip(song):
    for chord_first in (True, False):
        tokens = song_to_tokens(song, chord_first=chord_first)
        assert tokens[0] == BOS and tokens[-1] == EOS and len(tokens) == 2 * song.n_frames + 2
        back = tokens_to_song(tokens, chord_first=chord_first)
        assert back.melody == song.melody
        assert back.chords == song.chords
        assert back.n_frames == song.n_frames


@settings(max_examples=100, deadline=None)
@given(songs())
def test_normalised_songs_are_monophonic_and_inside(song):
    for part in (song.melody, song.chords):
        for a, b in zip(part, part[1:]):
            assert a.end <= b.start
        for e in part:
            assert 0 <= e.start < e.end <= song.n_frames


@settings(max_examples=100, deadline=None)
@given(songs(), st.integers(-6, 6))
def test_transpose_table_matches_song_transposition(song, k):
    song = normalize_song(Song(song.title, song.source, [n for n in song.melody if 40 <= n.pitch <= 90],
                               song.chords, song.n_frames), n_frames=song.n_frames)
    table = VOCAB.transpose_table(k)
    assert np.array_equal(table[song_to_tokens(song)], song_to_tokens(transpose_song(song, k)))


def test_chord_first_stream_layout():
    song = Song("t", "x", [Note(0, 2, 60)], [ChordEvent(0, 2, "C")], 2)
    s = song_to_tokens(song)
    names = [VOCAB.describe(t) for t in s]
    assert names == ["BOS", "ON_C", "ON_60", "HOLD_C", "HOLD_60", "EOS"]
    m = song_to_tokens(song, chord_first=False)
    assert [VOCAB.describe(t) for t in m] == ["BOS", "ON_60", "ON_C", "HOLD_60", "HOLD_C", "EOS"]


def test_repeated_chord_onsets_and_repeated_notes_survive():
    song = normalize_song(Song("t", "x", [Note(0, 4, 62), Note(4, 8, 62)],
                               [ChordEvent(0, 4, "G7"), ChordEvent(4, 8, "G7")], 8))
    back = tokens_to_song(song_to_tokens(song))
    assert len(back.melody) == 2 and len(back.chords) == 2


def test_deinterleave_stops_at_eos_and_pad():
    x = np.array([VOCAB.melody_on(60), SILENCE]); y = np.array([VOCAB.chord_on("C"), VOCAB.chord_hold("C")])
    s = np.concatenate([interleave(x, y), [PAD, PAD]])
    mx, my = deinterleave(s)
    assert np.array_equal(mx, x) and np.array_equal(my, y)


def test_lookup_tables_are_consistent():
    assert VOCAB.size == 4 + 2 * VOCAB.n_pitches + 2 * VOCAB.n_chords
    assert VOCAB.pitch_of[VOCAB.melody_hold(67)] == 67
    assert VOCAB.chord_of[VOCAB.chord_hold("Am")] == VOCAB.chord_index["Am"]
    assert VOCAB.is_chord.sum() == 2 * VOCAB.n_chords and VOCAB.is_melody.sum() == 2 * VOCAB.n_pitches
    assert set(np.flatnonzero(VOCAB.chord_pc_mask[VOCAB.chord_index["G7"]])) == {7, 11, 2, 5}
    assert len(set(VOCAB.token_names)) == VOCAB.size


def test_crop_song_keeps_the_window():
    song = Song("t", "x", [Note(0, 8, 60), Note(8, 16, 62)], [ChordEvent(0, 16, "C")], 16)
    c = crop_song(song, 4, 8)
    assert c.n_frames == 8 and c.melody == [Note(0, 4, 60), Note(4, 8, 62)] and c.chords == [ChordEvent(0, 8, "C")]
    # frames inside the window are the same tokens, except a note cut by the crop restarts
    assert np.array_equal(melody_frames(c)[1:], melody_frames(song)[5:12])
    assert VOCAB.describe(melody_frames(c)[0]) == "ON_60"
    assert np.array_equal(chord_frames(c)[1:], chord_frames(song)[5:12])
