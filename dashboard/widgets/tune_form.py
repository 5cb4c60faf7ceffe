"""The new-study form of the tune page: widgets in, a checked tune request out (or nothing)."""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from dashboard import state
from dashboard.widgets.errors import guard
from engine import metrics
from engine.jobs.spec import TunePayload
from engine.tune import request, samplers, spaces
from engine.workspace import Workspace

KEY = "tune:"
CORES = os.cpu_count() or 1
SAMPLER_HELP = {"tpe": "TPE (Optuna's default; multivariate)", "random": "Random", "cmaes": "CMA-ES (one objective)",
                "gp": "Gaussian process", "nsga2": "NSGA-II (several objectives)"}
PRUNER_HELP = {"auto": "automatic (median for one objective, none for several)", "median": "Median",
               "sha": "Successive halving", "hyperband": "Hyperband", "none": "None"}


def _default_dataset(registered: pd.DataFrame) -> str:
    wine = [r.id for r in registered.itertuples() if r.name == "wine" and r.source == "builtin"]
    return wine[0] if wine else str(registered["id"].iloc[0])


def form(ws: Workspace, registered: pd.DataFrame, *, storage: str) -> tuple[TunePayload, int] | None:
    """The inputs; the checked request and the number of workers when "Start study" was pressed (errors
    shown in the form's words)."""
    labels = {r.id: f"{r.name} ({r.kind}, {r.n_rows:,} rows)" for r in registered.itertuples()}
    ids = list(labels)
    c1, c2 = st.columns(2)
    dataset_id = c1.selectbox("Dataset", ids, index=ids.index(_default_dataset(registered)), format_func=labels.get,
                              key=KEY + "dataset")
    with guard("loading the dataset") as loaded:
        dataset = state.dataset(str(ws.root), dataset_id)
    if not loaded.ok:
        return None
    fam_names = list(spaces.FAMILIES)
    family = c2.selectbox("Model family", fam_names, format_func=lambda f: spaces.FAMILIES[f].label,
                          key=KEY + "family")
    fam = spaces.FAMILIES[family]
    with st.form(KEY + "form", border=True, enter_to_submit=False):
        t1, t2, t3 = st.columns([2, 2, 2])
        if dataset.kind == "tabular":
            target = t1.selectbox("Target column", dataset.columns, index=dataset.columns.index(dataset.default_target),
                                  key=f"{KEY}target:{dataset.id}")
        else:
            target = None
            t1.text_input("Target column", value="y (image labels)", disabled=True, key=f"{KEY}target:{dataset.id}")
        task = _task_guess(dataset, target)
        metric_names = list(metrics.names(task))
        metric = t2.selectbox("Objective", metric_names, index=metric_names.index(metrics.primary(task).name),
                              format_func=lambda m: metrics.get(m).label, key=f"{KEY}metric:{task}",
                              help="the metric to optimize, on the benchmark's seeded folds")
        extra = t3.multiselect("Also optimize", ["latency", "size"], key=KEY + "extra",
                               format_func={"latency": "latency (p50 at the batch size)",
                                            "size": "size on disk"}.get,
                               help="several objectives give a Pareto set of best trials")
        constraints = st.text_input(
            "Constraints", key=KEY + "constraints", placeholder="e.g. latency_p95_ms<=2; size_bytes<=5e6",
            help="COLUMN<=VALUE or COLUMN>=VALUE, separated by ';' — a cost (latency_p95_ms, size_bytes, …) "
                 "or a metric (accuracy>=0.9). Trials that break one are kept but marked infeasible.")
        s1, s2, s3, s4 = st.columns(4)
        n_trials = int(s1.number_input("Trials", min_value=1, max_value=request.MAX_TRIALS, value=30, step=10,
                                       key=KEY + "trials"))
        sampler = s2.selectbox("Sampler", list(samplers.SAMPLERS), format_func=SAMPLER_HELP.get, key=KEY + "sampler")
        pruner = s3.selectbox("Pruner", ["auto", *samplers.PRUNERS], format_func=PRUNER_HELP.get,
                              key=KEY + "pruner", help="stops hopeless trials early, fed one value per fold "
                                                       "(scikit-learn) or per epoch (torch)")
        seed = int(s4.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1, key=KEY + "seed"))
        n1, n2, n3, n4, n5 = st.columns([1, 1, 1, 1, 2])
        cv = int(n1.number_input("Folds", min_value=2, max_value=10, value=5, step=1, key=KEY + "folds"))
        batch_size = int(n2.number_input("Latency at batch size", min_value=1, max_value=4096, value=1, step=1,
                                         key=KEY + "batch"))
        save_best = int(n3.number_input("Best trials to save", min_value=0, max_value=request.MAX_SAVE_BEST, value=3,
                                        step=1, key=KEY + "save_best",
                                        help="saved as models and benchmarked on the study's folds, "
                                             "so they show on the Compare page"))
        parallel = not storage.startswith("sqlite")
        workers = int(n4.number_input(
            "Workers", min_value=1, max_value=CORES if parallel else 1, value=1, step=1, key=KEY + "workers",
            disabled=not parallel,
            help="worker processes sharing the study (each a job you can cancel)" if parallel else
                 "the workspace's SQLite storage takes one worker; whoever runs the server can set "
                 "FRONTIER_STORAGE to a PostgreSQL URL or a journal file for more"))
        study = n5.text_input("Study name", value=request.default_study_name(family, dataset.name),
                              key=f"{KEY}study:{family}:{dataset.id}",
                              help="an existing study with the same settings is continued")
        with st.expander("Search space", icon=":material/tune:"):
            st.caption(f"The {fam.label} default space is shown; edit it (JSON or YAML) to search your own. "
                       "Types: float and int with low/high (log: true for a log scale), categorical with choices.")
            default_text = request.space_json(fam.space(task) if task in fam.tasks else ())
            space_text = st.text_area("Search space", value=default_text, height=240,
                                      key=f"{KEY}space:{family}:{task}", label_visibility="collapsed")
        submitted = st.form_submit_button("Start study", type="primary", icon=":material/play_arrow:")
    if not submitted:
        return None
    objective = ",".join([metric, *extra])
    rules = tuple(c.strip() for c in constraints.replace("\n", ";").split(";") if c.strip())
    with guard("checking the study") as checked:
        space = "" if space_text.strip() == default_text.strip() else request.space_from_text(space_text)
        payload = request.build(dataset, family=family, target=target, n_trials=n_trials, study=study.strip(),
                                storage=storage, objective=objective, constraints=rules, sampler=sampler,
                                pruner=None if pruner == "auto" else pruner, cv=cv, seed=seed,
                                batch_size=batch_size, space=space, threads=1, save_best=save_best)
    return (payload, workers) if checked.ok else None


def _task_guess(dataset, target: str | None) -> str:
    """The task the benchmark would infer for this target (classification when it cannot tell)."""
    from engine import datasets
    from engine.datasets.prepare import Live
    from engine.errors import FrontierError

    try:
        return datasets.check(Live(dataset), target=target, n_splits=2, numeric=False).task
    except FrontierError:  # the form still renders; the check on submit says what is wrong
        return "classification"
