"""The jam widget's kernel side without a browser: messages go straight to its handler and
`send` is patched to collect the replies (as the browser would receive them)."""
from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest
import torch

pytest.importorskip("anywidget")

from minigapt.live.samples import CHORD_PITCHES, MELODY_PITCHES, chord_voicings, pack, sample_bank  # noqa: E402
from minigapt.live.widget import JamWidget  # noqa: E402
from minigapt.models.decoder import ModelConfig, OnlinePolicy  # noqa: E402
from minigapt.music.tokens import VOCAB  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
LIVE = Path(__file__).resolve().parents[1] / "minigapt" / "live"


@pytest.fixture(scope="module")
def policy():
    torch.manual_seed(0)
    return OnlinePolicy(ModelConfig(n_layers=1, n_heads=2, d_model=32, max_len=66)).eval()


@pytest.fixture
def widget(policy):
    w = JamWidget(models={"tiny": policy}, with_samples=False)
    w.sent = []
    w.send = lambda msg, buffers=None: w.sent.append(msg)
    return w


def play(w, session="s1", frames=48, tempo=120.0, listen=2):
    w._on_msg(w, {"type": "start", "session": session, "model": "tiny", "tempo_bpm": tempo, "listen_beats": listen}, [])
    started = w.sent[-1]
    fs = started["frame_s"]
    plans = []
    for f in range(1, frames + 1):
        if f % 4 == 1:
            w._on_msg(w, {"type": "note", "session": session, "on": True, "pitch": 60 + f % 7, "time": (f - 1) * fs}, [])
            w._on_msg(w, {"type": "note", "session": session, "on": False, "pitch": 60 + f % 7, "time": (f + 1) * fs}, [])
        w._on_msg(w, {"type": "tick", "session": session, "frame": f, "seq": f, "sent": 1000.0 + f}, [])
        plans.append(w.sent[-1])
    return started, plans


def test_a_session_through_the_message_handler(widget):
    started, plans = play(widget)
    assert started["type"] == "started" and started["listen_frames"] == 8 and started["lookahead_frames"] == 16
    assert abs(started["frame_s"] - 60 / 120 / 4) < 1e-12 and widget.running
    committed = {}
    for p in plans:
        assert p["type"] == "plan" and p["sent"] == 1000.0 + p["seq"] and p["kernel_ms"] >= 0
        assert len(p["chords"]) == len(p["committed"]) == 16 and p["start"] == p["seq"]
        for i, (c, final) in enumerate(zip(p["chords"], p["committed"])):
            if final:
                assert committed.setdefault(p["start"] + i, c) == c, "a committed chord changed"
            if c is not None:
                assert c[0] in VOCAB.chord_index and isinstance(c[1], bool)
    assert any(c for p in plans for c in p["chords"]), "chords came back"
    assert all(plans[-1]["committed"][:12]), "chords are committed beats ahead"
    json.dumps(plans)  # everything sent is plain JSON
    widget._on_msg(widget, {"type": "stop", "session": "s1", "stats": {"round_trip_ms_median": 7.5}}, [])
    stopped = widget.sent[-1]
    assert stopped["type"] == "stopped" and stopped["frames"] == 48 and not widget.running
    rec = widget.record
    assert rec.n_frames == 48 and rec.model == "tiny" and rec.meta["round_trip"]["round_trip_ms_median"] == 7.5
    assert len(rec.melody) == 12 and "note-in-chord" in widget.status


def test_bad_and_stale_messages_never_raise(widget):
    h = widget.handle_message
    assert h({"type": "nope"})["type"] == "error" and h("text")["type"] == "error" and h(None)["type"] == "error"
    assert h({"type": "tick", "frame": 3}) is None, "no session yet: nothing to say"
    play(widget, session="a", frames=8)
    assert h({"type": "tick", "session": "old", "frame": 9}) is None, "a tick from an ended session"
    assert h({"type": "tick", "session": "a", "frame": "soon"})["type"] == "plan"
    assert h({"type": "note", "session": "a", "on": True, "pitch": "C4", "time": None}) is None
    assert h({"type": "events", "session": "a", "events": [{"type": "on", "pitch": 61, "time": 0.1}, 3]}) is None
    assert h({"type": "start", "session": "b", "model": "missing"})["type"] == "error"
    bad = h({"type": "start", "session": "b", "model": "tiny", "tempo_bpm": 1000})
    assert bad["type"] == "error" and "tempo_bpm" in bad["message"]
    assert h({"type": "ping", "sent": 5})["sent"] == 5


def test_a_new_start_keeps_the_previous_session(widget):
    play(widget, session="a", frames=12)
    play(widget, session="b", frames=12)
    assert len(widget.records) == 1 and widget.session_id == "b"
    assert widget.handle_message({"type": "stop", "session": "b"})["frames"] == 12
    assert len(widget.records) == 2


def test_models_load_lazily_by_name(policy):
    asked = []
    w = JamWidget(models=["one", "two"], loader=lambda name: asked.append(name) or policy, with_samples=False)
    w.send = lambda msg, buffers=None: None
    assert asked == [] and w.model == "two"
    w.handle_message({"type": "start", "session": "x", "model": "one"})
    w.handle_message({"type": "start", "session": "y", "model": "one"})
    assert asked == ["one"] and w.model == "one"


def test_ticks_from_the_comm_thread_while_a_cell_uses_the_widget(widget):
    play(widget, session="t", frames=4)
    errors = []

    def comm():
        try:
            for f in range(5, 200):
                widget._on_msg(widget, {"type": "tick", "session": "t", "frame": f, "seq": f}, [])
        except Exception as e:  # pragma: no cover
            errors.append(e)

    t = threading.Thread(target=comm)
    t.start()
    for i in range(200):  # the "cell": reads the engine while it plays
        widget.engine and widget.engine.view() and widget.engine.chord_at(i)
    t.join(60)
    assert not errors and widget.engine.fed == 199


def test_the_browser_code_needs_no_network():
    js, css = (LIVE / "widget.js").read_text(), (LIVE / "widget.css").read_text()
    assert JamWidget._esm == js and JamWidget._css == css
    assert not re.search(r"^\s*import\s", js, re.M), "no imports: nothing to fetch"
    assert "http" not in js and "http" not in css and "@import" not in css
    assert "export default" in js and "stopPropagation" in js and "requestMIDIAccess" in js


def test_the_widget_files_ship_with_the_package():
    tomllib = pytest.importorskip("tomllib")
    data = tomllib.loads((LIVE.parents[1] / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert {"**/*.js", "**/*.css"} <= set(data["minigapt"])


def test_samples_are_the_soundfonts_and_pack_into_one_block():
    bank = sample_bank(8000)
    assert set(bank.melody) == set(MELODY_PITCHES) and set(bank.chords) == set(CHORD_PITCHES)
    data, index = pack(bank)
    total = sum(length for part in ("melody", "chords") for _, length in index[part].values())
    assert len(data) == 2 * total and index["rate"] == 8000
    offset, length = index["melody"]["60"]
    assert length == len(bank.melody[60]) and any(data[2 * offset:2 * (offset + length)])
    voicings = chord_voicings()
    assert set(voicings) == set(VOCAB.chord_names)
    assert all(min(CHORD_PITCHES) <= p <= max(CHORD_PITCHES) for v in voicings.values() for p in v), \
        "every chord pitch has its own sample"
