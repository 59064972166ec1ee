"""Every RL run the evaluation suite (notebook 06) compares: the rows of presets.RUNS, each a
recipe + the changes it makes.

A *system* (rl/config.py) is a recipe with a preset per scale; a *named run* is a system plus
the RLConfig fields it changes. The paper's ablations are nothing more than that, so each one
is a row of presets.RUNS and `train_named("gapt-adv2", "course", seed=0)` reruns it: an instructor can
add a row (or call `train_system` with the same overrides) to try another.

| name              | recipe      | changes                                           | paper     |
| ----------------- | ----------- | ------------------------------------------------- | --------- |
| realchords        | realchords  | -                                                 | Table 1   |
| gapt-no-adv       | gapt-no-adv | -                                                 | Table 1   |
| gapt              | gapt        | -                                                 | Table 1   |
| grpo              | grpo        | - (Dr.GRPO, no adversarial reward)                | Table 8   |
| grpo-adv          | grpo-adv    | - (Dr.GRPO + R_adv)                               | Table 8   |
| gapt-dxy          | gapt        | D(x, y): the discriminator also reads the melody  | Table 9   |
| gapt-coh2         | gapt        | coherence_weight 2                                | Table 7   |
| gapt-rules2       | gapt        | rules_weight 2                                    | Table 7   |
| gapt-adv2         | gapt        | adversarial_weight 2                              | Table 7   |
| gapt-no-rules     | gapt        | rules_weight 0, invalid tokens not masked         | Table 7   |
| gapt-invalid-only | gapt        | R_rules = the invalid penalty alone, not masked   | Table 7   |
| gapt-tau06        | gapt        | tau 0.6: the gate opens while D is near chance    | search    |
| gapt-always       | gapt        | D steps every K_int updates all run (no gate)     | search    |
| gapt-adv05        | gapt        | adversarial_weight 0.5                            | search    |
| gapt-adv3         | gapt        | adversarial_weight 3                              | search    |
| gapt-adv5         | gapt        | adversarial_weight 5                              | search    |
| gapt-warm24       | gapt        | T_warm 24 (the paper's 20%), 20 D steps per event | search    |
| realchords-long   | realchords  | twice the updates (course: 240)                   | longer    |
| gapt-no-adv-long  | gapt-no-adv | twice the updates                                 | longer    |
| gapt-long         | gapt        | twice the updates                                 | longer    |
| gapt-always-long  | gapt        | twice the updates, D every K_int to the end      | longer    |

Why gapt-no-rules and gapt-invalid-only unmask: with `mask_invalid` on (our default) the
policy cannot emit a malformed chord part at all, so removing the rules could not show the
paper's hack (chord parts that break the onset-then-holds pattern). With it off the policy
samples from the whole vocabulary, as the authors' does, and only the -10 invalid penalty
stands in the way.

The "search" rows are discriminator schedules compared on validation melodies (notebook 05);
the "longer" rows train twice as long, D's warm-up staying at the preset's except in
gapt-always-long. Why these rows exist: docs/experiments-history.md.

Run folders: runs/<scale>/<name>-seed<seed>/, so the base systems share their runs with
notebooks 04 and 05.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..errors import MinigaptError
from ..presets import RUNS
from .config import RLConfig
from . import experiment


@dataclass(frozen=True)
class NamedRun:
    """One entry of the registry."""

    name: str
    """Run name (the folder runs/<scale>/<name>-seed<s>/ and the label in tables)."""
    system: str
    """The recipe it starts from (one of rl.config.SYSTEMS)."""
    overrides: dict = field(default_factory=dict)
    """RLConfig fields it changes; "discriminator" holds DiscriminatorConfig fields to change
    (warmup_updates None: D's warm-up cadence lasts the whole run, so the gate never decides)."""
    table: str = "Table 1"
    """Where the paper reports it."""
    label: str = ""
    """The paper's name for it."""
    updates_factor: float = 1.0
    """Times the scale's preset number of updates (the "longer" rows: 2)."""


def _entries() -> list[NamedRun]:
    """The rows of presets.RUNS as NamedRuns (dotted discriminator changes grouped)."""
    out = []
    for name, row in RUNS.items():
        overrides: dict = {}
        for key, value in row.get("changes", {}).items():
            head, _, rest = key.partition(".")
            if rest:
                overrides.setdefault(head, {})[rest] = value
            else:
                overrides[key] = value
        out.append(NamedRun(name, row["system"], overrides, row.get("table", ""), row.get("label", ""),
                            row.get("updates_factor", 1.0)))
    return out


REGISTRY: dict[str, NamedRun] = {e.name: e for e in _entries()}
MAIN_SYSTEMS = ("realchords", "gapt-no-adv", "gapt", "grpo", "grpo-adv", "gapt-dxy")
"""The systems the evaluation compares over several seeds."""
ABLATIONS = ("gapt-coh2", "gapt-rules2", "gapt-adv2", "gapt-no-rules", "gapt-invalid-only")
"""The reward-weight ablations of Table 7 (one seed each by default)."""
SEARCH = ("gapt-coh2", "gapt-rules2", "gapt-adv2", "gapt-tau06", "gapt-always", "gapt-adv05", "gapt-warm24")
"""The GAPT variants notebook 05 compares on validation melodies."""
SHIP_SEARCH = ("gapt-adv3", "gapt-adv5")
"""The adversarial weights tried at ship scale (docs/experiments.md)."""
LONGER = ("realchords-long", "gapt-no-adv-long", "gapt-long", "gapt-always-long")
"""Table 1's systems trained twice as long, and GAPT so long with D learning to the end."""


def named_run(name: str) -> NamedRun:
    if name not in REGISTRY:
        raise MinigaptError(f"unknown run name {name!r}; choose from {', '.join(REGISTRY)}")
    return REGISTRY[name]


def resolve_overrides(name: str, scale: str) -> dict:
    """The RLConfig overrides of `name` at `scale` (a "discriminator" dict of changes becomes
    the scale's DiscriminatorConfig with those fields replaced, a warmup_updates of None the run's
    updates; updates_factor scales the preset's updates)."""
    entry = named_run(name)
    out, preset = dict(entry.overrides), RLConfig.preset(scale, entry.system)
    if entry.updates_factor != 1.0:
        out["updates"] = round(preset.updates * entry.updates_factor)
    if "discriminator" in out:
        changes = dict(out["discriminator"])
        if "warmup_updates" in changes and changes["warmup_updates"] is None:  # D's cadence to the run's end
            changes["warmup_updates"] = out.get("updates", preset.updates)
        out["discriminator"] = dataclasses.replace(preset.discriminator, **changes)
    return out


def config_for(name: str, scale: str, seed: int = 0) -> RLConfig:
    """The RLConfig a named run trains with (exactly what train_named passes on)."""
    return RLConfig.preset(scale, named_run(name).system, seed=seed, **resolve_overrides(name, scale))


def changed_fields(name: str, scale: str, against: str = "gapt") -> dict:
    """{field: (against's value, name's value)} for every RLConfig field that differs (the
    discriminator's fields flattened as discriminator.<field>), seed 0 both."""
    a, b = config_for(against, scale).flat_fields(), config_for(name, scale).flat_fields()
    return {k: (a[k], b[k]) for k in a if a[k] != b[k]}


def train_named(name: str, scale: str, seed: int = 0, *, world=None, use_pretrained: bool = True,
                retrain: bool = False, progress: bool = True, train_missing: bool = True, device=None,
                changes: dict | None = None, stop_after: int | None = None, run_name: str | None = None):
    """Train (or load) the named run at `scale` and `seed` -> RLRun (rl.experiment.train_system
    with the registry's recipe, overrides and name); None if it is neither trained nor shipped
    and not train_missing. changes: more RLConfig values (presets.override's dotted names);
    stop_after: stop, resumable, after this many updates; run_name: the run folder's name when it
    is not `name` (a variant with changes)."""
    entry = named_run(name)
    return experiment.train_system(entry.system, scale, seed, world=world, name=run_name or name,
                                   use_pretrained=use_pretrained, retrain=retrain, progress=progress,
                                   train_missing=train_missing, device=device, changes=changes,
                                   stop_after=stop_after, **resolve_overrides(name, scale))

