"""The learning-rate schedule every training loop in minigapt uses."""
import math


def warmup_cosine(step: int, lr: float, warmup_steps: int, total_steps: int, min_ratio: float) -> float:
    """Linear warmup to `lr` over `warmup_steps`, then cosine decay to lr * min_ratio at
    `total_steps` (held there after)."""
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))
