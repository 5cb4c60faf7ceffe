"""Pareto fronts: which runs no other run beats on every objective at once.

Pure numpy, no plotting. A point ``p`` *dominates* ``q`` when ``p`` is at least
as good as ``q`` in every objective and strictly better in at least one, where
"better" follows each objective's direction (higher or lower is better). A
point is on the front (non-dominated) when no point dominates it. Identical
points do not dominate each other, so duplicates on the front are all kept.
A row with a NaN in any objective is never on the front and dominates nothing.

Two objectives (the usual metric-versus-cost chart) take one sort and a sweep,
O(n log n); three or more take a sort and a block-wise vectorised filter
against the front found so far, O(n * front size) comparisons.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# rows of candidates compared at once in the k >= 3 filter; bounds the temporaries
# (block x front booleans) to a few MB whatever the front's size
_BLOCK_CELLS = 1 << 21


def _as_gain(values: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """``values`` as float, oriented so that higher is always better."""
    arr = np.asarray(values, dtype=float)
    return arr if higher_is_better else -arr


def front_2d(x: np.ndarray, y: np.ndarray, *, x_higher_is_better: bool = False,
             y_higher_is_better: bool = True) -> np.ndarray:
    """Boolean mask of the points of (``x``, ``y``) that no other point dominates.

    Defaults suit cost-versus-metric charts: ``x`` (latency, size) lower is
    better, ``y`` (accuracy) higher is better. O(n log n): sort by x best
    first, ties by y best first, then sweep. Within a group of equal x only the
    points holding the group's best y can survive (any other is beaten on y at
    equal x), and they survive iff their y is strictly better than the best y
    among all points with strictly better x.
    """
    a = _as_gain(x, x_higher_is_better).ravel()
    b = _as_gain(y, y_higher_is_better).ravel()
    if a.shape != b.shape:
        raise ValueError(f"x and y differ in length: {a.shape[0]} and {b.shape[0]}")
    mask = np.zeros(a.shape[0], dtype=bool)
    valid = np.flatnonzero(~(np.isnan(a) | np.isnan(b)))
    if not len(valid):
        return mask
    av, bv = a[valid], b[valid]
    order = np.lexsort((-bv, -av))  # x best first, then y best first
    sa, sb = av[order], bv[order]
    new_group = np.empty(len(sa), dtype=bool)
    new_group[0] = True
    new_group[1:] = sa[1:] != sa[:-1]
    starts = np.flatnonzero(new_group)
    group = np.cumsum(new_group) - 1
    group_best = sb[starts]  # sorted y best first within a group: its first is its best
    # best y over all groups with strictly better x (none before the first group; y may be -inf)
    before = np.concatenate(([-np.inf], np.maximum.accumulate(group_best)[:-1]))
    keep = (sb == group_best[group]) & ((group == 0) | (sb > before[group]))
    mask[valid[order[keep]]] = True
    return mask


def non_dominated(points: np.ndarray, higher_is_better: Sequence[bool]) -> np.ndarray:
    """Boolean mask of the rows of ``points`` (n, k) that no other row dominates.

    ``higher_is_better`` gives each of the k objectives' direction. k == 2 uses
    :func:`front_2d`. For k >= 3 rows are sorted best first lexicographically
    (so every row's dominators come before it) and checked block by block
    against the front found so far and against their own block: a dominated
    row always has a non-dominated dominator earlier in that order, so these
    comparisons find it.
    """
    pts = np.asarray(points, dtype=float)
    if pts.ndim != 2:
        raise ValueError(f"points must be a 2-D array (n, k), got shape {pts.shape}")
    n, k = pts.shape
    directions = [bool(h) for h in higher_is_better]
    if len(directions) != k:
        raise ValueError(f"{k} objectives but {len(directions)} directions")
    if k == 0 or n == 0:
        return np.zeros(n, dtype=bool)
    if k == 2:
        return front_2d(pts[:, 0], pts[:, 1], x_higher_is_better=directions[0],
                        y_higher_is_better=directions[1])
    gain = np.column_stack([_as_gain(pts[:, j], directions[j]) for j in range(k)])
    mask = np.zeros(n, dtype=bool)
    valid = np.flatnonzero(~np.isnan(gain).any(axis=1))
    if not len(valid):
        return mask
    if k == 1:
        col = gain[valid, 0]
        mask[valid[col == col.max()]] = True
        return mask
    g = gain[valid]
    order = np.lexsort(tuple(-g[:, j] for j in reversed(range(k))))  # best first, column 0 leading
    g = g[order]
    front: list[np.ndarray] = []  # rows of g found non-dominated so far, in blocks
    front_rows = np.empty((0, k))
    keep = np.zeros(len(g), dtype=bool)
    start = 0
    while start < len(g):
        size = max(1, min(512, _BLOCK_CELLS // max(1, len(front_rows) * k)))
        block = g[start:start + size]
        alive = ~_dominated_by(front_rows, block) if len(front_rows) else np.ones(len(block), dtype=bool)
        if alive.any():
            cand = block[alive]
            alive[np.flatnonzero(alive)] = ~_dominated_by(cand, cand)
        keep[start:start + len(block)] = alive
        if alive.any():
            front.append(block[alive])
            front_rows = np.concatenate(front)
        start += len(block)
    mask[valid[order[keep]]] = True
    return mask


def _dominated_by(by: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each of ``rows`` (m, k), whether any of ``by`` (f, k) dominates it (gains, higher better)."""
    at_least = np.ones((len(by), len(rows)), dtype=bool)
    strictly = np.zeros((len(by), len(rows)), dtype=bool)
    for j in range(rows.shape[1]):
        bj, rj = by[:, j][:, None], rows[:, j][None, :]
        at_least &= bj >= rj
        strictly |= bj > rj
    return (at_least & strictly).any(axis=0)


def front_order(x: np.ndarray, y: np.ndarray, mask: np.ndarray, *, x_higher_is_better: bool = False,
                y_higher_is_better: bool = True) -> np.ndarray:
    """Indices of the front points (``mask`` True) in drawing order: x ascending, ties by y best
    first, then by index. On a two-objective front y then moves monotonically, so joining the
    points with a step line draws the staircase that bounds the dominated region."""
    del x_higher_is_better  # drawing always runs left to right; kept for a symmetric signature
    xs = np.asarray(x, dtype=float).ravel()
    ys = _as_gain(y, y_higher_is_better).ravel()
    idx = np.flatnonzero(np.asarray(mask, dtype=bool))
    return idx[np.lexsort((idx, -ys[idx], xs[idx]))]
