"""The online policy and the offline anchor: shapes, KV cache, information flow (tiny random models)."""
import numpy as np
import pytest
import torch

from minigapt.models.anchor import OfflineAnchor
from minigapt.models.decoder import (KVCache, ModelConfig, OnlinePolicy, ValueModel, build_stream,
                                     count_parameters, token_features)
from minigapt.music.tokens import PAD, VOCAB

TINY = ModelConfig(n_layers=2, n_heads=2, d_model=32, dropout=0.0, max_len=66)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def random_frames(B, T, seed=0):
    g = torch.Generator().manual_seed(seed)
    melody = torch.randint(VOCAB.melody_on0, VOCAB.chord_on0, (B, T), generator=g)
    chords = torch.randint(VOCAB.chord_on0, VOCAB.size, (B, T), generator=g)
    return melody, chords


@pytest.fixture(scope="module")
def policy():
    torch.manual_seed(0)
    return OnlinePolicy(TINY).eval()


def test_presets_have_the_documented_shapes():
    paper = ModelConfig.preset("paper")
    assert (paper.n_layers, paper.n_heads, paper.d_model, paper.dropout) == (8, 8, 512, 0.1)
    sizes = [count_parameters(OnlinePolicy(ModelConfig.preset(s))) for s in ("smoke", "course")]
    assert sizes[0] < sizes[1] < 25e6  # paper-sized models are not built here (slow)
    with pytest.raises(ValueError):
        ModelConfig(d_model=30, n_heads=4)


def test_forward_shapes_and_hidden(policy):
    melody, chords = random_frames(3, 10)
    stream = build_stream(melody, chords)
    logits, hidden = policy(stream, return_hidden=True)
    assert logits.shape == (3, 21, VOCAB.size) and hidden.shape == (3, 21, TINY.d_model)
    critic = ValueModel(policy)
    assert critic.body is not policy  # a copy: training the critic leaves the policy alone
    assert critic(stream).shape == (3, 21)
    assert torch.all(critic(stream) == 0)  # zero-initialised head: starts as a neutral baseline
    torch.nn.init.normal_(critic.value.weight)
    assert torch.allclose(critic.chord_values(melody, chords), critic(stream)[:, 0:20:2])


def test_head_is_tied_to_the_embedding(policy):
    assert policy.head is None
    stream = build_stream(*random_frames(1, 5))
    logits, hidden = policy(stream, return_hidden=True)
    assert torch.allclose(logits, hidden @ policy.embed.matrix().T, atol=1e-5)
    untied = OnlinePolicy(ModelConfig(n_layers=1, n_heads=2, d_model=32, tie_head=False))
    assert count_parameters(untied) == count_parameters(OnlinePolicy(
        ModelConfig(n_layers=1, n_heads=2, d_model=32))) + VOCAB.size * 32


def test_factorised_embedding_shares_musical_parts():
    feats = token_features()
    c_major, e_melody = VOCAB.chord_on("C"), VOCAB.melody_on(64)
    pcs = slice(5, 17)  # the pitch-class columns, shared by melody and chords
    assert feats[e_melody, pcs].argmax() == 4 and np.allclose(feats[c_major, pcs][[0, 4, 7]], 1 / 3)
    assert (feats[VOCAB.chord_on("D"), pcs] == np.roll(feats[c_major, pcs], 2)).all()
    torch.manual_seed(0)
    model = OnlinePolicy(ModelConfig(n_layers=1, n_heads=2, d_model=32))
    plain = OnlinePolicy(ModelConfig(n_layers=1, n_heads=2, d_model=32, factorized_embedding=False))
    assert count_parameters(model) == count_parameters(plain) + feats.shape[1] * 32
    with torch.no_grad():
        cached = model.embed.matrix()
        assert model.embed.matrix() is cached  # generation reuses it
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model(torch.tensor([[1, c_major, e_melody]])).sum().backward()
    opt.step()  # weights change in place: the cache must notice
    with torch.no_grad():
        assert not torch.allclose(model.embed.matrix(), cached)
        expected = model.embed.table.weight + model.embed.features @ model.embed.parts
        assert torch.allclose(model.embed.matrix(), expected)


def test_kv_cache_matches_full_forward(policy):
    melody, chords = random_frames(2, 20)
    stream = build_stream(melody, chords)
    full = policy(stream)
    cache = KVCache.empty(TINY, 2)
    parts, pos = [], 0
    for n in (1, 2, 5, 1, 1, 3, 8, 20):  # uneven chunks: single tokens and blocks after a prefix
        parts.append(policy(stream[:, pos:pos + n], cache))
        pos += n
    assert cache.length == stream.shape[1] == pos
    assert torch.allclose(torch.cat(parts, 1), full, atol=1e-5)
    with pytest.raises(ValueError, match="full"):
        policy(stream[:, :40], cache)


def test_policy_chord_logits_are_aligned_and_online(policy):
    melody, chords = random_frames(2, 12)
    logits = policy.chord_logits(melody, chords)
    stream_logits = policy(build_stream(melody, chords))
    assert torch.allclose(logits, stream_logits[:, 0::2][:, :12], atol=1e-6)
    t = 5  # the chord of frame t must not depend on the melody at frames >= t
    future = melody.clone()
    future[:, t:] = VOCAB.melody_on(40)
    changed = policy.chord_logits(future, chords)
    assert torch.allclose(changed[:, :t + 1], logits[:, :t + 1], atol=1e-6)
    assert not torch.allclose(changed[:, t + 1:], logits[:, t + 1:], atol=1e-3)


def test_anchor_sees_the_whole_melody_but_only_past_chords():
    torch.manual_seed(0)
    anchor = OfflineAnchor(TINY).eval()
    melody, chords = random_frames(2, 12, seed=1)
    logits = anchor.chord_logits(melody, chords)
    assert logits.shape == (2, 12, VOCAB.size)
    future_melody = melody.clone()
    future_melody[:, 9:] = VOCAB.melody_on(40)
    assert not torch.allclose(anchor.chord_logits(future_melody, chords)[:, 0], logits[:, 0], atol=1e-4)
    future_chords = chords.clone()
    future_chords[:, 6:] = VOCAB.chord_on("C")
    same = anchor.chord_logits(melody, future_chords)
    assert torch.allclose(same[:, :7], logits[:, :7], atol=1e-6)  # chord t sees chords < t only
    assert not torch.allclose(same[:, 7:], logits[:, 7:], atol=1e-4)


def test_anchor_ignores_pad_frames():
    torch.manual_seed(0)
    anchor = OfflineAnchor(TINY).eval()
    melody, chords = random_frames(1, 8, seed=2)
    padded_m = torch.cat([melody, torch.full((1, 4), PAD)], 1)
    padded_c = torch.cat([chords, torch.full((1, 4), PAD)], 1)
    a = anchor.chord_logits(melody, chords)
    b = anchor.chord_logits(padded_m, padded_c)[:, :8]
    assert torch.allclose(a, b, atol=1e-5)
    assert torch.isfinite(anchor.chord_logits(torch.full((1, 5), PAD), torch.full((1, 5), PAD))).all()


def test_dropout_only_in_training():
    torch.manual_seed(0)
    model = OnlinePolicy(ModelConfig(n_layers=1, n_heads=2, d_model=32, dropout=0.5))
    stream = build_stream(*random_frames(1, 6))
    model.train()
    assert not torch.allclose(model(stream), model(stream))
    model.eval()
    assert torch.equal(model(stream), model(stream))
