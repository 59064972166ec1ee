"""Where trained artifacts live, and the one rule for when a checkpoint stands in for a config.

Every trained artifact (an MLE model, a reward ensemble, an RL run, a melody agent) is a
checkpoint either among your runs (runs/<scale>/<name>/model.pt) or shipped
(assets/checkpoints/<name>.pt). The train-or-load helpers (train/mle.py, rewards/train.py,
rl/train.py) look at your run first, then the shipped one, and take the first whose recipe is
the recipe of the config asked for:

    recipe = hash(the config as JSON data, less the fields that do not change training)
             + the fingerprints of what it was trained from (an RL run: its reward ensemble)

Each config type says which of its fields change training (its `_normalised`/`config_dict`);
this module says what "the same" means, once, for your runs and shipped checkpoints alike
(tests/test_store.py passes every shipped checkpoint through it).
"""
from __future__ import annotations

import hashlib
import json

from .config import json_data


def recipe(config: dict, trained_from: dict[str, str] | None = None) -> str:
    """A short hash of a (normalised) config and the fingerprints of what it was trained from."""
    what = json.dumps({"config": json_data(config), "from": dict(sorted((trained_from or {}).items()))},
                      sort_keys=True, default=str)
    return hashlib.sha1(what.encode()).hexdigest()[:12]


def same_recipe(saved: dict, wanted: dict, saved_from: dict | None = None,
                wanted_from: dict | None = None) -> bool:
    """Whether a checkpoint trained with config `saved` from `saved_from` (fingerprints, e.g. its
    meta) is what `wanted` would train from `wanted_from`. A wanted fingerprint of None (a
    stand-in without a config, as in tests) constrains nothing."""
    keys = [k for k, v in (wanted_from or {}).items() if v is not None]
    return (recipe(saved, {k: (saved_from or {}).get(k) for k in keys})
            == recipe(wanted, {k: wanted_from[k] for k in keys}))
