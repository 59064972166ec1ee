"""RL post-training of the online chord policy: PPO, Dr.GRPO and (rl/gapt.py) GAPT."""
from .config import SYSTEMS, RLConfig
from .train import RLRun, load_run, run_name, train_or_load_rl, train_rl

__all__ = ["SYSTEMS", "RLConfig", "RLRun", "load_run", "run_name", "train_or_load_rl", "train_rl"]
