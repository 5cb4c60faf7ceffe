"""Tuning: the engine's study loop against bare Optuna, the sampler's cost as a study grows, and
two workers against one on PostgreSQL.

* Engine overhead — 200 trials of a trivial objective (one float, a quadratic) through
  ``engine.tune.study.open_study`` + ``optimize`` (the exact-total count, the per-trial seeding,
  the progress callback) on the engine's storage (``open_storage``: Optuna's ``RDBStorage`` on a
  SQLite file, with heartbeats) against ``optuna.create_study`` + ``Study.optimize`` with the
  same seeded TPE sampler on the same storage (the goal), and on a plain ``sqlite:///`` URL
  without heartbeats (recorded: what the heartbeat costs a trivial trial); interleaved, median.
* Sampler cost — the time for the default sampler (``make_sampler("tpe")``) to ask for a trial
  and draw a space of the default family (``hist_gradient_boosting``: two log floats, two ints)
  in a study holding 1,000 completed trials against one holding 100 (pre-filled with
  ``add_trials``, in memory, so only the sampler is timed); interleaved asks, median.
* Scale-out — an objective that sleeps 0.5 s, 40 trials, on a PostgreSQL server
  (``tests/engine/tune/postgres_server.py``), run by 2 worker processes against 1; each worker
  is started, imports and opens the study before the clock starts (a barrier), and the run ends
  when the last worker returns. Each run also checks that the study ends with exactly 40 trials.
"""

from __future__ import annotations

import importlib.util
import multiprocessing as mp
import statistics
import time
from typing import Any

from benchmarks.common import ROOT, row, scratch

TRIALS = 200
SLEEP_S = 0.5
SCALE_TRIALS = 40


def _spec(sampler: str = "tpe"):
    from engine.tune.objective import parse_objective
    from engine.tune.study import StudySpec

    return StudySpec(family="logreg", dataset_id="bench", target="y", task="classification", cv=2, seed=0,
                     objective=parse_objective("accuracy", "classification", ()), sampler=sampler, pruner="none")


def _quadratic(trial) -> float:
    return (trial.suggest_float("x", -10, 10) - 2) ** 2


# ---- engine overhead --------------------------------------------------------------------------

def _bare(url: str, name: str, storage: Any = None) -> float:
    import optuna

    t0 = time.perf_counter()
    study = optuna.create_study(study_name=name, storage=storage or url, sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(_quadratic, n_trials=TRIALS)
    return time.perf_counter() - t0


def _engine(url: str, name: str) -> float:
    from engine.tune.storage import open_storage
    from engine.tune.study import open_study, optimize

    spec = _spec()
    t0 = time.perf_counter()
    study = open_study(spec, name=name, storage=open_storage(url))
    optimize(study, spec, None, n_trials=TRIALS, objective=_quadratic, on_trial=lambda done, total: None)
    elapsed = time.perf_counter() - t0
    assert len(study.trials) == TRIALS
    return elapsed


def bench_engine_overhead(repeats: int = 5) -> list[dict[str, Any]]:
    import optuna

    from engine.tune.storage import open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    plain, beating, ours = [], [], []
    with scratch() as tmp:
        for i in range(repeats):  # interleaved; a fresh file for each run
            plain.append(_bare(f"sqlite:///{tmp / f'plain{i}.db'}", "bare"))
            url = f"sqlite:///{tmp / f'beat{i}.db'}"
            beating.append(_bare(url, "bare", open_storage(url)))
            ours.append(_engine(f"sqlite:///{tmp / f'engine{i}.db'}", "engine"))
    p, b, o = statistics.median(plain), statistics.median(beating), statistics.median(ours)
    what = f"{TRIALS} trials of a trivial objective (one float), seeded TPE, a SQLite file"
    return [
        row(f"{what}: engine open_study + optimize (exact total, per-trial seeds, progress) / optuna create_study + "
            "optimize on the same storage (the engine's: RDBStorage with its 60 s heartbeat and retry callback), "
            f"median of {repeats} interleaved", f"{b:.2f} s", f"{o:.2f} s", o / b, "≤ 1.2", o / b <= 1.2),
        row(f"{what}: the same engine run / optuna on a plain sqlite:/// URL (no heartbeat; the difference is the "
            "heartbeat thread's write racing the trial's reads on one SQLite file)", f"{p:.2f} s", f"{o:.2f} s",
            o / p, "(recorded)", None),
    ]


# ---- sampler cost -----------------------------------------------------------------------------

def _prefilled(n: int):
    import optuna

    from engine.tune import spaces
    from engine.tune.samplers import make_sampler

    space = spaces.family("hist_gradient_boosting").space("classification")
    filler = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=n))
    for _ in range(n):
        trial = filler.ask()
        params = spaces.suggest(trial, space)
        filler.tell(trial, params["learning_rate"] * params["max_iter"] / 300)
    study = optuna.create_study(direction="maximize",
                                sampler=make_sampler("tpe", seed=0, n_objectives=1, constrained=False))
    study.add_trials(filler.trials)
    return study, space


def bench_sampler_cost(asks: int = 15) -> dict[str, Any]:
    import optuna

    from engine.tune import spaces

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    small, large = _prefilled(100), _prefilled(1000)
    times: dict[int, list[float]] = {100: [], 1000: []}
    for _ in range(asks):  # interleaved; each ask is told FAIL, which TPE does not learn from
        for n, (study, space) in ((100, small), (1000, large)):
            t0 = time.perf_counter()
            trial = study.ask()
            spaces.suggest(trial, space)
            times[n].append(time.perf_counter() - t0)
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
    at100, at1000 = statistics.median(times[100]), statistics.median(times[1000])
    return row("default sampler (seeded TPE, multivariate) asking for one trial of the default family's space "
               f"(hist_gradient_boosting, 4 parameters), median of {asks} interleaved asks: study of 1,000 "
               "completed trials / 100", f"{at100 * 1e3:.1f} ms", f"{at1000 * 1e3:.1f} ms", at1000 / at100,
               "(recorded; ≤ 10x, linear in the trials, expected)", None)


# ---- scale-out on PostgreSQL ------------------------------------------------------------------

def _server_module():
    path = ROOT / "tests" / "engine" / "tune" / "postgres_server.py"
    spec = importlib.util.spec_from_file_location("frontier_postgres_server", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sleepy(trial) -> float:
    x = trial.suggest_float("x", -10, 10)
    time.sleep(SLEEP_S)
    return (x - 2) ** 2


def _worker(url: str, name: str, ready, go, done) -> None:
    from engine.tune.storage import open_storage
    from engine.tune.study import open_study, optimize

    spec = _spec()
    study = open_study(spec, name=name, storage=open_storage(url))
    ready.release()
    go.wait()
    optimize(study, spec, None, n_trials=SCALE_TRIALS, objective=_sleepy)
    done.put(time.perf_counter())


def _scale_run(url: str, name: str, workers: int) -> float:
    """Seconds from the start signal until the last of ``workers`` processes has finished the study."""
    import optuna

    from engine.tune.storage import open_storage
    from engine.tune.study import open_study, tally

    ctx = mp.get_context("spawn")
    open_study(_spec(), name=name, storage=open_storage(url))  # made once, joined by every worker
    ready, go, done = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(url, name, ready, go, done)) for _ in range(workers)]
    for p in procs:
        p.start()
    for _ in procs:
        if not ready.acquire(timeout=120):
            raise RuntimeError("a worker did not start")
    t0 = time.perf_counter()
    go.set()
    ends = [done.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        if p.exitcode != 0:
            raise RuntimeError(f"a worker exited with {p.exitcode}")
    counted = tally(optuna.load_study(study_name=name, storage=open_storage(url, heartbeat_s=None)).trials)
    if counted.counted != SCALE_TRIALS:
        raise RuntimeError(f"the study ended with {counted.counted} trials, not {SCALE_TRIALS}")
    return max(ends) - t0


def bench_scale_out(repeats: int = 2) -> dict[str, Any]:
    server = _server_module()
    reason = server.missing_reason()
    if reason:
        return row(f"scale-out on PostgreSQL: not measured ({reason})", "—", "—", float("nan"), "≥ 1.7x", None)
    one, two = [], []
    with server.postgres_server() as url:
        url = url.replace("postgresql://", "postgresql+psycopg2://")
        for i in range(repeats):  # interleaved
            one.append(_scale_run(url, f"one{i}", 1))
            two.append(_scale_run(url, f"two{i}", 2))
    o, t = statistics.median(one), statistics.median(two)
    return row(f"{SCALE_TRIALS} trials of an objective sleeping {SLEEP_S} s on PostgreSQL, exactly {SCALE_TRIALS} "
               f"each run: 1 worker process / 2 (speed-up; start-up excluded, median of {repeats} interleaved)",
               f"{o:.1f} s", f"{t:.1f} s", o / t, "≥ 1.7x", o / t >= 1.7)


def bench_tune() -> list[dict[str, Any]]:
    return [*bench_engine_overhead(), bench_sampler_cost(), bench_scale_out()]


if __name__ == "__main__":  # python -m benchmarks.tune: print the rows
    for r in bench_tune():
        print(r)
