"""Training loops: supervised MLE (mle.py); RL lives in minigapt.rl."""
from .mle import TrainConfig, train_offline, train_online, train_or_load

__all__ = ["TrainConfig", "train_online", "train_offline", "train_or_load"]
