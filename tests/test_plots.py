"""minigapt.plots: every picture draws (Agg) on small songs, empty ones and real data."""
from __future__ import annotations

import csv
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from minigapt import plots  # noqa: E402
from minigapt.errors import MinigaptError  # noqa: E402
from minigapt.music.song import ChordEvent, Note, Song  # noqa: E402
from minigapt.music.tokens import VOCAB, song_to_tokens  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def small_song(chords=True) -> Song:
    # E over C is in the chord; F# over C is not; the last note has no chord under it.
    melody = [Note(0, 4, 64), Note(4, 8, 66), Note(8, 16, 67), Note(16, 20, 69), Note(28, 32, 72)]
    events = [ChordEvent(0, 8, "C"), ChordEvent(8, 16, "G7"), ChordEvent(16, 24, "Am")] if chords else []
    return Song("small", "hand", melody, events, n_frames=32)


def draws(fig) -> bytes:
    """The PNG bytes of a figure: proves it renders, not only that it was built."""
    assert isinstance(fig, Figure)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=40)
    assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
    return buf.getvalue()


def texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def patch_colors(ax) -> list[str]:
    return [to_hex(p.get_facecolor(), keep_alpha=False) for p in ax.patches if p.get_fill()]


def test_piano_roll_draws_notes_chords_and_bar_lines():
    song = small_song()
    fig = plots.piano_roll(song, title="demo")
    draws(fig)
    ax = fig.axes[0]
    assert {"C", "G7", "Am"} <= set(texts(fig))
    colors = patch_colors(ax)
    assert colors.count(plots.IN_CHORD) >= 2  # E over C, G over G7, A over Am
    assert colors.count(plots.OUT_OF_CHORD) == 1  # F# over C
    assert colors.count(plots.NO_CHORD) == 1  # C5 after the chords end
    assert ax.get_xlim() == (0, 32)
    assert ax.get_title(loc="left") == "demo"
    assert list(ax.get_xticks()) == [0, 16, 32]


def test_piano_roll_of_a_song_without_chords_and_into_a_given_ax():
    fig, ax = plt.subplots()
    out = plots.piano_roll(small_song(chords=False), ax=ax, max_frames=16)
    assert out is fig
    draws(fig)
    assert "(no chords)" in texts(fig)
    assert ax.get_xlim() == (0, 16)
    assert set(patch_colors(ax)) == {plots.NO_CHORD}


def test_piano_roll_of_an_empty_song():
    draws(plots.piano_roll(Song("nothing", "hand", [], [], n_frames=0)))


def test_token_strip_names_each_token():
    song = small_song()
    stream = song_to_tokens(song)
    fig = plots.token_strip(stream, VOCAB, start=0, n=10)
    draws(fig)
    labels = texts(fig)
    assert "BOS" in labels and any(t.startswith("ON_C") for t in labels)
    assert any(t.startswith("ON_64") for t in labels)  # the first melody note, E4
    assert "y0" in labels and "x0" in labels and "x4" not in labels  # frames counted from 0
    assert len(fig.axes[0].patches) == 10


def test_online_constraint_hides_the_present_and_future_melody():
    fig = plots.online_constraint(n_frames=6, t=3)
    draws(fig)
    hidden = [p for p in fig.axes[0].patches if p.get_hatch()]
    # frames 0..5: online y4, y5 and x3..x5 hidden (5); offline y4, y5 (2)
    assert len(hidden) == 7
    assert texts(fig).count("y3?") == 2
    with pytest.raises(MinigaptError):
        plots.online_constraint(n_frames=4, t=4)  # frames are 0..3


def test_chord_histogram_sorts_and_keeps_the_top():
    counts = {"C": 30, "G": 50, "Am": 5, "F": 20, "Bbmaj7": 1}
    fig = plots.chord_histogram(counts, top=3)
    draws(fig)
    ax = fig.axes[0]
    widths = [p.get_width() for p in ax.patches]
    assert widths == [50, 30, 20]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["G", "C", "F"]
    draws(plots.chord_histogram({}))


def test_harmony_over_time_draws_curves_bands_and_a_mark():
    rng = np.random.default_rng(0)
    curves = {"gapt": rng.uniform(0.6, 0.9, (5, 40)), "realchords": rng.uniform(0.8, 1.0, 40)}
    fig = plots.harmony_over_time(curves, mark_frame=20, mark_label="perturbed")
    draws(fig)
    ax = fig.axes[0]
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert to_hex(lines["gapt"].get_color()) == plots.system_color("gapt")
    assert np.allclose(lines["gapt"].get_ydata(), curves["gapt"].mean(axis=0))
    assert len(ax.collections) == 1  # the band of the 2-D curve
    assert "perturbed" in " ".join(texts(fig))


def test_training_curves_from_csv_with_blanks_and_from_a_dict(tmp_path):
    path = tmp_path / "metrics.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", "loss", "d_acc"])
        for i in range(30):
            w.writerow([i * 5, 2.0 / (i + 1), "" if i % 3 else 0.6])
    fig = plots.training_curves(path, ["loss", "d_acc"])
    draws(fig)
    assert [ax.get_title(loc="left") for ax in fig.axes[:2]] == ["loss", "d_acc"]
    d_acc_lines = fig.axes[1].get_lines()
    assert len(d_acc_lines[0].get_xdata()) == 10  # blank cells are skipped
    fig, ax = plt.subplots()
    plots.training_curves({"step": [0, 1, 2], "reward": [0.1, 0.3, 0.2]}, "reward", ax=ax)
    assert list(ax.get_lines()[0].get_ydata()) == [0.1, 0.3, 0.2]
    with pytest.raises(MinigaptError, match="no column"):
        plots.training_curves(path, ["accuracy"])
    with pytest.raises(MinigaptError):
        plots.training_curves(tmp_path / "missing.csv", ["loss"])


def test_colours_are_stable_and_tell_roots_and_qualities_apart():
    assert plots.chord_color("C") == plots.chord_color("C")
    assert len({plots.chord_color(r) for r in ("C", "G", "D", "A", "E", "B", "F#", "F")}) == 8
    assert sum(plots.chord_color("Am")) < sum(plots.chord_color("A"))  # minor is darker
    assert plots.system_color("GAPT") == plots.system_color("gapt")
    assert plots.system_color("my-new-model") == plots.system_color("my-new-model")


def test_piano_roll_of_a_real_tune(dataset_dir):
    folder = dataset_dir("nottingham")
    try:
        from minigapt.data import nottingham
    except ImportError:
        pytest.skip("the Nottingham parser is not there yet")
    song = next(s for s in nottingham.parse_unit(nottingham.find_units(folder)[0]) if isinstance(s, Song))
    fig = plots.piano_roll(song, max_frames=8 * song.bar_frames)
    draws(fig)
    assert fig.axes[0].get_xlim() == (0, min(song.n_frames, 8 * song.bar_frames))


def test_trailing_mean_averages_the_last_points_and_skips_nans():
    a = np.array([1.0, 3.0, np.nan, 5.0, np.nan, np.nan, np.nan])
    out = plots.trailing_mean(a, 2)
    assert np.allclose(out[:5], [1.0, 2.0, 3.0, 5.0, 5.0]) and np.isnan(out[5]) and np.isnan(out[6])
    assert np.array_equal(plots.trailing_mean(a[:2], 1), a[:2])


def test_seed_band_draws_the_mean_over_seeds_and_a_one_sd_band():
    fig, ax = plt.subplots()
    per_seed = [[1.0, 2.0, np.nan], [3.0, 6.0, 4.0]]
    mean = plots.seed_band(ax, [0, 1, 2], per_seed, "gapt")
    assert np.allclose(mean, [2.0, 4.0, 4.0])
    assert np.allclose(ax.lines[0].get_ydata(), mean) and ax.lines[0].get_color() == plots.system_color("gapt")
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    # sample sd over the seeds that have a point: sqrt(2) at x=0, 2 sqrt(2) at x=1, none at x=2 (one seed)
    assert np.isclose(band.min(), 2.0 - np.sqrt(2)) and np.isclose(band.max(), 4.0 + 2 * np.sqrt(2))
    plt.close(fig)


def test_against_own_baseline_puts_each_setting_at_its_gain_and_drift_ratio():
    fig, ax = plt.subplots()
    settings = {"a": dict(harmony_triad=0.50, drift=0.6, baseline_harmony_triad=0.48, baseline_drift=1.2,
                          baseline_retrained=True),
                "b": dict(harmony_triad=0.44, drift=1.8, baseline_harmony_triad=0.50, baseline_drift=1.2,
                          baseline_retrained=False, baseline_ok=False)}
    plots.against_own_baseline(ax, settings)
    assert [t.get_text() for t in ax.texts] == ["1", "2"]
    from matplotlib.collections import PathCollection

    points = [c.get_offsets()[0].tolist() for c in ax.collections
              if isinstance(c, PathCollection) and len(c.get_offsets())]
    assert np.allclose(points, [[0.02, 0.5], [-0.06, 1.5]])
    assert ax.get_xlim()[0] <= -0.06 and ax.get_ylim()[1] >= 1.5
    labels = ax.get_legend_handles_labels()[1]
    assert "no baseline retrained with it" in labels and "its baseline: no hack or no gain" in labels
    plt.close(fig)
