"""Models: the online policy (decoder.py), the offline anchor (anchor.py), checkpoints."""
from .anchor import OfflineAnchor
from .checkpoint import load_checkpoint, load_model, resolve_checkpoint, save_checkpoint
from .decoder import KVCache, ModelConfig, OnlinePolicy, ValueModel, count_parameters

__all__ = ["OfflineAnchor", "OnlinePolicy", "ValueModel", "ModelConfig", "KVCache",
           "count_parameters", "save_checkpoint", "load_checkpoint", "load_model",
           "resolve_checkpoint"]
