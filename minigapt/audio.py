"""Songs -> sound and files: MIDI, WAV, notebook players, MusicXML and score pictures.

Rendering is offline (never an audio device): FluidSynth with a General MIDI soundfont when
the system library, `pyfluidsynth` and a soundfont are all there, else a small numpy additive
synth, announced once per process with a one-line notice saying what to install.
`MINIGAPT_AUDIO_BACKEND=numpy` forces the fallback; `MINIGAPT_SOUNDFONT` picks a soundfont.

Chords are voiced the same way everywhere (MIDI file, render, notebooks): close position with
the root between F3 and E4 (so the chord sits around middle C) plus the root an octave lower.
"""
from __future__ import annotations

import io
import os
import sys
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import FRAMES_PER_BEAT
from .errors import MinigaptError
from .music.chords import QUALITIES, ROOT_NAMES, split_chord_name
from .music.song import Song, crop_song, time_signature
from .notation import show_score, song_to_musicxml  # noqa: F401 (notebooks and tests call them from here)

MELODY_PROGRAM = 0  # GM Acoustic Grand Piano
CHORD_PROGRAM = 89  # GM Pad 2 (warm): sustains for the whole chord, stays behind the melody
MELODY_VELOCITY, CHORD_VELOCITY, BASS_VELOCITY = 100, 40, 45  # melody ~1.5x louder (rms)
MELODY_CHANNEL, CHORD_CHANNEL = 0, 1
TICKS_PER_BEAT = 480
SYNTH_GAIN = 1.5  # FluidSynth gain: peaks ~0.3 on a lead sheet, headroom for dense songs
SOUNDFONT_DIRS = ("/usr/share/sounds/sf2",)
SOUNDFONT_NAMES = ("TimGM6mb.sf2", "default-GM.sf2", "FluidR3_GM.sf2")
INSTALL_HINT = ("apt-get install fluidsynth && pip install pyfluidsynth, "
                "or conda install -c conda-forge fluidsynth pyfluidsynth")


@dataclass(frozen=True)
class NoteEvent:
    """One sounding note in frames, on a MIDI channel: what MIDI export and both synths read."""
    start: int
    end: int
    pitch: int
    channel: int
    velocity: int


# --- voicing and events -------------------------------------------------------------------
def chord_voicing(chord: str) -> list[int]:
    """MIDI pitches for a chord: bass root, then close position with the root in F3..E4."""
    root, quality = split_chord_name(chord)
    low = 53 + (root - 5) % 12  # F3 (53) .. E4 (64): the chord's middle lands near C4
    return [low - 12] + [low + i for i in QUALITIES[quality]]


def song_events(song: Song) -> list[NoteEvent]:
    """Melody notes and voiced chords as note events, sorted by start."""
    events = [NoteEvent(n.start, n.end, n.pitch, MELODY_CHANNEL, MELODY_VELOCITY)
              for n in song.melody if n.end > n.start]
    for c in song.chords:
        if c.end <= c.start:
            continue
        bass, *upper = chord_voicing(c.chord)
        events.append(NoteEvent(c.start, c.end, bass, CHORD_CHANNEL, BASS_VELOCITY))
        events += [NoteEvent(c.start, c.end, p, CHORD_CHANNEL, CHORD_VELOCITY) for p in upper]
    return sorted(events, key=lambda e: (e.start, e.channel, e.pitch))


def frame_seconds(tempo_bpm: float) -> float:
    return 60.0 / tempo_bpm / FRAMES_PER_BEAT


# --- MIDI ---------------------------------------------------------------------------------
def song_to_midi(song: Song, path=None, tempo_bpm: float = 100, melody_program: int = MELODY_PROGRAM,
                 chord_program: int = CHORD_PROGRAM):
    """A type-1 MIDI file: a conductor track, a 'melody' track (channel 0) and a 'chords' track
    (channel 1, voiced chords, each chord's name as a marker). Saved to `path` if given."""
    import mido

    tpf = TICKS_PER_BEAT // FRAMES_PER_BEAT
    mid = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    num, den = time_signature(song)
    conductor = mido.MidiTrack([
        mido.MetaMessage("track_name", name=song.title[:60] or "song", time=0),
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm), time=0),
        mido.MetaMessage("time_signature", numerator=num, denominator=den, time=0),
    ])
    mid.tracks.append(conductor)
    events = song_events(song)
    for name, channel, program in (("melody", MELODY_CHANNEL, melody_program),
                                   ("chords", CHORD_CHANNEL, chord_program)):
        timed = []  # (tick, order, message): note-offs before note-ons at the same tick
        if name == "chords":
            timed += [(c.start * tpf, 0, mido.MetaMessage("marker", text=c.chord)) for c in song.chords]
        for e in events:
            if e.channel == channel:
                timed.append((e.start * tpf, 2, mido.Message("note_on", channel=channel, note=e.pitch,
                                                             velocity=e.velocity)))
                timed.append((e.end * tpf, 1, mido.Message("note_off", channel=channel, note=e.pitch,
                                                           velocity=0)))
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0),
                                mido.Message("program_change", channel=channel, program=program, time=0)])
        now = 0
        for tick, _, msg in sorted(timed, key=lambda m: (m[0], m[1])):
            track.append(msg.copy(time=tick - now))
            now = tick
        end_tick = song.n_frames * tpf  # so the file lasts the whole song, trailing rests too
        track.append(mido.MetaMessage("end_of_track", time=max(0, end_tick - now)))
        mid.tracks.append(track)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        mid.save(str(path))
    return mid


# --- backends -----------------------------------------------------------------------------
_notices_shown: set[str] = set()


def _notice(key: str, text: str) -> None:
    """Print a one-line notice the first time `key` comes up in this process."""
    if key not in _notices_shown:
        _notices_shown.add(key)
        print(f"minigapt.audio: {text}", file=sys.stderr)


def find_soundfont() -> Path | None:
    """MINIGAPT_SOUNDFONT, then the Debian GM soundfonts, then pretty_midi's bundled one."""
    env = os.environ.get("MINIGAPT_SOUNDFONT")
    if env:
        if not Path(env).is_file():
            raise MinigaptError(f"MINIGAPT_SOUNDFONT={env} is not a file")
        return Path(env)
    for d in SOUNDFONT_DIRS:
        for name in SOUNDFONT_NAMES:
            p = Path(d) / name
            if p.is_file():  # follows the default-GM.sf2 symlink
                return p
    try:
        import pretty_midi
        p = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
        if p.is_file():
            return p
    except ImportError:
        pass
    return None


def _fluidsynth_problem() -> str | None:
    """None when FluidSynth can render, else what is missing (for the notice)."""
    try:
        import fluidsynth
    except ImportError as e:  # the python package, or the system library it loads by ctypes
        what = "the FluidSynth library" if "FluidSynth library" in str(e) else "pyfluidsynth"
        return f"{what} is missing"
    except OSError as e:
        return f"the FluidSynth library failed to load ({e})"
    if not hasattr(fluidsynth, "Synth"):
        return "the wrong 'fluidsynth' package is installed (pip uninstall fluidsynth; pip install pyfluidsynth)"
    if find_soundfont() is None:
        return "no General MIDI soundfont found (set MINIGAPT_SOUNDFONT or apt-get install fluidsynth)"
    return None


def backend() -> str:
    """'fluidsynth' or 'numpy': the synth render() uses now (announces the fallback once)."""
    forced = os.environ.get("MINIGAPT_AUDIO_BACKEND", "").strip().lower()
    if forced == "numpy":
        _notice("forced", "using the numpy synth (MINIGAPT_AUDIO_BACKEND=numpy); unset it for FluidSynth")
        return "numpy"
    if forced not in ("", "fluidsynth"):
        raise MinigaptError(f"MINIGAPT_AUDIO_BACKEND={forced!r}: use 'fluidsynth' or 'numpy'")
    problem = _fluidsynth_problem()
    if problem is None:
        return "fluidsynth"
    if forced == "fluidsynth":
        raise MinigaptError(f"MINIGAPT_AUDIO_BACKEND=fluidsynth but {problem}; {INSTALL_HINT}")
    _notice("missing", f"{problem}, using a simple numpy synth instead; for real instruments: {INSTALL_HINT}")
    return "numpy"


def _new_synth(sample_rate: int, gain: float, effects: bool = True):
    import fluidsynth

    settings = {} if effects else {"synth.reverb.active": 0, "synth.chorus.active": 0}
    synth = fluidsynth.Synth(samplerate=float(sample_rate), gain=gain, **settings)
    sfid = synth.sfload(str(find_soundfont()))
    if sfid < 0:
        synth.delete()
        raise MinigaptError(f"FluidSynth could not load the soundfont {find_soundfont()}")
    return synth, sfid


def _render_fluidsynth(events, n_samples, sample_rate, frame_s, programs) -> np.ndarray:
    synth, sfid = _new_synth(sample_rate, gain=SYNTH_GAIN)
    try:
        for channel, program in programs.items():
            synth.program_select(channel, sfid, 0, program)
        changes = sorted([(e.start, 1, e) for e in events] + [(e.end, 0, e) for e in events],
                         key=lambda c: (c[0], c[1]))  # offs before ons at the same frame
        chunks, done = [], 0
        for frame, is_on, e in changes:
            at = min(n_samples, int(round(frame * frame_s * sample_rate)))
            if at > done:
                chunks.append(synth.get_samples(at - done))
                done = at
            if is_on:
                synth.noteon(e.channel, e.pitch, e.velocity)
            else:
                synth.noteoff(e.channel, e.pitch)
        if n_samples > done:
            chunks.append(synth.get_samples(n_samples - done))
    finally:
        synth.delete()
    pcm = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    return (pcm.reshape(-1, 2).astype(np.float32) / 32768.0)[:n_samples]


def _numpy_tone(pitch: int, n_on: int, n_total: int, sample_rate: int, pad: bool) -> np.ndarray:
    """One note: a few decaying harmonics (piano-like) or a soft sustained tone (pad)."""
    t = np.arange(n_total) / sample_rate
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    harmonics = (1.0, 0.35, 0.12) if pad else (1.0, 0.5, 0.3, 0.15, 0.08)
    wave_ = sum(a * np.sin(2 * np.pi * f0 * (k + 1) * t) for k, a in enumerate(harmonics)
                if f0 * (k + 1) < sample_rate / 2)
    on_s = n_on / sample_rate
    if pad:
        env = np.minimum(1.0, t / 0.08)  # slow attack, then held
    else:
        env = np.minimum(1.0, t / 0.005) * np.exp(-t * (1.5 + f0 / 400))
    release = np.exp(-np.maximum(0.0, t - on_s) / 0.08)  # after note-off: fade in ~0.2 s
    return (wave_ * env * release).astype(np.float32)


def _render_numpy(events, n_samples, sample_rate, frame_s) -> np.ndarray:
    out = np.zeros(n_samples, np.float32)
    tail = int(0.3 * sample_rate)
    for e in events:
        a = int(round(e.start * frame_s * sample_rate))
        b = int(round(e.end * frame_s * sample_rate))
        stop = min(n_samples, b + tail)
        if a >= stop:
            continue
        pad = e.channel == CHORD_CHANNEL
        tone = _numpy_tone(e.pitch, b - a, stop - a, sample_rate, pad)
        out[a:stop] += tone * (e.velocity / 127) * (0.06 if pad else 0.14)  # levels match FluidSynth
    return np.stack([out, out], axis=1)


def render(song: Song, sample_rate: int = 22050, tempo_bpm: float = 100, stereo: bool = False,
           tail_seconds: float = 0.5, melody_program: int = MELODY_PROGRAM,
           chord_program: int = CHORD_PROGRAM) -> np.ndarray:
    """The song as float32 audio in [-1, 1]: shape (n,) mono or (n, 2) stereo, n covering the
    song's n_frames plus `tail_seconds` of release."""
    frame_s = frame_seconds(tempo_bpm)
    n_samples = int(round((song.n_frames * frame_s + tail_seconds) * sample_rate))
    events = song_events(song)
    if backend() == "fluidsynth":
        programs = {MELODY_CHANNEL: melody_program, CHORD_CHANNEL: chord_program}
        audio = _render_fluidsynth(events, n_samples, sample_rate, frame_s, programs)
    else:
        audio = _render_numpy(events, n_samples, sample_rate, frame_s)
    audio = np.clip(audio, -1.0, 1.0)
    return audio if stereo else audio.mean(axis=1).astype(np.float32)


def render_note_samples(pitches, seconds: float = 1.0, program: int = 0, sample_rate: int = 22050,
                        velocity: int = 100) -> dict[int, np.ndarray]:
    """pitch -> mono float32 sample of one note `seconds` long (released near the end and faded,
    no reverb so neighbouring samples do not bleed): for instruments played live in the browser."""
    n = int(round(seconds * sample_rate))
    n_on = max(1, n - int(min(0.3, seconds / 4) * sample_rate))
    fade = np.linspace(1.0, 0.0, min(n, int(0.02 * sample_rate)), dtype=np.float32)
    out: dict[int, np.ndarray] = {}
    if backend() == "fluidsynth":
        synth, sfid = _new_synth(sample_rate, gain=SYNTH_GAIN, effects=False)
        try:
            synth.program_select(0, sfid, 0, program)
            for p in pitches:
                synth.noteon(0, int(p), velocity)
                on = synth.get_samples(n_on)
                synth.noteoff(0, int(p))
                off = synth.get_samples(n - n_on)
                synth.all_sounds_off(0)
                synth.get_samples(int(0.05 * sample_rate))  # flush before the next pitch
                x = np.concatenate([on, off]).reshape(-1, 2).astype(np.float32).mean(axis=1) / 32768.0
                out[int(p)] = x
        finally:
            synth.delete()
    else:
        pad = 88 <= program <= 95 or 48 <= program <= 55  # GM pads and strings sustain
        for p in pitches:
            out[int(p)] = _numpy_tone(int(p), n_on, n, sample_rate, pad) * (velocity / 127) * 0.15
    for p, x in out.items():
        x[len(x) - len(fade):] *= fade
        out[p] = np.clip(x, -1.0, 1.0).astype(np.float32)
    return out


# --- files and players --------------------------------------------------------------------
def wav_bytes(samples: np.ndarray, rate: int = 22050) -> bytes:
    """16-bit PCM WAV bytes of mono (n,) or stereo (n, 2) float samples in [-1, 1]."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 2 and x.shape[0] == 2 and x.shape[1] != 2:
        x = x.T  # accept IPython's (2, n) layout too
    if x.ndim not in (1, 2) or (x.ndim == 2 and x.shape[1] not in (1, 2)):
        raise MinigaptError(f"audio must be (n,) or (n, 2), got shape {x.shape}")
    pcm = (np.clip(x, -1.0, 1.0) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1 if x.ndim == 1 else x.shape[1])
        w.setsampwidth(2)
        w.setframerate(int(rate))
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def write_wav(path, samples: np.ndarray, rate: int = 22050) -> Path:
    """Write 16-bit PCM WAV (stdlib `wave`); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(wav_bytes(samples, rate))
    return path


def play(song_or_samples, sample_rate: int = 22050, tempo_bpm: float = 100, max_seconds: float = 20,
         autoplay: bool = False):
    """An inline notebook player (IPython.display.Audio), mono and at most `max_seconds` long
    to keep notebooks small. Takes a Song or samples (at `sample_rate`)."""
    from IPython.display import Audio

    if isinstance(song_or_samples, Song):
        song = song_or_samples
        max_frames = int(max_seconds / frame_seconds(tempo_bpm))
        if song.n_frames > max_frames:
            song = crop_song(song, 0, max_frames)
        x = render(song, sample_rate, tempo_bpm)
    else:
        x = np.asarray(song_or_samples, dtype=np.float32)
        if x.ndim == 2:
            x = x.mean(axis=1) if x.shape[1] == 2 else x.mean(axis=0)
    x = np.clip(x[: int(max_seconds * sample_rate)], -1.0, 1.0)
    return Audio(x, rate=sample_rate, normalize=False, autoplay=autoplay)
