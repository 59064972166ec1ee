"""The harmony-Vendi frontier (notebooks 05 and 06, Fig. 4 analogue)."""
from minigapt.eval.pareto import frontier_points, pareto_front


def test_frontier_keeps_the_points_no_other_beats_on_both_measures():
    points = [(0.40, 6.0), (0.45, 5.0), (0.42, 4.0), (0.50, 3.0), (0.45, 4.5), (0.40, 6.0), (0.38, 5.5)]
    # (0.42, 4.0) loses to (0.45, 5.0); (0.45, 4.5) too (same harmony, less diverse); (0.38, 5.5) to (0.40, 6.0)
    assert frontier_points(points) == [(0.40, 6.0), (0.45, 5.0), (0.50, 3.0)]
    assert frontier_points([]) == []


def test_pareto_front_names_the_systems_on_the_frontier():
    named = {"online-mle": (0.44, 6.3), "realchords": (0.47, 5.2), "gapt-no-adv": (0.467, 4.3), "gapt": (0.43, 5.2)}
    assert pareto_front(named) == ["online-mle", "realchords"]
    assert pareto_front({"a": (0.5, 5.0), "b": (0.5, 5.0)}) == ["a", "b"]  # a tie: both on it
