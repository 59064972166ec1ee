"""Every kept song of every real dataset survives song -> tokens -> song exactly, and obeys the
source contract (normalised, chords in the vocabulary, pitches with a transposition margin).

Parses through the user's cache (~/.cache/minigapt/parsed or $MINIGAPT_CACHE): the first run
takes a few minutes on 2 cores, later runs seconds.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from minigapt.data import catalog
from minigapt.music.song import normalize_song
from minigapt.music.tokens import PITCH_MAX, PITCH_MIN, TRANSPOSE_MAX, VOCAB, song_to_tokens, tokens_to_song

DATA = Path(os.environ.get("MINIGAPT_DATA") or Path(__file__).resolve().parents[1].parent / "shared" / "data")


def contract_problems(song) -> list[str]:
    problems = []
    if normalize_song(song, song.n_frames) != song:
        problems.append("not normalised")
    bad_chords = {c.chord for c in song.chords} - set(VOCAB.chord_index)
    if bad_chords:
        problems.append(f"chords outside the vocabulary {sorted(bad_chords)[:3]}")
    pitches = [n.pitch for n in song.melody]
    if pitches and not (PITCH_MIN + TRANSPOSE_MAX <= min(pitches) and max(pitches) <= PITCH_MAX - TRANSPOSE_MAX):
        problems.append(f"pitches {min(pitches)}..{max(pitches)} leave no transposition margin")
    if song.bar_frames <= 0 or song.n_frames <= 0:
        problems.append("empty or no bar length")
    for chord_first in (True, False):
        back = tokens_to_song(song_to_tokens(song, chord_first), chord_first)
        if (back.melody, back.chords, back.n_frames) != (song.melody, song.chords, song.n_frames):
            problems.append(f"token round trip differs (chord_first={chord_first})")
    return problems


@pytest.mark.parametrize("name", ["nottingham", "openewld", "pop909"])
def test_every_kept_song_round_trips(name):
    if not (DATA / name).is_dir():
        pytest.skip(f"real data folder {DATA / name} not present (set MINIGAPT_DATA)")
    try:
        catalog.source_module(name)
    except catalog.DataNotFound as e:
        pytest.skip(f"source module not available: {e}")
    report = catalog.load_songs(name, DATA, workers=2, progress=False, download=False)
    assert report.source_dir == str((DATA / name).resolve())
    kept = len(report.songs)
    assert kept > 0 and report.songs_found == kept + sum(report.skipped.values())
    assert kept >= 0.5 * report.songs_found, f"{name}: most songs skipped: {report.skipped}"
    assert not any(k.startswith("crash:") for k in report.skipped), report.notes
    failures = [(s.title, p) for s in report.songs for p in contract_problems(s)]
    assert not failures, f"{len(failures)} problems in {name}, first: {failures[:5]}"
