"""The tune page's views: a running study live, several studies compared, one study in detail."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import nav, state
from dashboard.text import md
from dashboard.widgets.errors import guard
from engine.charts import tune as charts
from engine.errors import FrontierError
from engine.jobs.spec import MAX_SAVED_TRIALS
from engine.tune import history
from engine.workspace import Workspace

KEY = "tune:"
LIVE_S = 2.0
PAGE_ROWS = 50
SAVE_REQUEST = KEY + "save_request"  # trials the user asked to save; the page starts the job
GROUP_BY = {"sampler": "sampler", "pruner": "pruner", "family": "model family", "seed": "seed",
            "study": "nothing (each study alone)"}


def objective_labels(row: pd.Series | dict[str, Any], n: int) -> list[str]:
    names = [x.strip() for x in str(row.get("objective") or "").split(",") if x.strip()]
    names = names if len(names) == n else [f"objective {i}" for i in range(n)]
    return [charts.objective_label(x) for x in names]


def _log(url: str, row: pd.Series) -> history.TrialLog:
    return state.trial_log(url, str(row["study"]), str(row["started"]))


def release(job_id: str, request: dict[str, Any]) -> None:
    """Once per session and job: fail the trials a stopped tune job left running (not counted)."""
    done = st.session_state.setdefault(KEY + "released", set())
    if job_id in done:
        return
    from engine.tune.run import release_trials

    with guard("closing the stopped job's trials"):
        release_trials(str(request.get("storage") or ""), str(request.get("study") or ""), job_id)
        done.add(job_id)


# ------------------------------------------------------------------ live
def live(url: str, study: str) -> None:
    """The followed job's study, redrawn every few seconds while it runs (only this part reruns)."""
    @st.fragment(run_every=LIVE_S)
    def _draw() -> None:
        rows = state.studies(url)
        match = rows[rows["study"] == study]
        if match.empty:
            st.caption("Waiting for the study's first trial…")
            return
        row = match.iloc[0]
        log = _log(url, row)
        trials = log.refresh()
        maximize = log.directions[0] == "maximize"
        n = history.counts(trials)
        st.caption(f"{len(trials):,} trials finished ({n['complete']:,} complete, {n['pruned']:,} pruned, "
                   f"{n['failed']:,} failed, {n['infeasible']:,} infeasible), {log.n_running} running")
        info = charts.history_info(trials, label=objective_labels(row, log.n_objectives)[0], maximize=maximize)
        st.plotly_chart(charts.history_figure(info, title=f"{study}: trials so far"), key=f"{KEY}live:{study}")
    _draw()


# ------------------------------------------------------------------ several studies
def compare(url: str, rows: pd.DataFrame) -> None:
    """Best-so-far of the chosen studies (bands over repeats), time to a target, final best and spread;
    hypervolume for multi-objective studies. Only studies asking the same question are compared."""
    # the same question: objective, directions, constraints and data (a family or sampler may differ)
    question = rows[["objective", "directions", "constraints", "dataset_id"]].astype(str).agg("|".join, axis=1)
    common = question.value_counts(sort=True).index[0]  # the question most chosen studies ask (ties: first)
    same = rows[question == common]
    first = same.iloc[0]
    left_out = rows.loc[question != common, "study"].tolist()
    if left_out:
        asks = f"{first['objective'] or '?'}" + (f" under {first['constraints']}" if first["constraints"] else "")
        st.warning(md(f"Left out, since they optimize something other than {asks} on {first['study']}'s data: "
                      f"{', '.join(left_out)}"), icon=":material/warning:")
    c1, c2, c3 = st.columns([2, 2, 2])
    group_by = c1.selectbox("Group repeats by", list(GROUP_BY), format_func=GROUP_BY.get, key=KEY + "group_by",
                            help="studies that share this setting are repeats: drawn as a median with a "
                                 "min–max band")
    by = c2.segmented_control("Against", list(charts.AXES), format_func=charts.AXES.get, default="order",
                              key=KEY + "against") or "order"
    target = c3.number_input("Target", value=None, key=KEY + "target", format="%.4g",
                             help="time-to-target: trials and seconds until the best first reaches it")
    n_obj = len(str(first["directions"]).split(","))
    labels = objective_labels(first, n_obj)
    maximize = [d.strip() == "maximize" for d in str(first["directions"]).split(",")]
    series = []
    for _, r in same.iterrows():
        group = str(r["study"]) if group_by == "study" else f"{GROUP_BY[group_by]} {r[group_by]}"
        series.append(charts.StudySeries(str(r["study"]), group, _log(url, r).refresh()))
    info = charts.best_so_far_info(series, label=labels[0], maximize=maximize[0], by=by,
                                   target=None if target is None or not math.isfinite(target) else float(target))
    st.plotly_chart(charts.best_so_far_figure(info, title=f"Best {labels[0]} so far"), key=KEY + "bsf")
    for note in info.notes:
        st.caption(note)
    no_target = ("reached_target", "median_trials_to_target", "median_seconds_to_target", "trials_to_target",
                 "seconds_to_target") if info.target is None else ()
    groups = info.groups.drop(columns=list(no_target), errors="ignore")
    summary = info.summary.drop(columns=list(no_target), errors="ignore")
    st.dataframe(groups, hide_index=True, key=KEY + "groups_table", column_config=_number_columns(groups))
    st.dataframe(summary, hide_index=True, key=KEY + "summary_table", column_config=_number_columns(summary))
    if n_obj > 1:
        with guard("computing the hypervolume") as hv:
            hinfo = charts.hypervolume_info(series, labels=labels, maximize=maximize)
        if hv.ok:
            st.plotly_chart(charts.hypervolume_figure(hinfo, by=by, title="Hypervolume over trials"),
                            key=KEY + "hv")


def _number_columns(frame: pd.DataFrame) -> dict[str, Any]:
    return {c: st.column_config.NumberColumn(c.replace("_", " "), format="%.4g")
            for c in frame.columns if pd.api.types.is_float_dtype(frame[c])}


# ------------------------------------------------------------------ one study
def detail(ws: Workspace, url: str, row: pd.Series, *, may_open_dashboard: bool) -> None:
    """Counts, best trials (with their saved runs and a Compare link), Optuna's plots, the trials table."""
    log = _log(url, row)
    trials = log.refresh()
    n = history.counts(trials)
    labels = objective_labels(row, log.n_objectives)
    m = st.columns(6)
    m[0].metric("Trials finished", f"{len(trials):,}", help=f"of {row['requested']} requested"
                if pd.notna(row["requested"]) else None)
    m[1].metric("Complete", f"{n['complete']:,}")
    m[2].metric("Pruned", f"{n['pruned']:,}")
    not_counted = [f"{n['retried']:,} whose worker stopped and which were run again" if n["retried"] else "",
                   f"{n['stopped']:,} stopped with their job" if n["stopped"] else ""]
    m[3].metric("Failed", f"{n['failed']:,}", help="raised an error" + (
        f"; not counting {' and '.join(x for x in not_counted if x)}" if any(not_counted) else ""))
    m[4].metric("Infeasible", f"{n['infeasible']:,}", help="completed but breaking a constraint")
    stale = f"; {log.n_stale} of them silent past the heartbeat's grace period (their worker stopped: a " \
        "worker joining the study fails and retries them)" if log.n_stale else ""
    m[5].metric("Running", f"{log.n_running:,}", help=f"trials started and not finished{stale}")
    if log.n_stale:
        st.warning(f"{log.n_stale} running trial(s) have had no heartbeat past the grace period: their worker was "
                   "stopped. Start the study again (same settings) to fail and retry them.", icon=":material/warning:")
    _best_trials(ws, log, row, labels)
    kind = st.segmented_control("Chart", list(charts.OPTUNA_PLOTS), format_func=charts.OPTUNA_PLOTS.get,
                                default="history", key=KEY + "plot") or "history"
    with guard("drawing the chart") as drawn:
        fig, total = _optuna_figure(url, str(row["study"]), str(row["started"]), kind, len(trials),
                                    tuple(labels), bool(row["constraints"]))
    if drawn.ok:
        if total > charts.OPTUNA_SAMPLE:
            st.caption(f"Drawn from {charts.OPTUNA_SAMPLE:,} of {total:,} trials (the best ones always among them).")
        st.plotly_chart(fig, key=f"{KEY}optuna:{kind}")
    _trials_table(trials, labels, str(row["constraints"] or ""))
    _optuna_dashboard(ws, url, may_open_dashboard)


@st.cache_data(max_entries=32, show_spinner="Drawing…")
def _optuna_figure(url: str, study: str, started: str, kind: str, n_trials: int, labels: tuple[str, ...],
                   constrained: bool):
    """Optuna's plot on (a sample of) the study; cached per trial count, so a finished study draws once."""
    del n_trials  # cache key only
    log = state.trial_log(url, study, started)
    sample, total = charts.sample_study(log.study)
    return charts.optuna_figure(sample, kind, labels=labels, constrained=constrained), total


def saved_runs(ws: Workspace, study: str) -> dict[int, str]:
    """Trial number -> stored run of the models saved from ``study`` (read from the runs' lineage)."""
    from engine.tune.run import trial_of

    runs = state.runs(ws)
    if runs.empty or "lineage" not in runs.columns:
        return {}
    out: dict[int, str] = {}
    for run_id, lineage in zip(runs["run_id"], runs["lineage"], strict=True):
        hit = trial_of(lineage)
        if hit is not None and hit[0] == study:
            out.setdefault(hit[1], str(run_id))  # newest first: the latest benchmark of that trial
    return out


def _best_trials(ws: Workspace, log: history.TrialLog, row: pd.Series, labels: Sequence[str]) -> None:
    from engine.tune.study import best_trials

    best = best_trials(log.study)
    if not best:
        return
    saved = saved_runs(ws, str(row["study"]))
    rows = [{"trial": b.number, **{lab: v for lab, v in zip(labels, b.values, strict=False)},
             "feasible": b.feasible, "params": json.dumps(b.params, default=str)[:300],
             "stored run": saved.get(b.number, "not saved")} for b in best[:50]]
    title = "Pareto set" if log.n_objectives > 1 else "Best trial"
    st.markdown(f"**{title}** — {len(best)} trial(s)"
                + ("" if all(b.feasible for b in best) else " · no trial meets every constraint: best overall shown"))
    st.dataframe(pd.DataFrame(rows), hide_index=True, key=KEY + "best_table")
    run_ids = list(dict.fromkeys([saved[b.number] for b in best if b.number in saved] + list(saved.values())))
    if run_ids:
        st.page_link(nav.compare_page(), label=f"Compare the {min(len(run_ids), 50)} saved trial(s)",
                     icon=":material/compare_arrows:",
                     query_params={"runs": ",".join(run_ids[:50]), **_budgets(str(row["constraints"]))})


def _budgets(constraints: str) -> dict[str, str]:
    """The study's cost constraints as the Compare page's budgets, so its verdict keeps to them."""
    out: dict[str, str] = {}
    for column, op, limit in _constraints(constraints):
        if column == "latency_p95_ms" and op == "<=":
            out["max_p95"] = f"{limit:g}"
        elif column == "size_bytes" and op == "<=":
            out["max_size_mb"] = f"{limit / 2**20:g}"  # the Compare page counts MB as 2**20 bytes
    return out


def _constraints(text: str) -> list[tuple[str, str, float]]:
    """A study's constraints (``a<=1; b>=2``, from its attributes: anyone's to write) as parsed limits;
    unreadable ones are left out."""
    from engine import metrics

    out = []
    for part in (p.strip() for p in text.split(";") if p.strip()):
        try:
            out.append(metrics.parse_limit(part, opt="constraint"))
        except FrontierError:
            continue
    return out


def _constraint_columns(constraints: str) -> list[str]:
    return list(dict.fromkeys(column for column, _, _ in _constraints(constraints)))


def _trials_table(trials: pd.DataFrame, labels: Sequence[str], constraints: str) -> None:
    """Server-side pages: only one page of rows is sent to the browser, whatever the study's size."""
    with st.expander(f"All trials ({len(trials):,})", icon=":material/table_rows:"):
        value_cols = {f"value_{i}": lab for i, lab in enumerate(labels)}
        sorts = {"number": "trial number", **value_cols, "duration_s": "duration"}
        c1, c2, c3 = st.columns([2, 1, 1])
        sort = c1.selectbox("Sort by", list(sorts), format_func=sorts.get, key=KEY + "sort")
        descending = c2.toggle("Descending", key=KEY + "desc")
        n_pages = max(1, math.ceil(len(trials) / PAGE_ROWS))
        page = int(c3.number_input(f"Page (of {n_pages:,})", min_value=1, max_value=n_pages, value=1, step=1,
                                   key=KEY + "page"))
        part, _ = history.page_of(trials, page=page, size=PAGE_ROWS, sort=sort, ascending=not descending)
        measured = [c for c in _constraint_columns(constraints) if c not in value_cols.values()]
        shown = part.rename(columns=value_cols).assign(
            params=part["params"].map(lambda p: json.dumps(p, default=str)[:300]),
            feasible=part["feasible"].where(part["state"] == "COMPLETE", None),  # only a complete trial is
            **{c: part["measured"].map(lambda m, c=c: m.get(c)) for c in measured})
        st.dataframe(shown[["number", "state", "feasible", *value_cols.values(), *measured, "duration_s", "params"]],
                     hide_index=True, key=KEY + "trials_table")
        complete = part.loc[part["state"] == "COMPLETE", "number"].tolist()
        chosen = st.multiselect("Save and benchmark trials", complete, key=KEY + "save_trials",
                                max_selections=MAX_SAVED_TRIALS, placeholder="complete trials on this page",
                                help="refit on every row, saved as models and benchmarked on the study's folds, "
                                     "so they show on the Compare page")
        if st.button("Save and benchmark", key=KEY + "save", disabled=not chosen, icon=":material/save:"):
            st.session_state[SAVE_REQUEST] = [int(n) for n in chosen]


def _optuna_dashboard(ws: Workspace, url: str, allowed: bool) -> None:
    """Start (or find) the read-only optuna-dashboard on this storage, link to it, stop it."""
    if not allowed:
        st.caption("optuna-dashboard has no sign-in, so on a team server only an admin may start it "
                   "(bound to 127.0.0.1: reach it through an SSH tunnel).")
        return
    from engine.tune import optuna_dashboard

    with guard("looking for optuna-dashboard") as looked:
        server = optuna_dashboard.running(ws, url)
    if not looked.ok:
        return
    c1, c2, _ = st.columns([2, 2, 3])
    if server is None:
        if c1.button("Open in optuna-dashboard", key=KEY + "optuna_dashboard", icon=":material/open_in_new:",
                     help="starts the real optuna-dashboard on this storage, read-only, on this machine only "
                          "(127.0.0.1)"):
            with guard("starting optuna-dashboard") as started:
                optuna_dashboard.start(url, workspace=ws)
            if started.ok:
                st.rerun()
        return
    c1.link_button("optuna-dashboard", server.url, icon=":material/open_in_new:")
    if c2.button("Stop optuna-dashboard", key=KEY + "optuna_stop", icon=":material/stop_circle:",
                 help="it keeps running until stopped, even after this page is closed"):
        with guard("stopping optuna-dashboard"):
            optuna_dashboard.stop(server)
        st.rerun()
    st.caption(f"Running read-only at {server.url} on this machine only (127.0.0.1): from another machine, "
               "tunnel with ssh -L. It keeps running until stopped.")
