"""The toy's explorer: change GAPT's knobs, train a seed or three in seconds, see what changed.

Sliders set the KL coefficient, the entropy bonus, the adversarial weight, D's gate tau, its
warm-up length and its steps per event; the button trains GAPT in the toy world with them and
draws reward, true harmony, diversity and D's accuracy along training, the previous run dashed
beside it. `train_and_draw` is what the button calls: a notebook run by papermill calls it with
a scripted setting, so the same code path runs without a browser.
"""
from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from .config import ToyConfig
from .run import run_seed

SETTINGS = {  # explorer name -> (ToyConfig.replace key, slider min, max, step)
    "kl_coef": ("kl_coef", 0.0, 0.05, 0.001),
    "entropy_coef": ("entropy_coef", 0.0, 0.05, 0.001),
    "adversarial_weight": ("adversarial_weight", 0.0, 10.0, 0.5),
    "tau": ("d_tau", 0.0, 3.0, 0.1),
    "warmup_updates": ("d_warmup_updates", 0, 60, 1),
    "d_steps_per_event": ("d_steps_per_event", 0, 32, 1),
}
PANELS = (("reward", "reward (R, per sequence)"), ("harmony", "true harmony (batch)"),
          ("chord_vendi_ratio", "chord Vendi / data's (batch)"), ("d_acc", "D's accuracy (batch)"))
EXTRA = (("hole_share", "share of frames on V (the hole)"), ("adversarial", "R_adv (batch mean)"),
         ("coherence", "R_coh (batch mean)"))


def config_for(settings: dict, base: ToyConfig | None = None) -> ToyConfig:
    """A ToyConfig with the explorer's settings (names of SETTINGS) applied."""
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        raise KeyError(f"unknown explorer setting {sorted(unknown)[0]!r}; choose from {', '.join(SETTINGS)}")
    return (base or ToyConfig()).replace(**{SETTINGS[k][0]: v for k, v in settings.items()})


def curves(runs, system: str = "gapt") -> dict[str, np.ndarray]:
    """Per-update curves of one system over seeds -> name -> [seeds, updates]; the batch chord
    Vendi as a ratio to the data's at the same number of parts."""
    out = {}
    for key, _ in PANELS + EXTRA:
        rows = []
        for r in runs:
            m = r.systems[system].metrics
            if key == "chord_vendi_ratio":
                rows.append([row["chord_vendi"] / r.data_batch_vendi for row in m])
            else:
                rows.append([row.get(key, np.nan) for row in m])
        out[key] = np.asarray(rows, float)
    return out


def train_setting(settings: dict, seeds=(0,), system: str = "gapt", base: ToyConfig | None = None, log=None):
    """Train `system` with the settings over `seeds` -> (its curves, final figures per seed, config)."""
    import torch

    cfg = config_for(settings, base)
    torch.set_num_threads(1)
    with threadpool_limits(1):
        runs = [run_seed(cfg, s, ("data", system), log=log or (lambda line: None)) for s in seeds]
    finals = [r.systems[system].summary() | {"data_chord_vendi": r.systems["data"].chord_vendi} for r in runs]
    return curves(runs, system), finals, cfg


def draw(axes, result: dict, label: str, dashed: bool = False, panels=PANELS) -> None:
    """One run's curves (mean over seeds) on one panel each (`panels`: (key, title) pairs)."""
    for ax, (key, title) in zip(axes, panels):
        a = result[key]
        x = np.arange(1, a.shape[1] + 1)
        ax.plot(x, np.nanmean(a, 0), ls="--" if dashed else "-", alpha=0.6 if dashed else 1.0, label=label)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("update")
        if key in ("chord_vendi_ratio", "d_acc"):  # the data's diversity; D at chance
            ax.axhline(1.0 if key == "chord_vendi_ratio" else 0.5, color="grey", lw=0.8, ls=":")


def describe(settings: dict) -> str:
    return ", ".join(f"{k} {v:g}" for k, v in settings.items())


def train_and_draw(settings: dict, seeds=(0,), previous: tuple | None = None, base: ToyConfig | None = None):
    """Train with `settings`, draw it beside `previous` ((curves, label) or None) -> (figure,
    (curves, label), finals): what the button does, and what a scripted notebook run calls."""
    import matplotlib.pyplot as plt

    result, finals, _ = train_setting(settings, seeds, base=base)
    label = describe(settings)
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.2))
    if previous is not None:
        draw(axes, previous[0], "previous: " + previous[1], dashed=True)
    draw(axes, result, label)
    axes[0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig, (result, label), finals


def explorer(base: ToyConfig | None = None, max_seeds: int = 3):
    """The widget: sliders, a seeds box, a train button, and the curves of this run and the last."""
    import ipywidgets as w
    import matplotlib.pyplot as plt
    from IPython.display import display

    cfg = base or ToyConfig()
    start = {"kl_coef": cfg.kl_coef, "entropy_coef": cfg.entropy_coef, "adversarial_weight": cfg.adversarial_weight,
             "tau": cfg.discriminator.tau, "warmup_updates": cfg.discriminator.warmup_updates,
             "d_steps_per_event": cfg.discriminator.steps_per_event}
    sliders = {}
    for name, (_, lo, hi, step) in SETTINGS.items():
        kind = w.IntSlider if isinstance(step, int) else w.FloatSlider
        sliders[name] = kind(value=start[name], min=lo, max=hi, step=step, description=name,
                             style={"description_width": "140px"}, layout=w.Layout(width="420px"),
                             **({} if isinstance(step, int) else {"readout_format": ".3g"}))
    seeds = w.IntSlider(value=1, min=1, max=max_seeds, description="seeds")
    button = w.Button(description="train GAPT", button_style="primary")
    status, out = w.HTML(), w.Output()
    state = {"previous": None}

    def on_click(_):
        button.disabled = True
        status.value = "training..."
        try:
            settings = {k: s.value for k, s in sliders.items()}
            fig, state["previous"], finals = train_and_draw(settings, tuple(range(seeds.value)), state["previous"], cfg)
            f = finals[0]
            status.value = (f"seed 0 at the end: harmony {f['harmony']:.3f}, chord Vendi "
                            f"{f['chord_vendi'] / f['data_chord_vendi']:.2f} x the data's")
            with out:
                out.clear_output(wait=True)
                display(fig)
            plt.close(fig)
        finally:
            button.disabled = False

    button.on_click(on_click)
    return w.VBox([w.HBox([w.VBox(list(sliders.values())[:3]), w.VBox(list(sliders.values())[3:])]),
                   w.HBox([seeds, button, status]), out])
