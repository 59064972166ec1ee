"""Every measure of a set of chord parts, in one call: the evaluation that notebooks 04-06, the
`evaluate` command and `make course` share.

Harmony three ways (note-in-chord, note-in-triad, pitch classes per chord), diversity two ways
(the key-relative `chord_vendi` with its interval, the paper's `vendi` on the learned chord
embedding when an ensemble is given) and the counts a student can check by eye (chord changes,
distinct chords, longest hold, chord changes inside held melody notes). Harmony comes with a 95%
bootstrap interval over melodies.
"""
from __future__ import annotations

import numpy as np

from ..errors import MinigaptError
from ..rewards.penalties import rule_penalty
from .chord_vendi import chord_vendi
from .diversity import diversity_summary, pad_rows
from .harmony import harmony_per_sequence, pitch_classes_per_chord
from .timing import changes_inside_notes

BOOTSTRAP_DRAWS = 1000


def pooled_ratio_ci(hits: np.ndarray, valid: np.ndarray, draws: int = BOOTSTRAP_DRAWS,
                    seed: int = 0) -> list[float]:
    """[low, high]: the 95% bootstrap interval of sum(hits) / sum(valid), resampling sequences."""
    if len(hits) == 0 or valid.sum() == 0:
        return [float("nan"), float("nan")]
    idx = np.random.default_rng(seed).integers(0, len(hits), size=(draws, len(hits)))
    v = valid[idx].sum(1)
    r = np.divide(hits[idx].sum(1), v, out=np.full(draws, np.nan), where=v > 0)
    return [float(np.nanpercentile(r, 2.5)), float(np.nanpercentile(r, 97.5))]


def evaluate_parts(x, y, ensemble=None) -> dict:
    """Melody frames x and chord frames y, [N, T] each -> every measure, as plain numbers.

    N may hold several sampled parts per melody (rows repeated): intervals resample rows."""
    x, y = pad_rows(x), pad_rows(y)
    out = {}
    for key, triads in (("harmony", False), ("harmony_triad", True)):
        hits, valid = harmony_per_sequence(x, y, triads=triads)
        out[key] = float(hits.sum() / valid.sum()) if valid.sum() else float("nan")
        out[f"{key}_ci"] = pooled_ratio_ci(hits, valid)
    out["pitch_classes_per_chord"] = pitch_classes_per_chord(y)
    cv = chord_vendi(x, y)
    out["chord_vendi"], out["chord_vendi_ci"] = cv.score, [cv.low, cv.high]
    emb = None
    if ensemble is not None:
        out["coherence"] = float(ensemble.score(x, y).mean())
        try:
            emb = ensemble.embed_chords(y).numpy()
        except MinigaptError:  # an ensemble without a contrastive model: no paper Vendi
            emb = None
    out["rules"] = float(rule_penalty(x, y)[0].mean())
    out.update(diversity_summary(y, emb))
    out["chord_changes_inside_notes"] = float(changes_inside_notes(x, y).mean())
    return out
