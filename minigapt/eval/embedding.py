"""Where each system's chord parts lie in the chord embedding (paper Fig. 4c): a t-SNE map.

The embedding is the one the Vendi score is computed on (the chord tower of the first
contrastive reward model, `RewardEnsemble.embed_chords`), so the map is a picture of what the
Vendi number summarises: a system that collapses onto a few chord parts covers a small patch,
one as varied as the data covers as much as the data does.

All systems go into ONE t-SNE fit (paper: perplexity 30, random initialisation), so their
points share one map and can be compared. t-SNE keeps neighbourhoods, not distances or areas:
read the map for "which systems overlap, which sit apart", and the Vendi score for "how much".
`occupied_cells` gives a rough count to go with the picture, nothing more.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import MinigaptError

PERPLEXITY = 30.0  # the paper's


def tsne_coordinates(embeddings: Mapping[str, np.ndarray], perplexity: float = PERPLEXITY, seed: int = 0,
                     max_per_system: int | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """system -> embeddings [n_s, d] -> (system -> t-SNE coordinates [n_s, 2], info).

    One joint fit over every system's rows (L2-normalised first, as the Vendi kernel sees them),
    random init, seeded. max_per_system: keep a seeded subset of that many rows per system (t-SNE
    is quadratic in the points). The perplexity is lowered to (n - 1) / 3 when there are too few
    points for it (scikit-learn needs perplexity < n); info says which was used."""
    from sklearn.manifold import TSNE

    rng = np.random.default_rng(seed)
    parts, names = [], []
    for name, e in embeddings.items():
        e = np.asarray(e, dtype=np.float64)
        if e.ndim != 2 or len(e) == 0:
            raise MinigaptError(f"{name}: embeddings must be a non-empty [n, d] array, got shape {e.shape}")
        if max_per_system is not None and len(e) > max_per_system:
            e = e[np.sort(rng.choice(len(e), max_per_system, replace=False))]
        parts.append(e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12))
        names.append(name)
    z = np.concatenate(parts)
    n = len(z)
    if n < 4:
        raise MinigaptError(f"t-SNE needs at least 4 points, got {n}")
    used = min(float(perplexity), (n - 1) / 3)
    xy = TSNE(n_components=2, perplexity=used, init="random", random_state=seed,
              learning_rate="auto").fit_transform(z)
    out, start = {}, 0
    for name, p in zip(names, parts):
        out[name] = xy[start:start + len(p)]
        start += len(p)
    return out, {"perplexity": used, "points": n, "per_system": {k: len(v) for k, v in out.items()}}


def occupied_cells(coords: Mapping[str, np.ndarray], bins: int = 20) -> dict[str, float]:
    """system -> share of the cells of a bins x bins grid over the joint map that hold at least
    one of its points (a rough 'how much of the map it covers'; more points cover more cells, so
    compare systems with equal numbers of points)."""
    allxy = np.concatenate([np.asarray(c) for c in coords.values()])
    lo, hi = allxy.min(0), allxy.max(0)
    span = np.where(hi > lo, hi - lo, 1.0)
    out = {}
    for name, c in coords.items():
        cell = np.minimum(((np.asarray(c) - lo) / span * bins).astype(int), bins - 1)
        out[name] = len({(int(a), int(b)) for a, b in cell}) / bins ** 2
    return out
