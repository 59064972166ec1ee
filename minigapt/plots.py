"""Pictures for the notebooks: piano rolls, token streams, the online constraint, chord counts,
harmony over time and training curves.

Every function draws with matplotlib into `ax` (or a new figure) and returns the Figure; none
calls plt.show(). Colours are fixed so that the same chord root or the same system looks the
same in every notebook: chords take their hue from the root's place on the circle of fifths
(neighbouring keys look alike) and are darker for minor-family qualities.
"""
from __future__ import annotations

import colorsys
import zlib
from pathlib import Path

import numpy as np

from .errors import MinigaptError
from .metrics_log import parse_metrics_csv, read_metrics_csv
from .music.chords import chord_pitch_classes, split_chord_name
from .music.song import Song, crop_song
from .music.tokens import BOS, EOS, PAD, SILENCE

NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
IN_CHORD, OUT_OF_CHORD, NO_CHORD = "#2b6cb0", "#e4572e", "#6b6b6b"
MINOR_FAMILY = {"m", "m7", "m6", "mmaj7", "dim", "dim7", "m7b5"}
SYSTEM_COLORS = {  # one colour per system in every figure
    "data": "#222222", "ground truth": "#222222", "offline": "#8c8c8c",
    "online-mle": "#1f77b4", "realchords": "#d62728", "gapt-no-adv": "#ff7f0e", "gapt": "#2ca02c",
}
_SPARE_COLORS = ("#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#393b79")


# --- colours -------------------------------------------------------------------------------
def chord_color(chord: str) -> tuple[float, float, float]:
    """RGB for a chord: hue from the root on the circle of fifths, darker if minor-family."""
    root, quality = split_chord_name(chord)
    hue = (root * 7 % 12) / 12.0  # C, G, D, ... step round the colour wheel
    minor = quality in MINOR_FAMILY
    return colorsys.hsv_to_rgb(hue, 0.50 if minor else 0.38, 0.78 if minor else 0.96)


def system_color(name: str) -> str:
    """A fixed colour per system name (known systems first, others by a stable hash)."""
    key = name.lower()
    if key in SYSTEM_COLORS:
        return SYSTEM_COLORS[key]
    return _SPARE_COLORS[zlib.crc32(key.encode()) % len(_SPARE_COLORS)]


def _lighter(rgb, amount: float = 0.5):
    from matplotlib.colors import to_rgb

    r, g, b = to_rgb(rgb)
    return (r + (1 - r) * amount, g + (1 - g) * amount, b + (1 - b) * amount)


def _text_color(rgb) -> str:
    from matplotlib.colors import to_rgb

    r, g, b = to_rgb(rgb)
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "white"


def _new_ax(ax, size):
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    return fig, ax


def pitch_name(pitch: int) -> str:
    return f"{NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


# --- piano roll ----------------------------------------------------------------------------
def _chord_at(song: Song) -> list[str | None]:
    at: list[str | None] = [None] * song.n_frames
    for c in song.chords:
        at[c.start:c.end] = [c.chord] * (c.end - c.start)
    return at


def piano_roll(song: Song, ax=None, title=None, max_frames: int | None = None):
    """Melody notes as bars over a lane of chord spans, bar lines and beats marked.

    A melody note is blue where its pitch class is in the sounding chord, orange-red where it
    is not (the note-in-chord harmony measure, frame by frame), grey where no chord sounds.
    """
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Patch, Rectangle

    if max_frames is not None and song.n_frames > max_frames:
        song = crop_song(song, 0, max_frames)
    n = max(song.n_frames, 1)
    fig, ax = _new_ax(ax, (float(np.clip(n / 16 * 1.2, 7, 18)), 3.8))
    pitches = [m.pitch for m in song.melody] or [60, 72]
    lo, hi = min(pitches) - 1, max(pitches) + 1
    lane_h = max(2.5, 0.22 * (hi - lo))
    lane_top = lo - 0.8
    lane_bottom = lane_top - lane_h
    at = _chord_at(song)

    # faint rows behind the melody for the sounding chord's pitch classes (one collection: fast)
    rows, row_colors = [], []
    for c in song.chords:
        pcs = chord_pitch_classes(c.chord)
        for p in range(lo, hi + 1):
            if p % 12 in pcs:
                rows.append(Rectangle((c.start, p - 0.5), c.end - c.start, 1.0))
                row_colors.append(chord_color(c.chord))
    if rows:
        ax.add_collection(PatchCollection(rows, facecolors=row_colors, alpha=0.3, lw=0, zorder=0))
    # melody, split where the chord changes so each piece is coloured by its own chord
    for m in song.melody:
        t = m.start
        while t < m.end:
            u = t + 1
            while u < m.end and at[u] == at[t]:
                u += 1
            chord = at[t]
            color = NO_CHORD if chord is None else (
                IN_CHORD if m.pitch % 12 in chord_pitch_classes(chord) else OUT_OF_CHORD)
            ax.add_patch(Rectangle((t, m.pitch - 0.4), u - t, 0.8, color=color, lw=0, zorder=3))
            t = u
        ax.add_patch(Rectangle((m.start, m.pitch - 0.4), m.end - m.start, 0.8, fill=False,
                               ec="black", lw=0.6, zorder=4))
    # chord lane
    frame_in = fig.get_size_inches()[0] * 0.85 / n  # rough inches per frame, for label fitting
    for c in song.chords:
        color = chord_color(c.chord)
        ax.add_patch(Rectangle((c.start, lane_bottom), c.end - c.start, lane_h, color=color,
                               ec="white", lw=1.0, zorder=2))
        width_in = (c.end - c.start) * frame_in
        fontsize = 9 if width_in > 0.09 * len(c.chord) else 7
        if width_in > 0.065 * len(c.chord):
            ax.text((c.start + c.end) / 2, lane_bottom + lane_h / 2, c.chord, ha="center",
                    va="center", fontsize=fontsize, color=_text_color(color), zorder=5, clip_on=True)
    if not song.chords:
        ax.text(n / 2, lane_bottom + lane_h / 2, "(no chords)", ha="center", va="center",
                fontsize=9, color="#777777", style="italic")
    # bars and beats
    bar = max(song.bar_frames, 1)
    beats = [f for f in range(0, n + 1, 4) if f % bar]
    bars = list(range(0, n + 1, bar))
    axis_y = ax.get_xaxis_transform()  # x in frames, y from 0 to 1 of the axes
    ax.vlines(beats, 0, 1, transform=axis_y, color="#e3e3e3", lw=0.5, zorder=1)
    ax.vlines(bars, 0, 1, transform=axis_y, color="#999999", lw=0.9, zorder=1)
    step = max(1, int(np.ceil(len(bars) / 24)))
    ax.set_xticks(bars[::step])
    top = ax.secondary_xaxis("top")
    top.set_xticks([b for b in bars[::step] if b < n],
                   [str(b // bar + 1) for b in bars[::step] if b < n], fontsize=8)
    top.tick_params(length=0)
    top.set_xlabel("bar", fontsize=8, labelpad=1)
    # axes
    ax.set_xlim(0, n)
    ax.set_ylim(lane_bottom - 0.3, hi + 0.6)
    wide = hi - lo > 20  # label Cs only on a wide range, C/E/G otherwise
    marks = [p for p in range(lo, hi + 1) if p % 12 in ((0,) if wide else (0, 4, 7))]
    for p in marks:
        if p % 12 == 0:
            ax.axhline(p, color="#cccccc", lw=0.5, zorder=0.5)
    ax.set_yticks([lane_bottom + lane_h / 2] + marks, ["chords"] + [pitch_name(p) for p in marks])
    ax.set_xlabel(f"frame (16th note; {bar} per bar)")
    ax.set_title(title if title is not None else song.title, fontsize=11, loc="left")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    handles = [Patch(color=IN_CHORD, label="note in chord"),
               Patch(color=OUT_OF_CHORD, label="note not in chord")]
    if any(a is None for a in at) and song.chords:
        handles.append(Patch(color=NO_CHORD, label="no chord"))
    ax.legend(handles=handles, loc="upper right", fontsize=7, ncols=len(handles), frameon=False,
              bbox_to_anchor=(1.0, 1.16))
    return fig


# --- token stream --------------------------------------------------------------------------
def _token_style(tok: int, vocab) -> tuple:
    """(face colour, short label) for one token."""
    name = vocab.describe(tok)
    if tok in (PAD, BOS, EOS):
        return "#c9c9c9", name
    if tok == SILENCE:
        return "#f4f4f4", name
    if vocab.is_melody[tok]:
        on = bool(vocab.is_onset[tok])
        p = int(vocab.pitch_of[tok])
        return (IN_CHORD if on else _lighter(IN_CHORD, 0.6)), f"{name} ({pitch_name(p)})"
    chord = vocab.chord_names[int(vocab.chord_of[tok])]
    on = bool(vocab.is_onset[tok])
    return (chord_color(chord) if on else _lighter(chord_color(chord), 0.6)), name


def token_strip(stream, vocab=None, start: int = 0, n: int = 32, ax=None, chord_first: bool = True):
    """Tokens stream[start:start+n] as a strip of coloured cells with their names, stream index
    above and the frame they belong to below (y_t = chord, x_t = melody of frame t)."""
    from matplotlib.patches import Rectangle

    from .music.tokens import VOCAB

    vocab = vocab or VOCAB
    toks = np.asarray(stream)[start:start + n]
    fig, ax = _new_ax(ax, (max(6.0, 0.36 * len(toks) + 1), 2.3))
    for i, tok in enumerate(toks.tolist()):
        pos = start + i
        face, label = _token_style(int(tok), vocab)
        ax.add_patch(Rectangle((i, 0), 1, 1, facecolor=face, edgecolor="white", lw=1.5))
        ax.text(i + 0.5, 0.5, label, rotation=90, ha="center", va="center", fontsize=7.5,
                color=_text_color(face))
        ax.text(i + 0.5, 1.06, str(pos), ha="center", va="bottom", fontsize=6.5, color="#777777")
        if pos > 0 and tok not in (BOS, EOS, PAD):
            frame = (pos - 1) // 2  # frames counted from 0: y0 at index 1, x0 at index 2
            is_chord = (pos % 2 == 1) == chord_first
            ax.text(i + 0.5, -0.06, f"{'y' if is_chord else 'x'}{frame}", ha="center", va="top",
                    fontsize=7.5, color="#333333" if is_chord else IN_CHORD)
    ax.set_xlim(-0.1, max(len(toks), 1) + 0.1)
    ax.set_ylim(-0.3, 1.25)
    ax.axis("off")
    order = "chord-first [BOS, y0, x0, y1, x1, ...]" if chord_first else "melody-first [BOS, x0, y0, ...]"
    ax.set_title(f"token stream, {order}: positions {start}-{start + len(toks) - 1}",
                 fontsize=9, loc="left")
    return fig


# --- the online constraint -----------------------------------------------------------------
def online_constraint(n_frames: int = 8, t: int = 4, ax=None):
    """What the chord y_t may see. Online (chord-first stream): past chords and past melody;
    the melody of frame t and everything later is hidden. Offline: the whole melody. Frames are
    counted from 0, as everywhere in the course: y_t sits at stream index 2t + 1."""
    from matplotlib.patches import Patch, Rectangle

    if not 0 <= t < n_frames:
        raise MinigaptError(f"t must be in 0..{n_frames - 1}, got {t}")
    if ax is None:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(max(7.5, 0.62 * (n_frames + 2.8)), 4.2))
        fig.subplots_adjust(left=0.02, right=0.98, bottom=0.16, top=0.97)  # text sits outside the cells
    fig = ax.figure
    seen, target, hidden = "#b7e4c7", "#ffd166", "#eeeeee"

    def cell(x, y, text, state, corner=None):
        face = {"seen": seen, "target": target, "hidden": hidden}[state]
        ax.add_patch(Rectangle((x, y), 0.92, 0.86, facecolor=face, edgecolor="#555555" if
                               state == "target" else "white", lw=1.5 if state == "target" else 0.5,
                               hatch="///" if state == "hidden" else None))
        ax.text(x + 0.46, y + 0.43, text, ha="center", va="center", fontsize=10,
                weight="bold" if state == "target" else "normal",
                color="#999999" if state == "hidden" else "black")
        if corner is not None:
            ax.text(x + 0.86, y + 0.8, str(corner), ha="right", va="top", fontsize=6, color="#666666")

    for row_y, online in ((2.6, True), (0.0, False)):
        for k in range(n_frames):
            y_state = "seen" if k < t else "target" if k == t else "hidden"
            x_state = "seen" if (k < t or not online) else "hidden"
            cell(k + 1, row_y + 1, f"y{k}" + ("?" if k == t else ""), y_state, 2 * k + 1 if online else None)
            cell(k + 1, row_y, f"x{k}", x_state, 2 * k + 2 if online else None)
        if online:
            cell(0, row_y + 0.5, "BOS", "seen", 0)
        ax.text(-0.15, row_y + 1.43, "chord y", ha="right", va="center", fontsize=9)
        ax.text(-0.15, row_y + 0.43, "melody x", ha="right", va="center", fontsize=9)
    ax.text(-1.6, 4.8, f"Online: chord-first stream [BOS, y0, x0, y1, x1, ...]: y{t} is chosen "
            f"before x{t} is heard", fontsize=9.5, va="bottom", weight="bold")
    ax.text(-1.6, 2.1, "Offline: reads the whole melody, its future too", fontsize=9.5,
            va="bottom", weight="bold")
    ax.legend(handles=[Patch(color=seen, label="visible"), Patch(color=target, label=f"predicted now (y{t})"),
                       Patch(facecolor=hidden, hatch="///", label="hidden (not yet heard)"),
                       Patch(color="none", label="corner number = position in the stream")],
              loc="upper center", bbox_to_anchor=(0.5, 0.02), ncols=2, fontsize=8, frameon=False)
    ax.set_xlim(-1.7, n_frames + 1.05)
    ax.set_ylim(-0.2, 5.2)
    ax.axis("off")
    return fig


# --- statistics ----------------------------------------------------------------------------
def chord_histogram(counts: dict, top: int = 25, ax=None, title: str | None = None):
    """The `top` most frequent chords as horizontal bars, coloured by chord."""
    items = sorted(((k, v) for k, v in counts.items() if v > 0), key=lambda kv: (-kv[1], kv[0]))
    shown = items[:top]
    fig, ax = _new_ax(ax, (6.5, max(2.0, 0.24 * len(shown) + 1.0)))
    total = sum(v for _, v in items) or 1
    if not shown:
        ax.text(0.5, 0.5, "(no chords)", ha="center", va="center", transform=ax.transAxes)
        ax.axis("off")
        return fig
    names = [k for k, _ in shown]
    values = [v for _, v in shown]
    y = np.arange(len(shown))
    ax.barh(y, values, color=[chord_color(k) for k in names], edgecolor="#555555", lw=0.4)
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    for yi, v in zip(y, values):
        ax.text(v, yi, f" {v / total:.1%}", va="center", fontsize=7, color="#444444")
    ax.set_xlim(0, max(values) * 1.18)
    rest = len(items) - len(shown)
    share = sum(values) / total
    ax.set_xlabel("count")
    default = (f"{len(shown)} most frequent of {len(items)} chords ({share:.0%} of all chord events)"
               if rest else f"all {len(items)} chords")
    ax.set_title(title or default, fontsize=10, loc="left")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig


def harmony_over_time(curves: dict, ax=None, mark_frame: int | None = None, mark_label: str | None = None,
                      ylabel: str = "note-in-chord ratio", xlabel: str = "frame"):
    """One line per system: a 1-D curve, or 2-D (runs x frames) drawn as the mean with a band
    of one standard error. `mark_frame` draws a dashed line (e.g. where a perturbation starts)."""
    fig, ax = _new_ax(ax, (7.5, 3.4))
    bounded = True
    for name, values in curves.items():
        a = np.asarray(values, dtype=float)
        color = system_color(name)
        if a.ndim == 2:
            mean = np.nanmean(a, axis=0)
            count = np.sum(np.isfinite(a), axis=0)
            se = np.nanstd(a, axis=0) / np.sqrt(np.maximum(count, 1))
            x = np.arange(len(mean))
            ax.fill_between(x, mean - se, mean + se, color=color, alpha=0.2, lw=0)
            a = mean
        ax.plot(np.arange(len(a)), a, color=color, lw=1.8, label=name)
        finite = a[np.isfinite(a)]
        bounded &= bool(finite.size == 0 or (finite.min() >= 0 and finite.max() <= 1))
    if mark_frame is not None:
        ax.axvline(mark_frame, color="#444444", ls="--", lw=1)
        ax.text(mark_frame, 1.0, f" {mark_label or f'frame {mark_frame}'}", transform=ax.get_xaxis_transform(),
                va="top", ha="left", fontsize=8, color="#444444")
    if bounded:
        ax.set_ylim(0, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if curves:
        ax.legend(fontsize=8, frameon=False, loc="lower left")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig


# --- training curves -----------------------------------------------------------------------
def training_log(checkpoint) -> dict[str, np.ndarray] | None:
    """The training log of a checkpoint (ship.training_log_text: your run's metrics.csv, else the
    copy a shipped checkpoint carries) as columns, or None."""
    from .ship import training_log_text  # lazily: ship loads torch, the pictures need only numpy

    text = training_log_text(checkpoint)
    return parse_metrics_csv(text) if text else None


def _ema(a: np.ndarray, weight: float) -> np.ndarray:
    out, level = np.empty_like(a), a[0]
    for i, v in enumerate(a):
        level = weight * level + (1 - weight) * v
        out[i] = level
    return out


def training_curves(source, keys, ax=None, x: str = "step", smooth: float = 0.8):
    """Metrics from a CSV path or a table (dict of columns, or a DataFrame): one panel per key
    (all in `ax` if given), the raw values faint and an exponential moving average on top."""
    import matplotlib.pyplot as plt

    table = read_metrics_csv(source) if isinstance(source, (str, Path)) else source
    keys = [keys] if isinstance(keys, str) else list(keys)
    available = list(table.keys()) if hasattr(table, "keys") else list(table.columns)
    missing = [k for k in keys if k not in available]
    if missing:
        raise MinigaptError(f"no column {', '.join(missing)} in the metrics; have: {', '.join(available)}")
    if ax is None:
        ncols = min(len(keys), 3)
        nrows = int(np.ceil(len(keys) / ncols))
        fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 2.8 * nrows), layout="constrained",
                                 squeeze=False)
        panels = list(axes.ravel())
        for extra in panels[len(keys):]:
            extra.axis("off")
    else:
        fig, panels = ax.figure, [ax] * len(keys)
    for i, (key, pax) in enumerate(zip(keys, panels)):
        y = np.asarray(table[key], dtype=float)
        xs = np.asarray(table[x], dtype=float) if x in available else np.arange(len(y), dtype=float)
        ok = np.isfinite(y) & np.isfinite(xs)
        color = system_color(key) if key.lower() in SYSTEM_COLORS else f"C{i}"
        if ok.sum() == 0:
            pax.text(0.5, 0.5, f"{key}: no values yet", ha="center", va="center", transform=pax.transAxes,
                     fontsize=8, color="#777777")
            continue
        xv, yv = xs[ok], y[ok]
        if len(yv) > 10 and smooth > 0:
            pax.plot(xv, yv, color=color, alpha=0.25, lw=0.8)
            pax.plot(xv, _ema(yv, smooth), color=color, lw=1.8, label=key)
        else:
            pax.plot(xv, yv, color=color, lw=1.8, marker="o" if len(yv) < 30 else None, ms=3, label=key)
        pax.set_xlabel(x if x in available else "row")
        if ax is None:
            pax.set_title(key, fontsize=10, loc="left")
        pax.grid(alpha=0.3)
        for side in ("top", "right"):
            pax.spines[side].set_visible(False)
    if ax is not None and len(keys) > 1:
        ax.legend(fontsize=8, frameon=False)
    return fig


def trailing_mean(a, window: int) -> np.ndarray:
    """Trailing moving average over `window` points, NaN-aware (window 1: `a` as it is)."""
    a = np.asarray(a, dtype=float)
    if window <= 1:
        return a
    out = np.full(len(a), np.nan)
    for i in range(len(a)):
        part = a[max(0, i - window + 1):i + 1]
        if np.isfinite(part).any():
            out[i] = np.nanmean(part)
    return out


def seed_band(ax, x, per_seed, label: str, color: str | None = None) -> np.ndarray:
    """Curves of several seeds [seeds, points] (NaN where a seed has none): the mean as a line,
    one sample sd as a band around it -> the mean."""
    a = np.atleast_2d(np.asarray(per_seed, dtype=float))
    color = color or system_color(label)
    counts = np.isfinite(a).sum(0)
    mean = np.where(counts > 0, np.nansum(a, 0) / np.maximum(counts, 1), np.nan)
    ax.plot(x, mean, color=color, lw=1.8, marker="o" if len(x) < 30 else None, ms=3, label=label)
    if len(a) > 1:
        dev = np.where(np.isfinite(a), a - mean, 0.0)
        sd = np.where(counts > 1, np.sqrt((dev ** 2).sum(0) / np.maximum(counts - 1, 1)), np.nan)
        ax.fill_between(x, mean - sd, mean + sd, color=color, alpha=0.2, lw=0)
    return mean


def along_training(axes, groups: dict, keys, data: dict | None = None, labels: dict | None = None,
                   interval: dict | None = None) -> None:
    """Evaluation curves of several runs per group ({label: [eval rows per seed]}) on `axes`, one
    key each: mean over seeds with a band of one sd, a shaded [low, high] interval where
    `interval` names its columns ({key: (low_key, high_key)}, mean over seeds), and the data's
    level as a dashed line."""
    labels, interval = labels or {}, interval or {}
    for ax, key in zip(np.ravel(axes), keys):
        for label, per_seed in groups.items():
            per_seed = [rows for rows in per_seed if rows]
            if not per_seed:
                continue
            n = min(len(rows) for rows in per_seed)
            x = [float(r["update"]) for r in per_seed[0][:n]]
            seed_band(ax, x, [[float(r.get(key, np.nan)) for r in rows[:n]] for rows in per_seed], label)
            if key in interval:
                lo_k, hi_k = interval[key]
                lo = np.mean([[float(r.get(lo_k, np.nan)) for r in rows[:n]] for rows in per_seed], 0)
                hi = np.mean([[float(r.get(hi_k, np.nan)) for r in rows[:n]] for rows in per_seed], 0)
                ax.fill_between(x, lo, hi, color=system_color(label), alpha=0.08, lw=0, hatch="//")
        if data and data.get(key) is not None:
            ax.axhline(data[key], color=system_color("ground truth"), ls="--", lw=1.2, label="the data's chords")
        ax.set_title(labels.get(key, key), fontsize=10, loc="left")
        ax.set_xlabel("update")
        ax.grid(alpha=0.3)


def harmony_realism(ax, points: list[dict], baseline: dict, harmony: str = "harmony_triad",
                    start: dict | None = None) -> None:
    """Runs as points ({"label", "system", harmony, "drift"}) on notebook 05's harmony-against-realism
    plane (harmony to the right, drift from the data's chords down), with the band where a run
    drifts at most half as far as `baseline` shaded and the baseline's harmony - 0.01 marked:
    where a realism reward should land its runs if it keeps harmony. `start`: the online MLE."""
    ax.axhspan(0, 0.5 * baseline["drift"], color="#b2df8a", alpha=0.25, lw=0, label="half the baseline's drift")
    ax.axvline(baseline[harmony] - 0.01, color=system_color("realchords"), ls=":", lw=1,
               label="the baseline's harmony - 0.01")
    for p in points:
        ax.scatter(p[harmony], p["drift"], color=system_color(p["system"]), s=30, zorder=3)
        ax.annotate(p["label"], (p[harmony], p["drift"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    if start:
        ax.scatter(start[harmony], start["drift"], color=system_color("online-mle"), marker="*", s=120, zorder=3,
                   label="online MLE")
    for system in dict.fromkeys(p["system"] for p in points):
        ax.scatter([], [], color=system_color(system), s=30, label=system)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(harmony.replace("_", " ") + " →  better")
    ax.set_ylabel("drift from the data's chords (↓ more real)")
    ax.legend(fontsize=7, frameon=False)
    ax.grid(alpha=0.3)


def against_own_baseline(ax, settings: dict, harmony: str = "harmony_triad") -> None:
    """GAPT settings ({label: {harmony, "drift", "baseline_" + harmony, "baseline_drift",
    "baseline_retrained"}}, seeds averaged), each measured against its own ReaLchords: harmony
    gained over it to the right, drift as a multiple of its drift up. The shaded corner is the
    target: at most half the drift at no more than 0.01 less harmony. Hollow points: settings
    judged against the unchanged baseline (none retrained with their change); crosses: settings
    whose baseline has no hack or no harmony gain to compare with (v["baseline_ok"] False).
    Points are numbered from 1 in the order of `settings` (list them beside the figure)."""
    ax.fill_between([-0.01, 1], 0, 0.5, color="#b2df8a", alpha=0.25, lw=0, label="the target")
    ax.axhline(1, color=system_color("realchords"), ls=":", lw=1, label="as far as its baseline")
    ax.axvline(0, color="0.6", lw=0.8)
    for number, v in enumerate(settings.values(), 1):
        x, y = v[harmony] - v["baseline_" + harmony], v["drift"] / v["baseline_drift"]
        ax.scatter(x, y, s=30, zorder=3, color=system_color("gapt"), marker="o" if v.get("baseline_ok", True) else "X",
                   facecolors=system_color("gapt") if v["baseline_retrained"] else "none")
        ax.annotate(str(number), (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    if not all(v["baseline_retrained"] for v in settings.values()):
        ax.scatter([], [], s=30, color=system_color("gapt"), facecolors="none", label="no baseline retrained with it")
    if not all(v.get("baseline_ok", True) for v in settings.values()):
        ax.scatter([], [], s=30, color=system_color("gapt"), marker="X", label="its baseline: no hack or no gain")
    xs = [v[harmony] - v["baseline_" + harmony] for v in settings.values()] or [0]
    ax.set_xlim(min(-0.05, min(xs) - 0.01), max(0.03, max(xs) + 0.01))
    ax.set_ylim(0, max([1.3] + [v["drift"] / v["baseline_drift"] + 0.1 for v in settings.values()]))
    ax.set_xlabel(harmony.replace("_", " ") + " − its baseline's  →")
    ax.set_ylabel("drift ÷ its baseline's drift (↓ more real)")
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1))  # beside: points reach every corner
    ax.grid(alpha=0.3)
