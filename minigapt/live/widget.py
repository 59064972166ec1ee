"""The live jam in JupyterLab: an anywidget whose UI, input and sound live in the browser.

The browser (widget.js) does everything that must be instant: it plays your note the moment a
key goes down (WebAudio, samples rendered here with the notebooks' soundfont, samples.py), keeps
the clock, clicks the metronome, schedules the chords on the audio clock, and draws the timeline.
The kernel does what needs the model: once per 16th-note frame the browser sends a tick (and
every key press as it happens) and `JamEngine` answers with the plan of the lookahead window. A
reply is not waited for: chords are committed beats ahead, so a late reply is never heard.

Messages (all JSON dicts with a "type"), browser -> kernel: start {settings, session}, note
{on, pitch, time}, tick {frame, seq, sent}, stop {stats}, ping {sent}; kernel -> browser:
started, plan {seq, sent, start, chords, committed, version, kernel_ms}, stopped, pong, error.
`handle_message` is the whole kernel side, so it is tested without a browser.

Nothing is loaded from the network: the JavaScript and CSS are files next to this one, read at
import, and the samples travel over the widget's own comm.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

import anywidget
import traitlets

from ..errors import MinigaptError
from ..music.tokens import VOCAB
from .engine import JamConfig, JamEngine
from .models import MODEL_LABELS
from .record import JamRecord, score_record
from .samples import chord_voicings, packed_bank

_HERE = Path(__file__).resolve().parent


class JamWidget(anywidget.AnyWidget):
    """Play with a policy: `JamWidget(models={"gapt": policy, ...})` or with a loader,
    `JamWidget(models=["online-mle", "gapt"], loader=lambda name: load_jam_model(name, "course").model)`.
    After a session, `widget.record` is its JamRecord (save it, play it, score it)."""

    _esm = (_HERE / "widget.js").read_text(encoding="utf-8")
    _css = (_HERE / "widget.css").read_text(encoding="utf-8")

    models = traitlets.List(traitlets.Unicode()).tag(sync=True)
    model_labels = traitlets.Dict().tag(sync=True)
    model = traitlets.Unicode("").tag(sync=True)
    tempo_bpm = traitlets.Float(80.0).tag(sync=True)
    temperature = traitlets.Float(0.8).tag(sync=True)
    lookahead_beats = traitlets.Float(4.0).tag(sync=True)
    commit_beats = traitlets.Float(4.0).tag(sync=True)
    listen_beats = traitlets.Float(8.0).tag(sync=True)
    metronome = traitlets.Bool(True).tag(sync=True)
    running = traitlets.Bool(False).tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    samples = traitlets.Bytes(b"").tag(sync=True)
    sample_index = traitlets.Unicode("{}").tag(sync=True)
    voicings = traitlets.Dict().tag(sync=True)

    def __init__(self, models, *, loader: Callable[[str], object] | None = None, anchor=None,
                 labels: dict | None = None, seed: int = 0, with_samples: bool = True, **kwargs):
        names = list(models)
        if not names:
            raise MinigaptError("JamWidget needs at least one model")
        self._policies = dict(models) if isinstance(models, dict) else {}
        self._loader, self._anchor, self._seed = loader, anchor, seed
        data, index = packed_bank() if with_samples else (b"", "{}")

        super().__init__(models=names, model=kwargs.pop("model", names[-1]),
                         model_labels={n: (labels or MODEL_LABELS).get(n, n) for n in names},
                         samples=data, sample_index=index, voicings=chord_voicings(), **kwargs)
        self.engine: JamEngine | None = None
        self.session_id: str | None = None
        self.records: list[JamRecord] = []
        self.round_trip: dict = {}  # the browser's figures for the last session
        self.kernel_ms: list[float] = []
        self._lock = threading.Lock()  # start/stop vs. ticks from the comm thread
        self.on_msg(self._on_msg)

    @property
    def record(self) -> JamRecord | None:
        return self.records[-1] if self.records else None

    # --- messages ------------------------------------------------------------------------
    def _on_msg(self, widget, content, buffers=None) -> None:
        reply = self.handle_message(content)
        if reply is not None:
            self.send(reply)

    def handle_message(self, msg) -> dict | None:
        """One message from the browser -> the reply to send (or None). Never raises: a bad
        message gets an {"type": "error"} reply."""
        try:
            kind = msg.get("type") if isinstance(msg, dict) else None
            handler = {"start": self._start, "note": self._note, "events": self._events, "tick": self._tick,
                       "stop": self._stop, "ping": self._ping, "stats": self._stats}.get(kind)
            if handler is None:
                return {"type": "error", "message": f"unknown message type {kind!r}"}
            return handler(msg)
        except Exception as err:  # the jam goes on; the browser shows the reason
            self.status = f"error: {type(err).__name__}: {err}"
            return {"type": "error", "message": self.status}

    def _policy(self, name: str):
        if name not in self._policies:
            if self._loader is None:
                raise MinigaptError(f"no model {name!r} (offered: {', '.join(self.models)})")
            self._policies[name] = self._loader(name)
        return self._policies[name]

    def _start(self, msg: dict) -> dict:
        name = str(msg.get("model") or self.model)
        settings = {k: float(msg.get(k, getattr(self, k))) for k in
                    ("tempo_bpm", "temperature", "lookahead_beats", "commit_beats", "listen_beats")}
        cfg = JamConfig(**settings, seed=self._seed + len(self.records)).validate()
        policy = self._policy(name)
        with self._lock:
            self._finish()  # a start without a stop: keep what was played
            self.engine = JamEngine(policy, cfg, anchor=self._anchor)
            self.session_id = str(msg.get("session", time.time()))
            self.model, self.running, self.kernel_ms = name, True, []
            for k, v in settings.items():
                setattr(self, k, v)
            view = self.engine.tick(0)
        self.status = (f"playing with {self.model_labels.get(name, name)} (chords begin after a "
                       f"{cfg.listen_beats:g}-beat listen-only intro)")
        return {"type": "started", "session": self.session_id, "frame_s": self.engine.frame_s,
                "listen_frames": self.engine.listen, "lookahead_frames": self.engine.lookahead,
                "plan": self._plan(view)}

    def _current(self, msg: dict) -> JamEngine | None:
        engine = self.engine
        if engine is None or str(msg.get("session", self.session_id)) != self.session_id:
            return None  # from a session that has ended
        return engine

    def _note(self, msg: dict) -> None:
        engine = self._current(msg)
        if engine is not None:
            (engine.note_on if msg.get("on") else engine.note_off)(msg.get("pitch"), msg.get("time"))
        return None

    def _events(self, msg: dict) -> None:
        engine = self._current(msg)
        if engine is not None:
            engine.handle_events(msg.get("events"))
        return None

    def _tick(self, msg: dict) -> dict | None:
        engine = self._current(msg)
        if engine is None:
            return None
        recv_epoch, t0 = 1000 * time.time(), time.perf_counter()
        view = engine.tick(msg.get("frame"))
        ms = 1000 * (time.perf_counter() - t0)
        self.kernel_ms.append(ms)
        return {"type": "plan", "seq": msg.get("seq"), "sent": msg.get("sent"), "kernel_ms": round(ms, 3),
                "sent_epoch": msg.get("sent_epoch"), "recv_epoch": recv_epoch, "reply_epoch": 1000 * time.time(),
                **self._plan(view)}

    @staticmethod
    def _plan(view) -> dict:
        chords = []
        for tok in view.chords:
            c = -1 if tok is None else int(VOCAB.chord_of[tok])
            chords.append(None if c < 0 else [VOCAB.chord_names[c], bool(tok < VOCAB.chord_hold0)])
        return {"start": view.start, "chords": chords, "committed": view.committed, "version": view.version,
                "listen_until": view.listen_until}

    def _finish(self) -> JamRecord | None:
        engine, self.engine = self.engine, None
        if engine is None:
            return None
        record = JamRecord.from_engine(engine, model=self.model, meta={"round_trip": dict(self.round_trip)})
        self.records.append(record)
        self.running = False
        return record

    def _stop(self, msg: dict) -> dict:
        if isinstance(msg.get("stats"), dict):
            self.round_trip = dict(msg["stats"])
        with self._lock:
            if self._current(msg) is None:
                return {"type": "stopped", "session": msg.get("session"), "frames": 0}
            record = self._finish()
        score = score_record(record) if record.n_frames > record.listen_frames else {}
        h = score.get("harmony")
        self.status = (f"stopped after {record.n_frames} frames"
                       + (f"; note-in-chord {h:.2f}, {score['distinct_chords_per_sequence']:.0f} distinct chords"
                          if h is not None else ""))
        return {"type": "stopped", "session": self.session_id, "frames": record.n_frames,
                "harmony": h, "status": self.status}

    def _ping(self, msg: dict) -> dict:
        return {"type": "pong", "sent": msg.get("sent")}

    def _stats(self, msg: dict) -> None:
        if isinstance(msg.get("stats"), dict):
            self.round_trip = dict(msg["stats"])
        return None
