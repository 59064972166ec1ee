"""The melody jamming agent (paper 4.3, C.4) and model-model interaction.

    melody.py       MelodyPolicy (online, melody-first stream) and MelodyAnchor (offline), MLE
    interaction.py  jam: the chord policy and the agent sample each frame at once (Eq. 1)
    evaluation.py   Table 2 (jam_table) and Table 5 (melody_table) analogues
    melody_rl.py    RL for the agent: GAPT's recipe mirrored, through rl/train.py's loop
"""
from .evaluation import duet_measures, evaluate_melody_agent, jam_table, melody_summary, melody_table
from .interaction import Duets, jam, jam_seeds
from .melody import (ANCHOR_NAME, MELODY_SOURCES, MLE_NAME, MelodyAnchor, MelodyModels, MelodyPolicy,
                     melody_data_config, melody_log_probs, melody_train_config, play_melody,
                     train_or_load_melody)
from .melody_rl import MELODY_TASK, RL_NAME, melody_rl_config, train_or_load_melody_rl

__all__ = ["ANCHOR_NAME", "Duets", "MELODY_SOURCES", "MELODY_TASK", "MLE_NAME", "MelodyAnchor", "MelodyModels",
           "MelodyPolicy", "RL_NAME", "duet_measures", "evaluate_melody_agent", "jam", "jam_seeds", "jam_table",
           "melody_data_config", "melody_log_probs", "melody_rl_config", "melody_summary", "melody_table",
           "melody_train_config", "play_melody", "train_or_load_melody", "train_or_load_melody_rl"]
