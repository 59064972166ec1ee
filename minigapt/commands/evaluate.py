"""Accompany every melody in a file or folder online and print harmony and diversity.

Every melody (ABC, MusicXML/MXL, MIDI; melody-only files welcome, each tune of a multi-tune
ABC file counts) is accompanied online, frame by frame, as in the paper's fixed-melody
simulation, `--samples` times (2 by default, seeded). `--model` also takes `data` (the
melodies' own chords) and the known-answer parts `held-tonic` and `tonic-dominant` (built in the
key the melody implies): the yardsticks every number is read against. The paper's `vendi` is
computed on the chord embedding of a reward ensemble's first contrastive model (`--rewards`;
by default the scale's own ensemble, else the shipped one); `chord_vendi` needs nothing.
"""
from __future__ import annotations

import argparse
import time

REFERENCES = ("data", "held-tonic", "tonic-dominant")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="NAME|PATH",
                        help="a model name (runs/SCALE/NAME/, then assets/checkpoints/NAME.pt), a .pt file, "
                             "or one of: " + ", ".join(REFERENCES))
    parser.add_argument("--melodies", required=True, metavar="PATH", help="a melody file or a folder of them")
    parser.add_argument("--max-frames", type=int, default=None, metavar="N",
                        help="accompany at most the first N frames (16ths) of each melody (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    parser.add_argument("--samples", type=int, default=2, metavar="N",
                        help="sampled accompaniments per melody (default 2)")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default 1.0)")
    parser.add_argument("--scale", default="course", help="whose runs a model name means (default: course)")
    parser.add_argument("--rewards", default="rewards", metavar="NAME|PATH",
                        help="reward ensemble whose chord embedding the paper's Vendi uses (default: rewards)")


def _round(v, digits: int = 4):
    if isinstance(v, float):
        return None if v != v else round(v, digits)
    if isinstance(v, list):
        return [_round(a, digits) for a in v]
    return v


def read_melodies(path: str, max_frames: int | None, with_chords: bool):
    """(melody frames [N, T], the songs' chord frames [N, T] or None, skipped reason -> count)."""
    import numpy as np

    from ..data.catalog import load_songs
    from ..errors import MinigaptError, SkipSong
    from ..music.tokens import PAD, SILENCE, chord_frames, melody_frames

    report = load_songs(path, workers=1, progress=False)
    skipped = dict(report.skipped)
    pairs = []
    for song in report.songs:
        try:
            if with_chords and not song.has_chords:
                raise SkipSong("no_chords")
            x = melody_frames(song)[:max_frames]
            y = chord_frames(song)[:max_frames] if with_chords else None
        except SkipSong as e:
            skipped[e.reason] = skipped.get(e.reason, 0) + 1
            continue
        if (x != SILENCE).any():
            pairs.append((x, y))
        else:
            skipped["no_melody"] = skipped.get("no_melody", 0) + 1
    if not pairs:
        if with_chords and skipped.get("no_chords"):
            raise MinigaptError(f"--model data needs the melodies' own chords; {path} holds melodies only")
        reasons = ", ".join(f"{k} x{v}" for k, v in skipped.items()) or "nothing found"
        raise MinigaptError(f"no usable melody in {path} ({reasons})")
    T = max(len(x) for x, _ in pairs)
    xs = np.full((len(pairs), T), PAD, np.int64)
    ys = np.full((len(pairs), T), PAD, np.int64) if with_chords else None
    for i, (x, y) in enumerate(pairs):
        xs[i, :len(x)] = x
        if with_chords:
            ys[i, :len(y)] = y
    return xs, ys, skipped


def run(args: argparse.Namespace) -> dict:
    from ..errors import MinigaptError
    from ..eval.measures import evaluate_parts
    from ..eval.reference_parts import reference_part
    from ..models.checkpoint import build_model, load_checkpoint, resolve_checkpoint
    from ..music.tokens import PAD
    from ..rewards.ensemble import load_ensemble
    from ..rl.evaluation import sample_accompaniments

    t0 = time.perf_counter()
    if args.max_frames is not None and args.max_frames < 1:
        raise MinigaptError("--max-frames must be at least 1")
    if args.samples < 1:
        raise MinigaptError("--samples must be at least 1")
    if args.temperature <= 0:
        raise MinigaptError("--temperature must be > 0")
    name = str(args.model)
    x, y_data, skipped = read_melodies(str(args.melodies), args.max_frames, with_chords=name == "data")
    samples, n_melodies, n_frames = 1, len(x), int((x != PAD).sum())
    if name == "data":
        checkpoint, y = "data", y_data
    elif name in REFERENCES:
        checkpoint, y = name, reference_part(name, x)
    else:
        path = resolve_checkpoint(name, args.scale)
        checkpoint = str(path.resolve())
        model = build_model(load_checkpoint(path, kind="online"))
        samples = args.samples
        x, y = sample_accompaniments(model, x, samples, args.temperature, args.seed)
    embedding, ensemble = None, None
    try:
        path = resolve_checkpoint(args.rewards, args.scale)
        ensemble = load_ensemble(path)
        embedding = str(path.resolve())
    except MinigaptError as e:  # no ensemble to embed with: say so, keep the rest
        embedding = f"unavailable: {e}"
    m = evaluate_parts(x, y, ensemble)
    keys = ("harmony", "harmony_ci", "harmony_triad", "harmony_triad_ci", "pitch_classes_per_chord",
            "vendi", "chord_vendi", "chord_vendi_ci", "distinct_chords_per_sequence",
            "chord_changes_per_sequence", "chord_changes_inside_notes", "longest_hold", "coherence")
    return {"model": name, "checkpoint": checkpoint, "melodies": str(args.melodies), "sequences": n_melodies,
            "samples_per_melody": samples, "parts": len(y), "frames": n_frames,
            **{k: _round(m.get(k)) for k in keys}, "vendi_embedding": embedding,
            "skipped": skipped, "seed": args.seed, "temperature": args.temperature, "scale": args.scale,
            "seconds": round(time.perf_counter() - t0, 2)}
