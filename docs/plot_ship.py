"""Figures for the experiment record: does the policy move, and does D separate?

    .venv/bin/python docs/plot_ship.py [OLD_DIR]

Reads the training logs of the ship-scale runs (runs/ship/<name>-seed<s>/metrics.csv, else the
log a shipped checkpoint carries) and, when OLD_DIR holds earlier shipped checkpoints (the
course-scale runs), theirs too. Writes docs/figures/ship-optimiser.png (approx-KL, clip fraction,
entropy, KL to the anchor per update) and docs/figures/ship-discriminator.png (D's ranking AUC on
each update's fresh rollouts, and its P(real) on real and played parts), and prints per-run
summaries (first and last five updates).
"""
from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from minigapt import plots  # noqa: E402
from minigapt.metrics_log import read_log  # noqa: E402
from minigapt.models.checkpoint import load_checkpoint, runs_dir  # noqa: E402
from minigapt.rl.shipped import shipped_path  # noqa: E402

NAMES = ("realchords", "gapt-no-adv", "gapt")
SEEDS = (0, 1, 2)


def logs_of(name: str, seed: int, old_dir: Path | None = None) -> list[dict]:
    if old_dir is not None:
        path = old_dir / shipped_path(name, seed).name
        return load_checkpoint(path).meta.get("metrics_history", []) if path.is_file() else []
    own = runs_dir() / "ship" / f"{name}-seed{seed}" / "metrics.csv"
    if own.is_file():
        return read_log(own)
    path = shipped_path(name, seed)
    return load_checkpoint(path).meta.get("metrics_history", []) if path.is_file() else []


def band(ax, runs: list[list[dict]], key: str, label: str, ls="-") -> str:
    runs = [r for r in runs if r and key in r[0]]
    if not runs:
        return ""
    n = min(len(r) for r in runs)
    a = np.array([[float(row[key]) for row in r[:n]] for r in runs])
    x = np.arange(1, n + 1)
    m = a.mean(0)
    ax.plot(x, m, ls=ls, color=plots.system_color(label.split(" ")[0]), label=label)
    if len(a) > 1:
        ax.fill_between(x, a.min(0), a.max(0), color=plots.system_color(label.split(" ")[0]), alpha=0.15, lw=0)
    return f"{label}: {key} first 5 {a[:, :5].mean():.4g}, last 5 {a[:, -5:].mean():.4g} ({len(a)} seeds, {n} updates)"


def main() -> None:
    old_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    out = Path("docs/figures")
    out.mkdir(parents=True, exist_ok=True)
    keys = [("approx_kl", "approx-KL (old -> new) per update"), ("clipfrac", "clip fraction"),
            ("entropy", "entropy per chord token"), ("kl_per_token", "KL to the anchor per token")]
    fig, axes = plt.subplots(1, 4, figsize=(18, 3.6), layout="constrained")
    lines = []
    for ax, (key, title) in zip(axes, keys):
        for name in NAMES:
            lines.append(band(ax, [logs_of(name, s) for s in SEEDS], key, f"{name} (ship)"))
            if old_dir is not None:
                lines.append(band(ax, [logs_of(name, s, old_dir) for s in SEEDS], key, f"{name} (course)", ls=":"))
        ax.set_title(title, fontsize=10, loc="left")
        ax.set_xlabel("update")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, frameon=False)
    fig.savefig(out / "ship-optimiser.png", dpi=100)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), layout="constrained")
    gapt = [logs_of(n, s) for n in ("gapt",) for s in SEEDS]
    lines.append(band(axes[0], gapt, "d_auc", "gapt (ship)"))
    axes[0].axhline(0.5, color="grey", ls=":", lw=1)
    axes[0].axhline(0.7, color="grey", ls="--", lw=1)
    axes[0].set_title("D's ranking AUC on each update's fresh rollouts", fontsize=10, loc="left")
    lines.append(band(axes[1], gapt, "d_prob_real", "gapt: D's P(real) on the data's chords"))
    lines.append(band(axes[1], gapt, "d_prob_fake", "gapt: D's P(real) on the policy's parts", ls="--"))
    axes[1].set_title("D's mean P(real)", fontsize=10, loc="left")
    for ax in axes:
        ax.set_xlabel("update")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, frameon=False)
    fig.savefig(out / "ship-discriminator.png", dpi=100)
    print("\n".join(line for line in lines if line))


if __name__ == "__main__":
    main()
