"""Charts of a comparison that spans two datasets: each run's own classes, one set of rows per chart;
the verdict's McNemar note agrees with a hand count; an unwritable --out is refused in flag words."""

from __future__ import annotations

import numpy as np
import pytest
from frontier_support import FAST_BENCH, copy_workspace, run_cli, sample

from engine.cli import main
from engine.compare import compare, views
from engine.results import ResultStore
from engine.workspace import Workspace


@pytest.fixture(scope="module")
def mixed(populated_workspace, tmp_path_factory):
    """The five digits runs plus a logistic regression refit on wine (3 classes)."""
    ws = copy_workspace(populated_workspace, tmp_path_factory.mktemp("mixed") / "ws")
    result = run_cli("benchmark", "--data", "wine", "--model", sample("digits_logreg.skops"), "--workspace", ws,
                     "--json", "--cv", "3", *FAST_BENCH)
    assert result.returncode == 0, str(result)
    wine = result.json["runs"][0]["run_id"]
    digits = [r for r in ResultStore(Workspace(ws)).runs()["run_id"] if r != wine]
    return Workspace(ws), wine, digits


def _classes_shown(fig) -> list[str]:
    return list(fig.data[0].x)


def test_confusion_matrices_use_each_runs_classes_and_one_set_of_rows(mixed):
    ws, wine, digits = mixed
    c = compare(ws, [wine, *digits])
    assert set(views.focus_runs(c)) == set(digits)  # the largest set of rows
    figs = views.confusion_charts(c)
    assert len(figs) == len(digits) and all(len(_classes_shown(f)) == 10 for f in figs)
    assert "digits only" in views.focus_note(c)
    on_wine = compare(ws, [wine, *digits], baseline=wine)
    assert views.focus_runs(on_wine) == [wine]
    (fig,) = views.confusion_charts(on_wine)
    assert len(_classes_shown(fig)) == 3


def test_curves_and_folds_draw_one_set_of_rows(mixed):
    ws, wine, digits = mixed
    c = compare(ws, [wine, *digits])
    figs, _ = views.curve_charts(c)
    names = {t.name for t in figs[0].data if t.name and "chance" not in t.name}
    assert len(names) == len(digits) and not any("wine" in n for n in names)
    folds = views.fold_chart(c)
    assert len({t.legendgroup for t in folds.data}) == len(digits)


def test_the_mcnemar_note_names_runs_a_hand_count_separates(mixed):
    ws, _, digits = mixed
    c = compare(ws, digits)
    text = c.verdict.text
    if "McNemar" not in text:
        pytest.skip("no run separated by McNemar alone in this fixture")
    sel = c.selection
    y, mine = sel.predictions_by_row(c.verdict.pick)
    named = [r for r in c.verdict.tied if sel.labels[r] in text.split("McNemar", 1)[1]]
    assert named
    for r in named:
        _, other = sel.predictions_by_row(r)
        only_pick = int(np.sum((mine == y) & (other != y)))
        only_other = int(np.sum((mine != y) & (other == y)))
        assert only_pick > only_other  # "fewer errors" by a hand count


def test_an_unwritable_report_path_is_refused_in_flag_words(mixed, capsys):
    ws, wine, _ = mixed
    assert main(["report", "--out", "/proc/self/report.html", "--run", wine, "--workspace", str(ws.root)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --out: cannot write")
