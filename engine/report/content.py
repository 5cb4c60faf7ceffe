"""What the HTML report of a comparison holds: the page's views, as sections.

The sections call :mod:`engine.compare.views`, the same functions the
compare page calls, so the report shows what the page showed. Curves and
latency samples are thinned to :data:`MAX_POINTS` per trace so a 100-run
report stays small; the report says so where it happened.
"""

from __future__ import annotations

import datetime as dt

from engine import ENGINE_VERSION
from engine.compare import views
from engine.compare.build import Comparison
from engine.compare.selection import MAX_SELECTED
from engine.errors import FrontierError
from engine.report.html import Report, Section, Table
from engine.results import ResultStore
from engine.workspace import Workspace

MAX_POINTS = 150  # per curve / per latency distribution in the report
MAX_PAIR_ROWS = 150  # pairwise rows listed; beyond, the pairs of the pick and the baseline


def default_runs(ws: Workspace) -> list[str]:
    """The runs of the most recent dataset: those sharing the newest run's rows and folds."""
    from engine.compare.selection import group_key

    runs = ResultStore(ws).runs()
    if runs.empty:
        raise FrontierError(f"no runs in {ws.root}: run `python -m engine benchmark` first")
    newest = group_key(runs.iloc[0].to_dict())
    keys = [group_key(r) for r in runs.to_dict("records")]
    ids = [rid for rid, k in zip(runs["run_id"], keys, strict=True) if k == newest]
    return ids[:MAX_SELECTED]


def comparison_report(c: Comparison, *, title: str | None = None) -> Report:
    sel = c.selection
    metric = c.verdict.metric
    names = " / ".join(dict.fromkeys(sel.group_names.values()))
    table = views.display_table(c)
    sections = [Section("Runs side by side", tables=[Table(
        f"{len(sel.run_ids)} runs on {names}", table.frame, highlight=table.best,
        note="mean ± std over folds; CI: percentile bootstrap of the fold mean; Δ: difference from the baseline "
             "with the corrected t-test's interval; best value per column marked within each set of rows")])]
    sections.append(Section("Pareto front", figures=[views.pareto_chart(c)],
                            notes=["Highlighted runs are not beaten on both axes by any other run."]))
    sig_figs = [views.pvalue_chart(c, metric)]
    if c.table.baseline:
        sig_figs.insert(0, views.difference_chart(c, metric))
    focus = [r for r in (c.verdict.pick, c.table.baseline) if r]
    pairs = views.pairwise_display(c, metric)
    pairs_title = "Pairwise tests"
    if len(pairs) > MAX_PAIR_ROWS and focus:
        pairs = views.pairwise_display(c, metric, involving=focus)
        pairs_title = (f"Pairwise tests involving {' and '.join(sel.labels[r] for r in focus)} "
                 f"(the p-value matrix above covers every pair)")
    sections.append(Section("Significance", figures=sig_figs, tables=[Table(
        pairs_title, pairs,
        note="corrected_t: Nadeau and Bengio's corrected resampled t-test on per-fold scores; mcnemar: McNemar's "
             "test on out-of-fold predictions; bayes_corr_t: Bayesian correlated t-test with a region of practical "
             "equivalence. p (Holm): adjusted over all pairs of one test and metric.")]))
    res, cd_fig = views.friedman_view(c, metric)
    if res is not None:
        sections.append(Section("Across datasets", figures=[cd_fig], notes=[res.verdict]))
    focus = views.focus_note(c)
    curves, thinned = views.curve_charts(c, max_points=MAX_POINTS)
    sections.append(Section("Curves", figures=curves, notes=[
        *([focus] if focus else []), *([f"Curves thinned to at most {MAX_POINTS} points each for size."]
                                       if thinned else [])]))
    confusion = views.confusion_charts(c)
    if confusion:
        notes = [] if len(views.focus_runs(c)) <= views.MAX_CONFUSION else [
            f"Confusion matrices of the first {views.MAX_CONFUSION} runs."]
        pair = views.default_pair(c)
        figs = [*confusion, views.confusion_difference_chart(c, *pair)] if pair else confusion
        sections.append(Section("Confusion matrices", figures=figs, notes=notes))
    sections.append(Section("Per-fold scores", figures=[views.fold_chart(c, metric)]))
    latency, thinned = views.latency_charts(c, batch_size=sel.batch_size or 1, max_points=MAX_POINTS * 2)
    sections.append(Section("Latency", figures=latency, notes=[
        f"Latency distributions show at most {MAX_POINTS * 2} evenly spaced calls per run; the table's "
        "quantiles use every call."] if thinned else []))
    if not c.params.empty:
        sections.append(Section("What differs", tables=[Table("Parameters, settings and environment that differ",
                                                               c.params.reset_index())]))
    return Report(
        title=title or f"Frontier comparison: {names}",
        verdict=c.verdict.text, sections=sections, warnings=list(c.warnings),
        provenance=views.provenance(c) | {"report": {"engine": ENGINE_VERSION, "runs": len(sel.run_ids),
                                                     "baseline": c.table.baseline or "none"}},
        generated_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
