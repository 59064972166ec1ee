"""Opt-in (-m slow): the reproduction's claims, measured afresh on the shipped checkpoints.

The shipped ship-scale runs (3 seeds each of realchords and gapt) and the online MLE accompany
every OpenEWLD lead sheet (never trained on; its chords give the data's level) and 497
melody-only folk tunes (music21's corpus), 256 frames, 2 samples each, as docs/measure_ship.py
does. Each claim is one test. A claim the shipped runs do not meet (measured and said in the
README's Results and docs/experiments.md) is marked xfail(strict=True): if it starts to hold,
the test reports it, so the text can be corrected, never silently. About 15 minutes of one core.
"""
from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import pytest

from minigapt.eval.drift import drift

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]

NOT_MET = "not reproduced by the shipped ship-scale runs (README, Results; docs/experiments.md)"
KEYS = ("harmony", "harmony_triad", "chord_vendi", "chord_changes_per_sequence")


@pytest.fixture(scope="module")
def measured():
    import torch

    from minigapt.commands.evaluate import read_melodies
    from minigapt.data.dataset import eval_batch
    from minigapt.data.heldout import copy_heldout
    from minigapt.eval.measures import evaluate_parts
    from minigapt.models.checkpoint import load_model, shipped_dir
    from minigapt.music.tokens import frames_from_streams
    from minigapt.rl.evaluation import EVAL_SEED, sample_accompaniments
    from minigapt.rl.experiment import openewld_songs
    from minigapt.rl.shipped import shipped_path

    songs = openewld_songs()
    if songs is None:
        pytest.skip("OpenEWLD is not available ($MINIGAPT_DATA)")
    x, y = frames_from_streams(torch.as_tensor(eval_batch(songs, 256)))
    hx, _, _ = read_melodies(str(copy_heldout(Path(tempfile.mkdtemp()) / "heldout")), 256, with_chords=False)
    sets = {"openewld": x.numpy(), "heldout": hx}
    out = {"data": {"openewld": evaluate_parts(x.numpy(), y.numpy())}}
    models = {"online-mle": [shipped_dir() / "online-mle.pt"],
              **{s: [shipped_path(s, k) for k in (0, 1, 2)] for s in ("realchords", "gapt")}}
    for name, paths in models.items():
        rows = {set_name: [] for set_name in sets}
        for path in paths:
            policy = load_model(path, kind="online")
            for set_name, melodies in sets.items():
                rows[set_name].append(evaluate_parts(*sample_accompaniments(policy, melodies, 2, 1.0, EVAL_SEED)))
        out[name] = {s: {k: float(np.mean([r[k] for r in rs])) for k in KEYS} for s, rs in rows.items()}
    return out


@pytest.mark.parametrize("set_name", ["openewld", "heldout"])
def test_rl_gains_real_harmony(measured, set_name):
    assert measured["realchords"][set_name]["harmony_triad"] >= measured["online-mle"][set_name]["harmony_triad"] + 0.04


def test_the_baseline_drifts_from_real_music(measured):
    assert drift(measured["realchords"]["openewld"], measured["data"]["openewld"]) >= math.log(1.25)


@pytest.mark.xfail(strict=True, reason=NOT_MET)
def test_gapt_halves_the_drift(measured):
    data = measured["data"]["openewld"]
    assert drift(measured["gapt"]["openewld"], data) <= 0.5 * drift(measured["realchords"]["openewld"], data)


def test_gapt_keeps_the_datas_variety(measured):
    ratio = measured["gapt"]["openewld"]["chord_vendi"] / measured["data"]["openewld"]["chord_vendi"]
    assert 0.8 <= ratio <= 1.25


@pytest.mark.parametrize("set_name, key", [
    pytest.param("openewld", "harmony", marks=pytest.mark.xfail(strict=True, reason=NOT_MET + ": -0.024")),
    pytest.param("openewld", "harmony_triad", marks=pytest.mark.xfail(strict=True, reason=NOT_MET + ": -0.024")),
    ("heldout", "harmony"),
    pytest.param("heldout", "harmony_triad", marks=pytest.mark.xfail(strict=True, reason=NOT_MET + ": -0.0102"))])
def test_gapt_at_equal_harmony(measured, set_name, key):
    assert measured["gapt"][set_name][key] >= measured["realchords"][set_name][key] - 0.01
