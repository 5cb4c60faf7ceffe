"""engine.compare.pareto: the fast fronts agree with a plain O(n^2) dominance oracle."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from engine.compare.pareto import front_2d, front_order, non_dominated


# ------------------------------------------------------------------ oracle
def dominates(p, q, higher_is_better) -> bool:
    """p at least as good as q everywhere and strictly better somewhere."""
    at_least, strictly = True, False
    for a, b, hib in zip(p, q, higher_is_better, strict=True):
        better, worse = (a > b, a < b) if hib else (a < b, a > b)
        if worse:
            at_least = False
        if better:
            strictly = True
    return at_least and strictly


def oracle(points: np.ndarray, higher_is_better) -> np.ndarray:
    pts = np.asarray(points, dtype=float)
    ok = ~np.isnan(pts).any(axis=1)
    out = np.zeros(len(pts), dtype=bool)
    for i in range(len(pts)):
        if not ok[i]:
            continue
        out[i] = not any(ok[j] and dominates(pts[j], pts[i], higher_is_better) for j in range(len(pts)) if j != i)
    return out


def _data(rng: np.random.Generator, n: int, k: int, *, decimals: int | None) -> np.ndarray:
    pts = rng.normal(size=(n, k))
    if decimals is not None:  # coarse values: many ties per coordinate and duplicate points
        pts = np.round(pts, decimals)
    if n > 3 and rng.random() < 0.5:  # exact duplicates of some rows
        pick = rng.integers(0, n, size=n // 4)
        pts[rng.integers(0, n, size=n // 4)] = pts[pick]
    return pts


DIRECTIONS_2D = list(itertools.product([False, True], repeat=2))


# ----------------------------------------------------------------- 2D
@pytest.mark.parametrize("directions", DIRECTIONS_2D)
@pytest.mark.parametrize("seed", range(4))
def test_front_2d_matches_oracle(directions, seed):
    rng = np.random.default_rng(seed)
    for n in [1, 2, 3, 5, 17, 60, 300]:
        for decimals in [None, 1, 0]:
            pts = _data(rng, n, 2, decimals=decimals)
            want = oracle(pts, directions)
            got = front_2d(pts[:, 0], pts[:, 1], x_higher_is_better=directions[0],
                           y_higher_is_better=directions[1])
            assert got.dtype == bool and got.shape == (n,)
            np.testing.assert_array_equal(got, want, err_msg=f"n={n} decimals={decimals}")
            np.testing.assert_array_equal(non_dominated(pts, directions), want)


def test_front_2d_small_cases():
    # minimize x, maximize y
    x = np.array([1.0, 2.0, 2.0, 3.0, 1.0, 4.0])
    y = np.array([0.5, 0.7, 0.6, 0.7, 0.5, 0.9])
    # (1, .5) twice: duplicates, both kept; (2, .7) beats (2, .6) and (3, .7); (4, .9) best y
    np.testing.assert_array_equal(front_2d(x, y), [True, True, False, False, True, True])
    # equal x, lower y is dominated; equal y, higher x is dominated
    np.testing.assert_array_equal(front_2d(np.array([1.0, 1.0]), np.array([1.0, 2.0])), [False, True])
    np.testing.assert_array_equal(front_2d(np.array([1.0, 2.0]), np.array([1.0, 1.0])), [True, False])
    # all identical: all on the front
    assert front_2d(np.ones(5), np.ones(5)).all()
    assert front_2d(np.array([]), np.array([])).shape == (0,)


def test_front_2d_nan_rows_never_on_front_and_never_dominate():
    x = np.array([np.nan, 1.0, 2.0, 0.0, 5.0])
    y = np.array([1.0, np.nan, 0.5, np.nan, 0.4])
    # (0, nan) would beat (2, .5) on x; NaN rows are out, so (2, .5) is alone on the front
    np.testing.assert_array_equal(front_2d(x, y), [False, False, True, False, False])
    assert not front_2d(np.full(3, np.nan), np.ones(3)).any()


def test_front_2d_infinities_are_values():
    x = np.array([np.inf, 1.0, -np.inf])
    y = np.array([1.0, 1.0, -np.inf])
    np.testing.assert_array_equal(front_2d(x, y), oracle(np.column_stack([x, y]), (False, True)))


def test_front_2d_length_mismatch():
    with pytest.raises(ValueError):
        front_2d(np.ones(3), np.ones(4))


# ---------------------------------------------------------------- k >= 3
@pytest.mark.parametrize("k", [1, 3, 4])
@pytest.mark.parametrize("seed", range(3))
def test_non_dominated_matches_oracle(k, seed):
    rng = np.random.default_rng(100 + seed)
    for n in [1, 2, 7, 40, 150]:
        for decimals in [None, 0]:
            directions = [bool(d) for d in rng.integers(0, 2, size=k)]
            pts = _data(rng, n, k, decimals=decimals)
            if n > 5:
                pts[rng.integers(0, n, size=2), rng.integers(0, k)] = np.nan
            np.testing.assert_array_equal(non_dominated(pts, directions), oracle(pts, directions),
                                          err_msg=f"k={k} n={n} directions={directions}")


@pytest.mark.parametrize("directions", list(itertools.product([False, True], repeat=3)))
def test_non_dominated_3d_all_directions_with_ties(directions):
    rng = np.random.default_rng(7)
    pts = np.round(rng.uniform(0, 3, size=(200, 3)))  # values 0..3: dense ties and duplicates
    np.testing.assert_array_equal(non_dominated(pts, directions), oracle(pts, directions))


def test_non_dominated_block_boundaries():
    """Large fronts (every point on an anti-correlated plane) cross many blocks."""
    rng = np.random.default_rng(3)
    pts = rng.uniform(size=(1500, 3))
    pts[:, 2] = 3 - pts[:, 0] - pts[:, 1]  # maximize all: the plane x+y+z=3 is all non-dominated
    pts = np.concatenate([pts, pts[:50] - 0.01])  # plus 50 dominated copies
    got = non_dominated(pts, [True, True, True])
    assert got[:1500].all() and not got[1500:].any()


def test_non_dominated_validation():
    with pytest.raises(ValueError):
        non_dominated(np.ones((3, 3)), [True, True])
    with pytest.raises(ValueError):
        non_dominated(np.ones(3), [True])
    assert non_dominated(np.empty((0, 3)), [True] * 3).shape == (0,)
    assert not non_dominated(np.full((4, 3), np.nan), [True] * 3).any()


# ------------------------------------------------------------- scale
def _spot_check(pts: np.ndarray, directions, got: np.ndarray, rng: np.random.Generator, m: int = 200) -> None:
    """For a sample of rows, the mask agrees with a vectorised dominance check against all rows."""
    gain = np.where(directions, pts, -pts)
    for i in rng.choice(len(pts), size=m, replace=False):
        dominated = ((gain >= gain[i]).all(axis=1) & (gain > gain[i]).any(axis=1)).any()
        assert got[i] == (not dominated), i


def test_front_2d_10k_agrees_on_sample():
    rng = np.random.default_rng(11)
    pts = np.round(rng.normal(size=(10_000, 2)), 2)
    got = front_2d(pts[:, 0], pts[:, 1])
    _spot_check(pts, [False, True], got, rng)
    gain = np.column_stack([-pts[:, 0], pts[:, 1]])
    for i in np.flatnonzero(got):  # and every front point
        assert not ((gain >= gain[i]).all(axis=1) & (gain > gain[i]).any(axis=1)).any()


def test_front_2d_is_a_sweep_not_quadratic():
    rng = np.random.default_rng(12)
    # anti-correlated: a large front, which an O(n * front) filter would crawl through
    x = rng.uniform(size=200_000)
    y = x + rng.normal(scale=1e-3, size=x.size)
    start = time.perf_counter()
    got = front_2d(x, y)
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0, elapsed
    assert got.sum() > 10
    _spot_check(np.column_stack([x, y]), [False, True], got, rng, m=100)


def test_non_dominated_3d_10k_is_fast():
    rng = np.random.default_rng(13)
    pts = rng.normal(size=(10_000, 3))
    start = time.perf_counter()
    got = non_dominated(pts, [True, False, True])
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, elapsed
    _spot_check(pts, [True, False, True], got, rng)


# ------------------------------------------------------------- drawing order
def test_front_order_sorted_by_x_then_best_y():
    x = np.array([3.0, 1.0, 2.0, 5.0, 2.0])
    y = np.array([0.8, 0.5, 0.7, 0.1, 0.6])
    mask = front_2d(x, y)
    np.testing.assert_array_equal(mask, [True, True, True, False, False])
    np.testing.assert_array_equal(front_order(x, y, mask), [1, 2, 0])
    # ties in x: best y first (higher here; lower when y is minimized)
    tied = np.array([True, True, True])
    np.testing.assert_array_equal(front_order(np.array([1.0, 1.0, 0.0]), np.array([1.0, 2.0, 0.0]), tied),
                                  [2, 1, 0])
    np.testing.assert_array_equal(front_order(np.array([1.0, 1.0, 0.0]), np.array([1.0, 2.0, 0.0]), tied,
                                              y_higher_is_better=False), [2, 0, 1])
    assert front_order(x, y, np.zeros(5, dtype=bool)).shape == (0,)


@pytest.mark.parametrize("directions", DIRECTIONS_2D)
def test_front_order_gives_a_monotone_staircase(directions):
    rng = np.random.default_rng(21)
    x, y = rng.normal(size=300), rng.normal(size=300)
    mask = front_2d(x, y, x_higher_is_better=directions[0], y_higher_is_better=directions[1])
    order = front_order(x, y, mask, x_higher_is_better=directions[0], y_higher_is_better=directions[1])
    assert sorted(order) == sorted(np.flatnonzero(mask))
    assert np.all(np.diff(x[order]) > 0)
    dy = np.diff(y[order])
    # better x comes with worse y along the front
    increasing = directions[0] != directions[1]
    assert np.all(dy > 0) if increasing else np.all(dy < 0)
