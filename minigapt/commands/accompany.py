"""Harmonise a melody file online, frame by frame, and write MIDI (and optionally WAV).

The policy hears the melody as if it were played live: each chord is chosen before the note
of its frame is heard. Any ABC, MusicXML/MXL or MIDI file works; chords in it are ignored.
"""
from __future__ import annotations

import argparse
import dataclasses
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="NAME|PATH",
                        help="a model name (runs/SCALE/NAME/, then assets/checkpoints/NAME.pt) or a .pt file")
    parser.add_argument("--scale", default="course", help="whose runs a model name means (default: course)")
    parser.add_argument("--melody", required=True, metavar="FILE",
                        help="an ABC, MusicXML/MXL or MIDI file holding the melody")
    parser.add_argument("--out", required=True, metavar="FILE.mid", help="MIDI file to write")
    parser.add_argument("--wav", metavar="FILE", help="also render audio to this WAV file")
    parser.add_argument("--temperature", type=float, default=0.8,
                        help="sampling temperature (0 = greedy; default 0.8, as in the paper's user study)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    parser.add_argument("--song", type=int, default=0, metavar="N",
                        help="which song of a multi-tune file (0-based, default 0)")
    parser.add_argument("--tempo", type=float, default=None, metavar="BPM",
                        help="playback tempo (default: the file's, else 100)")


def run(args: argparse.Namespace) -> dict:
    from .. import audio
    from ..data.catalog import load_songs
    from ..errors import MinigaptError
    from ..eval.harmony import note_in_chord_ratio
    from ..generate import rollout_online
    from ..models.checkpoint import build_model, load_checkpoint, resolve_checkpoint
    from ..music.tokens import chords_from_frames, melody_frames

    t0 = time.perf_counter()
    if args.temperature < 0:
        raise MinigaptError("--temperature must be >= 0")
    if not str(args.out).lower().endswith((".mid", ".midi")):
        raise MinigaptError(f"--out should be a .mid file, not {args.out!r}")
    checkpoint = resolve_checkpoint(args.model, args.scale)
    model = build_model(load_checkpoint(checkpoint, kind="online"))
    report = load_songs(str(args.melody), workers=1, progress=False)
    if not report.songs:
        skipped = ", ".join(f"{k} x{v}" for k, v in report.skipped.items()) or "nothing found"
        raise MinigaptError(f"no usable melody in {args.melody} ({skipped})")
    if not 0 <= args.song < len(report.songs):
        raise MinigaptError(f"--song {args.song}: {args.melody} holds {len(report.songs)} song(s)")
    song = report.songs[args.song]
    if not song.melody:
        raise MinigaptError(f"{args.melody}: song {args.song} has no melody notes")
    x = melody_frames(song)
    rollout = rollout_online(model, x[None], temperature=args.temperature, seed=args.seed)
    y = rollout.chords[0].cpu().numpy()
    chords = chords_from_frames(y)
    harmony = note_in_chord_ratio(x, y)
    out_song = dataclasses.replace(song, chords=chords, title=f"{song.title} (minigapt)")
    tempo = args.tempo or float(song.meta.get("tempo_bpm") or 100)
    audio.song_to_midi(out_song, args.out, tempo_bpm=tempo)
    result = {"model": str(args.model), "checkpoint": str(checkpoint.resolve()), "melody": str(args.melody), "song": song.title,
              "frames": int(len(x)), "chord_events": len(chords),
              "distinct_chords": len({c.chord for c in chords}),
              "harmony": None if harmony != harmony else round(harmony, 4), "out": str(args.out)}
    if args.wav:
        rate = 22050
        audio.write_wav(args.wav, audio.render(out_song, sample_rate=rate, tempo_bpm=tempo), rate)
        result["wav"] = str(args.wav)
    result["seconds"] = round(time.perf_counter() - t0, 2)
    return result
