"""Studies: read back with Optuna itself, trial scores equal scikit-learn's on the benchmark's folds,
best trials are the (feasible) non-dominated ones, a study refuses a worker asking another question."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from sklearn.model_selection import StratifiedKFold, cross_val_score

from engine.datasets.builtins import builtin
from engine.datasets.prepare import prepare
from engine.errors import FrontierError
from engine.tune import spaces
from engine.tune.objective import parse_objective
from engine.tune.study import StudySpec, best_trials, feasible, open_study, optimize


@pytest.fixture(scope="module")
def digits():
    return prepare(builtin("digits"), target="target", n_splits=3)


def spec_for(prep, objective: str = "accuracy", constraints=(), **kw) -> StudySpec:
    return StudySpec(family=kw.pop("family", "logreg"), dataset_id="digits", target="target", task=prep.task,
                     cv=3, seed=0, objective=parse_objective(objective, prep.task, constraints),
                     sampler=kw.pop("sampler", "random"), pruner=kw.pop("pruner", "none"), **kw)


def test_a_study_is_read_back_by_optuna_and_scores_match_scikit_learn(digits, tmp_path):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    spec = spec_for(digits)
    study = open_study(spec, name="s1", storage=url)
    seen = []
    optimize(study, spec, digits, n_trials=4, on_trial=lambda done, total: seen.append((done, total)))
    again = optuna.load_study(study_name="s1", storage=url)
    trials = again.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(trials) == 4 and seen[-1] == (4, 4)
    assert again.user_attrs["frontier"]["family"] == "logreg"
    # oracle: the same estimator, the benchmark's folds, scikit-learn's own cross-validation
    t = trials[0]
    est = spaces.family("logreg").build(t.params, task="classification", seed=0)
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    expected = cross_val_score(est, digits.X, digits.y_encoded, cv=cv, scoring="accuracy").mean()
    assert t.values[0] == pytest.approx(expected, abs=1e-12)
    # asking for the same total again runs nothing more
    optimize(open_study(spec, name="s1", storage=url), spec, digits, n_trials=4)
    assert len(optuna.load_study(study_name="s1", storage=url).trials) == 4


def test_a_worker_asking_another_question_is_refused(digits, tmp_path):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    open_study(spec_for(digits), name="s", storage=url)
    with pytest.raises(FrontierError, match="exists with another objective"):
        open_study(spec_for(digits, "f1_macro"), name="s", storage=url)


def test_multi_objective_best_trials_are_the_non_dominated_ones(digits, tmp_path):
    spec = spec_for(digits, "accuracy,size", sampler="nsga2")
    study = open_study(spec, name="mo", storage=f"sqlite:///{tmp_path / 'db.sqlite'}")
    optimize(study, spec, digits, n_trials=6)
    best = best_trials(study)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]

    def dominates(p, q):  # accuracy up, size down
        return p[0] >= q[0] and p[1] <= q[1] and (p[0] > q[0] or p[1] < q[1])
    oracle = {t.number for t in done if not any(dominates(o.values, t.values) for o in done)}
    assert {b.number for b in best} == oracle


def test_constrained_best_is_feasible_and_no_feasible_trial_beats_it(digits, tmp_path):
    spec = spec_for(digits, "accuracy", constraints=["size_bytes<=12000"])
    study = open_study(spec, name="c", storage=f"sqlite:///{tmp_path / 'db.sqlite'}")
    optimize(study, spec, digits, n_trials=6)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    for t in done:  # the recorded constraint is the measured size minus the limit
        assert t.user_attrs["constraints"] == [pytest.approx(t.user_attrs["size_bytes"] - 12000)]
    (best,) = best_trials(study)
    ok = [t for t in done if feasible(t)]
    if ok:
        assert best.feasible and best.values[0] == max(t.values[0] for t in ok)
    else:
        assert not best.feasible
    assert np.isfinite(best.values[0])
