"""The music21-based sources (Nottingham ABC, OpenEWLD MusicXML, any file/folder incl. MIDI):
real files where the data is present, hand-made bad inputs in tests/fixtures/bad, and small
hand-written tunes whose frames can be checked by eye."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from minigapt.data import files, nottingham, openewld
from minigapt.data.music21_song import split_abc_tunes, top_line
from minigapt.errors import MinigaptError, SkipSong
from minigapt.music.song import ChordEvent, Note, Song, normalize_song
from minigapt.music.tokens import PITCH_MAX, PITCH_MIN, TRANSPOSE_MAX, VOCAB, song_to_tokens, tokens_to_song

BAD = Path(__file__).parent / "fixtures" / "bad"


def songs_of(results) -> list[Song]:
    return [r for r in results if isinstance(r, Song)]


def reasons_of(results) -> list[str]:
    return [r.reason for r in results if isinstance(r, SkipSong)]


def assert_contract(song: Song) -> None:
    """A parsed song is normalised, in the vocabulary, keeps the transposition margin and
    survives song -> tokens -> song in both stream orders."""
    assert normalize_song(song, song.n_frames) == song
    assert song.melody and song.n_frames > 0 and song.bar_frames > 0
    assert all(c.chord in VOCAB.chord_index for c in song.chords)
    pitches = [n.pitch for n in song.melody]
    assert PITCH_MIN + TRANSPOSE_MAX <= min(pitches) and max(pitches) <= PITCH_MAX - TRANSPOSE_MAX
    for chord_first in (True, False):
        back = tokens_to_song(song_to_tokens(song, chord_first), chord_first)
        assert (back.melody, back.chords, back.n_frames) == (song.melody, song.chords, song.n_frames)


def parse_abc_text(tmp_path: Path, text: str, parse=nottingham.parse_unit) -> list:
    path = tmp_path / "tune.abc"
    path.write_text(text)
    return [r for u in nottingham.find_units(path) for r in parse(u)]


# --- Nottingham on the real files ----------------------------------------------------------
def test_nottingham_units_one_per_tune(dataset_dir):
    units = nottingham.find_units(dataset_dir("nottingham"))
    assert len(units) == 1034  # 14 files
    assert units == sorted(units)
    assert units[0].endswith("ashover.abc#01") and units[-1].endswith("xmas.abc#13")
    assert sum(u.split("#")[0].endswith("jigs.abc") for u in units) == 340


def test_nottingham_first_jig_by_hand(dataset_dir):
    """jigs.abc tune 1 "A and D", 6/8 in A: 'f|"A"ecc c2f|"A"ecc c2f|"A"ecc c2f|"Bm"BcB "E7"B2f|'.
    The pickup f is removed, so the first e (E5 = 76) is at frame 0; an eighth is 2 frames."""
    unit = next(u for u in nottingham.find_units(dataset_dir("nottingham")) if u.endswith("jigs.abc#001"))
    [song] = nottingham.parse_unit(unit)
    assert song.title == "A and D" and song.source == "nottingham" and song.bar_frames == 12
    assert song.meta == {"file": "jigs.abc", "tune": 1, "x": "1"}
    e, cs, fs = 76, 73, 78
    assert song.melody[:5] == [Note(0, 2, e), Note(2, 4, cs), Note(4, 6, cs), Note(6, 10, cs), Note(10, 12, fs)]
    assert song.chords[:5] == [ChordEvent(0, 12, "A"), ChordEvent(12, 24, "A"), ChordEvent(24, 36, "A"),
                               ChordEvent(36, 42, "Bm"), ChordEvent(42, 48, "E7")]
    # repeats not expanded: each part once, 7 full bars + both endings (A: 5 + 6 eighths, B: 6 + 5)
    assert song.n_frames == (7 * 12 + 10 + 12) + (7 * 12 + 12 + 10)
    assert_contract(song)


@pytest.mark.parametrize("file, tune, expected", [
    ("hpps.abc", 6, [(48, "D"), (56, "G")]),  # "D/f+" is D over F#, not music21's D augmented
    ("jigs.abc", 44, [(348, "C"), (354, "Cdim")]),  # "Cd" = C diminished (music21 drops it)
    ("reelsd-g.abc", 4, [(16, "A"), (24, "F7")]),  # "Fa7" (augmented 7th) -> F7
    ("jigs.abc", 112, [(72, "Em"), (78, "G")]),  # '"Em""C"edc " ""G"BAG': first non-blank symbol
])
def test_nottingham_chord_symbols_read_as_written(dataset_dir, file, tune, expected):
    root = dataset_dir("nottingham") / "ABC_cleaned"
    [song] = nottingham.parse_unit(f"{root / file}#{tune}")
    starts = {c.start: c.chord for c in song.chords}
    assert [(s, starts.get(s)) for s, _ in expected] == expected
    assert "Daug" not in starts.values()
    assert_contract(song)


def test_nottingham_spread_of_tunes_parses(dataset_dir):
    units = nottingham.find_units(dataset_dir("nottingham"))
    results = [r for u in units[::97] for r in nottingham.parse_unit(u)]  # 11 tunes, all files
    assert len(results) == len(units[::97])
    songs = songs_of(results)
    assert len(songs) >= 10 and all(s.chords for s in songs)
    for s in songs:
        assert_contract(s)


# --- OpenEWLD on the real files --------------------------------------------------------------
def test_openewld_files_parse_with_chords(dataset_dir):
    units = openewld.find_units(dataset_dir("openewld"))
    assert len(units) == 486 and units == sorted(units) and all(u.endswith(".mxl") for u in units)
    songs = songs_of(r for u in units[::200] for r in openewld.parse_unit(u))  # 3 files
    assert len(songs) == 3
    for s in songs:
        assert s.source == "openewld" and s.title and len(s.chords) >= 8
        assert_contract(s)


# --- small hand-written tunes -------------------------------------------------------------
def test_pickup_removed_and_its_chord_carried_to_bar_one(tmp_path):
    [song] = parse_abc_text(tmp_path, 'X:1\nT:Pickup\nM:4/4\nL:1/4\nK:C\n"G7"B|cdef|"F"fedc|\n')
    assert song.melody[0] == Note(0, 4, 72) and song.n_frames == 32
    assert song.chords == [ChordEvent(0, 16, "G7"), ChordEvent(16, 32, "F")]
    [tied] = parse_abc_text(tmp_path, 'X:1\nT:Tied pickup\nM:4/4\nL:1/4\nK:C\n"C"c-|cdef|\n')
    assert tied.melody[:2] == [Note(0, 4, 72), Note(4, 8, 74)]  # the tied-over part still sounds


def test_repeats_read_as_written(tmp_path):
    [song] = parse_abc_text(tmp_path, 'X:1\nT:Repeats\nM:2/4\nL:1/4\nK:C\n|:"C"cd|[1"G"ef:|[2"G7"ga|]\n')
    assert song.n_frames == 24 and len(song.melody) == 6 and song.bar_frames == 8
    assert [(c.start, c.end, c.chord) for c in song.chords] == [(0, 8, "C"), (8, 16, "G"), (16, 24, "G7")]


def test_ties_merge_and_optional_chords_count(tmp_path):
    [song] = parse_abc_text(tmp_path, 'X:1\nT:Ties\nM:3/4\nL:1/8\nK:D\n"(A7)"d4-"D"d2|"Bm"B6|]\n')
    assert song.melody == [Note(0, 12, 74), Note(12, 24, 71)]
    assert [(c.start, c.chord) for c in song.chords] == [(0, "A7"), (8, "D"), (12, "Bm")]


def test_split_abc_tunes_keeps_file_header_and_headerless_snippets():
    tunes = split_abc_tunes("%comment\nL:1/8\n\nX:1\nK:C\ncdef|\n\nX:2\nK:G\ngabc|\n")
    assert len(tunes) == 2 and all(t.startswith("%comment\nL:1/8") for t in tunes)
    assert split_abc_tunes("K:C\ncdef|\n") == ["K:C\ncdef|\n"]  # no X: line: one tune
    assert split_abc_tunes("") == [] and split_abc_tunes("T:title only\n") == []


MUSICXML_HARMONIES = """<?xml version="1.0" encoding="UTF-8"?>
<score-partwise version="3.1"><work><work-title>Harmony kinds</work-title></work>
<part-list><score-part id="P1"><part-name>Lead</part-name></score-part></part-list>
<part id="P1">{measures}</part></score-partwise>"""
HARMONY_KINDS = [  # (root, kind element, degrees) -> expected canonical name
    ("C", '<kind text="7sus">suspended-fourth</kind>', (7, 0, "add"), "C7sus4"),
    ("D", '<kind text="mMaj7">minor-major</kind>', None, "Dmmaj7"),
    ("F", '<kind text="9">dominant-ninth</kind>', None, "F7"),
    ("E", '<kind text="N.C.">none</kind>', None, None),
    ("G", '<kind text="m7b5">half-diminished</kind>', None, "Gm7b5"),
]


def _harmony_measures() -> str:
    out = []
    for i, (root, kind, degree, _) in enumerate(HARMONY_KINDS):
        deg = (f"<degree><degree-value>{degree[0]}</degree-value><degree-alter>{degree[1]}</degree-alter>"
               f"<degree-type>{degree[2]}</degree-type></degree>") if degree else ""
        attrs = ("<attributes><divisions>1</divisions><time><beats>4</beats><beat-type>4</beat-type></time>"
                 "</attributes>") if i == 0 else ""
        out.append(f'<measure number="{i + 1}">{attrs}<harmony><root><root-step>{root}</root-step></root>'
                   f"{kind}{deg}</harmony><note><pitch><step>C</step><octave>5</octave></pitch>"
                   "<duration>4</duration><type>whole</type></note></measure>")
    return "".join(out)


def test_musicxml_harmony_kinds_named_by_our_vocabulary(tmp_path):
    path = tmp_path / "kinds.musicxml"
    path.write_text(MUSICXML_HARMONIES.format(measures=_harmony_measures()))
    [song] = openewld.parse_unit(str(path))
    expected = [(16 * i, 16 * i + 16, name) for i, (*_, name) in enumerate(HARMONY_KINDS) if name]
    assert [(c.start, c.end, c.chord) for c in song.chords] == expected  # N.C. leaves 48..64 empty
    assert song.title == "Harmony kinds" and song.n_frames == 80


# --- bad input ---------------------------------------------------------------------------
@pytest.mark.parametrize("name, reason", [
    ("malformed.abc", "parse_error"),
    ("empty.abc", "empty_file"),
    ("empty.musicxml", "empty_file"),
    ("corrupt.mxl", "parse_error"),
    ("unknown_chord.abc", "unknown_chord_symbol"),
    ("pitch_out_of_range.abc", "pitch_out_of_range"),
    ("no_melody.abc", "no_melody"),
])
def test_bad_files_are_counted_skips(name, reason):
    results = [r for u in files.find_units(BAD / name) for r in files.parse_unit(u)]
    assert reasons_of(results) == [reason] and not songs_of(results)
    assert "\n" not in str(results[0])
    if name.endswith(".abc"):  # the lead-sheet source says the same
        assert reasons_of(r for u in nottingham.find_units(BAD / name) for r in nottingham.parse_unit(u)) == [reason]


def test_no_chords_skipped_by_lead_sheet_sources_but_kept_by_files():
    assert reasons_of(openewld.parse_unit(str(BAD / "no_chords.musicxml"))) == ["no_chords"]
    [song] = files.parse_unit(str(BAD / "no_chords.musicxml"))
    assert song.chords == [] and song.source == str(BAD / "no_chords.musicxml")
    # pickup G4 removed; C5 half tied to a quarter is one note; a rest; B4 dotted half
    assert song.melody == [Note(0, 12, 72), Note(12, 14, 76), Note(14, 16, 74), Note(20, 32, 71)]
    assert song.n_frames == 32 and song.bar_frames == 16
    assert_contract(song)
    abc = str(BAD / "two_tunes_one_bad.abc")
    assert reasons_of(nottingham.parse_unit(abc)) == ["no_chords"] and len(songs_of(nottingham.parse_unit(abc))) == 1
    assert len(songs_of(files.parse_unit(abc))) == 2


def test_files_folder_units_and_errors(tmp_path):
    units = files.find_units(BAD)
    names = [Path(u).name for u in units]
    assert units == sorted(units)
    assert "two_tunes_one_bad.abc#1" in names and "two_tunes_one_bad.abc#2" in names
    assert "empty.abc" in names and "corrupt.mxl" in names
    with pytest.raises(MinigaptError, match="no such file"):
        files.find_units(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("not music")
    with pytest.raises(MinigaptError, match="unsupported file type"):
        files.find_units(tmp_path / "notes.txt")
    with pytest.raises(MinigaptError, match="no ABC, MusicXML or MIDI"):
        files.find_units(tmp_path)
    with pytest.raises(MinigaptError):
        nottingham.find_units(tmp_path / "missing")
    with pytest.raises(MinigaptError):
        openewld.find_units(tmp_path)
    assert reasons_of(nottingham.parse_unit(str(BAD / "two_tunes_one_bad.abc") + "#7")) == ["parse_error"]


# --- MIDI --------------------------------------------------------------------------------
def write_midi(path: Path, tracks, tpb: int = 96, time_signature=(3, 4)) -> Path:
    """tracks: (name, channel, [(start beat, end beat, pitch), ...])."""
    import mido

    mid = mido.MidiFile(ticks_per_beat=tpb)
    for i, (name, channel, notes) in enumerate(tracks):
        track = mido.MidiTrack()
        track.append(mido.MetaMessage("track_name", name=name, time=0))
        if i == 0:
            track.append(mido.MetaMessage("time_signature", numerator=time_signature[0],
                                          denominator=time_signature[1], time=0))
        events = [(int(s * tpb), 1, p) for s, _, p in notes] + [(int(e * tpb), 0, p) for _, e, p in notes]
        now = 0
        for tick, on, pitch in sorted(events):  # offs before ons at the same tick
            kind = "note_on" if on else "note_off"
            track.append(mido.Message(kind, note=pitch, velocity=80 if on else 0, channel=channel, time=tick - now))
            now = tick
        mid.tracks.append(track)
    mid.save(str(path))
    return path


def test_midi_melody_track_by_name(tmp_path):
    piano = [(b, b + 3, p) for b in (0, 3) for p in (48, 52, 55)]
    melody = [(0, 1, 72), (1, 1.5, 74), (1.5, 3, 76), (4, 6, 79)]
    path = write_midi(tmp_path / "song.mid", [("Piano", 0, piano), ("Drums", 9, [(0, 1, 36)]),
                                             ("Lead Melody", 1, melody)])
    [song] = files.parse_unit(str(path))
    assert song.melody == [Note(0, 4, 72), Note(4, 6, 74), Note(6, 12, 76), Note(16, 24, 79)]
    assert song.chords == [] and song.bar_frames == 12 and song.meta["track"] == "Lead Melody"
    assert_contract(song)


def test_midi_without_melody_name_takes_top_line_of_first_pitched_track(tmp_path):
    drums = [(0, 1, 36), (1, 2, 38)]
    piano = [(0, 2, 72), (0, 1, 60), (1, 2, 64), (2, 3, 67)]  # 60 and 64 sound under the held 72
    path = write_midi(tmp_path / "piano.midi", [("Drums", 9, drums), ("Piano", 0, piano),
                                               ("Strings", 2, [(0, 3, 84)])], time_signature=(4, 4))
    [song] = files.parse_unit(str(path))
    assert song.melody == [Note(0, 8, 72), Note(8, 12, 67)] and song.bar_frames == 16
    drums_only = write_midi(tmp_path / "drums.mid", [("Drums", 9, drums)])
    assert reasons_of(files.parse_unit(str(drums_only))) == ["no_melody"]
    (tmp_path / "junk.mid").write_bytes(b"MThd\x00\x00\x00\x06junk")
    assert reasons_of(files.parse_unit(str(tmp_path / "junk.mid"))) == ["parse_error"]


def test_top_line_drops_lower_voices():
    notes = [Note(0, 8, 72), Note(0, 4, 60), Note(4, 8, 64), Note(8, 12, 67), Note(10, 12, 70)]
    assert top_line(notes) == [Note(0, 8, 72), Note(8, 12, 67), Note(10, 12, 70)]


# --- files on real data ------------------------------------------------------------------
def test_files_reads_real_musicxml_and_pop909_midi(data_root):
    mxl = sorted((data_root / "openewld" / "dataset").rglob("*.mxl"))[:1] if (data_root / "openewld").is_dir() else []
    mid = data_root / "pop909" / "POP909" / "001" / "001.mid"
    if not mxl and not mid.is_file():
        pytest.skip("neither OpenEWLD nor POP909 present")
    for path in mxl:
        [song] = files.parse_unit(files.find_units(path)[0])
        assert song.chords and song.source == str(path)
        assert_contract(song)
    if mid.is_file():
        [song] = files.parse_unit(str(mid))
        assert song.meta["track"] == "MELODY" and len(song.melody) > 100 and song.chords == []
        assert_contract(song)


ANNOTATED = """X:1
T:Slow air, annotated as in O'Neill's 1850
M:4/4
L:1/8
K:D
"Slow"D2 F2 "p"A2 F2|">"d4 "f"A4|"Segno"G2 E2 D4|
"""


def test_text_in_quotes_that_cannot_be_a_chord_is_an_annotation_in_a_melody_file(tmp_path):
    path = tmp_path / "annotated.abc"
    path.write_text(ANNOTATED)
    songs = songs_of(files.parse_unit(str(path)))  # chords optional: the melody is what counts
    assert len(songs) == 1 and not songs[0].chords
    assert [n.pitch for n in songs[0].melody][:4] == [62, 66, 69, 66]
    # a symbol that starts like a chord but is none is still a counted skip, not a guess
    path.write_text(ANNOTATED.replace('"f"A4', '"Cxyz"A4'))
    assert reasons_of(files.parse_unit(str(path))) == ["unknown_chord_symbol"]
    # the chord datasets keep the strict reading (their caches and checkpoints depend on it)
    path.write_text(ANNOTATED)
    assert reasons_of(nottingham.parse_abc_unit(str(path), source="nottingham", require_chords=True)) \
        == ["unknown_chord_symbol"]


def test_the_heldout_set_is_497_melody_only_tunes_from_music21s_corpus_and_reads_without_skips(tmp_path):
    from minigapt.data import heldout

    folder = heldout.copy_heldout(tmp_path / "melodies")
    assert sorted(p.name for p in folder.iterdir()) == sorted(f.replace("/", "-") for f in heldout.FILES)
    assert len(files.find_units(folder)) == 497
    # the O'Neill's file with dynamics, tempo words and a segno in quotes: every tune reads
    results = files.parse_unit(str(folder / "oneills1850-0051-0100.abc"))
    assert len(results) == 50 and reasons_of(results) == []
    assert all(not s.chords and s.melody for s in songs_of(results))


def test_the_heldout_command_tabulates_evaluate_json_and_a_missing_model_is_one_line(tmp_path, capsys):
    from minigapt.data import heldout

    result = {"sequences": 497, "harmony": 0.4567, "vendi": 5.123, "distinct_chords_per_sequence": 8.26,
              "pitch_classes_per_chord": 3.14159}
    (tmp_path / "gapt.json").write_text(json.dumps(result))
    assert heldout.main(["table", str(tmp_path), "gapt"]) == 0
    assert "| `gapt` | 497 | 0.457 | 5.12 | 8.3 | 3.14 |" in capsys.readouterr().out
    assert heldout.main(["table", str(tmp_path), "realchords"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("minigapt: ") and err.count("\n") == 1 and "realchords.json" in err
    assert heldout.main(["tabulate"]) == 1 and "usage" in capsys.readouterr().err
