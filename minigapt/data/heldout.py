"""A held-out set of melody-only ABC files: folk tunes from music21's own corpus that no
minigapt model trains on (the embedded default is the Bach chorales; the paper's sets are
Nottingham, POP909 and OpenEWLD).

Six files, 497 tunes: German and European folk songs from the Essen collection (children's
songs, ballads, Erk, the Haydn-arranged set) and the first 100 Irish airs and dances of
O'Neill's "Music of Ireland" (1850), whose quoted dynamics and tempo words ("p", "Slow") are
read as annotations. They come with music21, so the set needs no download: `make heldout`
copies them to build/heldout/melodies/ and runs `evaluate` with each shipped chord policy.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import MinigaptError

FILES = ("essenFolksong/kinder0.abc", "essenFolksong/ballad10.abc", "essenFolksong/erk5.abc",
         "essenFolksong/folkHaydn.abc", "oneills1850/0001-0050.abc", "oneills1850/0051-0100.abc")
"""Paths inside music21's corpus folder."""


def corpus_root() -> Path:
    import music21

    return Path(music21.__file__).parent / "corpus"


def copy_heldout(dest) -> Path:
    """Copy the held-out ABC files into `dest` (made if needed; files named collection-file.abc)
    -> dest. A music21 without its corpus is one MinigaptError line."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    root = corpus_root()
    for rel in FILES:
        src = root / rel
        if not src.is_file():
            raise MinigaptError(f"music21's corpus has no {rel} (under {root}); reinstall music21")
        shutil.copyfile(src, dest / rel.replace("/", "-"))
    return dest


def table(results: dict[str, dict]) -> str:
    """{model: evaluate --json output} -> a Markdown table (harmony, Vendi, counts)."""
    rows = ["| model | melodies | harmony | Vendi | distinct chords / seq | pitch classes / chord |",
            "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, r in results.items():
        rows.append(f"| `{name}` | {r['sequences']} | {r['harmony']:.3f} | {r['vendi']:.2f} | "
                    f"{r['distinct_chords_per_sequence']:.1f} | {r['pitch_classes_per_chord']:.2f} |")
    return "\n".join(rows)


def main(argv=None) -> int:
    """`python -m minigapt.data.heldout copy DEST` or `... table DIR MODEL...` (make heldout)."""
    import json
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if len(args) == 2 and args[0] == "copy":
            copy_heldout(args[1])
        elif len(args) >= 3 and args[0] == "table":
            folder = Path(args[1])
            print(table({m: json.loads((folder / f"{m}.json").read_text()) for m in args[2:]}))
        else:
            raise MinigaptError("usage: python -m minigapt.data.heldout copy DEST | table DIR MODEL...")
    except (MinigaptError, OSError, ValueError) as err:
        print(f"minigapt: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
