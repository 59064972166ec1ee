"""RL post-training: GAE, the PPO loss, Dr.GRPO advantages, reward composition, and the loop's
guarantees (NaN stops with one line and keeps the last good checkpoint), on tiny models."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from minigapt.data.dataset import SongFrames
from minigapt.errors import MinigaptError
from minigapt.models.anchor import OfflineAnchor
from minigapt.models.checkpoint import load_checkpoint, load_model
from minigapt.models.decoder import ModelConfig, OnlinePolicy
from minigapt.music.tokens import VOCAB
from minigapt.rl import RLConfig, train_rl
from minigapt.rl.grpo import group_advantages
from minigapt.rl.ppo import (Episodes, NonFiniteError, clipped_policy_loss, collect, explained_variance, gae,
                             normalise, token_rewards)
from minigapt.rl.task import compose_rewards

pytestmark = pytest.mark.usefixtures("one_torch_thread")

C_MAJOR = VOCAB.chord_on("C")  # onset token of C major
C_HOLD = VOCAB.chord_hold("C")
G_MAJOR = VOCAB.chord_on("G")


# --- pure functions on hand-computed cases ------------------------------------------------------
def test_gae_matches_a_hand_computed_case():
    rewards = torch.tensor([[0.0, 0.0, 1.0, 5.0]])  # the 4th position is past the end: ignored
    values = torch.tensor([[0.5, 0.6, 0.7, 9.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    adv, ret = gae(rewards, values, mask, gamma=1.0, lam=0.95)
    # t=2: 1 - 0.7 = 0.3; t=1: (0.7 - 0.6) + 0.95 * 0.3 = 0.385; t=0: 0.1 + 0.95 * 0.385 = 0.46575
    assert torch.allclose(adv, torch.tensor([[0.46575, 0.385, 0.3, 0.0]]), atol=1e-6)
    assert torch.allclose(ret, torch.tensor([[0.96575, 0.985, 1.0, 0.0]]), atol=1e-6)


def test_gae_with_lambda_one_is_the_monte_carlo_return_minus_the_value():
    rewards = torch.tensor([[-0.1, -0.2, 2.0], [0.3, 1.0, 0.0]])
    values = torch.tensor([[0.1, 0.2, 0.3], [0.0, 0.5, 7.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    adv, _ = gae(rewards, values, mask, gamma=1.0, lam=1.0)
    togo = torch.tensor([[1.7, 1.8, 2.0], [1.3, 1.0, 0.0]])
    assert torch.allclose(adv, (togo - values) * mask, atol=1e-6)


def test_ppo_clipped_loss_equals_a_hand_computed_value():
    old = torch.zeros(1, 4)
    new = torch.tensor([[0.1, -0.5, 0.3, 4.0]])  # ratios 1.105, 0.607, 1.350; the 4th is masked
    adv = torch.tensor([[1.0, -1.0, 2.0, 100.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    loss, approx_kl, clipfrac = clipped_policy_loss(new, old, adv, mask, clip=0.2)
    # token 1: unclipped -1.10517; token 2: max(0.60653, 0.8) = 0.8; token 3: max(-2.69972, -2.4) = -2.4
    assert math.isclose(float(loss), (-math.exp(0.1) + 0.8 - 2.4) / 3, rel_tol=1e-5)
    assert math.isclose(float(clipfrac), 2 / 3, rel_tol=1e-6)
    k3 = [(math.exp(d) - 1) - d for d in (0.1, -0.5, 0.3)]
    assert math.isclose(float(approx_kl), sum(k3) / 3, rel_tol=1e-5)


def test_normalised_advantages_have_zero_mean_unit_std_over_chord_tokens():
    adv = torch.tensor([[1.0, 2.0, 3.0, 50.0], [4.0, 5.0, 0.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    z = normalise(adv, mask)
    vals = z[mask > 0]
    assert abs(float(vals.mean())) < 1e-6 and abs(float(vals.std()) - 1) < 1e-4
    assert float(z[0, 3]) == 0.0


def test_grpo_advantages_sum_to_zero_per_group():
    rewards = torch.tensor([1.0, 2.0, 3.0, 10.0, -1.0, -1.0, -1.0, -5.0])
    adv = group_advantages(rewards, group_size=4)
    assert torch.allclose(adv.view(2, 4).sum(1), torch.zeros(2), atol=1e-6)
    assert torch.allclose(adv[:4], torch.tensor([-3.0, -2.0, -1.0, 6.0]))  # reward minus group mean


def test_explained_variance_is_one_for_a_perfect_critic_and_zero_for_a_constant():
    ret = torch.tensor([[1.0, 2.0, 3.0]])
    mask = torch.ones(1, 3)
    assert explained_variance(ret, ret, mask) == pytest.approx(1.0)
    assert explained_variance(torch.full_like(ret, 2.0), ret, mask) == pytest.approx(0.0, abs=1e-6)


def test_token_rewards_put_the_sequence_reward_on_the_last_chord_token():
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    kl = torch.tensor([[0.5, 1.0, 2.0, 9.0], [0.0, 0.0, 0.0, 1.0]])
    r = token_rewards(torch.tensor([3.0, -1.0]), kl, mask, kl_coef=0.1)
    assert torch.allclose(r, torch.tensor([[-0.05, -0.1, 2.8, 0.0], [0.0, 0.0, 0.0, -1.1]]))


# --- reward composition -------------------------------------------------------------------------
class FakeEnsemble:
    """R_coh = share of chord frames holding C major (so RL has something to learn); it can be
    told to return NaN from its n-th call."""

    def __init__(self, nan_from_call: int | None = None, on_call=None):
        self.calls, self.nan_from_call, self.on_call = 0, nan_from_call, on_call

    def score(self, x, y, use=None, chunk=256):
        self.calls += 1
        if self.on_call is not None:
            self.on_call(self.calls)
        y = torch.as_tensor(y)
        is_c = (y == C_MAJOR) | (y == C_HOLD)
        s = is_c.float().mean(1)
        if self.nan_from_call is not None and self.calls >= self.nan_from_call:
            s[0] = float("nan")
        return s

    def embed_chords(self, y, chunk=256):
        y = torch.as_tensor(y)
        return torch.nn.functional.one_hot(y.clamp(max=VOCAB.size - 1), VOCAB.size).float().mean(1)


class ConstantAdversary:
    def reward(self, x, y):
        return torch.full((len(x),), 2.0)


def _episodes(B=3, T=6):
    x = torch.full((B, T), VOCAB.melody_on(60))
    y = torch.full((B, T), G_MAJOR)
    y[0] = C_MAJOR
    return Episodes(given=x, played=y, real=y.clone(), mask=torch.ones(B, T), kl=torch.ones(B, T))


def test_reward_is_alpha_coherence_plus_beta_rules_plus_gamma_adversarial():
    ep = _episodes()
    cfg = RLConfig(coherence_weight=2.0, rules_weight=0.5, adversarial_weight=0.25, kl_coef=0.01,
                   whiten_rewards=False)
    compose_rewards(ep, FakeEnsemble(), cfg, ConstantAdversary())
    t = ep.reward_terms
    assert torch.allclose(t["coherence"], torch.tensor([1.0, 0.0, 0.0]))  # row 0 plays C on every frame
    assert (t["rules"] < 0).all()  # 6 repeated onsets in a row: the repetition penalty
    expected = 2.0 * t["coherence"] + 0.5 * t["rules"] + 0.25 * 2.0
    assert torch.allclose(ep.sequence_reward, expected)
    assert torch.allclose(ep.token_rewards[:, -1], expected - 0.01)  # last token: R and its KL charge
    # PPO's default: R standardised over the batch before it meets the KL charge
    ep_w = _episodes()
    compose_rewards(ep_w, FakeEnsemble(), cfg.replace(whiten_rewards=True), ConstantAdversary())
    z = (expected - expected.mean()) / expected.std()
    assert torch.allclose(ep_w.token_rewards[:, -1], z - 0.01, atol=1e-5)
    assert torch.allclose(ep_w.sequence_reward, expected)  # the logged reward stays raw
    # without gamma the adversary is not even asked
    ep2 = _episodes()
    compose_rewards(ep2, FakeEnsemble(), RLConfig(adversarial_weight=0.0), ConstantAdversary())
    assert float(ep2.reward_terms["adversarial"].abs().sum()) == 0.0


# --- the loop, on tiny models -------------------------------------------------------------------
def _tiny_world(seed=0):
    torch.manual_seed(seed)
    cfg = ModelConfig(n_layers=1, n_heads=2, d_model=32, max_len=66)
    policy, anchor = OnlinePolicy(cfg).eval(), OfflineAnchor(cfg).eval()
    rng = np.random.default_rng(seed)
    songs = []
    for i in range(6):
        mel = np.array([VOCAB.melody_on(int(p)) for p in rng.integers(60, 72, 48)])
        ch = np.full(48, C_HOLD)
        ch[::16] = C_MAJOR
        songs.append(SongFrames(f"s{i}", "default", "train", mel, ch, 16))
    data = {"train": {"default": songs}, "valid": {}, "test": {}}
    return policy, anchor, data


def _smoke_cfg(system="realchords", **kw):
    base = dict(updates=3, rollouts_per_update=8, minibatch_size=4, crop_frames=16, eval_every=1,
                eval_samples=1, checkpoint_every=1, warmup_updates=1, actor_lr=1e-3, critic_lr=1e-3)
    base.update(kw)
    return RLConfig.preset("smoke", system, **base)


@pytest.mark.parametrize("system", ["gapt-no-adv", "grpo"])
def test_train_rl_logs_diagnostics_evaluates_and_saves_a_loadable_policy(tmp_path, system):
    policy, anchor, data = _tiny_world()
    cfg = _smoke_cfg(system=system, group_size=2)
    melodies = np.stack([s.melody[:16] for s in data["train"]["default"][:4]])
    run = train_rl(cfg, policy, anchor, FakeEnsemble(), data, tmp_path, eval_melodies=melodies, progress=False)
    assert len(run.metrics) == 3 and [e["update"] for e in run.evals] == [0, 1, 2, 3]
    keys = {"reward", "coherence", "rules", "adversarial", "kl_per_token", "approx_kl", "clipfrac", "entropy",
            "harmony", "vendi", "histogram_entropy", "distinct_chords_per_sequence",
            "chord_changes_per_sequence", "longest_hold"}
    if system != "grpo":
        keys |= {"explained_variance", "value_loss"}
    assert keys <= set(run.metrics[-1]), keys - set(run.metrics[-1])
    assert all(math.isfinite(v) for k, v in run.metrics[-1].items() if k in keys - {"explained_variance"})
    loaded = load_model(tmp_path / "model.pt", kind="online")
    for a, b in zip(loaded.state_dict().values(), run.policy.state_dict().values()):
        assert torch.equal(a, b)
    ckpt = load_checkpoint(tmp_path / "model.pt")
    assert ckpt.meta["complete"] and ckpt.train_config["system"] == system
    # the caller's policy is copied, never trained in place
    assert all(torch.equal(p, q) for p, q in zip(policy.state_dict().values(), _tiny_world()[0].state_dict().values()))


def test_half_tempo_share_slows_that_share_of_the_crops_the_policy_is_given(tmp_path, monkeypatch):
    import minigapt.rl.train as rl_train
    given = []

    def spy(actor, x, y_real, cfg, sampling):
        given.append((x.clone(), y_real.clone()))
        return collect(actor, x, y_real, cfg, sampling)
    monkeypatch.setattr(rl_train, "collect", spy)
    policy, anchor, data = _tiny_world()  # every melody frame of the tiny world is an onset
    train_rl(_smoke_cfg(updates=1, half_tempo_share=0.5), policy, anchor, FakeEnsemble(), data, tmp_path, progress=False)
    onsets = torch.as_tensor(VOCAB.is_onset)[given[0][0]]  # (the chords go through the same slow_down_share)
    assert onsets[:4].all()                                       # played as written
    assert onsets[4:, 0::2].all() and not onsets[4:, 1::2].any()  # every note twice as long


def test_ppo_raises_the_reward_it_is_given(tmp_path):
    policy, anchor, data = _tiny_world()
    cfg = _smoke_cfg(updates=25, rollouts_per_update=16, minibatch_size=8, actor_lr=3e-3, eval_every=100,
                     checkpoint_every=100, kl_coef=0.0)
    run = train_rl(cfg, policy, anchor, FakeEnsemble(), data, tmp_path, progress=False)
    first = np.mean([m["coherence"] for m in run.metrics[:5]])
    last = np.mean([m["coherence"] for m in run.metrics[-5:]])
    assert last > first + 0.05, (first, last)


def test_nan_in_rewards_stops_with_one_line_and_keeps_the_last_good_checkpoint(tmp_path):
    policy, anchor, data = _tiny_world()
    cfg = _smoke_cfg(updates=6)
    with pytest.raises(NonFiniteError) as err:
        train_rl(cfg, policy, anchor, FakeEnsemble(nan_from_call=3), data, tmp_path, progress=False)
    msg = str(err.value)
    assert "\n" not in msg and "coherence" in msg and "update 3" in msg and "last good checkpoint" in msg
    assert isinstance(err.value, MinigaptError)
    ckpt = load_checkpoint(tmp_path / "model.pt")
    assert ckpt.meta["updates_done"] == 2 and not ckpt.meta["complete"]
    assert all(torch.isfinite(v).all() for v in ckpt.state_dict.values() if v.is_floating_point())


def test_nan_in_logits_stops_with_one_line_and_keeps_the_last_good_checkpoint(tmp_path):
    policy, anchor, data = _tiny_world()
    cfg = _smoke_cfg(updates=6)

    def poison_anchor(call):  # from the 3rd update on, the anchor's logits are NaN
        if call == 2:
            with torch.no_grad():
                for p in anchor.parameters():
                    p.fill_(float("nan"))

    with pytest.raises(NonFiniteError) as err:
        train_rl(cfg, policy, anchor, FakeEnsemble(on_call=poison_anchor), data, tmp_path, progress=False)
    msg = str(err.value)
    assert "\n" not in msg and "logits" in msg and "update 3" in msg
    assert load_checkpoint(tmp_path / "model.pt").meta["updates_done"] == 2


def test_rl_presets_exist_for_every_scale_and_system_and_paper_matches_section_c5():
    from minigapt.rl.config import SYSTEMS

    for scale in ("smoke", "course", "paper"):
        for system in SYSTEMS:
            cfg = RLConfig.preset(scale, system)
            assert cfg.rollouts_per_update % cfg.minibatch_size == 0
            assert (cfg.entropy_coef == 0) == (system == "realchords")
            assert (cfg.adversarial_weight > 0) == (system in ("gapt", "grpo-adv"))
    paper = RLConfig.preset("paper", "gapt")
    assert (paper.rollouts_per_update, paper.minibatch_size, paper.epochs, paper.updates) == (384, 48, 1, 1000)
    assert (paper.actor_lr, paper.critic_lr, paper.kl_coef, paper.entropy_coef) == (5e-6, 9e-5, 0.001, 0.01)
    assert (paper.gae_gamma, paper.gae_lambda, paper.clip_coef, paper.grad_clip) == (1.0, 0.95, 0.2, 1.0)
    with pytest.raises(MinigaptError):
        RLConfig.preset("course", "nonsense")


def test_a_config_saved_before_a_field_existed_still_matches_its_preset():
    import dataclasses

    from minigapt.rl.train import _normalised

    cfg = RLConfig.preset("course", "gapt")
    saved = dataclasses.asdict(cfg)
    del saved["rule_terms"], saved["discriminator"]["steps_per_event"]  # as if saved by an older version
    saved["discriminator"]["steps_per_event"] = cfg.discriminator.steps_per_event
    assert _normalised(saved) == _normalised(cfg)
    assert _normalised({**saved, "actor_lr": 1.0}) != _normalised(cfg)
    with pytest.raises(MinigaptError):
        RLConfig(rule_terms=("invalid", "nonsense"))


def test_settings_a_run_never_used_do_not_make_it_another_run():
    import dataclasses

    from minigapt.rl.train import _normalised

    base = RLConfig.preset("course", "realchords")
    other_d = base.replace(discriminator=dataclasses.replace(base.discriminator, lr=1.0), group_size=16)
    assert _normalised(dataclasses.asdict(other_d)) == _normalised(base)  # no adversary, no groups
    gapt = RLConfig.preset("course", "gapt")
    assert _normalised(gapt.replace(discriminator=dataclasses.replace(gapt.discriminator, lr=1.0))) != _normalised(gapt)


def test_train_missing_false_returns_none_instead_of_training(tmp_path):
    """Notebook 06 at course scale evaluates what exists: a run neither trained nor shipped is
    None (counted as skipped there), never a surprise hour of training."""
    from minigapt.rl.train import train_or_load_rl

    cfg = RLConfig.preset("smoke", "gapt", seed=7)
    assert train_or_load_rl(cfg, None, None, None, None, runs=tmp_path, train_missing=False) is None
    assert not any(tmp_path.iterdir())



class FakeEnsembleWithConfig(FakeEnsemble):
    """FakeEnsemble with a config, so that runs record which reward models they were trained on."""

    def __init__(self, steps: int):
        super().__init__()
        from minigapt.rewards.ensemble import RewardConfig

        self.cfg, self.names = RewardConfig.preset("smoke"), ["contrastive/0"]
        self.cfg.steps = steps


def test_a_run_stands_in_only_for_the_reward_models_it_was_trained_on(tmp_path, capsys):
    from minigapt.rl.train import train_or_load_rl

    policy, anchor, data = _tiny_world()
    cfg = _smoke_cfg(updates=2)
    first = train_or_load_rl(cfg, policy, anchor, FakeEnsembleWithConfig(20), data, runs=tmp_path, progress=False)
    assert load_checkpoint(first.path).meta["reward_ensemble"]
    capsys.readouterr()
    same = train_or_load_rl(cfg, policy, anchor, FakeEnsembleWithConfig(20), data, runs=tmp_path, progress=False,
                            train_missing=False)
    assert same is not None and "loaded your run" in capsys.readouterr().out
    other = train_or_load_rl(cfg, policy, anchor, FakeEnsembleWithConfig(40), data, runs=tmp_path, progress=False,
                             train_missing=False)
    out = capsys.readouterr().out
    assert other is None and "trained on other reward models: not trained here (skipped)" in out
    assert "training anew" not in out  # evaluate-what-exists never announces training it does not do


# --- where training runs -------------------------------------------------------------------------
def test_resolve_device_reads_the_argument_then_the_environment_then_defaults_to_the_cpu(monkeypatch):
    from minigapt.config import resolve_device

    monkeypatch.delenv("MINIGAPT_DEVICE", raising=False)
    assert resolve_device() == torch.device("cpu")
    monkeypatch.setenv("MINIGAPT_DEVICE", "auto")
    assert resolve_device() == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")  # the argument wins over the environment
    with pytest.raises(MinigaptError, match="unknown device"):
        resolve_device("tpu-please")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message a machine without a GPU gives")
def test_asking_for_a_gpu_that_is_not_there_is_one_line_before_anything_is_written(tmp_path, monkeypatch):
    policy, anchor, data = _tiny_world()
    monkeypatch.setenv("MINIGAPT_DEVICE", "cuda")
    with pytest.raises(MinigaptError, match="sees no GPU"):
        train_rl(_smoke_cfg(), policy, anchor, FakeEnsemble(), data, tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "model.pt").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU (the device machine, when lent)")
def test_rl_trains_on_a_gpu_and_hands_back_cpu_models(tmp_path):
    from minigapt.rl.gapt import adversary_for

    policy, anchor, data = _tiny_world()
    cfg = _smoke_cfg(system="gapt", updates=4)
    melodies = np.stack([s.melody[:16] for s in data["train"]["default"][:4]])
    run = train_rl(cfg, policy, anchor, FakeEnsemble(), data, tmp_path, eval_melodies=melodies,
                   adversary=adversary_for(cfg), progress=False, device="cuda")
    assert len(run.metrics) == 4 and all(math.isfinite(m["reward"]) for m in run.metrics)
    assert {p.device.type for p in run.policy.parameters()} == {"cpu"}
    assert {p.device.type for p in anchor.parameters()} == {"cpu"}  # visited the GPU, came back


def test_the_evaluation_set_pairs_each_melody_with_the_datas_own_chords():
    from minigapt.rl.evaluation import evaluation_melodies, evaluation_set

    _, _, data = _tiny_world()
    songs = data["train"]["default"]
    for s, name in zip(songs, ["C", "F", "G", "Am", "Dm", "Em"]):  # tell the songs apart by their chord
        s.chords = np.full(len(s.chords), VOCAB.chord_hold(name))
        s.chords[::16] = VOCAB.chord_on(name)
    x, y = evaluation_set(data, 4, 32, split="train")  # no "nottingham" source: every source pooled
    assert x.shape == y.shape == (4, 32)
    for i in range(4):
        assert np.array_equal(x[i], songs[i].melody[:32]) and np.array_equal(y[i], songs[i].chords[:32])
    assert np.array_equal(evaluation_melodies(data, 4, 32, split="train"), x)


def test_rhythm_weight_weighs_the_rhythm_only_models_in_r_coh():
    from minigapt.rl.task import coherence_terms

    class Scored:  # each model's z-scores for 2 parts
        def normalised_scores(self, x, y, use=None):
            return {"contrastive/0": torch.tensor([1.0, 0.0]), "discriminative/0": torch.tensor([1.0, 0.0]),
                    "rhythm_discriminative/0": torch.tensor([-4.0, 0.0])}

    x = y = torch.zeros(2, 4, dtype=torch.long)
    plain = coherence_terms(Scored(), x, y, RLConfig())["coherence"]
    assert torch.allclose(plain, torch.tensor([-2.0 / 3, 0.0]))  # weight 1: the plain mean
    quarter = coherence_terms(Scored(), x, y, RLConfig(rhythm_weight=0.25))["coherence"]
    assert torch.allclose(quarter, torch.tensor([(1 + 1 - 1) / 2.25, 0.0]))
    none = coherence_terms(Scored(), x, y, RLConfig(rhythm_weight=0.0))["coherence"]
    assert torch.allclose(none, torch.tensor([1.0, 0.0]))  # weight 0: as if left out
