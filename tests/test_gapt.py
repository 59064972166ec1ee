"""GAPT: the two-phase discriminator schedule, label smoothing, R_adv, and D inside the loop."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from minigapt.rl import train_rl
from minigapt.errors import MinigaptError
from minigapt.rl.gapt import (ChordDiscriminator, DiscriminatorConfig, adversarial_reward,
                              adversarial_reward_from_logits, adversary_for, discriminator_loss, load_discriminator, should_update,
                              smoothed_targets)

from test_rl import FakeEnsemble, _smoke_cfg, _tiny_world

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _schedule(stream, cfg):
    """Feed per-update mean R_adv values one by one -> list of (update, phase) where D steps."""
    seen, out = [], []
    for u, r in enumerate(stream):
        seen.append(r)
        step, phase = should_update(u, seen, cfg)
        if step:
            out.append((u, phase))
    return out


def test_warmup_cadence_every_k_updates_until_t_warm():
    cfg = DiscriminatorConfig(warmup_updates=20, update_every=5, gate_window=3, tau=1.0)
    assert _schedule([0.1] * 40, cfg) == [(0, "warmup"), (5, "warmup"), (10, "warmup"), (15, "warmup")]


def test_gate_opens_above_tau_and_closes_below_it():
    cfg = DiscriminatorConfig(warmup_updates=0, update_every=5, gate_window=3, tau=1.0)
    stream = [0.5, 0.5, 2.0, 2.0, 0.9, 0.1, 0.1, 0.1, 3.0]
    # windows (mean of the last 3): u2 1.0 (not > tau), u3 1.5 open, u4 1.63 open, u5 1.0 closed,
    # u6 0.37, u7 0.1, u8 1.07 open
    assert _schedule(stream, cfg) == [(3, "gated"), (4, "gated"), (8, "gated")]


def test_gate_can_fire_during_warmup_between_cadence_steps():
    cfg = DiscriminatorConfig(warmup_updates=10, update_every=5, gate_window=3, tau=1.0)
    assert _schedule([2.0] * 4, cfg) == [(0, "warmup"), (2, "gated"), (3, "gated")]


def test_label_smoothing_targets_match_two_class_cross_entropy():
    targets = smoothed_targets(torch.tensor([1, 0, 1]), 0.1)
    assert torch.allclose(targets, torch.tensor([0.95, 0.05, 0.95]))
    logits = torch.tensor([2.0, -1.0, 0.3])
    bce = F.binary_cross_entropy_with_logits(logits, targets)
    two_class = torch.stack([torch.zeros(3), logits], 1)  # softmax([0, l]) = sigmoid(l)
    ce = F.cross_entropy(two_class, torch.tensor([1, 0, 1]), label_smoothing=0.1)
    assert torch.allclose(bce, ce, atol=1e-6)


def test_adversarial_reward_is_finite_at_d_one_and_zero_at_d_zero():
    r = adversarial_reward(torch.tensor([0.0, 1 - 1 / math.e, 1.0]))
    assert torch.isfinite(r).all()
    assert float(r[0]) == pytest.approx(0.0, abs=1e-9)
    assert float(r[1]) == pytest.approx(1.0, abs=1e-5)  # tau = 1 <=> D ~ 0.63
    assert float(r[2]) == pytest.approx(-math.log(1e-12), rel=1e-6)


def test_reward_forms_agree_on_order_and_differ_on_rejected_parts():
    d = torch.tensor([0.01, 0.1, 0.5, 0.9])
    logits = torch.log(d / (1 - d))
    paper = adversarial_reward_from_logits(logits, "paper")
    log_d = adversarial_reward_from_logits(logits, "log_d")
    assert torch.allclose(paper, adversarial_reward(d), atol=1e-6)
    assert torch.allclose(log_d, torch.log(d), atol=1e-6)
    assert (paper.diff() > 0).all() and (log_d.diff() > 0).all()  # both pay more for "real"
    # between two parts D rejects, log D's gap is many times the paper form's
    assert float(log_d[1] - log_d[0]) > 10 * float(paper[1] - paper[0])
    with pytest.raises(MinigaptError):
        adversarial_reward_from_logits(logits, "hinge")


@pytest.mark.parametrize("sees_melody", [False, True])
def test_discriminator_learns_to_tell_held_chords_from_moving_ones(sees_melody):
    torch.manual_seed(0)
    cfg = DiscriminatorConfig(dim=32, n_layers=1, n_heads=2, sees_melody=sees_melody)
    d = ChordDiscriminator(cfg)
    opt = torch.optim.AdamW(d.parameters(), lr=3e-3)
    from test_rl import C_HOLD, C_MAJOR, G_MAJOR
    from minigapt.music.tokens import VOCAB
    x = torch.full((16, 32), VOCAB.melody_on(60))
    real = torch.full((16, 32), C_HOLD)
    real[:, ::8], real[:, 4::8] = C_MAJOR, G_MAJOR
    real[:, 5:8] = VOCAB.chord_hold("G")
    fake = torch.full((16, 32), C_HOLD)
    fake[:, 0] = C_MAJOR
    for _ in range(40):
        loss, stats = discriminator_loss(d, x, real, fake, 0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert stats["d_acc"] == 1.0
    d.eval()
    with torch.no_grad():
        assert float(d.prob_real(x, real).mean()) > 0.8 > 0.2 > float(d.prob_real(x, fake).mean())
    # D(y) ignores the melody entirely
    if not sees_melody:
        assert torch.allclose(d(x, real), d(torch.zeros_like(x), real))


def test_gapt_run_logs_discriminator_steps_per_phase(tmp_path):
    policy, anchor, data = _tiny_world()
    cfg = _smoke_cfg(system="gapt", updates=4)
    cfg.discriminator = DiscriminatorConfig(dim=32, n_layers=1, n_heads=2, warmup_updates=4, update_every=2,
                                            tau=1e9, lr=1e-3)
    adversary = adversary_for(cfg)  # seed 0
    run = train_rl(cfg, policy, anchor, FakeEnsemble(), data, tmp_path, adversary=adversary, progress=False)
    m = run.metrics
    assert [r["d_updated"] for r in m] == [1.0, 0.0, 1.0, 0.0]
    steps_per_event = cfg.rollouts_per_update // cfg.minibatch_size
    assert m[-1]["d_steps_warmup"] == 2 * steps_per_event and m[-1]["d_steps_gated"] == 0
    assert all(r["adversarial"] > 0 for r in m) and all(0 <= r["d_acc"] <= 1 for r in m)
    assert "r_adv_window" in m[-1]
    d = load_discriminator(tmp_path)  # saved beside the policy, same weights
    assert all(torch.equal(a, b) for a, b in zip(d.state_dict().values(), adversary.d.state_dict().values()))


# --- the dense form: R_adv paid along the part ---------------------------------------------
def _dense_adversary(patch=4):
    from minigapt.rl.config import RLConfig

    cfg = RLConfig(adversarial_weight=1.0, discriminator=DiscriminatorConfig(
        dim=32, n_layers=1, n_heads=2, frames_per_position=patch, dense=True, reward_form="log_d"))
    return adversary_for(cfg)


def _parts(n=3, T=22):
    from test_rl import C_HOLD, C_MAJOR, G_MAJOR
    from minigapt.music.tokens import PAD, VOCAB
    x = torch.full((n, T), VOCAB.melody_on(60))
    y = torch.full((n, T), C_HOLD)
    y[:, ::4], y[:, 2::8] = C_MAJOR, G_MAJOR
    if n > 1:  # a shorter part: it ends inside a position
        y[1, 13:], x[1, 13:] = PAD, PAD
    return x, y


def test_dense_payments_sum_to_the_parts_r_adv_and_land_on_its_chords():
    from minigapt.music.tokens import PAD
    adversary = _dense_adversary(patch=4)
    x, y = _parts()
    steps = adversary.reward_steps(x, y)
    assert steps.shape == y.shape
    assert torch.allclose(steps.sum(1), adversary.reward(x, y), atol=1e-5)
    paid = steps != 0
    assert not (paid & (y == PAD)).any()  # nothing is paid where no chord was played
    # payments at the last frame of each position (3, 7, ...) and at a short part's last frame (12)
    cols = {int(c) for c in paid.nonzero()[:, 1]}
    assert cols <= {3, 7, 11, 15, 19, 12, 21}, cols
    assert bool(paid[1, 12]) and not paid[1, 13:].any()


def test_dense_payment_at_a_position_is_the_change_in_the_prefix_r_adv():
    from minigapt.rewards.rhythm import cut_to
    adversary = _dense_adversary(patch=4)
    x, y = _parts(n=1, T=16)
    steps = adversary.reward_steps(x, y)[0]
    prefix = lambda k: float(adversary.reward(cut_to(x, torch.tensor([k])), cut_to(y, torch.tensor([k]))))
    assert math.isclose(float(steps[3]), prefix(4), abs_tol=1e-5)
    assert math.isclose(float(steps[11]), prefix(12) - prefix(8), abs_tol=1e-5)


def test_dense_token_rewards_keep_each_parts_whitened_total():
    from minigapt.rl.config import RLConfig
    from minigapt.music.tokens import PAD
    from minigapt.rl.ppo import Episodes, add_rewards
    x, y = _parts(n=4, T=16)
    mask = (y != PAD).float()
    ep = Episodes(given=x, played=y, real=y, mask=mask)
    ep.kl = torch.zeros(x.shape)
    terms = {"coherence": torch.tensor([0.1, -0.3, 0.4, 0.0]), "rules": torch.zeros(4),
             "adversarial": torch.tensor([-1.0, -2.0, -0.5, -0.7])}
    cfg = RLConfig(adversarial_weight=2.0)
    add_rewards(ep, dict(terms), cfg)
    sparse = ep.token_rewards.clone()
    steps = torch.zeros(x.shape)
    steps[:, 3], steps[:, 7] = terms["adversarial"] / 2, terms["adversarial"] / 2
    ep.reward_steps = steps
    add_rewards(ep, dict(terms), cfg)
    assert torch.allclose(ep.token_rewards.sum(1), sparse.sum(1), atol=1e-6)  # the same R per part
    assert not torch.allclose(ep.token_rewards, sparse)  # paid earlier along the part
    assert (ep.token_rewards[:, 3] != 0).all()


def test_dense_discriminator_trains_on_prefixes_and_a_dense_gapt_run_trains(tmp_path):
    policy, anchor, data = _tiny_world()
    cfg = _smoke_cfg(system="gapt", updates=2)
    cfg.discriminator = DiscriminatorConfig(dim=32, n_layers=1, n_heads=2, warmup_updates=2, update_every=1,
                                            lr=1e-3, dense=True, reward_form="log_d")
    adversary = adversary_for(cfg)
    run = train_rl(cfg, policy, anchor, FakeEnsemble(), data, tmp_path, adversary=adversary, progress=False)
    m = run.metrics
    assert [r["d_updated"] for r in m] == [1.0, 1.0]
    assert all(math.isfinite(r["adversarial"]) and r["adversarial"] < 0 for r in m)  # log D < 0
