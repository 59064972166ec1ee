"""The harmony-Vendi Pareto frontier: the points no other point beats on both measures.

The paper's Fig. 4 argument in one definition: GAPT is better than an ablation if, at the same
harmony, it is more diverse, i.e. its points lie beyond the ablation's frontier.
"""
from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping


def frontier_points(points: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """The non-dominated (harmony, vendi) points (higher is better on both), each once, by
    harmony ascending: sweep from the highest harmony down, keeping a point only if it is more
    diverse than every point of higher harmony."""
    out, best = [], float("-inf")
    for h, v in sorted(points, key=lambda p: (-p[0], -p[1])):
        if v > best:
            out.append((h, v))
            best = v
    return sorted(out)


def pareto_front(named: Mapping[Hashable, tuple[float, float]]) -> list:
    """The names whose (harmony, vendi) point is on the frontier, in the mapping's order."""
    front = set(frontier_points(named.values()))
    return [name for name, point in named.items() if tuple(point) in front]
