"""Scales shared by every config: each config dataclass has one preset per scale."""

SCALES = ("smoke", "course", "ship", "paper")
# smoke: CI, seconds. course: a 2-core laptop, minutes. ship: the shipped RL runs (the course's
# supervised models, longer RL; resumable). paper: the paper's section C, a GPU.


def json_data(config) -> dict:
    """A config dataclass (or a dict read from config.json) as plain JSON data: tuples become
    lists and other values strings, so a saved config reads back equal to the one it came from."""
    import dataclasses
    import json

    if dataclasses.is_dataclass(config):
        config = dataclasses.asdict(config)
    return json.loads(json.dumps(config, default=str))


def check_scale(scale: str) -> str:
    from .errors import MinigaptError

    if scale not in SCALES:
        raise MinigaptError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    return scale


_DEVICE: str | None = None  # use_device's choice for this process (a notebook's DEVICE parameter)


def use_device(device: str | None):
    """Make `device` the default of every trainer in this process (None: leave it to
    MINIGAPT_DEVICE, else the CPU) -> the device they will use."""
    global _DEVICE
    resolved = resolve_device(device)  # a bad name fails here, once, not deep inside a trainer
    _DEVICE = None if device is None else str(device)
    return resolved


def resolve_device(device=None):
    """Where training runs: `device` if given ("cpu", "cuda", "cuda:1", "auto"), else use_device's
    choice, else the MINIGAPT_DEVICE environment variable, else the CPU. "auto" picks a GPU when
    torch sees one. Trainers compute there and hand back CPU models, so the notebooks never meet
    a GPU tensor."""
    import os

    import torch

    from .errors import MinigaptError

    chosen = next((d for d in (device, _DEVICE, os.environ.get("MINIGAPT_DEVICE")) if d), "cpu")
    name = str(chosen).strip()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise MinigaptError(f"unknown device {name!r}; use cpu, cuda, cuda:N or auto") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise MinigaptError(f"device {name!r} asked for (MINIGAPT_DEVICE or device=), but torch sees no GPU; "
                            "use cpu or auto")
    return dev
