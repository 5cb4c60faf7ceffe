"""``--budget``: one limit per cost, a finite bound of 0 or more, in the cost's direction."""

from __future__ import annotations

import pytest

from engine.compare.commands import parse_budgets
from engine.errors import FrontierError


def test_budgets_parse_to_limits_in_the_cost_units():
    assert parse_budgets(["latency_p95_ms<=2", " size_bytes <= 5e6 ", "throughput_per_s>=1000"]) == {
        "latency_p95_ms": 2.0, "size_bytes": 5e6, "throughput_per_s": 1000.0}


@pytest.mark.parametrize(("raw", "words"), [
    (["latency_p95_ms<=-1"], "finite value of 0 or more"),
    (["latency_p95_ms<=inf"], "takes COST<=VALUE"),
    (["throughput_per_s>=1e999"], "needs a finite limit"),
    (["latency_p95_ms<=nan"], "takes COST<=VALUE"),
    (["latency_p95_ms<=1", "latency_p95_ms<=5"], "given twice"),
    (["latency_p95_ms>=2"], "upper bound"),
    (["throughput_per_s<=2"], "lower bound"),
    (["accuracy<=2"], "unknown cost"),
    (["latency_p95_ms=2"], "takes COST<=VALUE"),
])
def test_bad_budgets_are_refused_in_flag_words(raw, words):
    with pytest.raises(FrontierError, match=words) as err:
        parse_budgets(raw)
    assert err.value.message.startswith("--budget")
