"""Run modules in eval mode for a block and put each back as it was."""
from __future__ import annotations

from contextlib import contextmanager

import torch


@contextmanager
def eval_mode(*modules: torch.nn.Module | None):
    """`with eval_mode(policy, anchor):` dropout off inside; each module's own training flag
    restored after, even on an error (None entries are skipped)."""
    modules = [m for m in modules if m is not None]
    was = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m, flag in zip(modules, was):
            m.train(flag)

