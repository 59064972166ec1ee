"""minigapt.audio: MIDI export, offline rendering (FluidSynth and the numpy fallback), WAV,
notebook players and MusicXML."""
from __future__ import annotations

import io
import sys
import wave

import mido
import numpy as np
import pytest

from minigapt import audio
from minigapt.errors import MinigaptError
from minigapt.music.chords import all_chord_names, chord_pitch_classes, split_chord_name
from minigapt.music.song import ChordEvent, Note, Song

TEMPO = 100
FRAME_S = 60 / TEMPO / 4


def small_song() -> Song:
    """Two bars of 4/4: half a beat of silence, then a melody over four chords (a 7th and a
    half-diminished among them), and a held last note crossing the bar line."""
    melody = [Note(2, 4, 72), Note(4, 8, 74), Note(8, 12, 76), Note(12, 20, 79), Note(20, 22, 77),
              Note(24, 30, 71), Note(30, 32, 72)]
    chords = [ChordEvent(2, 8, "C"), ChordEvent(8, 16, "Am7"), ChordEvent(16, 24, "F#m7b5"),
              ChordEvent(24, 32, "G7")]
    return Song("test tune", "hand", melody, chords, n_frames=32)


@pytest.fixture
def fluidsynth_backend(monkeypatch):
    monkeypatch.delenv("MINIGAPT_AUDIO_BACKEND", raising=False)
    if audio.backend() != "fluidsynth":
        pytest.skip("FluidSynth (library, pyfluidsynth or a GM soundfont) not available")


@pytest.fixture
def numpy_backend(monkeypatch):
    monkeypatch.setenv("MINIGAPT_AUDIO_BACKEND", "numpy")
    monkeypatch.setattr(audio, "_notices_shown", set())


def midi_notes(track, ticks_per_frame):
    """(start frame, end frame, pitch) of every note in a mido track, by absolute time."""
    now, sounding, notes = 0, {}, []
    for msg in track:
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            sounding[msg.note] = now
        elif msg.type in ("note_off", "note_on"):
            start = sounding.pop(msg.note)
            notes.append((start // ticks_per_frame, now // ticks_per_frame, msg.note))
    assert not sounding, "a note was never switched off"
    return sorted(notes)


def rms(x):
    return float(np.sqrt(np.mean(np.square(x)))) if len(x) else 0.0


# --- voicing and MIDI ---------------------------------------------------------------------
def test_every_chord_is_voiced_close_around_middle_c_with_the_root_in_the_bass():
    for name in all_chord_names():
        bass, *upper = audio.chord_voicing(name)
        root, _ = split_chord_name(name)
        assert bass % 12 == root and upper[0] == bass + 12
        assert 53 <= upper[0] <= 64, name
        assert upper == sorted(upper) and upper[-1] - upper[0] < 12, name  # close position
        assert {p % 12 for p in upper} == set(chord_pitch_classes(name)), name


def test_midi_round_trip_gives_back_melody_and_chords(tmp_path):
    song = small_song()
    path = tmp_path / "out" / "song.mid"
    audio.song_to_midi(song, path, tempo_bpm=TEMPO, melody_program=5, chord_program=48)
    mid = mido.MidiFile(str(path))
    tpf = mid.ticks_per_beat // 4
    tracks = {t.name: t for t in mid.tracks}
    assert {"melody", "chords"} <= set(tracks)

    melody = midi_notes(tracks["melody"], tpf)
    assert melody == [(n.start, n.end, n.pitch) for n in song.melody]

    chord_notes = midi_notes(tracks["chords"], tpf)
    markers, now = [], 0
    for msg in tracks["chords"]:
        now += msg.time
        if msg.type == "marker":
            markers.append((now // tpf, msg.text))
    assert markers == [(c.start, c.chord) for c in song.chords]
    for c in song.chords:
        pitches = sorted(p for s, e, p in chord_notes if s == c.start and e == c.end)
        root, _ = split_chord_name(c.chord)
        assert pitches[0] % 12 == root  # the bass
        assert {p % 12 for p in pitches} == set(chord_pitch_classes(c.chord))
    assert len(chord_notes) == sum(len(audio.chord_voicing(c.chord)) for c in song.chords)

    programs = {m.channel: m.program for t in mid.tracks for m in t if m.type == "program_change"}
    assert programs == {audio.MELODY_CHANNEL: 5, audio.CHORD_CHANNEL: 48}
    tempos = [m.tempo for m in mid.tracks[0] if m.type == "set_tempo"]
    assert tempos == [mido.bpm2tempo(TEMPO)]
    ts = [m for m in mid.tracks[0] if m.type == "time_signature"][0]
    assert (ts.numerator, ts.denominator) == (4, 4)
    assert mid.length == pytest.approx(song.n_frames * FRAME_S, abs=1e-6)


def test_midi_time_signature_from_bar_length_or_meta():
    song = Song("waltz", "hand", [Note(0, 12, 67)], [ChordEvent(0, 12, "C")], 12, bar_frames=12)
    ts = [m for m in audio.song_to_midi(song).tracks[0] if m.type == "time_signature"][0]
    assert (ts.numerator, ts.denominator) == (3, 4)
    song.meta["time_signature"] = "6/8"
    ts = [m for m in audio.song_to_midi(song).tracks[0] if m.type == "time_signature"][0]
    assert (ts.numerator, ts.denominator) == (6, 8)


# --- rendering ----------------------------------------------------------------------------
def check_render(x, song, sample_rate=22050, tail=0.5):
    assert x.dtype == np.float32 and x.ndim == 1
    assert len(x) == round((song.n_frames * FRAME_S + tail) * sample_rate)
    assert np.all(np.abs(x) <= 1.0)
    first_onset = int(2 * FRAME_S * sample_rate)  # nothing sounds before frame 2
    assert rms(x[: first_onset - 200]) < 1e-4
    assert rms(x[first_onset: first_onset + sample_rate // 2]) > 0.005
    assert rms(x) > 0.005


def test_fluidsynth_render_is_non_silent_and_the_right_length(fluidsynth_backend):
    song = small_song()
    x = audio.render(song, sample_rate=22050, tempo_bpm=TEMPO)
    check_render(x, song)
    stereo = audio.render(song, sample_rate=16000, tempo_bpm=TEMPO, stereo=True)
    assert stereo.shape == (round((song.n_frames * FRAME_S + 0.5) * 16000), 2)


def test_the_numpy_fallback_forced_by_env_var_announces_itself_once(numpy_backend, capsys):
    song = small_song()
    assert audio.backend() == "numpy"
    x = audio.render(song, tempo_bpm=TEMPO)
    audio.render(song, tempo_bpm=TEMPO)
    err = capsys.readouterr().err
    notices = [line for line in err.splitlines() if line.startswith("minigapt.audio:")]
    assert len(notices) == 1 and "numpy" in notices[0]
    check_render(x, song)


def test_missing_pyfluidsynth_falls_back_with_an_install_hint(monkeypatch, capsys):
    monkeypatch.delenv("MINIGAPT_AUDIO_BACKEND", raising=False)
    monkeypatch.setattr(audio, "_notices_shown", set())
    monkeypatch.setitem(sys.modules, "fluidsynth", None)  # makes `import fluidsynth` fail
    assert audio.backend() == "numpy"
    assert audio.backend() == "numpy"
    notices = [line for line in capsys.readouterr().err.splitlines() if line.startswith("minigapt.audio:")]
    assert len(notices) == 1
    assert "pyfluidsynth" in notices[0] and "apt-get install fluidsynth" in notices[0]
    assert "conda install -c conda-forge fluidsynth pyfluidsynth" in notices[0]
    monkeypatch.setenv("MINIGAPT_AUDIO_BACKEND", "fluidsynth")  # asked for it explicitly: an error
    with pytest.raises(MinigaptError, match="pyfluidsynth"):
        audio.backend()


def test_an_unknown_backend_name_is_a_one_line_error(monkeypatch):
    monkeypatch.setenv("MINIGAPT_AUDIO_BACKEND", "timidity")
    with pytest.raises(MinigaptError, match="fluidsynth"):
        audio.backend()


def test_a_missing_soundfont_file_is_a_one_line_error(monkeypatch, tmp_path):
    monkeypatch.setenv("MINIGAPT_SOUNDFONT", str(tmp_path / "nope.sf2"))
    with pytest.raises(MinigaptError, match="MINIGAPT_SOUNDFONT"):
        audio.find_soundfont()


@pytest.mark.parametrize("which", ["fluidsynth_backend", "numpy_backend"])
def test_note_samples_sound_at_the_right_pitch(which, request):
    request.getfixturevalue(which)
    samples = audio.render_note_samples([57, 69], seconds=0.8, program=0, sample_rate=16000)
    assert sorted(samples) == [57, 69]
    for pitch, x in samples.items():
        assert x.dtype == np.float32 and len(x) == round(0.8 * 16000)
        assert rms(x) > 0.005 and abs(x[-1]) < 1e-3  # faded out: no click at the end
        spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
        peak = np.fft.rfftfreq(len(x), 1 / 16000)[spectrum.argmax()]
        f0 = 440 * 2 ** ((pitch - 69) / 12)
        harmonic = peak / f0
        assert round(harmonic) >= 1 and abs(harmonic - round(harmonic)) < 0.03, (pitch, peak)


# --- WAV and players ------------------------------------------------------------------------
def test_write_wav_round_trip(tmp_path):
    t = np.arange(2205) / 22050
    mono = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    for samples, channels in ((mono, 1), (np.stack([mono, -mono], axis=1), 2)):
        path = audio.write_wav(tmp_path / f"x{channels}.wav", samples, 22050)
        with wave.open(str(path)) as w:
            assert (w.getnchannels(), w.getframerate(), w.getnframes()) == (channels, 22050, 2205)
            pcm = np.frombuffer(w.readframes(2205), "<i2").reshape(-1, channels)
        assert np.max(np.abs(pcm[:, 0] / 32767 - mono)) < 1e-4
    with pytest.raises(MinigaptError):
        audio.write_wav(tmp_path / "bad.wav", np.zeros((3, 3, 3)), 22050)


def test_play_clips_to_max_seconds(numpy_backend):
    long = np.random.default_rng(0).uniform(-0.5, 0.5, (22050 * 5, 2)).astype(np.float32)
    player = audio.play(long, sample_rate=22050, max_seconds=2)
    with wave.open(io.BytesIO(player.data)) as w:
        assert w.getnchannels() == 1 and w.getnframes() == 2 * 22050
    song = small_song()
    player = audio.play(song, sample_rate=8000, tempo_bpm=TEMPO, max_seconds=1.0)
    with wave.open(io.BytesIO(player.data)) as w:
        assert w.getnframes() <= 8000 and w.getframerate() == 8000


# --- notation -----------------------------------------------------------------------------
def check_musicxml(song, path):
    from music21 import converter, harmony

    score = converter.parse(str(path))
    symbols = list(score.recurse().getElementsByClass(harmony.ChordSymbol))
    assert [round(s.getOffsetInHierarchy(score) * 4) for s in symbols] == [c.start for c in song.chords]
    for s, c in zip(symbols, song.chords):
        assert {p.pitchClass for p in s.pitches} == set(chord_pitch_classes(c.chord)), c.chord
        assert s.root().pitchClass == split_chord_name(c.chord)[0]
    notes = [n for n in score.stripTies().recurse().notes if not isinstance(n, harmony.ChordSymbol)]
    assert [n.pitch.midi for n in notes] == [m.pitch for m in song.melody]
    assert [round(n.getOffsetInHierarchy(score) * 4) for n in notes] == [m.start for m in song.melody]
    assert [round(n.quarterLength * 4) for n in notes] == [m.end - m.start for m in song.melody]


def test_musicxml_export_reads_back_with_chord_symbols(tmp_path):
    song = small_song()
    path = audio.song_to_musicxml(song, tmp_path / "song.musicxml")
    check_musicxml(song, path)


def test_show_score_gives_svg_or_a_one_line_notice(monkeypatch):
    song = small_song()
    try:
        import verovio  # noqa: F401
        shown = audio.show_score(song, max_bars=1)
        assert "<svg" in shown.data
    except ImportError:
        pass
    monkeypatch.setitem(sys.modules, "verovio", None)
    notice = audio.show_score(song)
    assert "verovio" in notice.data and "\n" not in notice.data


def test_a_real_tune_exports_to_midi_and_musicxml(dataset_dir, tmp_path):
    folder = dataset_dir("nottingham")
    try:
        from minigapt.data import nottingham
    except ImportError:
        pytest.skip("the Nottingham parser is not there yet")
    unit = nottingham.find_units(folder)[0]
    song = next(s for s in nottingham.parse_unit(unit) if isinstance(s, Song))
    mid = audio.song_to_midi(song, tmp_path / "real.mid")
    tpf = mid.ticks_per_beat // 4
    melody = midi_notes({t.name: t for t in mid.tracks}["melody"], tpf)
    assert melody == [(n.start, n.end, n.pitch) for n in song.melody]
    check_musicxml(song, audio.song_to_musicxml(song, tmp_path / "real.musicxml"))
