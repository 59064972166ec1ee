"""Run a policy online over every melody in a file or folder and print harmony and diversity.

Every melody (ABC, MusicXML/MXL, MIDI; melody-only files welcome, each tune of a multi-tune
ABC file counts) is accompanied once, online, frame by frame, as in the paper's fixed-melody
simulation. Vendi is computed on the chord embedding of a reward ensemble's first contrastive
model (--rewards; by default the course ensemble: your run, else the shipped one).
"""
from __future__ import annotations

import argparse
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="NAME|PATH",
                        help="a model name (runs/NAME/, then assets/checkpoints/NAME.pt) or a .pt file")
    parser.add_argument("--melodies", required=True, metavar="PATH", help="a melody file or a folder of them")
    parser.add_argument("--max-frames", type=int, default=None, metavar="N",
                        help="accompany at most the first N frames (16ths) of each melody (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default 1.0)")
    parser.add_argument("--rewards", default="course/rewards", metavar="NAME|PATH",
                        help="reward ensemble whose chord embedding Vendi uses (default: course/rewards)")


def run(args: argparse.Namespace) -> dict:
    import numpy as np

    from ..data.catalog import load_songs
    from ..errors import MinigaptError, SkipSong
    from ..eval.diversity import distinct_chords_per_sequence, vendi_score
    from ..eval.harmony import note_in_chord_ratio, pitch_classes_per_chord
    from ..generate import rollout_online
    from ..models.checkpoint import load_model
    from ..music.tokens import PAD, melody_frames
    from ..rewards.ensemble import load_ensemble

    t0 = time.perf_counter()
    if args.max_frames is not None and args.max_frames < 1:
        raise MinigaptError("--max-frames must be at least 1")
    model = load_model(args.model, kind="online")
    report = load_songs(str(args.melodies), workers=1, progress=False)
    skipped = dict(report.skipped)
    melodies = []
    for song in report.songs:
        try:
            x = melody_frames(song)
        except SkipSong as e:
            skipped[e.reason] = skipped.get(e.reason, 0) + 1
            continue
        x = x[:args.max_frames] if args.max_frames else x
        if (x != 3).any():  # not silence only
            melodies.append(x)
        else:
            skipped["no_melody"] = skipped.get("no_melody", 0) + 1
    if not melodies:
        reasons = ", ".join(f"{k} x{v}" for k, v in skipped.items()) or "nothing found"
        raise MinigaptError(f"no usable melody in {args.melodies} ({reasons})")
    T = max(len(x) for x in melodies)
    batch = np.full((len(melodies), T), PAD, np.int64)
    for i, x in enumerate(melodies):
        batch[i, :len(x)] = x
    y = rollout_online(model, batch, temperature=args.temperature, seed=args.seed).chords.numpy()
    harmony = note_in_chord_ratio(batch, y)
    vendi, embedding = None, None
    try:
        ensemble = load_ensemble(args.rewards)
        vendi = round(vendi_score(ensemble.embed_chords(y).numpy()), 4) if len(y) > 1 else 1.0
        embedding = str(args.rewards)
    except MinigaptError as e:  # no ensemble to embed with: say so, keep the rest
        embedding = f"unavailable: {e}"
    pcs = pitch_classes_per_chord(y[batch != PAD])
    return {"model": str(args.model), "melodies": str(args.melodies), "sequences": len(melodies),
            "frames": int((batch != PAD).sum()), "harmony": None if harmony != harmony else round(harmony, 4),
            "vendi": vendi, "vendi_embedding": embedding,
            "distinct_chords_per_sequence": round(float(distinct_chords_per_sequence(y).mean()), 4),
            "pitch_classes_per_chord": None if pcs is None else round(pcs, 4),
            "skipped": skipped, "seed": args.seed, "seconds": round(time.perf_counter() - t0, 2)}
