"""POP909, Hooktheory and the embedded default (Bach chorales) sources."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from minigapt.data import default, hooktheory, pop909
from minigapt.errors import MinigaptError, SkipSong
from minigapt.music.song import ChordEvent, Note, Song
from minigapt.music.tokens import PITCH_MAX, PITCH_MIN, TRANSPOSE_MAX, VOCAB, song_to_tokens, tokens_to_song

FIXTURES = Path(__file__).parent / "fixtures"
HOOKTHEORY_FIXTURE = FIXTURES / "hooktheory_small.json.gz"


def check_song(song: Song) -> None:
    """What the source contract promises of every Song."""
    assert isinstance(song, Song) and song.melody and song.chords
    lo, hi = PITCH_MIN + TRANSPOSE_MAX, PITCH_MAX - TRANSPOSE_MAX
    assert all(lo <= n.pitch <= hi for n in song.melody)
    assert all(c.chord in VOCAB.chord_index for c in song.chords)
    for part in (song.melody, song.chords):
        assert all(0 <= x.start < x.end <= song.n_frames for x in part)
        assert all(a.end <= b.start for a, b in zip(part, part[1:]))  # monophonic, no overlaps
    back = tokens_to_song(song_to_tokens(song))
    assert back.melody == song.melody and back.chords == song.chords and back.n_frames == song.n_frames


def only(results: list) -> Song | SkipSong:
    assert len(results) == 1
    return results[0]


# --- POP909 ---------------------------------------------------------------------------------
@pytest.mark.parametrize("label,name", [
    ("B:maj", "B"), ("C:min7", "Cm7"), ("A:7", "A7"), ("F:maj/3", "F"), ("G:sus4(b7)", "G7sus4"),
    ("Bb:min/b3", "Bbm"), ("C#:hdim7", "C#m7b5"), ("Eb:maj6", "Eb6"), ("E:minmaj7", "Emmaj7"),
    ("D:sus2", "Dsus2"), ("Ab:dim7", "Abdim7"), ("C", "C"), ("C:(1,b3,5)", "Cm"), ("G:9", "G7"),
    ("Gb:maj7/7", "F#maj7"), ("N", None), ("X", None),
])
def test_harte_labels(label, name):
    assert pop909.harte_to_chord_name(label) == name


@pytest.mark.parametrize("label", ["C:wobble", "H:maj", "C:maj(x9)", "maj", "C:(b2,2)"])
def test_bad_harte_label_is_a_counted_skip(label):
    with pytest.raises(SkipSong) as e:
        pop909.harte_to_chord_name(label)
    assert e.value.reason == "unknown_chord_symbol"


def test_seconds_to_beats_interpolates_and_extrapolates():
    beats = np.array([1.0, 2.0, 2.5, 3.5])
    got = pop909.seconds_to_beats([0.5, 1.0, 1.5, 2.25, 3.5, 4.5], beats)
    # before the first beat: first beat's length (1 s); after the last: last beat's (1 s)
    assert np.allclose(got, [-0.5, 0.0, 0.5, 1.5, 3.0, 4.0])


def test_pop909_song_001_by_hand(dataset_dir):
    folder = dataset_dir("pop909") / "POP909" / "001"
    song = only(pop909.parse_unit(str(folder)))
    check_song(song)
    # beat_midi.txt: beat i at 0.055333 + 0.666665 i s, a bar starts every 4th beat (third
    # column). The MELODY track's first note (C#4) is at tick 9160 = 12.722 s = beat 19, more
    # than 4 beats of silence, so the start is trimmed back to the bar start at beat 16
    # (10.722 s): the note lands on frame (19 - 16) * 4 = 12.
    assert song.meta["start_beat"] == 16 and song.bar_frames == 16
    assert song.melody[0].start == 12 and song.melody[0].pitch == 61
    # chord_midi.txt: '10.721973 13.388633 F#:maj' = beats 16-20, then '13.388633 14.055298
    # B:maj' = beats 20-21, then '14.055298 14.721963 F#:maj7/5' (inversion dropped)
    assert song.chords[:3] == [ChordEvent(0, 16, "F#"), ChordEvent(16, 20, "B"), ChordEvent(20, 24, "F#maj7")]
    assert song.split is None and song.source == "pop909"


def test_pop909_a_few_real_songs(dataset_dir):
    units = pop909.find_units(dataset_dir("pop909"))
    assert len(units) == 909 and Path(units[0]).name == "001"
    for unit in units[1:909:150]:
        song = only(pop909.parse_unit(unit))
        check_song(song)
        assert song.bar_frames in (16, 24)
        # onsets land on the grid the beats define: most on an 8th-note position
        assert np.mean([n.start % 2 == 0 for n in song.melody]) > 0.5


def test_pop909_bad_inputs_are_counted_skips():
    units = pop909.find_units(FIXTURES / "pop909_bad")
    reasons = {Path(u).name: getattr(only(pop909.parse_unit(u)), "reason", "kept") for u in units}
    assert reasons == {"001": "no_melody_track", "002": "unknown_chord_symbol", "003": "unreadable_midi",
                       "004": "missing_file", "005": "kept"}
    assert only(pop909.parse_unit(str(FIXTURES / "pop909_bad" / "POP909" / "999"))).reason == "missing_file"


def test_pop909_leading_silence_trimmed_to_a_bar_start():
    # fixture 005: 120 BPM, bars of 4 beats from beat 0; melody from beat 6 (> 4 beats of
    # silence) -> starts at the bar at beat 4; chords C 0-3 s (beats 0-6), G:sus4(b7) 3-5 s, N
    song = only(pop909.parse_unit(str(FIXTURES / "pop909_bad" / "POP909" / "005")))
    check_song(song)
    assert song.meta["start_beat"] == 4
    assert song.melody == [Note(8, 12, 72), Note(12, 16, 74), Note(16, 24, 76)]
    assert song.chords == [ChordEvent(0, 8, "C"), ChordEvent(8, 24, "G7sus4")]


def test_pop909_start_beat_rule():
    downbeats = np.array([3, 7, 11, 15])
    assert pop909.start_beat(2.0, downbeats, 4) == -1  # short silence: bar start before beat 0
    assert pop909.start_beat(4.0, downbeats, 4) == -1  # exactly 4 beats: kept
    assert pop909.start_beat(9.5, downbeats, 4) == 7  # longer: trimmed back to a bar start
    assert pop909.start_beat(5.0, np.array([0, 4, 8]), 4) == 4


def test_pop909_find_units_errors(tmp_path):
    with pytest.raises(MinigaptError):
        pop909.find_units(None)
    with pytest.raises(MinigaptError):
        pop909.find_units(tmp_path)


# --- Hooktheory -----------------------------------------------------------------------------
def test_hooktheory_fixture():
    units = hooktheory.find_units(FIXTURES)
    assert units == [str(HOOKTHEORY_FIXTURE)]
    results = hooktheory.parse_unit(units[0])
    songs = {s.meta["id"]: s for s in results if isinstance(s, Song)}
    skipped = sorted(s.reason for s in results if isinstance(s, SkipSong))
    assert sorted(songs) == ["aaaa1", "bbbb2", "cccc3"]
    assert skipped == ["no_chords", "unknown_chord_symbol"]  # dddd4 (a cluster), eeee5 (no harmony)
    for s in songs.values():
        check_song(s)
    assert {k: s.split for k, s in songs.items()} == {"aaaa1": "train", "bbbb2": "valid", "cccc3": "test"}

    four = songs["aaaa1"]
    assert four.title == "fixture-band - four-chords" and four.bar_frames == 16 and four.n_frames == 64
    assert [n.pitch for n in four.melody] == [64, 67, 72, 62, 59, 69, 65]  # 60 + 12 octave + pc
    assert [(c.start, c.end, c.chord) for c in four.chords] == [
        (0, 16, "C"), (16, 32, "G"), (32, 48, "Am"), (48, 64, "F")]
    assert "HARMONY" in four.meta["tags"]
    sevenths = songs["bbbb2"]  # steps [4,3,3] = dominant 7th (inverted), [3,4,3] = minor 7th
    assert [c.chord for c in sevenths.chords] == ["G7", "Dm7"]
    assert [(n.start, n.end) for n in sevenths.melody] == [(0, 2), (2, 3), (3, 8), (8, 16)]
    assert songs["cccc3"].bar_frames == 12 and songs["cccc3"].melody[0].pitch == 57


def test_hooktheory_bad_files(tmp_path):
    garbage = tmp_path / "Hooktheory.json.gz"
    garbage.write_bytes(b"not gzip at all")
    assert only(hooktheory.parse_unit(str(garbage))).reason == "unreadable_file"
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps({"x1": {"split": "TRAIN"}, "x2": {"annotations": {"melody": [{"onset": 0}],
                                                                                 "harmony": [{}]}}}))
    assert [r.reason for r in hooktheory.parse_unit(str(odd))] == ["malformed_record", "malformed_record"]
    listed = tmp_path / "list.json.gz"
    with gzip.open(listed, "wt") as f:
        json.dump([1, 2], f)
    assert only(hooktheory.parse_unit(str(listed))).reason == "unreadable_file"
    with pytest.raises(MinigaptError):
        hooktheory.find_units(tmp_path / "empty_dir_that_is_missing")


# --- the embedded default: Bach chorales from music21's corpus ----------------------------
@pytest.mark.parametrize("pitches,name", [
    ([60, 64, 67], "C"), ([57, 60, 64, 67], "Am7"), ([60, 64, 67, 69], "Am7"), ([55, 59, 62, 65], "G7"),
    ([62, 67, 72], "Gsus4"), ([59, 62, 65, 68], "Bdim7"), ([60, 62, 64, 67], "C"),
    ([48, 55, 64, 65], "C"), ([60, 72], None), ([], None),
])
def test_name_sonority(pitches, name):
    assert default.name_sonority(pitches) == name


def test_unnamed_beats_continue_the_previous_chord():
    events = default.chord_events_from_beats([None, "C", "C", None, "G", "G7", None])
    assert events == [ChordEvent(4, 16, "C"), ChordEvent(16, 20, "G"), ChordEvent(20, 28, "G7")]


@pytest.fixture(scope="module")
def chorale_units():
    return {Path(u).stem: u for u in default.find_units(None)}


def test_default_finds_the_chorales(chorale_units):
    assert len(chorale_units) >= 400 and "bwv269" in chorale_units


def test_default_chorale_by_hand(chorale_units):
    # BWV 269 in 3/4 with a one-beat pickup (padded to a full bar: frame 0 is a bar start).
    # The corpus's expert analysis (riemenschneider001.rntxt): m0 b3 G: I | m1 I IV6 V6
    song = only(default.parse_unit(chorale_units["bwv269"]))
    check_song(song)
    assert song.bar_frames == 12 and song.meta["pickup_frames"] == 8
    assert song.melody[0] == Note(8, 12, 67)  # G4 on the pickup beat
    assert song.chords[:3] == [ChordEvent(8, 16, "G"), ChordEvent(16, 20, "C"), ChordEvent(20, 24, "D")]
    assert song.source == "default" and "bwv269" in song.title


def test_default_a_few_chorales(chorale_units):
    for stem in ("bwv347", "bwv153.1", "bwv227.3"):  # bwv227.3 has two soprano parts
        song = only(default.parse_unit(chorale_units[stem]))
        check_song(song)
        assert len(song.chords) >= 10 and len(song.melody) >= 20
        assert 55 <= min(n.pitch for n in song.melody) and max(n.pitch for n in song.melody) <= 84


def test_default_skips_a_score_without_voices(chorale_units, tmp_path):
    assert only(default.parse_unit(chorale_units["bwv846"])).reason == "no_vocal_parts"  # WTC prelude
    bad = tmp_path / "broken.mxl"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    assert only(default.parse_unit(str(bad))).reason == "unreadable_file"


def test_default_chords_agree_with_expert_analyses():
    got = default.analysis_agreement(max_files=3)
    assert got["chorales"] == 3 and got["beats"] > 100
    assert got["same_name"] > 0.8
