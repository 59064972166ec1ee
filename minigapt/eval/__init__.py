"""Evaluation metrics and experiments."""
from .harmony import harmony_per_beat, note_in_chord_hits, note_in_chord_ratio

__all__ = ["note_in_chord_ratio", "note_in_chord_hits", "harmony_per_beat"]
