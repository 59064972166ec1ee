import pytest

from minigapt.errors import UnknownChord
from minigapt.music.chords import (QUALITIES, all_chord_names, chord_pitch_classes, parse_chord_symbol,
                                   quality_from_intervals, split_chord_name, transpose_chord_name)


@pytest.mark.parametrize("symbol,name", [
    ("Am", "Am"), ("D7", "D7"), ("C/e", "C"), ("Cd", "Cdim"), ("Ca", "Caug"), ("G", "G"),
    ("Bbmaj7", "Bbmaj7"), ("F#m7b5", "F#m7b5"), ("Dm/f", "Dm"), ("E7/g#", "E7"), ("Db", "C#"),
    ("C9", "C7"), ("Cadd9", "C"), ("A-7", "Am7"), ("Gsus", "Gsus4"), ("Ebdim7", "Ebdim7"),
])
def test_parse_chord_symbol(symbol, name):
    assert parse_chord_symbol(symbol) == name


@pytest.mark.parametrize("symbol", ["", "H7", "C?x", "e", "Cfoo", "N.C."])
def test_unknown_chord_symbols_raise_counted_skip(symbol):
    with pytest.raises(UnknownChord) as e:
        parse_chord_symbol(symbol)
    assert e.value.reason == "unknown_chord_symbol"


def test_pitch_classes_and_transposition():
    assert chord_pitch_classes("Am") == {9, 0, 4}
    assert chord_pitch_classes("G7") == {7, 11, 2, 5}
    assert transpose_chord_name("Bb", 2) == "C"
    assert transpose_chord_name("C#m7", -2) == "Bm7"
    for name in all_chord_names():
        assert transpose_chord_name(transpose_chord_name(name, 5), -5) == name
        root, q = split_chord_name(name)
        assert len(chord_pitch_classes(name)) == len(QUALITIES[q])


@pytest.mark.parametrize("intervals,quality", [
    ((0, 4, 7), ""), ((0, 3, 7), "m"), ((0, 4, 7, 10), "7"), ((0, 4, 7, 10, 14), "7"),
    ((0, 3, 7, 10, 14), "m7"), ((0, 4, 7, 14), ""), ((0, 3, 6), "dim"), ((0, 3, 6, 10), "m7b5"),
    ((0, 3, 6, 9), "dim7"), ((0, 4, 8), "aug"), ((0, 5, 7), "sus4"), ((0, 7), "5"),
    ((0, 4, 10), "7"), ((0, 3, 4, 7, 10), "7"),
])
def test_quality_from_intervals(intervals, quality):
    assert quality_from_intervals(intervals) == quality


def test_quality_from_intervals_rejects_non_chords():
    with pytest.raises(UnknownChord):
        quality_from_intervals((0,))
    with pytest.raises(UnknownChord):
        quality_from_intervals((0, 1))
