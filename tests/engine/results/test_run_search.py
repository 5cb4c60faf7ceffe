"""Finding stored runs: the newest matches first, every word must match, bounded however many are stored."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from engine.results.index import ID_PREFIX_MIN, SEARCHED_COLUMNS, newest_matching

WORDS = ["MLP", "logreg", "Forest", "digits", "wine", "as-is", "cv-refit", "alice", "bob", "onnx", "skops"]


def _runs(n: int, seed: int = 0) -> pd.DataFrame:
    rng = random.Random(seed)
    rows = [{"run_id": f"{i:016x}", "model": f"{rng.choice(WORDS[:3])} {i}", "dataset": rng.choice(WORDS[3:5]),
             "mode": rng.choice(WORDS[5:7]), "owner": rng.choice([*WORDS[7:9], None]),
             "format": rng.choice(WORDS[9:]), "created_at": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}"}
            for i in range(n)]
    return pd.DataFrame(rows).sort_values("created_at", ascending=False, ignore_index=True)


def _brute_force(runs: pd.DataFrame, query: str) -> list[str]:
    words = query.lower().split()
    return [r["run_id"] for r in runs.to_dict("records")
            if all(any(w in str(r[c]).lower() for c in SEARCHED_COLUMNS if r[c] is not None)
                   or (len(w) >= ID_PREFIX_MIN and r["run_id"].startswith(w)) for w in words)]


@pytest.mark.parametrize("query", ["", "mlp", "MLP digits", "forest wine alice", "as-is onnx", "0000000000000f", "00000000", "0f", "000000000000012c",
                                   "nothing-matches", "  bob   "])
@pytest.mark.parametrize("limit", [1, 25, 1000])
def test_matches_brute_force_newest_first(query, limit):
    runs = _runs(300)
    shown, total = newest_matching(runs, query, limit=limit)
    expected = _brute_force(runs, query)
    assert total == len(expected)
    assert list(shown["run_id"]) == expected[:limit]


def test_query_is_text_not_a_pattern():
    runs = _runs(50)
    runs.loc[3, "model"] = "a.b [x]*"
    assert list(newest_matching(runs, "[x]*")[0]["run_id"]) == [runs.loc[3, "run_id"]]
    assert newest_matching(runs, ".*")[1] == 0


def test_short_words_do_not_match_every_id():
    runs = _runs(40)
    assert newest_matching(runs, "0")[1] == sum("0" in m for m in runs["model"])  # not every run: ids hold 0s
