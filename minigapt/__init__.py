"""minigapt: a small, runnable, educational reproduction of GAPT (generative adversarial
post-training) for online melody-to-chord accompaniment."""

__version__ = "0.1.0"

FRAMES_PER_BEAT = 4  # one frame = one 16th note (paper 4.1)
