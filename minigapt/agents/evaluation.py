"""Evaluating with the melody agent (paper Tables 2 and 5).

Table 2, "learned melody agent": every chord system jams with the agent (Eq. 1,
interaction.py), N duets of T frames from the same seed for every system, and the duets are
measured as Table 1 measures accompaniments (note-in-chord; Vendi on the chord tower of the
reward ensemble's first contrastive model), plus the melody's own diversity: Vendi on the same
model's melody tower, and counts a student can check by eye (notes, distinct pitches, rests).

Table 5 (paper C.4): the agent plays over the test set's chords (fixed, teacher-forced), the
MLE agent against the RL agent, with the data's melodies as the reference row.

`evaluate_melody_agent` is the same measurement for the RL loop's eval.csv (rl/train.py).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from ..errors import MinigaptError
from ..eval.diversity import diversity_summary, vendi_score
from ..eval.harmony import note_in_chord_ratio
from ..eval.tables import mean_sd
from ..music.tokens import PAD, SILENCE, VOCAB
from ..rewards.penalties import chord_event_starts, rule_penalty
from ..rl.evaluation import EVAL_SEED
from .interaction import jam
from .melody import play_melody


def melody_summary(x) -> dict[str, float]:
    """Counts of melody frames [B, T]: notes and distinct pitches per sequence (means), and the
    share of frames that rest (SILENCE among the frames before PAD, pooled)."""
    x = np.asarray(x, dtype=np.int64)
    x = x[None] if x.ndim == 1 else x
    pitch = VOCAB.pitch_of[x]
    used = np.zeros((len(x), 128), bool)
    rows, cols = np.nonzero(pitch >= 0)
    used[rows, pitch[rows, cols]] = True
    live = x != PAD
    return {"notes_per_sequence": float(chord_event_starts(x, part="melody").sum(1).mean()),
            "distinct_pitches_per_sequence": float(used.sum(1).mean()),
            "rest_share": float((x == SILENCE).sum() / max(int(live.sum()), 1))}


def tower_embeddings(ensemble, tower: str, a) -> np.ndarray | None:
    """ensemble.<tower>(a) as numpy ("embed_chords" or "embed_melodies"); None without an
    ensemble or a contrastive model in it."""
    if getattr(ensemble, tower, None) is None:
        return None
    try:
        return getattr(ensemble, tower)(a).cpu().numpy()
    except MinigaptError:  # an ensemble without a contrastive model: no Vendi
        return None


def duet_measures(x, y, ensemble=None) -> dict[str, float]:
    """Every number of Tables 2 and 5 for melodies x and chords y (frames [N, T]): harmony, the
    chords' diversity (vendi, counts), the melody's (melody_vendi, counts), and with an
    ensemble its coherence R_coh and the melody's rule penalty."""
    x, y = np.asarray(x, dtype=np.int64), np.asarray(y, dtype=np.int64)
    out = {"harmony": note_in_chord_ratio(x, y)}
    out.update(diversity_summary(y, tower_embeddings(ensemble, "embed_chords", y)))
    z = tower_embeddings(ensemble, "embed_melodies", x)
    if z is not None:
        out["melody_vendi"] = vendi_score(z)
    out.update(melody_summary(x))
    out["melody_rules"] = float(rule_penalty(y, x, part="melody")[0].mean())
    if ensemble is not None:
        out["coherence"] = float(ensemble.score(x, y).mean())
    return out


def evaluate_melody_agent(agent, chords, ensemble=None, samples: int = 1, temperature: float = 1.0,
                          seed: int = EVAL_SEED, mask_invalid: bool = True) -> dict[str, float]:
    """The agent plays `samples` melodies over each fixed chord part [N, T] (seeded) ->
    duet_measures, with "rules" (the melody's penalty, as in the chord policy's eval.csv)."""
    y = torch.as_tensor(np.repeat(np.asarray(chords), samples, axis=0))
    x = play_melody(agent, y, temperature=temperature, seed=seed, mask_invalid=mask_invalid)
    out = duet_measures(x.cpu().numpy(), y.numpy(), ensemble)
    out["rules"] = out["melody_rules"]
    return out


def _as_list(p) -> list:
    return list(p) if isinstance(p, Sequence) else [p]


def jam_table(chord_systems: Mapping, agent, ensemble=None, *, duets: int, frames: int,
              seed: int = EVAL_SEED, temperature: float = 1.0,
              return_duets: bool = False) -> dict | tuple[dict, dict]:
    """Table 2's analogue: system name -> metric -> {mean, sd, values} over the system's
    policies (a policy, or a list of them: its seeds), each jamming `duets` duets of `frames`
    frames with the agent, the same jam seed for every system. return_duets: also
    {name: [Duets per policy]}."""
    table, played = {}, {}
    for name, policies in chord_systems.items():
        played[name] = [jam(p, agent, duets, frames, seed=seed, temperature=temperature) for p in _as_list(policies)]
        rows = [duet_measures(d.melody.numpy(), d.chords.numpy(), ensemble) for d in played[name]]
        table[name] = {k: mean_sd([r.get(k) for r in rows]) for k in dict.fromkeys(k for r in rows for k in r)}
    return (table, played) if return_duets else table


def melody_table(agents: Mapping, chords, ensemble=None, *, samples: int = 1, seed: int = EVAL_SEED,
                 temperature: float = 1.0, real_melody=None) -> dict[str, dict[str, float]]:
    """Table 5's analogue: agent name -> duet_measures of its melodies over the fixed chord
    parts [N, T] (`samples` each, seeded); "ground truth" -> the data's melodies when given."""
    out = {name: evaluate_melody_agent(a, chords, ensemble, samples, temperature, seed) for name, a in agents.items()}
    if real_melody is not None:
        out["ground truth"] = duet_measures(real_melody, chords, ensemble)
    return out

