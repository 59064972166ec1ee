"""Music primitives: songs, chords, tokens."""
