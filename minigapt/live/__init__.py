"""Live jam: a real-time accompaniment engine and a JupyterLab widget you can play (notebook 07).

    engine.py   JamEngine: note events -> frames -> plans of committed / tentative chords
    session.py  LiveSession: the policy fed frame by frame, plans imagined on a copy
    melody.py   MelodyInput: messy timestamped note events -> a well-formed melody part
    models.py   which policy plays (your runs, shipped checkpoints, stand-ins at smoke scale)
    record.py   JamRecord: the session as a Song, MIDI, MusicXML, audio, and its score
    tasks.py    scripted players for the user-study tasks (fixed melody, modulation, co-improvisation)
    samples.py  the browser's sounds, rendered in the kernel with the notebooks' soundfont
    widget.py   JamWidget (anywidget; widget.js and widget.css beside it)

The widget is imported on demand (it needs anywidget): `from minigapt.live.widget import JamWidget`.
"""
from .engine import JamConfig, JamEngine, JamView, model_lock
from .melody import MelodyInput
from .record import JamRecord, score_record

__all__ = ["JamConfig", "JamEngine", "JamView", "model_lock", "MelodyInput", "JamRecord", "score_record"]
