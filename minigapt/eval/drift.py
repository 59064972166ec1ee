"""How far a system's chord parts drift from the data's, and what kind of reward hack that is.

    drift = |ln(chord_vendi / data's)| + |ln(chord changes per part / data's)|

0 for parts as varied and as busy as the data's; ln 1.25 ~ 0.22 for a 25% excess or shortfall in
one of them. The hack is named from the same ratios (and from chord density against the MLE):
collapse (the paper's: fewer, safer chords), busyness (chasing the melody) or denser chords
(extensions bought for note-in-chord that do not survive triad reduction). For busyness it says
how many changes start inside a held melody note: the mark of a part reacting to notes it heard.
"""
from __future__ import annotations

import math

BAND = 1.25
"""A ratio to the data's beyond this factor (or below its inverse) counts as drift."""


def drift(m: dict, data: dict) -> float:
    """|ln(chord_vendi / data's)| + |ln(chord_changes_per_sequence / data's)| of measures `m`."""
    return (abs(math.log(m["chord_vendi"] / data["chord_vendi"]))
            + abs(math.log(max(m["chord_changes_per_sequence"], 1e-9) / max(data["chord_changes_per_sequence"], 1e-9))))


def late_share(m: dict) -> float | None:
    """The share of a part's chord changes that start inside a held melody note (eval/timing.py),
    from measures `m`; None when m has no such count."""
    if m.get("chord_changes_inside_notes") is None:
        return None
    return m["chord_changes_inside_notes"] / max(m["chord_changes_per_sequence"], 1e-9)


def late_changes(m: dict, data: dict) -> str:
    """", of which N% start inside a held melody note (the data's: M%)" when both have the count:
    a policy that changes chord a frame after each note it hears, not on it."""
    ours, theirs = late_share(m), late_share(data)
    if ours is None or theirs is None:
        return ""
    return f", {ours:.0%} of them inside a held melody note (the data's: {theirs:.0%})"


def describe_drift(m: dict, data: dict, mle: dict) -> dict:
    """The ratios to the data's chords that tell collapse from busyness, the harmony gains over
    the online MLE (note-in-chord and note-in-triad) and the extension test -> a dict with a
    one-line `summary` naming what the measures show. m, data, mle: measure -> value."""
    v = m["chord_vendi"] / data["chord_vendi"]
    changes = m["chord_changes_per_sequence"] / max(data["chord_changes_per_sequence"], 1e-9)
    gain = m["harmony"] - mle["harmony"]
    triad_gain = m["harmony_triad"] - mle["harmony_triad"]
    extra_pcs = m["pitch_classes_per_chord"] - mle["pitch_classes_per_chord"]
    found = []
    if v < 1 / BAND and changes < 1 / BAND:
        found.append(f"collapse (chord Vendi {v:.2f}× and chord changes {changes:.2f}× the data's)")
    elif changes > BAND:
        found.append(f"busyness ({changes:.2f}× the data's chord changes; chord Vendi {v:.2f}× the data's)"
                     + late_changes(m, data))
    elif v < 1 / BAND:
        found.append(f"less varied progressions (chord Vendi {v:.2f}× the data's, changes {changes:.2f}×)")
    elif v > BAND:
        found.append(f"more varied than the data (chord Vendi {v:.2f}× the data's, changes {changes:.2f}×)")
    if extra_pcs > 0.15 and gain > 0 and triad_gain < gain / 2:
        found.append(f"denser chords (+{extra_pcs:.2f} pitch classes per chord; of its note-in-chord gain "
                     f"{gain:+.3f}, {triad_gain:+.3f} survives triad reduction)")
    kind = ("collapse" if found and found[0].startswith("collapse") else
            "busyness" if found and found[0].startswith("busyness") else
            "denser chords" if found and found[-1].startswith("denser") else
            "drift" if found else "none")
    summary = "; ".join(found) or (f"no drift from the data beyond a factor {BAND} "
                                   f"(chord Vendi {v:.2f}×, changes {changes:.2f}×)")
    return dict(chord_vendi_vs_data=v, changes_vs_data=changes, harmony_gain=gain, triad_gain=triad_gain,
                extra_pitch_classes=extra_pcs, drift=drift(m, data), kind=kind, summary=summary)
