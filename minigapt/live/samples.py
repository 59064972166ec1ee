"""The sounds the browser plays in a jam, rendered in the kernel with the notebooks' soundfont.

The jam's audio runs in the browser (WebAudio: no audio device is ever opened in the kernel, and
a note sounds the moment its key goes down). So that the jam sounds like the notebooks' offline
renders, the browser does not synthesise anything itself: it plays one sample per pitch,
rendered here by `minigapt.audio.render_note_samples` with the same General MIDI soundfont, the
same instruments (piano for the melody, warm pad for the chords) and the same velocities. The
chord voicing is audio.chord_voicing's, sent with each plan.

Pitches outside a bank are played by the browser from the nearest sample, re-pitched. The bank
is packed as one block of 16-bit PCM plus an index (no WAV decoding in the browser) and cached
per process: rendering takes ~0.3 s, the block is ~7 MB.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass

import numpy as np

from .. import audio
from ..music.tokens import VOCAB

RATE = 22050
MELODY_PITCHES = range(36, 97)  # C2..C7: the on-screen and computer keyboards, most MIDI playing
CHORD_PITCHES = range(41, 77)  # every pitch audio.chord_voicing uses (bass F2..E3, chord F3..D#5)
MELODY_SECONDS = 1.2  # a piano note has mostly died away by then
CHORD_SECONDS = 3.0  # a pad sustains: the browser loops the middle for longer chords


@dataclass
class SampleBank:
    rate: int
    backend: str  # "fluidsynth" (the soundfont) or "numpy" (audio.py's fallback synth)
    melody: dict[int, np.ndarray]  # pitch -> mono float32
    chords: dict[int, np.ndarray]


@functools.lru_cache(maxsize=4)
def _bank(rate: int, backend: str, soundfont: str) -> SampleBank:
    melody = audio.render_note_samples(MELODY_PITCHES, MELODY_SECONDS, audio.MELODY_PROGRAM, rate,
                                       velocity=audio.MELODY_VELOCITY)
    chords = audio.render_note_samples(CHORD_PITCHES, CHORD_SECONDS, audio.CHORD_PROGRAM, rate,
                                       velocity=audio.CHORD_VELOCITY)
    return SampleBank(rate, backend, melody, chords)


def sample_bank(rate: int = RATE) -> SampleBank:
    """The melody and chord samples (rendered once per process and sound setup)."""
    backend = audio.backend()
    soundfont = str(audio.find_soundfont()) if backend == "fluidsynth" else ""
    return _bank(int(rate), backend, soundfont)


def pack(bank: SampleBank) -> tuple[bytes, dict]:
    """(int16 little-endian PCM of every sample back to back, index) where index is
    {"rate", "backend", "melody": {pitch: [offset, length]}, "chords": {...}} in samples."""
    parts, index, offset = [], {"rate": bank.rate, "backend": bank.backend,
                                "loop": [1.0, CHORD_SECONDS - 0.5]}, 0
    for part in ("melody", "chords"):
        index[part] = {}
        for pitch, x in sorted(getattr(bank, part).items()):
            pcm = (np.clip(x, -1, 1) * 32767).astype("<i2")
            index[part][str(pitch)] = [offset, len(pcm)]
            parts.append(pcm.tobytes())
            offset += len(pcm)
    return b"".join(parts), index


def packed_bank(rate: int = RATE) -> tuple[bytes, str]:
    """pack(sample_bank(rate)) with the index as JSON text (what the widget sends)."""
    data, index = pack(sample_bank(rate))
    return data, json.dumps(index)


def chord_voicings() -> dict[str, list[int]]:
    """Chord name -> MIDI pitches (audio.chord_voicing) for every chord of the vocabulary."""
    return {name: audio.chord_voicing(name) for name in VOCAB.chord_names}
