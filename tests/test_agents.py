"""The melody jamming agent (minigapt.agents): its policy and anchor, MLE, the jam of Eq. 1,
the Table 2 / Table 5 functions and RL, on tiny random models."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from minigapt.agents import (MELODY_TASK, MelodyAnchor, MelodyPolicy, jam, jam_seeds, jam_table, melody_log_probs,
                             melody_rl_config, melody_table, play_melody)
from minigapt.agents.melody import melody_losses, melody_train_config
from minigapt.data.dataset import SongFrames, eval_batch
from minigapt.errors import MinigaptError
from minigapt.generate import allowed_tokens, chord_log_probs, rollout_online
from minigapt.models.checkpoint import load_checkpoint
from minigapt.models.decoder import ModelConfig, OnlinePolicy
from minigapt.music.tokens import PAD, SILENCE, VOCAB, deinterleave_batch
from minigapt.rewards.ensemble import RewardConfig, RewardEnsemble
from minigapt.rewards.penalties import rule_penalty
from minigapt.rl import train_rl
from minigapt.rl.gapt import adversary_for
from minigapt.rl.train import load_run
from minigapt.train.mle import anchor_losses, train_or_load

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CFG = ModelConfig(n_layers=1, n_heads=2, d_model=32, max_len=66)  # 32 frames of context


def _models(seed=0):
    torch.manual_seed(seed)
    return OnlinePolicy(CFG).eval(), MelodyPolicy(CFG).eval(), MelodyAnchor(CFG).eval()


def _songs(n=6, frames=48, seed=0):
    """Songs over C and G major (a bar each), melodies of random chord tones, a note per 2 frames."""
    rng = np.random.default_rng(seed)
    tones = {"C": [60, 64, 67], "G": [67, 71, 74]}
    songs = []
    for i in range(n):
        names = ["C" if (t // 16) % 2 == 0 else "G" for t in range(frames)]
        pitches = [int(rng.choice(tones[names[t]])) for t in range(0, frames, 2)]
        mel = np.array([VOCAB.melody_on(p) if k == 0 else VOCAB.melody_hold(p) for p in pitches for k in range(2)])
        ch = np.array([VOCAB.chord_on(c) if t % 16 == 0 else VOCAB.chord_hold(c) for t, c in enumerate(names)])
        songs.append(SongFrames(f"s{i}", "default", "train", mel[:frames], ch, 16))
    return {"train": {"default": songs}, "valid": {}, "test": {}}


def _frames(n=3, frames=24):
    songs = _songs(n, frames)["train"]["default"]
    return (torch.as_tensor(np.stack([s.melody for s in songs])), torch.as_tensor(np.stack([s.chords for s in songs])))


def _well_formed(tokens: torch.Tensor, role: str) -> bool:
    """Every token may follow the one before it at a `role` position (generate.py's masks)."""
    prev = torch.cat([torch.full_like(tokens[:, :1], PAD), tokens[:, :-1]], 1)
    return bool(allowed_tokens(prev, role).gather(2, tokens[..., None]).all())


# --- the policy, its anchor, MLE ------------------------------------------------------------------
def test_the_melody_policy_samples_only_melody_tokens_at_melody_positions():
    _, agent, anchor = _models()
    _, chords = _frames()
    x = play_melody(agent, chords, seed=0)
    assert x.shape == chords.shape
    assert bool((torch.as_tensor(VOCAB.is_melody)[x] | (x == SILENCE)).all())  # no chord or special token
    assert _well_formed(x, "melody")  # and HOLD_p only while p sounds
    assert not torch.equal(x, play_melody(agent, chords, seed=1)) and torch.equal(x, play_melody(agent, chords, seed=0))
    # unmasked, the same random model plays chord tokens too: the mask is what keeps it a melody
    free = play_melody(agent, chords, seed=0, mask_invalid=False)
    assert bool(torch.as_tensor(VOCAB.is_chord)[free].any())


def test_melody_log_probs_are_what_sampling_used_and_mask_every_non_melody_token():
    _, agent, anchor = _models()
    _, chords = _frames()
    r = rollout_online(agent, chords, seed=3)  # a melody model: .chords is its melody
    logp = melody_log_probs(agent, r.chords, chords)
    chosen = logp.gather(2, r.chords[..., None]).squeeze(2)
    assert torch.allclose(chosen, r.logprobs, atol=1e-5)
    assert bool(torch.isinf(logp[..., torch.as_tensor(VOCAB.is_chord)]).all())
    alog = melody_log_probs(anchor, r.chords, chords)  # the anchor masks the same way (KL is finite)
    assert bool(torch.isinf(alog[..., torch.as_tensor(VOCAB.is_chord)]).all())
    assert bool(torch.isfinite(alog.gather(2, r.chords[..., None])).all())


def test_melody_mle_learns_the_melody_tokens_only_and_the_loss_decreases():
    _, agent, anchor = _models()
    songs = _songs(4, 32)["train"]["default"]
    streams = torch.as_tensor(eval_batch(songs, 32, chord_first=False))
    x, y = deinterleave_batch(streams, chord_first=False)
    assert torch.equal(x, torch.as_tensor(np.stack([s.melody for s in songs])))
    # the loss is the cross-entropy of the melody tokens, by hand
    with torch.no_grad():
        logits = agent(streams[:, :-2])[:, 0::2]  # [BOS, x0, y0, ..., x_{T-1}]: the positions that predict x_t
        ce = torch.nn.functional.cross_entropy(logits.flatten(0, 1), x.flatten())
        assert float(melody_losses(agent, streams)["loss"]) == pytest.approx(float(ce), abs=1e-5)
    for model, fn in ((agent, melody_losses), (anchor, anchor_losses)):
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        losses = []
        for _ in range(30):
            loss = fn(model, streams)["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert losses[-1] < 0.5 * losses[0], (type(model).__name__, losses[0], losses[-1])


def test_train_or_load_trains_saves_and_reloads_the_melody_models(tmp_path):
    import dataclasses

    cfg = melody_train_config("smoke")
    cfg = dataclasses.replace(cfg, model=CFG, data=dataclasses.replace(cfg.data, crop_frames=16), steps=3)
    data = _songs()
    for name, kind, cls in (("m", "melody", MelodyPolicy), ("a", "melody_offline", MelodyAnchor)):
        model = train_or_load(name, cfg, kind=kind, data=data, runs=tmp_path, progress=False)
        assert type(model) is cls and model.role == "melody"
        assert load_checkpoint(tmp_path / name / "model.pt").kind == kind
        again = train_or_load(name, cfg, kind=kind, data=data, runs=tmp_path, progress=False)
        assert all(torch.equal(p, q) for p, q in zip(model.state_dict().values(), again.state_dict().values()))
    assert train_or_load("missing", cfg, kind="melody", data=data, runs=tmp_path, train_missing=False) is None
    with pytest.raises(MinigaptError, match="kind must be one of"):
        train_or_load("x", cfg, kind="nonsense", data=data, runs=tmp_path)


def test_melody_rule_penalties_mirror_the_chord_rules():
    c = VOCAB.chord_hold("C")
    chords = np.full((1, 40), c)
    chords[0, 0] = VOCAB.chord_on("C")
    on, hold = VOCAB.melody_on(60), VOCAB.melody_hold(60)
    played = np.array([[on, hold, VOCAB.melody_on(64), VOCAB.melody_hold(64)] * 10])
    _, parts = rule_penalty(chords, played, part="melody")
    assert all(float(v[0]) == 0 for v in parts.values()), parts  # a plain melody is free
    bad = played.copy()
    bad[0, 5] = VOCAB.chord_on("G")  # a chord token in the melody
    assert rule_penalty(chords, bad, part="melody")[1]["invalid"][0] == -10
    resting = played.copy()
    resting[0, 10:] = SILENCE  # 30 of 40 frames rest while C sounds (22 after the 8 grace frames)
    assert rule_penalty(chords, resting, part="melody")[1]["silence"][0] == pytest.approx(-0.1 * 30)
    repeated = np.array([[on] * 9 + [hold] * 31])  # C struck 9 times in a row, then held
    assert rule_penalty(chords, repeated, part="melody")[1]["repetition"][0] == pytest.approx(-0.9)
    assert rule_penalty(chords, played)[1]["invalid"][0] == -10  # judged as chords it is invalid


# --- the jam (Eq. 1) ---------------------------------------------------------------------------------
def test_jam_shapes_roles_and_seeds():
    policy, agent, _ = _models()
    d = jam(policy, agent, 3, 40, seed=5)  # 40 frames: past the 32-frame context, the windows slide
    assert d.melody.shape == d.chords.shape == (3, 40)
    assert _well_formed(d.melody, "melody") and _well_formed(d.chords, "chord")
    again, other = jam(policy, agent, 3, 40, seed=5), jam(policy, agent, 3, 40, seed=6)
    assert torch.equal(d.melody, again.melody) and torch.equal(d.chords, again.chords)
    assert not torch.equal(d.melody, other.melody) and not torch.equal(d.chords, other.chords)
    with pytest.raises(MinigaptError, match="chord policy first"):
        jam(agent, policy, 3, 8)


def test_jam_with_one_part_forced_is_the_other_models_online_rollout():
    policy, agent, _ = _models()
    melody, chords = _frames(3, 24)
    seed_y, seed_x = jam_seeds(4)
    d = jam(policy, agent, 3, 24, seed=4, melody_prefix=melody)
    assert torch.equal(d.melody, melody) and torch.equal(d.chords, rollout_online(policy, melody, seed=seed_y).chords)
    d = jam(policy, agent, 3, 24, seed=4, chord_prefix=chords)
    assert torch.equal(d.chords, chords) and torch.equal(d.melody, play_melody(agent, chords, seed=seed_x))


def test_no_future_leakage_the_chord_of_frame_t_changes_only_later_notes():
    policy, agent, _ = _models()
    melody, chords = _frames(3, 24)
    t = 10
    changed = chords.clone()
    changed[:, t] = VOCAB.chord_on("F#m")
    # the distributions, teacher-forced: x_t's depends on y_<t only; x_{t+1}'s hears y_t
    a, b = melody_log_probs(agent, melody, chords), melody_log_probs(agent, melody, changed)
    assert torch.equal(a[:, :t + 1], b[:, :t + 1]) and not torch.allclose(a[:, t + 1], b[:, t + 1])
    # and the chord policy likewise: y_t's depends on x_<t only
    moved = melody.clone()
    moved[:, t] = VOCAB.melody_on(61)
    a, b = chord_log_probs(policy, melody, chords), chord_log_probs(policy, moved, chords)
    assert torch.equal(a[:, :t + 1], b[:, :t + 1]) and not torch.allclose(a[:, t + 1], b[:, t + 1])
    # in the jam: the same melody up to frame t, whatever the chord at t; later frames hear it
    first = jam(policy, agent, 3, 24, seed=2, chord_prefix=chords[:, :t + 1])
    second = jam(policy, agent, 3, 24, seed=2, chord_prefix=changed[:, :t + 1])
    assert torch.equal(first.melody[:, :t + 1], second.melody[:, :t + 1])
    assert not torch.equal(first.melody[:, t + 1:], second.melody[:, t + 1:])


# --- Tables 2 and 5 ----------------------------------------------------------------------------------
def _ensemble():
    torch.manual_seed(0)
    return RewardEnsemble(RewardConfig.preset("smoke")).eval()


def test_jam_table_measures_every_chord_system_with_the_same_jams():
    policy, agent, _ = _models()
    other = _models(seed=1)[0]
    table, duets = jam_table({"one": policy, "seeds": [policy, other]}, agent, _ensemble(), duets=4, frames=16,
                             seed=3, return_duets=True)
    assert set(table) == {"one", "seeds"}
    keys = {"harmony", "vendi", "melody_vendi", "distinct_chords_per_sequence", "longest_hold", "notes_per_sequence",
            "distinct_pitches_per_sequence", "rest_share", "melody_rules", "coherence"}
    assert keys <= set(table["one"]) and keys <= set(table["seeds"])
    assert len(table["one"]["harmony"]["values"]) == 1 and len(table["seeds"]["vendi"]["values"]) == 2
    assert table["one"]["harmony"]["values"][0] == table["seeds"]["harmony"]["values"][0]  # same jam seed
    for k in ("vendi", "melody_vendi"):  # 4 duets: between 1 (all alike) and 4 (all different)
        assert 1 - 1e-6 <= table["one"][k]["mean"] <= 4 + 1e-6, k
    assert duets["seeds"][0].chords.shape == (4, 16)


def test_melody_table_compares_agents_on_fixed_chords_with_the_data_as_reference():
    _, agent, _ = _models()
    melody, chords = _frames(3, 16)
    out = melody_table({"mle": agent}, chords.numpy(), _ensemble(), samples=2, real_melody=melody.numpy())
    assert set(out) == {"mle", "ground truth"}
    assert out["ground truth"]["harmony"] == 1.0  # chord tones only: (melody, chords) read the right way round
    assert 0 <= out["mle"]["harmony"] <= 1 and out["mle"]["melody_vendi"] >= 1 - 1e-6


# --- RL ------------------------------------------------------------------------------------------------
class ToyEnsemble:
    """R_coh = share of the melody's frames on pitch class C (so RL has something to learn)."""

    def score(self, x, y, use=None, chunk=256):
        x = torch.as_tensor(x)
        on_c = (torch.as_tensor(VOCAB.pitch_of)[x] % 12 == 0) & torch.as_tensor(VOCAB.is_melody)[x]
        return on_c.float().mean(1)


def _rl_cfg(**kw):
    base = dict(updates=3, rollouts_per_update=8, minibatch_size=4, crop_frames=16, eval_every=1, eval_samples=1,
                checkpoint_every=1, warmup_updates=1, actor_lr=1e-3, critic_lr=1e-3)
    return melody_rl_config("smoke", **{**base, **kw})


def test_melody_rl_runs_gapt_with_a_discriminator_over_melody_tokens(tmp_path):
    _, agent, anchor = _models()
    data = _songs()
    cfg = _rl_cfg()
    chords = np.stack([s.chords[:16] for s in data["train"]["default"][:3]])
    run = train_rl(cfg, agent, anchor, ToyEnsemble(), data, tmp_path, eval_melodies=chords, task=MELODY_TASK,
                   adversary=adversary_for(cfg), base="melody-mle", progress=False)
    last = run.metrics[-1]
    assert {"reward", "coherence", "rules", "adversarial", "kl_per_token", "approx_kl", "harmony",
            "distinct_pitches_per_sequence", "d_prob_real", "d_updated"} <= set(last)
    assert all(math.isfinite(last[k]) for k in ("reward", "kl_per_token", "adversarial", "harmony"))
    assert [e["update"] for e in run.evals] == [0, 1, 2, 3] and "distinct_pitches_per_sequence" in run.evals[-1]
    loaded = load_run(tmp_path / "model.pt", kind="melody")
    assert type(loaded.policy) is MelodyPolicy
    assert load_checkpoint(tmp_path / "discriminator.pt").kind == "discriminator"
    x = play_melody(loaded.policy, torch.as_tensor(chords), seed=0)
    assert _well_formed(x, "melody")


def test_melody_ppo_raises_the_reward_it_is_given(tmp_path):
    _, agent, anchor = _models()
    cfg = _rl_cfg(updates=25, rollouts_per_update=16, minibatch_size=8, actor_lr=3e-3, eval_every=100,
                  checkpoint_every=100, kl_coef=0.0, adversarial_weight=0.0)
    run = train_rl(cfg, agent, anchor, ToyEnsemble(), _songs(), tmp_path, task=MELODY_TASK, progress=False)
    first = np.mean([m["coherence"] for m in run.metrics[:5]])
    last = np.mean([m["coherence"] for m in run.metrics[-5:]])
    assert last > first + 0.05, (first, last)
