"""The verdict: which run to ship, and why, in one or two plain sentences.

Rule (documented in docs/DESIGN.md): within the largest comparison group
(or the baseline's), drop runs over a cost budget; the best run on the
primary metric sets the bar; every run within the practical-equivalence
margin of it, or not significantly worse by the corrected resampled t-test,
is a contender; the cheapest contender (by the deciding cost, p95 latency
by default, then size) is the pick. Runs the pick is significantly better
than are "beaten"; the other contenders "could not be told apart" from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from engine import metrics
from engine.compare import significance
from engine.compare.selection import Selection

DEFAULT_COST = "latency_p95_ms"


@dataclass(frozen=True)
class Verdict:
    """The recommendation; run ids in ``pick``, ``beaten``, ``tied`` and ``excluded``."""

    pick: str | None
    text: str
    metric: str
    margin: float
    cost: str
    beaten: tuple[str, ...] = ()
    tied: tuple[str, ...] = ()
    excluded: Mapping[str, str] = field(default_factory=dict)  # run id -> why


def _points(metric: metrics.Metric, diff: float) -> str:
    """A metric difference in words: points for metrics in [0, 1], else in the metric's units."""
    return f"{abs(diff) * 100:.2g} points" if metric.bounded else f"{metric.format(abs(diff))}"


def _ratio_words(pick: float | None, other: float | None, cost: metrics.Cost) -> str | None:
    """How many times better (or worse) the pick is on ``cost`` than ``other``; None under 10%."""
    if pick is None or other is None or not (np.isfinite(pick) and np.isfinite(other)) or pick <= 0 or other <= 0:
        return None
    better, worse = _WORDS.get(cost.name, ("better on " + cost.label, "worse on " + cost.label))
    ratio = (pick / other) if cost.higher_is_better else (other / pick)
    if ratio >= 1.1:
        return f"{ratio:.1f}x {better}"
    if ratio <= 1 / 1.1:
        return f"{1 / ratio:.1f}x {worse}"
    return None


_WORDS = {**{f"latency_{q}_ms": (f"faster at {q}", f"slower at {q}") for q in ("p50", "p95", "p99")},
          "size_bytes": ("smaller", "larger"), "throughput_per_s": ("higher throughput", "lower throughput"),
          "n_parameters": ("fewer parameters", "more parameters")}


def verdict(sel: Selection, *, metric: str | None = None, margin: float | None = None,
            budgets: Mapping[str, float] | None = None, cost: str = DEFAULT_COST, alpha: float = 0.05,
            baseline: str | None = None) -> Verdict:
    """Which run of ``sel`` to ship on ``metric`` (default: the task's primary) under ``budgets``
    (``{cost column: limit}``, e.g. ``{"latency_p95_ms": 2, "size_bytes": 5e6}``)."""
    task = sel.task if sel.task != "mixed" else "classification"
    m = metrics.get(metric or metrics.primary(task).name)
    margin = float(margin if margin is not None else (0.005 if m.bounded else 0.0))
    col = f"{m.name}_mean"
    group = sel.group_of(baseline) if baseline in sel.labels else next(iter(sel.groups))
    excluded: dict[str, str] = {}
    pool = []
    for rid in sel.run_ids:
        run = sel.run(rid)
        if sel.group_of(rid) != group:
            excluded[rid] = "scored on other rows or folds"
            continue
        value = run.get(col)
        if value is None or value != value:
            excluded[rid] = f"no {m.label}"
            continue
        why = _over_budget(run, budgets or {})
        if why:
            excluded[rid] = why
            continue
        pool.append(rid)
    if not pool:
        text = (f"No run meets the budget ({_budget_words(budgets or {})})." if budgets
                else f"No run has {m.label} to compare.")
        return Verdict(None, text, m.name, margin, cost, excluded=excluded)
    values = {r: float(sel.run(r)[col]) for r in pool}
    best = max(pool, key=lambda r: values[r] if m.higher_is_better else -values[r])
    tests = {r: _test(sel, r, best, m, alpha) for r in pool if r != best}
    contenders = [best] + [r for r in pool if r != best and (
        abs(values[r] - values[best]) <= margin or tests[r].better != "b")]
    cost_of = _cost_key(sel, cost)
    pick = min(contenders, key=lambda r: (cost_of(r), -values[r] if m.higher_is_better else values[r]))
    # the pick against every other run is one family of tests: Holm-adjusted, like the pairwise table
    others = [r for r in pool if r != pick]
    against = [_test(sel, pick, r, m, alpha) for r in others]
    adjusted = significance.holm([t.p_value for t in against])
    beaten, tied = [], []
    for r, t, p_adj in zip(others, against, adjusted, strict=True):
        (beaten if t.better == "a" and p_adj is not None and p_adj < alpha else tied).append(r)
    extra = _mcnemar_note(sel, pick, tied, alpha) if m.task == "classification" and tied else ""
    text = _sentence(sel, m, pick, best, values, tests.get(pick), cost, margin, beaten, tied, budgets or {}, extra)
    if len(sel.groups) > 1:  # say which data the answer is about
        text = f"On {sel.group_names[group]}: {text}"
    return Verdict(pick, text, m.name, margin, cost, tuple(beaten), tuple(tied), excluded)


def _mcnemar_note(sel: Selection, pick: str, tied: list[str], alpha: float) -> str:
    """When McNemar's test on the out-of-fold predictions separates the pick from runs the fold-level
    t-test could not (Holm over those pairs), say so: the tests answer different questions."""
    mine = sel.predictions_by_row(pick)
    if mine is None:
        return ""
    tests = {}
    for r in tied:
        other = sel.predictions_by_row(r)
        if other is not None and len(other[0]) == len(mine[0]):
            tests[r] = significance.mcnemar(mine[0], mine[1], other[1], alpha=alpha)
    adjusted = dict(zip(tests, significance.holm([t.p_value for t in tests.values()]), strict=True))
    better = [r for r, t in tests.items() if t.better == "a" and adjusted[r] is not None and adjusted[r] < alpha]
    worse = [r for r, t in tests.items() if t.better == "b" and adjusted[r] is not None and adjusted[r] < alpha]
    parts = []
    if better:
        parts.append(f"makes fewer errors than {_names(sel.labels, better)}")
    if worse:
        parts.append(f"makes more errors than {_names(sel.labels, worse)}")
    if not parts:
        return ""
    return (" On the out-of-fold predictions, McNemar's test (Holm-adjusted) finds it "
            + " and ".join(parts) + ".")


def _test(sel: Selection, a: str, b: str, m: metrics.Metric, alpha: float) -> significance.PairTest:
    sa, sb = sel.fold_scores(a, m.name), sel.fold_scores(b, m.name)
    if sa is None or sb is None or len(sa) != len(sb):
        return significance.PairTest("corrected_t", None, None, "per-fold scores missing", {}, None)
    return significance.corrected_t(sa, sb, test_fraction=sel.test_fraction(a), alpha=alpha,
                                    higher_is_better=m.higher_is_better)


def _over_budget(run: dict, budgets: Mapping[str, float]) -> str | None:
    for name, limit in budgets.items():
        c = metrics.cost(name)
        value = run.get(name)
        if value is None or value != value:
            return f"no {c.label} measured (budget {limit:g} {c.unit})"
        if (value < limit) if c.higher_is_better else (value > limit):
            return f"{c.label} {value:.4g} {c.unit} is over the budget of {limit:g} {c.unit}"
    return None


def _budget_words(budgets: Mapping[str, float]) -> str:
    return ", ".join(f"{metrics.cost(k).label} {'≥' if metrics.cost(k).higher_is_better else '≤'} {v:g} "
                     f"{metrics.cost(k).unit}".strip() for k, v in budgets.items())


def _cost_key(sel: Selection, cost: str):
    c = metrics.cost(cost)

    def key(rid: str) -> tuple[float, float]:
        run = sel.run(rid)
        v = run.get(cost)
        v = np.inf if v is None or v != v else (-float(v) if c.higher_is_better else float(v))
        size = run.get("size_bytes")
        return v, np.inf if size is None or size != size else float(size)
    return key


def _sentence(sel: Selection, m: metrics.Metric, pick: str, best: str, values: dict[str, float],
              test_vs_best: significance.PairTest | None, cost: str, margin: float, beaten: list[str],
              tied: list[str], budgets: Mapping[str, float], extra: str = "") -> str:
    label = sel.labels
    pick_run, parts = sel.run(pick), []
    top = pick == best or values[pick] == values[best]  # tied for the best: no "within 0 points"
    if top:
        equal = [r for r in values if r != pick and values[r] == values[pick]]
        parts.append(f"the best {m.label} ({m.format(values[pick])}"
                     + (f", tied with {_names(label, equal)}" if equal else "") + ")")
        rival = min(tied, key=lambda r: abs(values[r] - values[pick])) if tied else None
        compared = sel.run(rival) if rival else None
    else:
        diff = values[pick] - values[best]
        p = test_vs_best.p_value if test_vs_best else None
        p_words = f"p = {p:.2g}, not significant" if p is not None and p >= 0.05 else (
            "within the margin" if abs(diff) <= margin else "")
        parts.append(f"within {_points(m, diff)} of the best {m.label} ({label[best]}"
                     + (f"; {p_words}" if p_words else "") + ")")
        compared = sel.run(best)
    if compared is not None:
        for name in dict.fromkeys((cost, "size_bytes")):
            words = _ratio_words(pick_run.get(name), compared.get(name), metrics.cost(name))
            if words:
                parts.append(words + (f" than {label[compared['run_id']]}" if top else ""))
    text = f"Ship {label[pick]}: " + ", ".join(parts) + "."
    if beaten:
        text += f" It is significantly better than {_names(label, beaten)} (corrected t-test on folds, Holm-adjusted)."
    if tied:
        text += f" On fold scores it could not be told apart from {_names(label, tied)}."
    text += extra
    if budgets:
        text += f" Budget: {_budget_words(budgets)}."
    cautions = []
    if pick_run.get("rows_seen") is True:
        cautions.append("it was scored on rows it may have been trained on")
    if pick_run.get("latency_skewed") is True:
        cautions.append("its latency was measured on a busy machine")
    if compared is not None and compared.get("latency_skewed") is True and compared["run_id"] != pick:
        cautions.append(f"{label[compared['run_id']]}'s latency, which the speed-up is measured against, was "
                        "measured on a busy machine")
    if cautions:
        text += " Caution: " + " and ".join(cautions) + "."
    return text


def _names(label: Mapping[str, str], ids: list[str], most: int = 4) -> str:
    shown = [label[r] for r in ids[:most]]
    return ", ".join(shown) + (f" and {len(ids) - most} more" if len(ids) > most else "")
