"""Do the reward models pay for chords that change on time? The data's chords of every Nottingham
validation melody (128 frames), scored as written and with every chord moved d frames later (the
melody unchanged): a late part, as an online policy that reacts plays it.

    MINIGAPT_DATA=../shared/data .venv/bin/python docs/reward_timing.py

Prints, per delay, note-in-chord, the chord changes per part that start inside a held melody
note, and each reward-model type's mean z-score (the shipped course ensemble, 2 seeds per type).
"""
from __future__ import annotations

import numpy as np
import torch

from minigapt.data.dataset import DataConfig, load_frames
from minigapt.eval.harmony import note_in_chord_ratio
from minigapt.eval.timing import changes_inside_notes
from minigapt.models.checkpoint import shipped_dir
from minigapt.music.tokens import PAD
from minigapt.rewards.ensemble import load_ensemble
from minigapt.rewards.rhythm import delay_chords
from minigapt.rl.evaluation import evaluation_set

DELAYS = (0, 1, 2)


def delayed(y: np.ndarray, d: int) -> np.ndarray:
    """Chord frames [N, T] played d frames late (rewards.rhythm.delay_chords); PAD stays where
    it was."""
    late = delay_chords(torch.as_tensor(y), torch.full((len(y),), d)).numpy()
    return np.where(y == PAD, PAD, late)


def main() -> None:
    torch.set_num_threads(1)
    frames = load_frames(DataConfig.preset("course"), None, progress=False)
    x, y = (np.asarray(a) for a in evaluation_set(frames, 10_000, 128, source="nottingham", split="valid"))
    ensemble = load_ensemble(shipped_dir() / "rewards.pt")
    print(f"{len(x)} Nottingham validation melodies, 128 frames, the data's chords moved d frames later\n")
    print("| delay (frames) | note-in-chord | changes inside a held note | " + " | ".join(
        ("contrastive", "discriminative", "rhythm_contrastive", "rhythm_discriminative")) + " |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for d in DELAYS:
        yd = delayed(y, d)
        by_type: dict[str, list[float]] = {}
        for name, z in ensemble.normalised_scores(x, yd).items():  # "contrastive/0" -> its mean z-score
            by_type.setdefault(name.split("/")[0], []).append(float(z.mean()))
        print(f"| {d} | {note_in_chord_ratio(x, yd):.3f} | {changes_inside_notes(x, yd).mean():.1f} | "
              + " | ".join(f"{np.mean(by_type[k]):+.2f}" for k in
                           ("contrastive", "discriminative", "rhythm_contrastive", "rhythm_discriminative")) + " |")


if __name__ == "__main__":
    main()
