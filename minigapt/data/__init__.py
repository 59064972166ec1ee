"""Data sources and the dataset pipeline.

Contract shared by every source module (nottingham, openewld, pop909, hooktheory, files,
default), so that `catalog.load_songs` can parse any of them in parallel and cache the result:

    PARSER_VERSION: str                      bump when the parser's output changes (cache key)
    DEFAULT_SUBDIR: str | None               folder name under a data root ("nottingham"), None
                                             for sources that need no folder ("default")
    find_units(root: Path | None) -> list[str]
        the units of parsing work, sorted: a file or folder path, optionally "path#N" for the
        N-th tune of a multi-tune file (so the work spreads evenly over processes). The cache is
        keyed on the files named by the units (the part before '#'), so they must exist.
    parse_unit(unit: str) -> list[Song | SkipSong]
        one entry per song found in the unit: a normalised Song (music.song.normalize_song),
        or a SkipSong whose `.reason` is the short key it is counted under. Never raises for bad
        input (a malformed file is one SkipSong); must be picklable (module-level function).

Songs are on the 16th-note frame grid, chords named with music.chords canonical names, all
melody pitches inside [PITCH_MIN + TRANSPOSE_MAX, PITCH_MAX - TRANSPOSE_MAX] (else
SkipSong("pitch_out_of_range")) so every training transposition stays in the vocabulary.
"""
