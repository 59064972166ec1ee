"""The live jam engine on scripted event streams: late, duplicated, out-of-order and overlapping
events, silence, sessions longer than the context, two threads at once. Whatever comes in, the
engine never raises and never changes a committed chord. Tiny random models throughout."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from minigapt import FRAMES_PER_BEAT
from minigapt.errors import MinigaptError
from minigapt.generate import OnlineSession
from minigapt.live import JamConfig, JamEngine, JamRecord, MelodyInput, model_lock, score_record
from minigapt.live.session import LiveSession
from minigapt.live.tasks import (CoImproviser, FixedMelody, Improviser, beats_to_adapt, in_key,
                                 key_fit_per_beat, ode_to_joy, run_session)
from minigapt.models.anchor import OfflineAnchor
from minigapt.models.decoder import ModelConfig, OnlinePolicy
from minigapt.music.tokens import PAD, SILENCE, VOCAB

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TINY = ModelConfig(n_layers=1, n_heads=2, d_model=32, max_len=66)  # a context of 32 frames
B = FRAMES_PER_BEAT


@pytest.fixture(scope="module")
def policy():
    torch.manual_seed(0)
    return OnlinePolicy(TINY).eval()


@pytest.fixture(scope="module")
def anchor():
    torch.manual_seed(1)
    return OfflineAnchor(ModelConfig(n_layers=1, n_heads=2, d_model=32, max_len=130)).eval()


class Watcher:
    """Checks after every tick that committed chords only ever grow, never change."""

    def __init__(self, engine):
        self.engine, self.seen = engine, {}

    def check(self, view):
        committed = self.engine.committed_chords()
        for f, tok in self.seen.items():
            assert committed[f] == tok, f"committed chord of frame {f} changed"
        for i, (tok, final) in enumerate(zip(view.chords, view.committed)):
            if final:
                f = view.start + i
                assert self.seen.setdefault(f, tok) == tok, f"view changed the committed chord of frame {f}"
                assert tok == committed[f]
        for f in range(len(committed)):
            self.seen.setdefault(f, committed[f])


def well_formed(tokens, role: str) -> bool:
    """HOLD only continues what sounds (the masks generation uses)."""
    prev = PAD
    for t in tokens:
        of = VOCAB.chord_of if role == "chord" else VOCAB.pitch_of
        is_part = (VOCAB.is_chord if role == "chord" else VOCAB.is_melody)[t]
        if is_part and not VOCAB.is_onset[t] and of[t] != of[prev]:
            return False
        prev = t
    return True


def drive(engine, n_frames, events_at=lambda f, fs: [], tick_every: int = 1):
    """Tick frame by frame (or every `tick_every` frames), sending each frame's scripted events
    first; returns the watcher."""
    w = Watcher(engine)
    w.check(engine.tick(0))
    for f in range(n_frames):
        for kind, pitch, t in events_at(f, engine.frame_s):
            (engine.note_on if kind == "on" else engine.note_off)(pitch, t)
        if (f + 1) % tick_every == 0:
            view = engine.tick(f + 1)
            w.check(view)
            assert len(engine.committed) >= f + 2, "the chord of the frame that sounds is committed"
    return w


def melody_events(f, fs, every=4, length=3, base=60):
    if f % every == 0:
        p = base + (f // every) % 12
        return [("on", p, f * fs), ("off", p, (f + length) * fs)]
    return []


def test_a_plain_session_commits_ahead_and_feeds_what_was_played(policy):
    cfg = JamConfig(listen_beats=2, seed=3)
    e = JamEngine(policy, cfg)
    drive(e, 64, melody_events)
    assert e.fed == 64 and len(e.session.melody) == 64
    commit = round(cfg.commit_beats * B)
    assert len(e.committed) >= 64 + commit - B + 1, "chords are committed beats ahead"
    assert all(t == SILENCE for t in e.committed[:e.listen]), "nobody plays chords in the intro"
    assert any(VOCAB.chord_of[t] >= 0 for t in e.committed[e.listen:])
    assert well_formed(e.committed, "chord") and well_formed(e.session.melody, "melody")
    # the policy heard exactly the notes played
    rec = JamRecord.from_engine(e)
    x, _ = rec.frames()
    assert list(x) == list(e.session.melody)
    assert e.stats.plans >= (64 - e.listen) // B and e.stats.overdue_plans == 0


def test_same_events_same_seed_same_chords(policy):
    runs = []
    for _ in range(2):
        e = JamEngine(policy, JamConfig(listen_beats=1, seed=7))
        drive(e, 48, melody_events)
        runs.append(e.committed_chords())
    assert runs[0] == runs[1]


def test_ticking_once_per_beat_works_like_once_per_frame(policy):
    e = JamEngine(policy, JamConfig(listen_beats=2))
    drive(e, 64, melody_events, tick_every=B)
    assert e.fed == 64 and len(e.committed) >= 64 + 1
    assert well_formed(e.committed, "chord")


def test_tentative_chords_may_change_but_committed_never(policy):
    e = JamEngine(policy, JamConfig(lookahead_beats=6, commit_beats=1, listen_beats=1, seed=1))
    w = drive(e, 80, melody_events)
    view = e.view()
    assert not all(view.committed), "with commit < lookahead part of the plan is tentative"
    assert True in view.committed
    assert len(w.seen) >= 80


def test_late_duplicate_out_of_order_and_overlapping_events(policy):
    e = JamEngine(policy, JamConfig(listen_beats=1, intro="silence"))
    fs = e.frame_s

    def messy(f, fs):
        out = []
        if f == 8:  # late: a note played at frame 2, arriving at frame 8 (after 2 was heard)
            out += [("on", 62, 2 * fs), ("off", 62, 3 * fs)]
        if f == 12:  # duplicated note-on and note-off
            out += [("on", 64, 12 * fs), ("on", 64, 12 * fs), ("off", 64, 14 * fs), ("off", 64, 14 * fs)]
        if f == 20:  # out of order: the note-off arrives first
            out += [("off", 65, 23 * fs), ("on", 65, 20 * fs)]
        if f == 28:  # overlapping keys: 67 held, 69 struck over it, 67 released later
            out += [("on", 67, 28 * fs), ("on", 69, 30 * fs), ("off", 67, 33 * fs), ("off", 69, 34 * fs)]
        if f == 40:  # two keys in the same frame: the top note is the melody
            out += [("on", 60, 40 * fs), ("on", 72, 40 * fs + 0.01), ("off", 60, 42 * fs), ("off", 72, 42 * fs)]
        if f == 44:  # events that are nonsense
            out += [("on", 200, 44 * fs), ("on", "x", 44 * fs), ("on", 60, float("nan")), ("off", 61, -5.0)]
        return out

    drive(e, 56, messy)
    x = e.heard_melody()
    assert well_formed(x, "melody")
    on, hold = VOCAB.melody_on, VOCAB.melody_hold
    assert x[8] == on(62) and x[9] == SILENCE, "a late note starts where the model can still hear it"
    assert x[12:15] == [on(64), hold(64), SILENCE]
    assert x[20:24] == [on(65), hold(65), hold(65), SILENCE]
    assert x[28:30] == [on(67), hold(67)] and x[30:34] == [on(69)] + [hold(69)] * 3, "the last key wins"
    assert x[40:42] == [on(72), hold(72)], "of a chord struck at once the top note is kept"
    assert e.stats.late >= 2 and e.stats.ignored.get("duplicate") == 1
    assert e.stats.ignored.get("bad_event") == 3
    played = {(n.start, n.pitch) for n in e.melody.played_notes(56)}
    assert (2, 62) in played, "the record keeps the late note where it was played"


def test_silence_and_a_session_longer_than_the_context(policy):
    """No notes at all for 300 frames (the context holds 32): chords keep coming, the window
    slides, nothing raises."""
    e = JamEngine(policy, JamConfig(listen_beats=2, seed=2))
    drive(e, 300)
    assert all(t == SILENCE for t in e.heard_melody())
    assert e.session._ctx.win > 1, "the window slid"
    assert len(e.committed) > 300 and well_formed(e.committed, "chord")
    e2 = JamEngine(policy, JamConfig(listen_beats=2, seed=2))
    drive(e2, 300, melody_events)
    assert e2.session.slides + (e2.session._ctx.win > 1) > 0


def test_odd_ticks_are_harmless(policy):
    e = JamEngine(policy, JamConfig(listen_beats=1))
    w = Watcher(e)
    for now in (0, 0, 5, 3, 5, -1, "x", None, 2.0, 9, 9, 200, 150, 201, 10 ** 12, float("nan"), float("inf")):
        w.check(e.tick(now))
    assert e.fed == 201 and e.now == 201, "time never goes back"
    assert e.stats.overdue_plans >= 1, "a jump finishes the plan in one go"
    assert e.handle_events([{"type": "on", "pitch": 60, "time": 1e9}, {"bad": 1}, 5, None]) == 1


def test_two_threads_at_once(policy):
    """Widget messages arrive on another thread while a cell ticks: the lock keeps it coherent."""
    e = JamEngine(policy, JamConfig(listen_beats=1, seed=4))
    errors, views = [], []

    def ticker():
        try:
            for f in range(1, 200):
                views.append(e.tick(f))
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    def player():
        try:
            rng = np.random.default_rng(0)
            for i in range(600):
                t = float(rng.uniform(0, 200 * e.frame_s))
                p = int(rng.integers(55, 80))
                e.note_on(p, t) if i % 2 == 0 else e.note_off(p, t)
                e.chord_at(int(rng.integers(0, 220)))
                e.view()
        except Exception as err:  # pragma: no cover
            errors.append(err)

    threads = [threading.Thread(target=ticker), threading.Thread(target=player)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    w = Watcher(e)
    for v in views:  # views taken one after another never disagree on a committed chord
        w.check(v)
    assert well_formed(e.heard_melody(), "melody") and well_formed(e.committed, "chord")
    assert model_lock(policy) is e.lock is model_lock(policy)


def test_the_anchor_fills_the_intro_in_the_policys_context(policy, anchor):
    e = JamEngine(policy, JamConfig(listen_beats=4, seed=0), anchor=anchor)
    drive(e, 40, melody_events)
    assert e.intro_context is not None and len(e.intro_context) == e.listen
    assert any(VOCAB.chord_of[t] >= 0 for t in e.intro_context), "the offline model's chords"
    assert well_formed(e.intro_context, "chord")
    assert all(t == SILENCE for t in e.committed[:e.listen]), "...but nobody plays them"
    assert e.session.chords[:e.listen] == e.intro_context
    silent = JamEngine(policy, JamConfig(listen_beats=4, intro="silence"), anchor=anchor)
    drive(silent, 8)
    assert silent.intro_context == [SILENCE] * silent.listen


def test_bad_settings_are_one_line_errors(policy):
    for bad in (dict(tempo_bpm=5), dict(commit_beats=6, lookahead_beats=4), dict(temperature=-1),
                dict(intro="loud"), dict(listen_beats=-2)):
        with pytest.raises(MinigaptError, match="bad jam settings"):
            JamEngine(policy, JamConfig(**bad))


# --- LiveSession ---------------------------------------------------------------------------------
def test_feeding_frames_at_once_matches_stepping_one_by_one(policy):
    rng = np.random.default_rng(0)
    chords = [VOCAB.chord_on0 + int(c) for c in rng.integers(0, VOCAB.n_chords, 12)]
    melody = [VOCAB.melody_on(int(p)) for p in rng.integers(55, 80, 12)]
    live = LiveSession(policy, seed=0)
    live.feed(chords[:5], melody[:5])
    live.feed(chords[5:], melody[5:])
    ref = OnlineSession(policy, seed=0)
    for c, x in zip(chords, melody):
        ref.force_chord(c)
        ref.step(x)
    assert torch.allclose(live._logits, ref._logits, atol=1e-4)
    assert live.chords == chords and live.melody == melody


def test_a_slide_done_ahead_equals_recomputing_the_window(policy):
    live = LiveSession(policy, seed=0, reserve_tokens=10, chunk_tokens=8)
    rng = np.random.default_rng(1)
    for _ in range(120):
        live.feed([VOCAB.chord_on0 + int(rng.integers(0, VOCAB.n_chords))], [VOCAB.melody_on(int(rng.integers(55, 80)))])
        live.tend_window()
    assert live.slides > 0
    ctx = live._ctx
    with torch.inference_mode():
        fresh = policy(ctx._window(), last_only=True)[:, -1]
    assert torch.allclose(live._logits, fresh, atol=1e-4), "the same window, the same numbers"


def test_imagining_keeps_forced_chords_and_leaves_the_stream_alone(policy):
    live = LiveSession(policy, seed=0)
    live.feed([SILENCE] * 4, [VOCAB.melody_on(60)] + [VOCAB.melody_hold(60)] * 3)
    before = (live._ctx.n, live._logits.clone())
    forced = [VOCAB.chord_on("C"), VOCAB.chord_hold("C")]
    steps = live.imagine(forced, 10, np.random.default_rng(0))
    n = 0
    try:
        while True:
            next(steps)
            n += 1
    except StopIteration as done:
        chords, melody = done.value
    assert n == 9 and len(chords) == 10 and len(melody) == 9
    assert chords[:2] == forced and well_formed(chords, "chord") and well_formed(melody, "melody")
    assert live._ctx.n == before[0] and torch.equal(live._logits, before[1])


def test_melody_input_on_its_own():
    m = MelodyInput(0.1)
    assert not m.note_on(60, "soon") and not m.note_on(True, 0.1) and not m.note_on(60.5, 0.1)
    assert m.note_on(60.0, 0.04) and m.note_off(60, 0.26)  # 0.04 s rounds to frame 0, 0.26 to 3
    assert m.tokens(0, 4) == [VOCAB.melody_on(60), VOCAB.melody_hold(60), VOCAB.melody_hold(60), SILENCE]
    m.freeze(4)
    assert m.note_on(62, 0.1) and m.tokens(4, 6)[0] == VOCAB.melody_on(62) and m.late == 1
    assert m.note_on(64, 0.5) and not m.note_on(64, 0.5)  # a key struck again while down
    assert m.note_on(64, 0.8), "a new strike without a note-off ends the old note"
    assert [(n.start, n.pitch) for n in m.played_notes(20)] == [(0, 60), (1, 62), (5, 64), (8, 64)]


# --- records and tasks ------------------------------------------------------------------------------
def test_record_files_score_and_json(policy, tmp_path):
    e = JamEngine(policy, JamConfig(listen_beats=1))
    rec, log = run_session(e, FixedMelody(ode_to_joy()[:12]), 40, model="tiny")
    assert rec.n_frames == 40 and len(log.tick_ms) == 40 and rec.model == "tiny"
    assert rec.save_midi(tmp_path / "jam.mid").stat().st_size > 0
    assert rec.save_musicxml(tmp_path / "jam.musicxml").stat().st_size > 0
    s = score_record(rec)
    assert s["frames"] == 40 - rec.listen_frames and 0 <= s["harmony"] <= 1
    assert len(s["harmony_per_beat"]) == s["frames"] // B and s["distinct_chords_per_sequence"] >= 1
    back = JamRecord.from_json(rec.to_json())
    assert back.melody == rec.melody and back.chords == rec.chords


def test_scripted_players(policy):
    imp = Improviser(128, keys=[(0, 0), (64, 6)], seed=3)
    assert all(n.end <= 128 for n in imp.notes) and imp.tonic_at(70) == 6
    before = [n.pitch % 12 for n in imp.notes if n.start < 64]
    assert np.mean([p in {0, 2, 4, 5, 7, 9, 11} for p in before]) == 1.0, "the first half is in C major"
    for player in (imp, CoImproviser(64, seed=1), FixedMelody()):
        e = JamEngine(policy, JamConfig(listen_beats=2, seed=1))
        rec, _ = run_session(e, player, 64)
        assert rec.melody and well_formed(rec.frames()[0], "melody")


def test_beats_to_adapt_counts_beats_until_the_chords_fit_the_new_key():
    c, fs = VOCAB.chord_on("C"), VOCAB.chord_on("F#")
    chords = [c] * 64 + [c] * 12 + [fs] * 52  # the key changes to F# at frame 64, chords follow 3 beats later
    assert in_key(c, 0) and not in_key(c, 6) and in_key(fs, 6) and in_key(SILENCE, 0) is None
    assert beats_to_adapt(chords, 64, 6) == 3
    assert beats_to_adapt([c] * 128, 64, 6) is None
    fit = key_fit_per_beat(chords, 6)
    assert fit[0] == 0 and fit[-1] == 1 and len(fit) == 32


def test_any_event_stream_gives_a_well_formed_melody():
    """Property test: random on/off events in random order, with the frontier moving on."""
    from hypothesis import given, settings, strategies as st

    event = st.tuples(st.booleans(), st.integers(58, 64), st.floats(-0.5, 6.0) | st.just(float("nan")))

    @settings(max_examples=150, deadline=None)
    @given(st.lists(st.tuples(event, st.integers(0, 3)), max_size=60))
    def check(stream):
        m = MelodyInput(0.1)
        heard, frontier = [], 0
        for (on, pitch, t), advance in stream:
            (m.note_on if on else m.note_off)(pitch, t)
            if advance:
                heard += m.tokens(frontier, frontier + advance)
                frontier += advance
                m.freeze(frontier)
        heard += m.tokens(frontier, frontier + 70)
        assert well_formed(heard, "melody")
        assert all(n.end > n.start for n in m.played_notes(200))

    check()


def test_bench_reports_the_jam_step(capsys, tmp_path, monkeypatch):
    import json

    from minigapt.cli import main

    monkeypatch.setenv("MINIGAPT_RUNS", str(tmp_path))  # no trained policy: a fresh one of the scale's size
    assert main(["bench", "--scale", "smoke", "--only", "jam_step", "--jam-frames", "96", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert 0 < out["jam_step_ms_median"] <= out["jam_step_ms_p99"] <= out["jam_step_ms_max"]
    assert out["jam_ticks"] == 96 - 32 and out["jam_frame_ms"] == 187.5 and out["jam_intro"] == "silence"
    assert out["jam_policy"].startswith("untrained smoke-size")
    assert main(["bench", "--only", "jam_step", "--jam-frames", "8"]) == 2
