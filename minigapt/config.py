"""Scales shared by every config: each config dataclass has one preset per scale."""

SCALES = ("smoke", "course", "paper")
# smoke: CI, seconds. course: a 2-core laptop, minutes. paper: the paper's section C, a GPU.


def check_scale(scale: str) -> str:
    from .errors import MinigaptError

    if scale not in SCALES:
        raise MinigaptError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    return scale
