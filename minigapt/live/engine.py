"""The live jam engine: note events in, a plan of chords out, one tick per 16th-note frame.

Pure Python (no UI, no sound), so everything about timing is testable with scripted events.
It follows the paper's live system (ReaLJam, appendix B.4), run inside the kernel:

* The player's timestamped note on/off events are quantised to frames (melody.py). Frames that
  are over are *fed* to the policy, teacher-forced: the chord that was committed for the frame
  and the note the player played.
* At each beat the engine *plans*: on a copy of the policy's stream it forces the chords already
  committed, lets the policy imagine the player's next notes, and samples chords up to the
  lookahead horizon (session.py). Chords up to the commit horizon become **committed** (they will
  be played as they are, and never change); the rest are **tentative** (the next plan may
  replace them). A plan is started at a beat and spread over that beat's ticks, so no tick
  carries a whole plan; its horizons are measured from the end of that beat.
* **Listen-only intro**: for the first `listen_beats` nobody plays chords; the policy's context
  gets the offline anchor's chords for those frames (it heard the whole intro, ReaLJam's
  choice), or SILENCE when no anchor is given.
* **Sliding window** when the session outgrows the context, computed ahead in small pieces.

Time never goes backwards: a tick older than the last one is a no-op, and whatever arrives late
lands in the first frame the policy has not heard yet. Committed chords are only ever appended.

Thread safety: every public method holds one lock per *model* (`model_lock`), so a widget thread
and a notebook cell can share an engine, or two engines one policy. Use `with model_lock(model):`
around other code that runs the same model while a jam is live.
"""
from __future__ import annotations

import math
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from .. import FRAMES_PER_BEAT
from ..audio import frame_seconds
from ..errors import MinigaptError
from ..generate import sample_offline
from ..music.tokens import SILENCE, VOCAB
from .melody import MelodyInput
from .session import LiveSession

MAX_JUMP_FRAMES = 4096  # a tick further ahead than this (~13 min at 80 BPM) is taken for nonsense
_LOCKS: "weakref.WeakKeyDictionary[object, threading.RLock]" = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def model_lock(model) -> threading.RLock:
    """The lock every live engine takes before it touches `model` (one per model object)."""
    with _LOCKS_GUARD:
        lock = _LOCKS.get(model)
        if lock is None:
            lock = _LOCKS[model] = threading.RLock()
        return lock


@dataclass
class JamConfig:
    """How the engine plays. Beats are quarter notes (4 frames); the defaults are the paper's
    user study (ReaLJam)."""

    tempo_bpm: float = 80.0
    """Beats per minute (fixed for a session)."""
    temperature: float = 0.8
    """Sampling temperature for chords and for the imagined melody (0: greedy)."""
    lookahead_beats: float = 4
    """How far ahead chords are planned (measured from the end of the beat being planned in)."""
    commit_beats: float = 4
    """How far ahead planned chords become final; at most lookahead_beats."""
    listen_beats: float = 8
    """Listen-only intro: no chords for this many beats while the player starts."""
    intro: str = "anchor"
    """What the policy's context holds for the intro's chords: "anchor" (the offline model's
    chords for the melody heard, when an anchor is given) or "silence"."""
    seed: int = 0
    """Seeds the sampling: the same events and ticks give the same chords."""
    hop_frames: int | None = None
    """Frames the window slides by past the context (None: a quarter of the context)."""

    def validate(self) -> "JamConfig":
        problems = []
        if not (20 <= self.tempo_bpm <= 300):
            problems.append(f"tempo_bpm {self.tempo_bpm} is not in 20..300")
        if not (self.temperature >= 0 and math.isfinite(self.temperature)):
            problems.append(f"temperature {self.temperature} must be >= 0")
        if not (0.25 <= self.lookahead_beats <= 32):
            problems.append(f"lookahead_beats {self.lookahead_beats} is not in 0.25..32")
        if not (0 <= self.commit_beats <= self.lookahead_beats):
            problems.append(f"commit_beats {self.commit_beats} must be in 0..lookahead_beats")
        if not (0 <= self.listen_beats <= 256):
            problems.append(f"listen_beats {self.listen_beats} is not in 0..256")
        if self.intro not in ("anchor", "silence"):
            problems.append(f"intro {self.intro!r} must be 'anchor' or 'silence'")
        if problems:
            raise MinigaptError("bad jam settings: " + "; ".join(problems))
        return self


@dataclass
class JamView:
    """What the engine says after a tick: the chords of frames [start, start + len(chords))."""
    start: int  # the current frame (the tick's `now`)
    chords: list[int | None]  # chord tokens; None where nothing is planned yet
    committed: list[bool]  # True: final; False: tentative
    version: int  # bumps whenever a plan is published (a client redraws/reschedules on change)
    listen_until: int  # first frame with chords (the intro ends)

    def names(self) -> list[str | None]:
        """Chord names per frame ("C", "Am7"), None for silence or nothing planned."""
        return [None if t is None or VOCAB.chord_of[t] < 0 else VOCAB.chord_names[VOCAB.chord_of[t]]
                for t in self.chords]


@dataclass
class _Plan:
    start: int
    n_frames: int
    steps: object  # the LiveSession.imagine generator
    result: tuple | None = None


@dataclass
class JamStats:
    """Counters for the widget and the notebook."""
    events: int = 0
    late: int = 0
    ignored: dict = field(default_factory=dict)
    plans: int = 0
    overdue_plans: int = 0  # plans finished in one go because ticks were missed
    slides: int = 0
    tick_ms: deque = field(default_factory=lambda: deque(maxlen=4096), repr=False)


def _fix_hold(prev: int, tok: int) -> int:
    """A HOLD of chord c may only follow c (ON or HOLD): otherwise strike c (ON)."""
    c = VOCAB.chord_of[tok]
    if c >= 0 and tok >= VOCAB.chord_hold0 and VOCAB.chord_of[prev] != c:
        return VOCAB.chord_on0 + int(c)
    return tok


class JamEngine:
    """One live session with one policy (see the module docstring).

        engine = JamEngine(policy, JamConfig(tempo_bpm=80), anchor=anchor)
        engine.note_on(64, 0.02); engine.note_off(64, 0.7)   # seconds from frame 0
        view = engine.tick(engine.frame_at(time_s))            # once per frame (or per beat)
    """

    def __init__(self, policy, config: JamConfig | None = None, *, anchor=None):
        self.cfg = (config or JamConfig()).validate()
        self.policy = policy
        B = FRAMES_PER_BEAT
        self.lock = model_lock(policy)
        self.frame_s = frame_seconds(self.cfg.tempo_bpm)
        self.lookahead = max(1, round(self.cfg.lookahead_beats * B))
        self.commit = min(self.lookahead, round(self.cfg.commit_beats * B))
        self.listen = round(self.cfg.listen_beats * B)
        self.plan_frames = B + self.lookahead  # a plan reaches lookahead past the end of its beat
        self.plan_per_tick = -(-self.plan_frames // B)  # so it is done within its beat
        with self.lock:
            self.session = LiveSession(policy, temperature=self.cfg.temperature, seed=self.cfg.seed,
                                       hop_frames=self.cfg.hop_frames, reserve_tokens=2 * self.plan_frames + 2)
        self.rng = np.random.default_rng(self.cfg.seed)
        self.melody = MelodyInput(self.frame_s)
        self.committed: list[int] = [SILENCE] * self.listen  # the chords as played (none in the intro)
        self.intro_context: list[int] | None = None  # the intro's chords in the policy's context
        self.tentative: list[int] = []  # chords of frames len(committed) .. after the last plan
        self.fed = 0  # frames fed to the policy (melody heard)
        self.now = 0  # the last tick
        self.version = 0
        self.last_plan: dict | None = None  # the latest plan: its start, chords and imagined melody
        self.stats = JamStats()
        self._plan: _Plan | None = None
        self._ticked = False
        self._next_plan = max(0, self.listen - B)  # the first plan ends where the chords begin
        # The anchor fills the intro from the melody heard until the first plan starts (so the
        # intro is fed to the policy only then); an intro of a beat or less leaves it nothing.
        use_anchor = self.cfg.intro == "anchor" and self._next_plan > 0
        self.anchor = anchor if use_anchor else None

    # --- input -----------------------------------------------------------------------------
    def frame_at(self, time_s: float) -> int:
        """The frame sounding at `time_s` seconds from frame 0 (0 for nonsense)."""
        try:
            return max(0, int(math.floor(float(time_s) / self.frame_s)))
        except (TypeError, ValueError, OverflowError):
            return 0

    def note_on(self, pitch, time_s) -> bool:
        with self.lock:
            self.stats.events += 1
            return self.melody.note_on(pitch, time_s)

    def note_off(self, pitch, time_s) -> bool:
        with self.lock:
            self.stats.events += 1
            return self.melody.note_off(pitch, time_s)

    def handle_events(self, events) -> int:
        """Events as dicts {"type": "on"|"off", "pitch": int, "time": seconds}; returns how many
        were used. Malformed ones are counted in stats.ignored and skipped, never raised."""
        used = 0
        for e in events or ():
            kind = e.get("type") if isinstance(e, dict) else None
            if kind in ("on", "off"):
                used += bool((self.note_on if kind == "on" else self.note_off)(e.get("pitch"), e.get("time")))
            else:
                with self.lock:
                    self.stats.events += 1
                    self.melody._ignore("bad_event")
        return used

    # --- the clock ---------------------------------------------------------------------------
    def tick(self, now_frame) -> JamView:
        """Frame `now_frame` has begun: feed the frames before it, plan, return the view. Call it
        every frame (per beat works too: the work of the missed frames is done at once)."""
        t0 = time.perf_counter()
        with self.lock:
            try:
                now = int(now_frame)
            except (TypeError, ValueError, OverflowError):
                return self._view()
            if now < 0 or (self._ticked and now <= self.now) or now - self.now > MAX_JUMP_FRAMES:
                return self._view()  # time never goes back; a repeated tick changes nothing; nonsense is ignored
            advanced = max(1, now - self.now)
            self.now, self._ticked = now, True
            if self._plan is not None and now >= self._plan.start + FRAMES_PER_BEAT:
                self.stats.overdue_plans += 1
                self._work_plan(self._plan.n_frames)  # its beat is over: finish it now
            self._commit_until(now + 1)  # what sounds now is played as it is
            self._feed_until(now)
            if self._plan is None and self.fed >= self._next_plan:
                self._start_plan()
            if self._plan is not None:
                self._work_plan(self.plan_per_tick * advanced)
            self.session.tend_window(advanced)
            self.stats.slides = self.session.slides
            view = self._view()
        self.stats.tick_ms.append(1000 * (time.perf_counter() - t0))
        return view

    def _commit_until(self, frame: int) -> None:
        start = len(self.committed)
        for f in range(start, frame):
            k = f - start
            tok = self.tentative[k] if k < len(self.tentative) else SILENCE
            self.committed.append(_fix_hold(self.committed[-1] if self.committed else SILENCE, tok))
        if frame > start:
            self.tentative = self.tentative[frame - start:]

    def _context_chord(self, f: int) -> int:
        if f < self.listen and self.intro_context is not None:
            return self.intro_context[f]
        return self.committed[f]

    def _fill_intro(self, heard_until: int) -> None:
        """The intro's chords in the policy's context (see JamConfig.intro)."""
        fill = [SILENCE] * self.listen
        if self.anchor is not None and heard_until > 0:
            melody = self.melody.tokens(0, heard_until)
            n = min(heard_until, getattr(getattr(self.anchor, "cfg", None), "max_len", heard_until))
            y = sample_offline(self.anchor, np.asarray(melody[:n])[None], temperature=self.cfg.temperature,
                               seed=self.cfg.seed)[0].tolist()
            fill[:n] = y
            last = next((t for t in reversed(y) if VOCAB.chord_of[t] >= 0), None)
            if last is not None:  # the anchor's last chord holds until the chords begin
                hold = VOCAB.chord_hold0 + int(VOCAB.chord_of[last])
                fill[n:] = [hold] * (self.listen - n)
                fill = [_fix_hold(fill[i - 1] if i else SILENCE, t) for i, t in enumerate(fill)]
        self.intro_context = fill

    def _feed_until(self, now: int) -> None:
        if now <= self.fed:
            return
        if self.fed < self.listen and self.intro_context is None:
            if self.anchor is not None and now < self._next_plan:
                return  # keep listening: the anchor fills the intro when the first plan starts
            self._fill_intro(min(now, self.listen) if self.anchor is not None else 0)
        melody = self.melody.tokens(self.fed, now)
        self.melody.freeze(now)
        chords = [self._context_chord(f) for f in range(self.fed, now)]
        self.session.feed(chords, melody)
        self.fed = now
        self.stats.late = self.melody.late
        self.stats.ignored = dict(self.melody.ignored)

    # --- plans -------------------------------------------------------------------------------
    def _start_plan(self) -> None:
        s = self.fed
        forced = [self._context_chord(f) for f in range(s, len(self.committed))]
        steps = self.session.imagine(forced, self.plan_frames, self.rng)
        self._plan = _Plan(s, self.plan_frames, steps)
        self._next_plan = (s // FRAMES_PER_BEAT + 1) * FRAMES_PER_BEAT
        self.stats.plans += 1
        if len(self.committed) < s + FRAMES_PER_BEAT:  # chords needed before it would be done
            self._work_plan(self.plan_frames)

    def _work_plan(self, frames: int) -> None:
        plan = self._plan
        try:
            for _ in range(frames):
                next(plan.steps)
        except StopIteration as done:
            plan.result = done.value
            self._publish(plan)
            self._plan = None

    def _publish(self, plan: _Plan) -> None:
        chords, melody = plan.result
        self.last_plan = {"start": plan.start, "chords": list(chords), "imagined_melody": list(melody)}
        end = plan.start + len(chords)
        commit_to = min(end, plan.start + FRAMES_PER_BEAT + self.commit)
        for f in range(len(self.committed), commit_to):
            self.committed.append(_fix_hold(self.committed[-1] if self.committed else SILENCE, chords[f - plan.start]))
        first = len(self.committed)
        self.tentative = [chords[f - plan.start] for f in range(first, end)]
        if self.tentative:
            self.tentative[0] = _fix_hold(self.committed[-1] if self.committed else SILENCE, self.tentative[0])
        self.version += 1

    # --- output ------------------------------------------------------------------------------
    def _view(self) -> JamView:
        start = self.now
        chords, flags = [], []
        n_committed = len(self.committed)
        for f in range(start, start + self.lookahead):
            if f < n_committed:
                chords.append(self.committed[f])
                flags.append(True)
            elif f - n_committed < len(self.tentative):
                chords.append(self.tentative[f - n_committed])
                flags.append(False)
            else:
                chords.append(None)
                flags.append(False)
        return JamView(start, chords, flags, self.version, self.listen)

    def view(self) -> JamView:
        with self.lock:
            return self._view()

    def chord_at(self, frame: int) -> int | None:
        """The chord token committed (or else planned) for `frame`, None if nothing is yet."""
        with self.lock:
            if frame < len(self.committed):
                return self.committed[frame]
            k = frame - len(self.committed)
            return self.tentative[k] if k < len(self.tentative) else None

    def committed_chords(self) -> list[int]:
        with self.lock:
            return list(self.committed)

    def heard_melody(self) -> list[int]:
        """The melody tokens the policy was fed, frame by frame."""
        with self.lock:
            return list(self.session.melody)
