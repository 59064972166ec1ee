"""The player's notes -> one melody token per 16th-note frame, whatever the input looks like.

Key presses arrive as timestamped note-on/off events from a browser, a MIDI keyboard or a script,
and real input is messy: a message can arrive late (after its frame was already fed to the model),
twice, out of order (a note-off before its note-on), with two keys down at once, or not at all
(silence). `MelodyInput` turns any such stream into a well-formed monophonic melody part:

* Times are in seconds from the jam's frame 0 and round to the *nearest* frame, so a note played
  a little early still lands on its beat.
* Frames before the `frontier` have been heard by the model and never change. A late note-on
  starts at the frontier instead (the model hears it late); a late note-off ends the note there.
* Monophony: a new note cuts the one sounding (last key wins); of notes starting in the same
  frame the highest is kept (the top line, as the parsers keep it). Releasing the newer key while
  an older one is still held gives silence, not the older note again: a HOLD must continue the
  note that sounds, or the token stream would be ill-formed.
* A repeated note-on for a key already down from the same frame, or a note-off for a key that is
  not down, is ignored (a note-off that may belong to a note-on still on its way is kept aside).

Two views are kept: what the model heard (`tokens`, used to feed the policy) and what the player
played, at its true frames (`played_notes`, for the session record and its score).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..music.song import Note
from ..music.tokens import SILENCE, VOCAB


@dataclass
class _Held:
    """One note in both views: played (true frames) and heard (as the model gets it)."""
    pitch: int
    start: int  # played
    heard_start: int
    end: int | None = None  # played; None while the key is down
    heard_end: int | None = None  # None while it sounds for the model
    heard: bool = True  # False: dropped from the heard view (a higher note began in the same frame)


class MelodyInput:
    """Collects note events; `tokens(a, b)` gives the heard melody of frames [a, b)."""

    def __init__(self, frame_seconds: float, pitch_range: tuple[int, int] = (VOCAB.pitch_min, VOCAB.pitch_max)):
        if not frame_seconds > 0:
            raise ValueError("frame_seconds must be positive")
        self.frame_seconds = float(frame_seconds)
        self.pitch_range = pitch_range
        self.frontier = 0  # frames < frontier are heard and frozen
        self.notes: list[_Held] = []  # every note, in arrival order (the played view)
        self._down: dict[int, _Held] = {}  # pitch -> the note whose key is down
        self._active: list[_Held] = []  # heard notes that may still sound at or after the frontier
        self._early_offs: dict[int, list[int]] = {}  # pitch -> frames of note-offs with no note yet
        self.ignored: dict[str, int] = {}  # reason -> count
        self.late = 0  # events that landed in frames the model had already heard

    # --- input -----------------------------------------------------------------------------
    def _frame(self, time_s) -> int | None:
        try:
            t = float(time_s)
        except (TypeError, ValueError):
            return None
        if not math.isfinite(t):
            return None
        return max(0, int(math.floor(t / self.frame_seconds + 0.5)))

    def _pitch(self, pitch) -> int | None:
        if isinstance(pitch, (str, bytes, bool)) or pitch is None:
            return None
        try:
            p = int(pitch)
        except (TypeError, ValueError, OverflowError):
            return None
        if p != pitch:
            return None
        return p if self.pitch_range[0] <= p <= self.pitch_range[1] else None

    def _event(self, pitch, time_s) -> tuple[int, int] | None:
        """(pitch, frame) of a key event, or None when either is unusable."""
        p, q = self._pitch(pitch), self._frame(time_s)
        return None if p is None or q is None else (p, q)

    def _ignore(self, reason: str) -> bool:
        self.ignored[reason] = self.ignored.get(reason, 0) + 1
        return False

    def note_on(self, pitch, time_s) -> bool:
        """A key went down; False if the event was ignored (`ignored` counts why)."""
        event = self._event(pitch, time_s)
        if event is None:
            return self._ignore("bad_event")
        p, q = event
        held = self._down.get(p)
        if held is not None:
            if q == held.start:
                return self._ignore("duplicate")
            if q < held.start:
                return self._ignore("stale")  # an older strike of a key struck again since
            self._close(held, q)  # its note-off never came: the new strike ends it
        note = _Held(p, q, max(q, self.frontier))
        if note.heard_start > q:
            self.late += 1
        # monophony in the heard view: cut what sounds; of same-frame onsets keep the highest
        for other in self._active:
            if other.heard_start == note.heard_start:
                if other.pitch >= p:
                    note.heard = False
                else:
                    other.heard = False
            elif other.heard_start < note.heard_start and (other.heard_end is None or other.heard_end > note.heard_start):
                other.heard_end = note.heard_start
            elif other.heard_start > note.heard_start and (note.heard_end is None or note.heard_end > other.heard_start):
                note.heard_end = other.heard_start  # arrived after a note that starts later: ends there
        self.notes.append(note)
        self._down[p] = note
        if note.heard:
            self._active.append(note)
        self._active = [n for n in self._active if n.heard]
        offs = [f for f in self._early_offs.get(p, []) if f >= q]
        if offs:  # its note-off arrived first (out of order)
            self._early_offs[p].remove(min(offs))
            self._close(note, min(offs))
        return True

    def note_off(self, pitch, time_s) -> bool:
        """A key came up; False if ignored."""
        event = self._event(pitch, time_s)
        if event is None:
            return self._ignore("bad_event")
        p, q = event
        held = self._down.get(p)
        if held is None or q < held.start:  # not down: a duplicate, or one whose note-on is late
            self._early_offs.setdefault(p, []).append(q)
            return self._ignore("unmatched_note_off")
        self._close(held, q)
        return True

    def _close(self, note: _Held, q: int) -> None:
        if self._down.get(note.pitch) is note:
            del self._down[note.pitch]
        note.end = max(q, note.start + 1)
        end = max(q, self.frontier, note.heard_start + 1)
        if end > q:
            self.late += 1
        if note.heard_end is None or end < note.heard_end:
            note.heard_end = end

    # --- output ----------------------------------------------------------------------------
    def tokens(self, start: int, stop: int) -> list[int]:
        """Heard melody tokens of frames [start, stop): ON_p, HOLD_p or SILENCE. (Frames before
        the frontier come out right only while their notes are still kept: ask for new frames.)"""
        out = [SILENCE] * max(0, stop - start)
        for n in self._active:
            end = stop if n.heard_end is None else min(n.heard_end, stop)
            for f in range(max(n.heard_start, start), end):
                out[f - start] = VOCAB.melody_on(n.pitch) if f == n.heard_start else VOCAB.melody_hold(n.pitch)
        return out

    def freeze(self, frontier: int) -> None:
        """Frames < frontier are heard: later events cannot change them. Forgets what no longer
        matters for the frames to come (the played view keeps everything)."""
        self.frontier = max(self.frontier, int(frontier))
        self._active = [n for n in self._active if n.heard_end is None or n.heard_end > self.frontier]
        for p, offs in list(self._early_offs.items()):
            keep = [f for f in offs if f >= self.frontier - 64]  # a note-on this late is not its pair
            if keep:
                self._early_offs[p] = keep
            else:
                del self._early_offs[p]

    def played_notes(self, until: int | None = None) -> list[Note]:
        """What the player played, at the true frames (keys still down end at `until`)."""
        out = []
        for n in sorted(self.notes, key=lambda n: (n.start, -n.pitch)):
            if until is not None and n.start >= until:
                continue
            end = n.end if n.end is not None else (until if until is not None else n.start + 1)
            if until is not None:
                end = min(end, until)
            out.append(Note(n.start, max(end, n.start + 1), n.pitch))
        return out
