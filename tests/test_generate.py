"""Online generation: KV cache vs recompute, causality, masking, sliding window, sessions."""
import json

import numpy as np
import pytest
import torch

from minigapt.generate import (OnlineSession, allowed_tokens, rollout_online, sample_melody_continuation,
                               sample_offline, score_chords)
from minigapt.models.anchor import OfflineAnchor
from minigapt.models.decoder import ModelConfig, OnlinePolicy
from minigapt.music.tokens import BOS, EOS, PAD, SILENCE, VOCAB

CONTEXT = 42  # tokens: 20 frames fit, longer melodies make the window slide

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def policy():
    torch.manual_seed(0)
    return OnlinePolicy(ModelConfig(n_layers=2, n_heads=2, d_model=32, dropout=0.1, max_len=CONTEXT))


def melodies(B, T, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(VOCAB.melody_on0, VOCAB.chord_on0, size=(B, T))


def assert_well_formed(part, role):
    """Chords (or melody) only of the right kind or SILENCE; a HOLD only continues its note."""
    ok_kind = VOCAB.is_chord if role == "chord" else VOCAB.is_melody
    of = VOCAB.chord_of if role == "chord" else VOCAB.pitch_of
    part = np.asarray(part)
    for row in part:
        for t, tok in enumerate(row):
            assert ok_kind[tok] or tok == SILENCE, VOCAB.describe(tok)
            if ok_kind[tok] and not VOCAB.is_onset[tok]:
                assert t > 0 and of[row[t - 1]] == of[tok], f"HOLD without its onset at {t}"


def test_kv_cache_and_recompute_agree_even_across_window_slides(policy):
    x = melodies(3, 50)  # 50 frames = 100 tokens >> context 42: several slides
    cached = rollout_online(policy, x, seed=7, return_entropy=True)
    fresh = rollout_online(policy, x, seed=7, return_entropy=True, use_cache=False)
    assert torch.equal(cached.chords, fresh.chords)
    assert torch.allclose(cached.logprobs, fresh.logprobs, atol=1e-5)
    assert torch.allclose(cached.entropies, fresh.entropies, atol=1e-5)
    assert policy.training  # generation switched dropout off and restored the mode


def test_rollout_logprobs_match_one_teacher_forced_forward(policy):
    x = torch.as_tensor(melodies(4, 20, seed=1))  # 20 frames fit the context: no slide
    for temperature, mask in ((1.0, True), (0.7, False)):
        r = rollout_online(policy, x, seed=3, temperature=temperature, mask_invalid=mask,
                           return_entropy=True)
        policy.eval()
        lp, ent = score_chords(policy, x, r.chords, temperature=temperature, mask_invalid=mask)
        policy.train()
        assert torch.allclose(lp, r.logprobs, atol=1e-5)
        assert torch.allclose(ent, r.entropies, atol=1e-4)
        assert (r.logprobs < 0).all() and r.sampled.all()


def test_chord_at_t_ignores_the_melody_from_t_on(policy):
    x = melodies(2, 30, seed=2)
    base = rollout_online(policy, x, seed=11).chords
    for t in (0, 9, 25):
        y = x.copy()
        y[:, t:] = VOCAB.melody_on(45)  # perturb the future
        changed = rollout_online(policy, y, seed=11).chords
        assert torch.equal(changed[:, :t + 1], base[:, :t + 1])
    assert not torch.equal(changed, base) or True  # (the future may or may not change)
    z = x.copy()
    z[:, 3:] = VOCAB.melody_on(45)
    assert not torch.equal(rollout_online(policy, z, seed=11).chords[:, 4:], base[:, 4:])


def test_masking_never_emits_invalid_tokens(policy):
    x = melodies(8, 60, seed=3)
    r = rollout_online(policy, x, seed=0, temperature=3.0)  # hot: would pick anything unmasked
    assert_well_formed(r.chords.numpy(), "chord")
    unmasked = rollout_online(policy, x, seed=0, temperature=3.0, mask_invalid=False).chords.numpy()
    assert not all(VOCAB.is_chord[t] or t == SILENCE for t in unmasked.ravel())  # the mask mattered
    onsets = VOCAB.melody_on0 + (x[:, :5] - VOCAB.melody_on0) % VOCAB.n_pitches
    m = sample_melody_continuation(policy, onsets, 40, seed=0, temperature=3.0)
    assert_well_formed(m.melody.numpy(), "melody")
    assert_well_formed(m.chords.numpy(), "chord")


def test_allowed_tokens_hold_rule():
    prev = torch.tensor([PAD, VOCAB.chord_on("C"), VOCAB.chord_hold("Am"), SILENCE])
    allowed = allowed_tokens(prev, "chord")
    holds = allowed[:, VOCAB.chord_hold0:]
    assert holds.sum(1).tolist() == [0, 1, 1, 0]
    assert allowed[1, VOCAB.chord_hold("C")] and allowed[2, VOCAB.chord_hold("Am")]
    assert allowed[:, SILENCE].all() and not allowed[:, [PAD, BOS, EOS]].any()
    assert not allowed[:, VOCAB.melody_on0:VOCAB.chord_on0].any()


def test_sliding_window_runs_past_the_context_and_agrees_before_it(policy):
    x = melodies(2, 80, seed=4)  # 4x the context
    long = rollout_online(policy, x, seed=5)
    short = rollout_online(policy, x[:, :20], seed=5)  # fits: no window needed
    assert long.chords.shape == (2, 80)
    assert torch.equal(long.chords[:, :20], short.chords)
    assert torch.allclose(long.logprobs[:, :20], short.logprobs, atol=1e-6)
    assert_well_formed(long.chords.numpy(), "chord")


def test_window_after_a_slide_is_bos_plus_the_last_frames_from_a_hop_boundary(policy):
    x = torch.as_tensor(melodies(1, 40, seed=12))
    r = rollout_online(policy, x, seed=0, return_entropy=True)
    stream = r.stream()[0]
    policy.eval()
    for t in (25, 33, 39):  # frames whose chord was chosen after the window slid
        start = 0
        while 1 + 2 * t - 2 * start > CONTEXT:  # the rule: slide by 8 frames until it fits
            start += 8
        window = torch.cat([stream[:1], stream[1 + 2 * start:1 + 2 * t]])[None]
        assert window[0, 1] == r.chords[0, start]  # the window opens on a chord token
        logits = policy(window)[0, -1] + allowed_mask_row(r.chords[0, t - 1])
        expected = torch.log_softmax(logits, -1)[r.chords[0, t]]
        assert torch.allclose(expected, r.logprobs[0, t], atol=1e-5)
    policy.train()


def allowed_mask_row(prev_chord):
    return torch.where(allowed_tokens(prev_chord[None], "chord")[0], 0.0, float("-inf"))


def test_prefix_seed_and_melody_end(policy):
    x = melodies(2, 24, seed=6)
    prefix = np.full((2, 6), VOCAB.chord_on("G"))
    prefix[:, 1:] = VOCAB.chord_hold("G")
    r = rollout_online(policy, x, chord_prefix=prefix, seed=1)
    assert torch.equal(r.chords[:, :6], torch.as_tensor(prefix))
    assert not r.sampled[:, :6].any() and r.sampled[:, 6:].all() and (r.logprobs[:, :6] == 0).all()
    assert torch.equal(rollout_online(policy, x, seed=1).chords, rollout_online(policy, x, seed=1).chords)
    assert not torch.equal(rollout_online(policy, x, seed=1).chords, rollout_online(policy, x, seed=2).chords)
    ended = x.copy()
    ended[0, 15:] = PAD  # the first melody ends early
    r = rollout_online(policy, ended, seed=1, return_entropy=True)
    assert (r.chords[0, 15:] == PAD).all() and (r.logprobs[0, 15:] == 0).all()
    assert (r.entropies[0, 15:] == 0).all() and not r.sampled[0, 15:].any()
    stream = r.stream()
    assert stream[0, 0] == BOS and stream[0, 31] == EOS and (stream[0, 32:] == PAD).all()
    assert stream[1, -1] == EOS and torch.equal(stream[1, 1:-1:2], r.chords[1])
    greedy = [rollout_online(policy, x, seed=s, temperature=0).chords for s in (1, 2)]
    assert torch.equal(*greedy)


def test_session_step_by_step_equals_the_batched_rollout(policy):
    x = melodies(1, 45, seed=8)[0]  # past the context: slides inside the session too
    r = rollout_online(policy, x[None], seed=9, temperature=0.9)
    s = OnlineSession(policy, seed=9, temperature=0.9)
    chords = [s.next_chord()]
    for tok in x[:-1]:
        chords.append(s.step(int(tok)))
    assert chords == r.chords[0].tolist()
    assert s.frame == 44


def test_session_clone_force_and_imagine(policy):
    s = OnlineSession(policy, seed=0)
    for tok in melodies(1, 10, seed=9)[0]:
        s.step(int(tok))
    plan = s.clone()
    imagined = [plan.imagine_melody() for _ in range(1)]
    plan.step(imagined[0])
    assert plan.frame == 11 and s.frame == 10  # the original did not move
    s.force_chord(VOCAB.chord_on("D"))
    assert s.next_chord() == VOCAB.chord_on("D")
    s.imagine_melody()
    with pytest.raises(ValueError):
        s.force_chord(VOCAB.chord_on("E"))
    s.step(VOCAB.melody_on(62))
    assert s.chords[-1] == VOCAB.chord_on("D") and s.melody[-1] == VOCAB.melody_on(62)


def test_melody_continuation_keeps_what_is_given(policy):
    x = melodies(2, 8, seed=10)
    committed = np.full((2, 12), VOCAB.chord_on("F"))
    r = sample_melody_continuation(policy, x, 30, chords=committed, seed=0)
    assert r.melody.shape == (2, 30)
    assert torch.equal(r.melody[:, :8], torch.as_tensor(x))
    assert torch.equal(r.chords[:, :12], torch.as_tensor(committed))
    assert (r.melody[:, 8:] != PAD).all()


def test_sample_offline_is_well_formed():
    torch.manual_seed(0)
    anchor = OfflineAnchor(ModelConfig(n_layers=1, n_heads=2, d_model=32, max_len=CONTEXT))
    x = melodies(3, 16, seed=11)
    x[2, 10:] = PAD
    y = sample_offline(anchor, x, seed=0, temperature=2.0)
    assert y.shape == (3, 16) and (y[2, 10:] == PAD).all()
    assert_well_formed(y[:2].numpy(), "chord")
    assert torch.equal(y, sample_offline(anchor, x, seed=0, temperature=2.0))


def test_numpy_decode_step_matches_the_torch_forward():
    from minigapt.models import fast_decode
    from minigapt.models.fast_decode import FastDecoder

    torch.manual_seed(1)
    model = OnlinePolicy(ModelConfig(n_layers=2, n_heads=2, d_model=32, max_len=64)).eval()
    with torch.no_grad():  # norms, factorised parts and RoPE-relevant weights all non-trivial
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    toks = torch.randint(VOCAB.melody_on0, VOCAB.size, (2, 60))
    toks[:, 0] = BOS
    with torch.no_grad():
        ref = model(toks).numpy()
    for prefill in (10, 2 * 17):  # a short prefill in NumPy, a long one through PyTorch
        assert (prefill >= fast_decode.TORCH_PREFILL_MIN) == (prefill > 10)
        dec = FastDecoder(model, 2, 64)
        got = [dec.feed(toks[:, :prefill].numpy())]
        got += [dec.feed(toks[:, t:t + 2].numpy()) for t in range(prefill, 60, 2)]  # frame by frame
        want = [ref[:, prefill - 1]] + [ref[:, t + 1] for t in range(prefill, 60, 2)]
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, atol=1e-4, rtol=1e-4)
    with torch.no_grad():  # changed weights: the folded copy must be rebuilt, not reused
        model.blocks[0].mlp.down.weight.mul_(3)
        ref2 = model(toks[:, :5])[:, -1].numpy()
    again = FastDecoder(model, 2, 64).feed(toks[:, :5].numpy())
    np.testing.assert_allclose(again, ref2, atol=1e-4, rtol=1e-4)
    assert not np.allclose(ref2, ref[:, 4], atol=1e-3)


def test_batch_one_numpy_decode_agrees_with_the_torch_paths(policy, monkeypatch):
    import minigapt.generate as generate

    x = melodies(1, 50, seed=5)  # 100 tokens through a 42-token context: slides included
    fast = rollout_online(policy, x, seed=2, return_entropy=True)
    monkeypatch.setattr(generate, "NUMPY_DECODE", False)
    torch_cached = rollout_online(policy, x, seed=2, return_entropy=True)
    fresh = rollout_online(policy, x, seed=2, return_entropy=True, use_cache=False)
    for other in (torch_cached, fresh):
        assert torch.equal(fast.chords, other.chords)
        assert torch.allclose(fast.logprobs, other.logprobs, atol=1e-4)
        assert torch.allclose(fast.entropies, other.entropies, atol=1e-4)
    # rollouts come back as ordinary tensors: the RL update can differentiate through them
    logp, _ = score_chords(policy, torch.as_tensor(x), fast.chords)
    logp.sum().backward()
    assert policy.blocks[0].attn.qkv.weight.grad is not None
    policy.zero_grad(set_to_none=True)


def test_bench_command_reports_the_speed_keys(capsys):
    from minigapt.cli import main

    assert main(["bench", "--quick", "--scale", "smoke", "--frames", "16", "--repeats", "1",
                 "--decode-steps", "10", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("kv_cache_speedup", "kv_cache_speedup_torch_path", "decode_step_ms_median",
                "kv_cached_tokens_per_s", "recompute_tokens_per_s"):
        assert out[key] > 0, key
    assert out["stream_tokens"] == 32 and out["decode_steps"] == 10
    assert main(["bench", "--frames", "3"]) == 2  # bad input: one-line error, no traceback
    assert "error:" in capsys.readouterr().err


def test_context_accepts_a_chunk_longer_than_its_buffer(policy):
    from minigapt.generate import _Context

    ctx = _Context(policy, 1, "cpu", use_cache=False)
    chunk = torch.full((1, 200), VOCAB.melody_on(60))  # more than twice the initial 64-token buffer
    logits = ctx.feed(chunk)
    assert ctx.n == 200 and torch.isfinite(logits).all()
