"""A stopped RL run resumes to exactly the result of an uninterrupted one (smoke scale, tiny
worlds): same policy, critic-trained policy, discriminator and logs, whether it was stopped
cleanly (stop_after) or killed in the middle of an update."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from test_rl import FakeEnsemble, _smoke_cfg, _tiny_world  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _train(name: str, out_dir: Path, stop_after=None, updates: int = 4, fail_at=None):
    from minigapt.rl import train_rl
    from minigapt.rl.gapt import DiscriminatorConfig, adversary_for

    policy, anchor, data = _tiny_world()
    cfg = _smoke_cfg(system=name, group_size=2, updates=updates)
    if cfg.adversarial_weight:  # D steps in the warm-up and through the gate, on both sides of the stop
        cfg.discriminator = DiscriminatorConfig(dim=32, n_layers=1, n_heads=2, warmup_updates=4, update_every=1,
                                                gate_window=2, tau=0.5, lr=1e-3, warmup_steps=1, total_steps=10)
    adversary = adversary_for(cfg) if cfg.adversarial_weight else None
    def crash(calls):  # a Ctrl-C in the middle of a later update, after some have finished
        if calls == fail_at:
            raise KeyboardInterrupt
    ensemble = FakeEnsemble(on_call=crash if fail_at is not None else None)
    eval_melodies = np.stack([s.melody[:16] for s in data["train"]["default"][:4]])
    run = train_rl(cfg, policy, anchor, ensemble, data, out_dir, eval_melodies=eval_melodies,
                   adversary=adversary, progress=False, stop_after=stop_after)
    return run, adversary


def _same(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def _logs(run) -> list:
    return [{k: v for k, v in m.items() if k != "seconds"} for m in run.metrics]


@pytest.mark.parametrize("name", ["realchords", "gapt", "grpo"])
def test_a_stopped_run_resumes_to_the_uninterrupted_result(name, tmp_path):
    whole, d_whole = _train(name, tmp_path / "whole")
    assert not (tmp_path / "whole" / "resume.pt").exists()  # a finished run keeps model.pt only

    first, _ = _train(name, tmp_path / "split", stop_after=2)
    assert len(first.metrics) == 2 and (tmp_path / "split" / "resume.pt").is_file()
    rest, d_rest = _train(name, tmp_path / "split")
    assert len(rest.metrics) == 4
    _same(whole.policy, rest.policy)
    if d_whole is not None:
        _same(d_whole.d, d_rest.d)
        assert d_whole.steps == d_rest.steps and d_whole.recent_adv == d_rest.recent_adv
    assert _logs(whole) == _logs(rest)
    assert whole.evals == rest.evals


def test_a_run_killed_inside_an_update_resumes_from_the_last_finished_one(tmp_path):
    from minigapt.models.checkpoint import load_checkpoint

    whole, _ = _train("realchords", tmp_path / "whole")
    crashed, _ = _train("realchords", tmp_path / "crash", fail_at=5)
    assert 0 < len(crashed.metrics) < 4
    assert load_checkpoint(tmp_path / "crash" / "model.pt").meta["complete"] is False
    rest, _ = _train("realchords", tmp_path / "crash")
    _same(whole.policy, rest.policy)
    assert _logs(whole) == _logs(rest)


def test_a_resume_file_of_another_config_is_not_used(tmp_path):
    _train("realchords", tmp_path / "run", stop_after=2)
    other, _ = _train("realchords", tmp_path / "run", updates=3)  # another config: starts afresh
    assert len(other.metrics) == 3


def test_a_resume_file_from_before_a_field_was_added_is_still_used(tmp_path, capsys):
    """An older minigapt saved the run: its config lacks a field added since (here the
    discriminator's `dense`), which takes its default, so the run goes on where it stopped."""
    import json

    _train("gapt", tmp_path / "run", stop_after=2)
    path = tmp_path / "run" / "resume.pt"
    state = torch.load(path, weights_only=False)
    saved = state["config"]
    del saved["discriminator"]["dense"]
    state["config"] = json.dumps(saved, sort_keys=True)  # as a JSON string, the way older versions wrote it
    torch.save(state, path)
    capsys.readouterr()
    rest, _ = _train("gapt", tmp_path / "run")
    assert "afresh" not in capsys.readouterr().out
    assert [m["update"] for m in rest.metrics] == [1, 2, 3, 4]
    whole, _ = _train("gapt", tmp_path / "whole")
    _same(whole.policy, rest.policy)


def test_same_config_fills_added_fields_drops_removed_ones_and_sees_a_changed_one():
    from minigapt.config import json_data
    from minigapt.resume_file import same_config
    from minigapt.rl.config import RLConfig

    cfg = RLConfig.preset("smoke", "gapt")
    saved = json_data(cfg)
    assert same_config(saved, cfg)
    del saved["discriminator"]["dense"]  # added since: its default
    saved["a_field_since_removed"] = 3
    assert same_config(saved, cfg)
    saved["updates"] += 1
    assert not same_config(saved, cfg)
    assert not same_config(None, cfg)
