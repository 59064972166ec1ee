"""A jam, kept: the notes the player played and the chords that were committed, as a Song.

From a record you can save the jam to MIDI and MusicXML, render and play it back with the
notebooks' sound (minigapt.audio), and score it the way the paper scores its live user study
(Table 2's user-study column): note-in-chord harmony and the diversity of the chords played.
Only the frames after the listen-only intro count, since no chords sound before them.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .. import audio, notation
from ..eval.diversity import diversity_summary, vendi_score
from ..eval.harmony import harmony_per_beat, note_in_chord_ratio
from ..models.checkpoint import CHECKPOINT_NAME, runs_dir
from ..music.song import Note, Song, normalize_song
from ..music.tokens import SILENCE, VOCAB, chord_frames, chords_from_frames, melody_frames
from ..rewards.ensemble import load_ensemble


@dataclass
class JamRecord:
    """One session. `chords` are chord tokens per frame (SILENCE in the intro)."""
    melody: list[Note]  # as played, at the true frames
    chords: list[int]
    listen_frames: int
    tempo_bpm: float
    model: str = ""
    title: str = "live jam"
    heard: list[int] = field(default_factory=list)  # melody tokens the policy was fed
    meta: dict = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return len(self.chords)

    @classmethod
    def from_engine(cls, engine, *, model: str = "", title: str = "live jam", until: int | None = None,
                    meta: dict | None = None) -> "JamRecord":
        """The engine's session up to frame `until` (default: the frames it has heard)."""
        with engine.lock:
            n = engine.fed if until is None else int(until)
            chords = list(engine.committed[:n]) + [SILENCE] * max(0, n - len(engine.committed))
            return cls(engine.melody.played_notes(until=n), chords, min(engine.listen, n),
                       engine.cfg.tempo_bpm, model, title, list(engine.session.melody[:n]),
                       {"config": asdict(engine.cfg), **(meta or {})})

    def song(self) -> Song:
        """Melody (monophonic, top line) and chord events on the frame grid."""
        chords = chords_from_frames(np.asarray(self.chords, np.int64)) if self.chords else []
        return normalize_song(Song(self.title, f"live jam ({self.model})" if self.model else "live jam",
                                   list(self.melody), chords, self.n_frames), self.n_frames)

    def frames(self) -> tuple[np.ndarray, np.ndarray]:
        """(melody frame tokens, chord frame tokens), each [n_frames], of the song as played."""
        song = self.song()
        return melody_frames(song), chord_frames(song)

    def save_midi(self, path) -> Path:
        audio.song_to_midi(self.song(), path, tempo_bpm=self.tempo_bpm)
        return Path(path)

    def save_musicxml(self, path) -> Path:
        return notation.song_to_musicxml(self.song(), path)

    def render(self, sample_rate: int = 22050) -> np.ndarray:
        return audio.render(self.song(), sample_rate, self.tempo_bpm)

    def play(self, max_seconds: float = 20):
        """An inline player of the jam as recorded (offline render, same instruments)."""
        return audio.play(self.song(), tempo_bpm=self.tempo_bpm, max_seconds=max_seconds)

    def to_json(self) -> str:
        d = asdict(self)
        d["melody"] = [[n.start, n.end, n.pitch] for n in self.melody]
        return json.dumps(d)

    @classmethod
    def from_json(cls, text: str) -> "JamRecord":
        d = json.loads(text)
        d["melody"] = [Note(*n) for n in d["melody"]]
        return cls(**d)

    def save(self, path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json())
        return path


def score_record(record: JamRecord, ensemble=None, window_frames: int = 64) -> dict:
    """Harmony and diversity of the jam after its intro: note-in-chord (pooled), harmony per beat
    (a list, for plots), distinct chords, chord changes, longest hold, histogram entropy, pitch
    classes per chord, and the Vendi score of its `window_frames`-frame stretches when a reward
    ensemble (with a contrastive model) is given."""
    x, y = record.frames()
    x, y = x[record.listen_frames:], y[record.listen_frames:]
    out = {"frames": int(len(x)), "harmony": note_in_chord_ratio(x, y) if len(x) else None,
           "harmony_per_beat": harmony_per_beat(x, y).tolist() if len(x) else []}
    out.update(diversity_summary(y) if len(y) else {})
    ids = VOCAB.chord_of[y]
    out["pitch_classes_per_chord"] = float(VOCAB.chord_pc_mask[ids[ids >= 0]].sum(1).mean()) if (ids >= 0).any() else None
    out["vendi"] = None
    if ensemble is not None and len(y) >= window_frames:
        n = len(y) // window_frames
        windows = y[:n * window_frames].reshape(n, window_frames)
        try:
            emb = ensemble.embed_chords(windows).numpy()

            out["vendi"] = vendi_score(emb) if n > 1 else 1.0
        except Exception:  # an ensemble without a contrastive model: no Vendi
            out["vendi"] = None
    return out


def vendi_of_records(records, ensemble, window_frames: int = 64) -> float | None:
    """The Vendi score of several jams' chords after their intros, cut into `window_frames`-frame
    stretches and pooled (how varied a system's accompaniment is across sessions), on the reward
    ensemble's chord embedding as in notebooks 03-06; None without an ensemble or enough frames."""
    if ensemble is None:
        return None
    windows = []
    for r in records:
        y = np.asarray(r.chords[r.listen_frames:], np.int64)
        windows += [y[i:i + window_frames] for i in range(0, len(y) - window_frames + 1, window_frames)]
    if len(windows) < 2:
        return None
    try:
        emb = ensemble.embed_chords(np.stack(windows)).numpy()
    except Exception:  # no contrastive model in this ensemble
        return None

    return vendi_score(emb)


def load_scoring_ensemble(scale: str):
    """The reward ensemble notebook 03 trained at `scale` (for Vendi), or None: nothing is trained here."""
    path = runs_dir() / scale / "rewards" / CHECKPOINT_NAME
    if not path.is_file():
        return None
    try:
        return load_ensemble(path)
    except Exception:  # a stale or damaged run: score without Vendi
        return None
