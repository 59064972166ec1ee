"""Reward models: InfoNCE by hand, fakes, determinism and batch-order invariance of the
ensemble, a smoke training run that learns, checkpoints, a smoke run on real data, and the
analysis helpers (retrieval / classification metrics, keys, trivial accompaniments) by hand."""
import math

import numpy as np
import pytest
import torch

from minigapt.errors import MinigaptError
from minigapt.music.chords import chord_name, chord_pitch_classes
from minigapt.music.tokens import PAD, SILENCE, VOCAB, interleave
from minigapt.rewards import analysis
from minigapt.rewards.contrastive import ContrastiveReward, info_nce
from minigapt.rewards.discriminative import (DiscriminativeReward, into_melody_key, random_derangement,
                                             repair_negatives)
from minigapt.rewards.ensemble import RewardConfig, RewardEnsemble, load_ensemble, save_ensemble
from minigapt.eval.harmony import note_in_chord_ratio
from minigapt.rewards.rhythm import (HOLD, HOLD_TABLE, ONSET, collapse_rhythm, half_tempo, pair_lengths, shift_negatives,
                                    slow_down_share)
from minigapt.rewards.train import evaluate_reward_model, streams_to_frames, train_reward_model

torch.set_num_threads(1)  # the suite shares a small machine


def synthetic_pair(rng, T):
    """One bar-wise chord per 16 frames and a melody drawn from that chord's tones: a pairing
    a contrastive model can learn in a few dozen steps."""
    x, y = np.full(T, SILENCE), np.full(T, SILENCE)
    for b in range(0, T, 16):
        c = chord_name(int(rng.integers(12)), ("", "m")[int(rng.integers(2))])
        end = min(b + 16, T)
        y[b], y[b + 1:end] = VOCAB.chord_on(c), VOCAB.chord_hold(c)
        pcs, t = sorted(chord_pitch_classes(c)), b
        while t < end:
            d, p = int(rng.choice([2, 4])), 60 + int(rng.choice(pcs))
            x[t], x[t + 1:min(t + d, end)] = VOCAB.melody_on(p), VOCAB.melody_hold(p)
            t += d
    return x, y


class SyntheticSampler:
    """Same interface as data.dataset.CropSampler: .sample(B) -> chord-first streams."""

    def __init__(self, T=32, seed=0):
        self.T, self.rng = T, np.random.default_rng(seed)

    def sample(self, B):
        out = np.full((B, 2 * self.T + 2), PAD)
        for b in range(B):
            L = int(self.rng.integers(self.T // 2, self.T + 1))
            x, y = synthetic_pair(self.rng, self.T)
            s = interleave(x[:L], y[:L])
            out[b, :len(s)] = s
        return out


def tiny_config(**kw):
    cfg = RewardConfig.preset("smoke")
    cfg.seeds = (0, 1)
    for k, v in kw.items():
        setattr(cfg, k, v)
    return cfg


def test_info_nce_by_hand():
    z = torch.eye(2)
    # logits = I: each row's loss is -log(e / (e + 1)) = log(1 + 1/e), both directions alike
    assert info_nce(z, z, 1.0).item() == pytest.approx(math.log(1 + math.exp(-1)), rel=1e-6)
    a = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    b = torch.tensor([[0.0, 1.0], [1.0, 0.0]])  # logits = [[0, 1], [0.8, 0.6]]
    rows = (math.log(1 + math.e) + math.log(math.exp(0.8) + math.exp(0.6)) - 0.6) / 2
    cols = (math.log(1 + math.exp(0.8)) + math.log(math.e + math.exp(0.6)) - 0.6) / 2
    assert info_nce(a, b, 1.0).item() == pytest.approx((rows + cols) / 2, rel=1e-6)
    # the temperature scales the logits
    assert info_nce(z, z, 2.0).item() == pytest.approx(math.log(1 + math.exp(-2)), rel=1e-6)


def test_contrastive_scores_are_cosines_and_embeddings_unit():
    torch.manual_seed(0)
    m = ContrastiveReward(dim=32, n_layers=1, n_heads=2, proj_dim=16, frames_per_position=4).eval()
    x, y = streams_to_frames(SyntheticSampler(32, 1).sample(6))
    e = m.embed_chords(y)
    assert e.shape == (6, 16) and torch.allclose(e.norm(dim=-1), torch.ones(6), atol=1e-5)
    s = m.score(x, y)
    assert s.shape == (6,) and bool((s.abs() <= 1 + 1e-6).all())
    assert m.logit_scale().item() == pytest.approx(1 / 0.07, rel=1e-5)


def test_rhythm_collapse():
    toks = np.array([PAD, 1, 2, SILENCE, VOCAB.melody_on(60), VOCAB.melody_hold(60),
                     VOCAB.chord_on("C"), VOCAB.chord_hold("Am")])
    assert collapse_rhythm(toks).tolist() == [PAD, 1, 2, SILENCE, ONSET, HOLD, ONSET, HOLD]
    assert collapse_rhythm(torch.as_tensor(toks)).tolist() == collapse_rhythm(toks).tolist()


def test_repair_negatives_never_keep_a_pair_and_cut_to_common_length():
    g = torch.Generator().manual_seed(0)
    for n in (2, 3, 7):
        p = random_derangement(n, g)
        assert sorted(p.tolist()) == list(range(n)) and all(p[i] != i for i in range(n))
    x, y = (torch.as_tensor(a) for a in streams_to_frames(SyntheticSampler(32, 2).sample(8)))
    xn, yn = repair_negatives(x, y, g)
    L = pair_lengths(x)
    for i in range(8):
        n = int(pair_lengths(xn[i:i + 1])[0])
        assert n <= L[i] and (xn[i, n:] == PAD).all() and (yn[i, n:] == PAD).all()
        assert (yn[i, :n] != PAD).all() and (xn[i, :n] == x[i, :n]).all()  # melody kept, chords cut


def test_into_melody_key_moves_chords_to_the_best_overlap():
    D, Fs, A = (VOCAB.melody_on(p) for p in (62, 66, 69))
    x = torch.tensor([[D, Fs, A, SILENCE, D, A]])
    y = torch.tensor([[VOCAB.chord_on("C"), VOCAB.chord_hold("C"), SILENCE, VOCAB.chord_on("G7"),
                       VOCAB.chord_hold("G7"), VOCAB.chord_on("Am")]])
    moved = [VOCAB.describe(t) for t in into_melody_key(x, y)[0]]
    assert moved == ["ON_D", "HOLD_D", "SILENCE", "ON_A7", "HOLD_A7", "ON_Bm"]  # up a tone
    assert torch.equal(into_melody_key(x, into_melody_key(x, y)), into_melody_key(x, y))  # already there


def test_shift_negatives_move_only_the_chords():
    x, y = (torch.as_tensor(a) for a in streams_to_frames(SyntheticSampler(32, 3).sample(16)))
    xs, ys = shift_negatives(x, y, torch.Generator().manual_seed(0))
    L, Ls = pair_lengths(x), pair_lengths(xs)
    for i in range(16):
        n = int(Ls[i])
        assert L[i] - 3 <= n <= L[i]
        assert (xs[i, :n] == x[i, :n]).all()  # melody untouched (on its grid)
        s = [k for k in (1, 2, 3) if n == L[i] - k and (ys[i, :n] == y[i, k:k + n]).all()
             or n == L[i] and (ys[i, k:n] == y[i, :n - k]).all()]
        assert s, f"row {i} is not a 1-3 frame shift of its chords"


def test_half_tempo_doubles_every_note_and_keeps_the_harmony():
    c, g = VOCAB.chord_on("C"), VOCAB.chord_hold("C")
    e, e_ = VOCAB.melody_on(64), VOCAB.melody_hold(64)
    x = np.array([[e, e_, VOCAB.melody_on(67), SILENCE]])
    y = np.array([[c, g, g, VOCAB.chord_on("G")]])
    slow_x, slow_y = half_tempo(x), half_tempo(y)
    assert slow_x.tolist() == [[e, e_, e_, e_]]  # a 2-frame note lasts 4, the rest falls off the end
    assert slow_y.tolist() == [[c, g, g, g]]
    assert (half_tempo(torch.as_tensor(x)).numpy() == slow_x).all()  # torch and numpy alike
    xr, yr = (torch.as_tensor(a) for a in streams_to_frames(SyntheticSampler(32, 5).sample(8)))
    half = xr.shape[1] // 2
    assert note_in_chord_ratio(half_tempo(xr), half_tempo(yr)) == pytest.approx(
        note_in_chord_ratio(xr[:, :half], yr[:, :half]))
    hold = torch.as_tensor(HOLD_TABLE)
    onsets = lambda a: int(((a != hold[a]) & (a != SILENCE)).sum())  # noqa: E731
    assert onsets(half_tempo(xr)) == onsets(xr[:, :half])  # the same notes, twice as long


def test_slow_down_share_slows_the_last_whole_groups():
    x = torch.arange(8 * 4).reshape(8, 4)
    y = x.flip(1)
    sx, sy = slow_down_share(x, y, 0.5, group_size=2)
    assert (sx[:4] == x[:4]).all() and (sy[:4] == y[:4]).all()
    assert (sx[4:] == half_tempo(x[4:])).all() and (sy[4:] == half_tempo(y[4:])).all()
    assert slow_down_share(x, y, 0.3, group_size=4)[0][:4].equal(x[:4])  # 1.2 groups round to 1
    assert slow_down_share(x, y, 0.0)[0] is x


@pytest.fixture(scope="module")
def ensemble():
    torch.manual_seed(0)
    cfg = tiny_config(dropout=0.3)  # dropout on, to show eval mode switches it off
    ens = RewardEnsemble(cfg)
    x, y = streams_to_frames(SyntheticSampler(32, 4).sample(12))
    ens.set_normalisation(x, y)
    return ens


def test_ensemble_has_every_type_and_seed(ensemble):
    assert len(ensemble.names) == 8 and "rhythm_discriminative/1" in ensemble.names
    assert torch.all(ensemble.std > 0)


def test_ensemble_deterministic_and_invariant_to_batch_order(ensemble):
    ensemble.train()  # score() must still run in eval mode
    x, y = streams_to_frames(SyntheticSampler(32, 5).sample(10))
    a, b = ensemble.score(x, y), ensemble.score(x, y)
    assert torch.equal(a, b)
    assert ensemble.training  # mode restored
    perm = np.random.default_rng(0).permutation(10)
    assert torch.allclose(ensemble.score(x[perm], y[perm]), a[perm], atol=1e-5)
    # a sequence's reward does not depend on its batch-mates (nor on their padding)
    one = torch.cat([ensemble.score(x[i:i + 1], y[i:i + 1]) for i in range(10)])
    assert torch.allclose(one, a, atol=1e-5)
    assert torch.allclose(ensemble.score(x, y, chunk=3), a, atol=1e-5)


def test_ensemble_subsets_and_normalisation(ensemble):
    x, y = streams_to_frames(SyntheticSampler(32, 6).sample(5))
    z = ensemble.normalised_scores(x, y)
    raw = ensemble.raw_scores(x, y)
    i = ensemble.names.index("discriminative/1")
    assert torch.allclose(z["discriminative/1"], (raw["discriminative/1"] - ensemble.mean[i]) / ensemble.std[i])
    only = ensemble.score(x, y, use="contrastive")
    assert torch.allclose(only, (z["contrastive/0"] + z["contrastive/1"]) / 2, atol=1e-6)
    both = ensemble.score(x, y, use=["contrastive/0", "rhythm_discriminative"])
    expect = (z["contrastive/0"] + z["rhythm_discriminative/0"] + z["rhythm_discriminative/1"]) / 3
    assert torch.allclose(both, expect, atol=1e-6)
    assert torch.allclose(ensemble.score(x, y), torch.stack(list(z.values())).mean(0), atol=1e-6)
    with pytest.raises(MinigaptError):
        ensemble.score(x, y, use="nonsense")


def test_save_load_round_trip(ensemble, tmp_path):
    x, y = streams_to_frames(SyntheticSampler(32, 7).sample(4))
    path = save_ensemble(ensemble, tmp_path / "model.pt", {"note": "test"})
    back = load_ensemble(path)
    assert back.names == ensemble.names and not back.training
    assert torch.allclose(back.score(x, y), ensemble.score(x, y), atol=1e-6)
    assert torch.allclose(back.embed_chords(y), ensemble.embed_chords(y), atol=1e-6)
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(MinigaptError):
        load_ensemble(tmp_path / "bad.pt")
    with pytest.raises(MinigaptError):
        load_ensemble(tmp_path / "missing.pt")


def test_smoke_training_lowers_contrastive_loss():
    cfg = tiny_config(steps=40, batch_size=16, lr=3e-3, warmup_steps=4, dropout=0.0, eval_every=40)
    torch.manual_seed(0)
    model = ContrastiveReward(dim=32, n_layers=1, n_heads=2, proj_dim=32, frames_per_position=4)
    xv, yv = streams_to_frames(SyntheticSampler(32, 99).sample(64))
    before = evaluate_reward_model(model, xv, yv, 16)
    rows = train_reward_model(model, SyntheticSampler(32, 0), cfg, seed=0, x_valid=xv, y_valid=yv,
                              progress=False)
    after = rows[-1]
    assert after["valid_loss"] < before["valid_loss"] - 0.3, (before, after)
    assert after["valid_acc"] > before["valid_acc"]
    assert after["valid_cos_true"] > after["valid_cos_other"]


def test_discriminator_loss_and_metrics_shape():
    torch.manual_seed(0)
    for rhythm in (False, True):
        m = DiscriminativeReward(dim=32, n_layers=1, n_heads=2, rhythm=rhythm, frames_per_position=4)
        x, y = streams_to_frames(SyntheticSampler(32, 8).sample(8))
        loss, metrics = m.loss(x, y, torch.Generator().manual_seed(0))
        assert loss.item() == pytest.approx(math.log(2), abs=0.2)  # untrained: near chance
        assert 0 <= metrics["acc"] <= 1
        p = m.score(x, y)
        assert p.shape == (8,) and bool(((p >= 0) & (p <= 1)).all())


def test_smoke_run_on_real_data(dataset_dir, tmp_path):
    dataset_dir("nottingham")
    from minigapt.rewards.train import train_rewards

    cfg = RewardConfig.preset("smoke")
    cfg.data.sources = {"nottingham": 1.0}
    cfg.steps, cfg.eval_every, cfg.types = 6, 6, ("contrastive", "rhythm_discriminative")
    ens = train_rewards(cfg, out_dir=tmp_path / "rewards", progress=False)
    assert (tmp_path / "rewards" / "model.pt").is_file()
    lines = (tmp_path / "rewards" / "metrics.csv").read_text().splitlines()
    assert lines[0].startswith("model,step") and len(lines) == 3
    back = load_ensemble(tmp_path / "rewards")
    assert back.names == ["contrastive/0", "rhythm_discriminative/0"]
    assert torch.allclose(back.mean, ens.mean)


# --- analysis: retrieval, classification, keys, trivial accompaniments ----------------------
def test_retrieval_metrics_by_hand():
    # melody 0 finds its chords first; melody 1 ranks its own second; melody 2 third
    sim = np.array([[0.9, 0.1, 0.0],
                    [0.8, 0.5, 0.1],
                    [0.7, 0.6, 0.2]])
    r = analysis.retrieval_metrics(sim, ks=(1, 2), map_k=10)
    m2c, c2m = r["melody_to_chords"], r["chords_to_melody"]
    assert m2c["R@1"] == pytest.approx(1 / 3) and m2c["R@2"] == pytest.approx(2 / 3)
    assert m2c["mAP@10"] == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    # columns: chords 0 -> melody 0 best (0.9); chords 1 -> melody 2 (0.6) beats melody 1 (0.5);
    # chords 2 -> melody 2 (0.2) beats the others: ranks 1, 2, 1
    assert c2m["R@1"] == pytest.approx(2 / 3) and c2m["mAP@10"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert r["chance"]["R@1"] == pytest.approx(1 / 3) and r["chance"]["R@2"] == pytest.approx(2 / 3)
    assert r["chance"]["mAP@10"] == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)


def test_retrieval_ties_count_against_the_true_partner():
    r = analysis.retrieval_metrics(np.zeros((4, 4)), ks=(1, 4))
    assert r["melody_to_chords"]["R@1"] == 0.0 and r["melody_to_chords"]["R@4"] == 1.0
    assert analysis.retrieval_metrics(np.eye(5))["chords_to_melody"]["R@1"] == 1.0


def test_contrastive_retrieval_uses_the_reward_as_similarity():
    torch.manual_seed(0)
    m = ContrastiveReward(dim=32, n_layers=1, n_heads=2, proj_dim=32, frames_per_position=4)
    x, y = streams_to_frames(SyntheticSampler(32, 3).sample(6))
    r = analysis.contrastive_retrieval(m, x, y, ks=(1,))
    sim = torch.stack([m.score(x, np.repeat(y[j:j + 1], 6, 0)) for j in range(6)], 1).detach().numpy()
    assert r == analysis.retrieval_metrics(sim, ks=(1,))


def test_classification_metrics_by_hand():
    c = analysis.classification_metrics([0.9, 0.8, 0.4, 0.6], [0.7, 0.2, 0.1, 0.3])
    # tp 3, fn 1, fp 1, tn 3
    assert c["precision"] == pytest.approx(0.75) and c["recall"] == pytest.approx(0.75)
    assert c["f1"] == pytest.approx(0.75) and c["accuracy"] == pytest.approx(0.75)
    none = analysis.classification_metrics([0.1, 0.2], [0.3])
    assert none["precision"] == 0.0 and none["f1"] == 0.0 and none["accuracy"] == pytest.approx(1 / 3)


def melody_of(pitches, d=4):
    x = []
    for p in pitches:
        x += [VOCAB.melody_on(p)] + [VOCAB.melody_hold(p)] * (d - 1)
    return np.array(x)


def test_estimate_key():
    assert analysis.estimate_key(melody_of([60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60])) == (0, "major")
    assert analysis.estimate_key(melody_of([69, 72, 76, 69, 71, 72, 74, 76, 69, 64, 69])) == (9, "minor")
    assert analysis.estimate_key(melody_of([67, 71, 74, 66, 67, 69, 71, 74, 67])) == (7, "major")
    assert analysis.estimate_key(np.full(8, SILENCE)) == (0, "major")


def test_trivial_accompaniments_are_valid_chord_parts():
    x = melody_of([60, 64, 67, 72] * 2)  # 32 frames: two bars
    x = np.concatenate([x, [PAD] * 4])[None]
    held = analysis.held_chord(x, "C")[0]
    assert held[0] == VOCAB.chord_on("C") and set(held[1:32]) == {VOCAB.chord_hold("C")}
    assert list(held[32:]) == [PAD] * 4
    td = analysis.tonic_dominant(x, [(0, "major")])[0]
    assert td[0] == VOCAB.chord_on("C") and td[16] == VOCAB.chord_on("G") and td[17] == VOCAB.chord_hold("G")
    assert analysis.dominant_chord(9, "minor") == "E"
    rnd = analysis.random_chords(x, np.random.default_rng(0))[0]
    assert VOCAB.is_chord[rnd[:32]].all() and VOCAB.is_onset[rnd[0]] and rnd[35] == PAD
    ids = np.array([[0, 0, -1, 3, 3]])
    assert list(analysis.chord_frames_from_ids(ids)[0]) == [VOCAB.chord_on0, VOCAB.chord_hold0, SILENCE,
                                                          VOCAB.chord_on0 + 3, VOCAB.chord_hold0 + 3]
    assert len(analysis.triad_names()) == 24 and len(set(analysis.triad_names())) == 24


def test_most_frequent_chord_of_key_moves_to_the_tonic():
    song = melody_of([60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60])  # C major, 44 frames
    chords = np.concatenate([analysis.held_chord(song[None, :30], "G")[0],
                             analysis.held_chord(song[None, :14], "C")[0]])
    counts = analysis.chord_degree_counts([(song, chords)])
    assert counts["major"][(7, "")] == 30 and counts["major"][(0, "")] == 14
    assert analysis.most_frequent_chord_of_key(counts, 2, "major") == "A"  # V of D
    assert analysis.most_frequent_chord_of_key(counts, 9, "minor") == "Am"  # nothing counted: tonic


def test_restruck_chord_and_pair_to_song():
    x = melody_of([60, 64, 67, 72] * 2)  # two bars
    y = analysis.held_chord(x, "F", strike_every=16)[0]
    assert [t for t in range(32) if VOCAB.is_onset[y[t]]] == [0, 16]
    song = analysis.pair_to_song(np.concatenate([x, [PAD] * 3]), np.concatenate([y, [PAD] * 3]))
    assert song.n_frames == 32 and [c.chord for c in song.chords] == ["F", "F"]
    assert [n.pitch for n in song.melody] == [60, 64, 67, 72] * 2


def test_an_assembled_ensemble_takes_each_component_from_the_run_that_trained_it_with_the_recipe(tmp_path):
    import dataclasses

    from minigapt.rewards.assemble import assemble_ensemble

    target = tiny_config(steps=40, warmup_steps=4, eval_every=20,
                         steps_by_type={"rhythm_contrastive": 10, "rhythm_discriminative": 10})
    short = dataclasses.replace(target, steps=10, warmup_steps=1, eval_every=5, steps_by_type=None)
    long_ = dataclasses.replace(target, steps_by_type=None)
    x, y = streams_to_frames(SyntheticSampler(32, 4).sample(12))
    runs = {}
    for name, cfg in (("short", short), ("long", long_)):
        torch.manual_seed(len(name))
        ens = RewardEnsemble(cfg)
        ens.set_normalisation(x, y)
        save_ensemble(ens, tmp_path / name / "model.pt", {"summary": {n: {"seconds": 1.5} for n in ens.names}})
        (tmp_path / name / "metrics.csv").write_text("model,step\n" + "".join(f"{n},1\n" for n in ens.names))
        runs[name] = ens
    sources = {n: tmp_path / ("short" if n.startswith("rhythm") else "long") for n in runs["long"].names}
    out = assemble_ensemble(target, sources, tmp_path / "out", "test")
    back = load_ensemble(tmp_path / "out")
    z, zs, zl = back.normalised_scores(x, y), runs["short"].normalised_scores(x, y), runs["long"].normalised_scores(x, y)
    for n in back.names:
        assert torch.allclose(z[n], (zs if n.startswith("rhythm") else zl)[n], atol=1e-6), n
    assert torch.allclose(out.score(x, y), back.score(x, y), atol=1e-6)
    assert back.cfg.steps_by_type == target.steps_by_type
    from minigapt.models.checkpoint import load_checkpoint
    meta = load_checkpoint(tmp_path / "out" / "model.pt").meta
    assert meta["assembled_from"] == "test" and meta["seconds"] == 12.0 and meta["complete"]
    rows = (tmp_path / "out" / "metrics.csv").read_text().splitlines()
    assert len(rows) == 1 + 8 and "rhythm_contrastive/0,1" in rows and "contrastive/0,1" in rows
    # a full-input model trained 10 steps is not the preset's: refused in one line
    with pytest.raises(MinigaptError, match="another recipe"):
        assemble_ensemble(target, {n: tmp_path / "short" for n in sources}, tmp_path / "bad", "test")
    with pytest.raises(MinigaptError, match="no source"):
        assemble_ensemble(target, {"contrastive/0": tmp_path / "long"}, tmp_path / "bad", "test")
