"""The paper's reported numbers, in one place: every notebook and the README quote these.

Two evaluation sets, as the paper labels them: its **test** set (Nottingham test melodies, in
distribution) and its **out-of-distribution** set (held-out Wikifonia lead sheets; OpenEWLD, our
out-of-distribution set, is drawn from Wikifonia). Harmony is the note-in-chord ratio; Vendi is on
the paper's own embedding, so only its ratio to the data's Vendi compares with ours.
"""
from __future__ import annotations

SETS = ("nottingham_test", "openewld")
SET_LABEL = {"nottingham_test": "Nottingham test (in distribution)",
             "openewld": "OpenEWLD (out of distribution; the paper: Wikifonia)"}

# name: (test harmony, test Vendi, out-of-distribution harmony, out-of-distribution Vendi);
# Tables 1, 7, 8 and 9 share these columns ("N/A": the paper prints no number)
_ROWS = {
    "online-mle": (0.368, 29.491, 0.362, 16.401), "realchords": (0.484, 20.968, 0.475, 8.417),
    "gapt-no-adv": (0.476, 20.814, 0.447, 8.034), "gapt": (0.497, 26.645, 0.470, 11.295),
    "grpo": (0.459, 16.872, 0.443, 6.952), "grpo-adv": (0.478, 26.603, 0.461, 11.592),
    "gapt-dxy": (0.467, 23.545, 0.443, 10.124), "gapt-coh2": (0.494, 26.742, 0.476, 11.553),
    "gapt-rules2": (0.475, 25.667, 0.458, 10.628), "gapt-adv2": (0.456, 26.317, 0.449, 11.184),
    "gapt-no-rules": ("N/A", "N/A", "N/A", "N/A"), "gapt-invalid-only": (0.488, 25.072, 0.461, 10.428),
    "ground truth": (0.727, 27.922, 0.784, 10.962)}


def _vs_data(vendi, set_index: int):
    return vendi / _ROWS["ground truth"][set_index] if isinstance(vendi, float) else vendi


TABLE1 = {n: {"nottingham_test": {"harmony": t[0], "vendi": t[1], "vendi_vs_data": _vs_data(t[1], 1)},
              "openewld": {"harmony": t[2], "vendi": t[3], "vendi_vs_data": _vs_data(t[3], 3)}}
          for n, t in _ROWS.items()}
"""name -> set -> harmony, vendi, vendi_vs_data (Tables 1, 7, 8, 9)."""

TABLE6 = {n: {"nottingham_test": {"harmony": h, "vendi": v}, "openewld": {"harmony": ho, "vendi": vo}}
          for n, (h, v, ho, vo) in {"gapt": ((0.497, 0.017), (25.540, 1.475), (0.470, 0.014), (11.092, 0.277)),
                                    "gapt-no-adv": ((0.477, 0.001), (20.942, 1.057), (0.445, 0.002), (8.084, 0.412)),
                                    "realchords": ((0.486, 0.005), (21.431, 0.780), (0.472, 0.006), (8.519, 0.253))}.items()}
"""Table 6: (mean, sd) over the paper's 3 seeds."""
SEEDS_TABLE6 = 3

TABLE10 = {n: {"nottingham_test": a, "openewld": b} for n, (a, b) in {
    "ground truth": (3.28, 3.54), "online-mle": (3.22, 3.26), "realchords": (3.01, 3.00), "gapt-no-adv": (3.00, 3.00),
    "gapt": (3.18, 3.18)}.items()}
"""Table 10: pitch classes per chord."""

TABLE2 = {n: {"harmony": h, "vendi": v} for n, (h, v) in {
    "online-mle": (0.650, 18.071), "realchords": (0.626, 7.480), "gapt-no-adv": (0.540, 5.658),
    "gapt": (0.648, 12.914)}.items()}
"""Table 2: each chord policy jamming with the RL melody agent."""

TABLE5 = {"mle": {"harmony": 0.525, "vendi": 29.369}, "rl": {"harmony": 0.654, "vendi": 28.124}}
"""Table 5: the melody agents (MLE and RL) with the data's chords."""

D_EVENTS = {"warmup": 40, "gated": 27}
"""Section C.8: the paper's discriminator update events (67 in all)."""
D_STEPS_PER_EVENT = 8


def harmony(name: str, set_name: str = "nottingham_test"):
    """The paper's note-in-chord for a row and set ("N/A" where it prints none)."""
    return TABLE1[name][set_name]["harmony"]


def as_dict() -> dict:
    """Everything above, for a notebook's results.json."""
    return dict(table1=TABLE1, table6=TABLE6, seeds_table6=SEEDS_TABLE6, table10=TABLE10,
                table2=TABLE2, table5=TABLE5, d_events=D_EVENTS, d_steps_per_event=D_STEPS_PER_EVENT,
                set_label=SET_LABEL)
