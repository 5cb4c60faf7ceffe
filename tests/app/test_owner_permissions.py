"""Owners: everyone sees everything; only an item's owner (or an admin) is offered, and allowed, to delete it."""

from __future__ import annotations

import pytest
from app_support import UPLOAD_PAGE, captions, signed_in_app, successes
from test_benchmark_page import LOGREG, submit_directly

from dashboard import actions
from engine import datasets, jobs, models
from engine.errors import FrontierError
from engine.owners import Actor
from engine.results import ResultStore, RunRecord


def _skops(seed: int) -> bytes:
    import skops.io as sio
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    return sio.dumps(LogisticRegression(max_iter=200 + seed).fit(X, y))


@pytest.fixture
def owned(workspace):
    """A model and a dataset of alice's, one model of bob's."""
    alice_model = models.register_bytes(workspace, _skops(1), "alice.skops", owner="alice")
    bob_model = models.register_bytes(workspace, _skops(2), "bob.skops", owner="bob")
    alice_data = datasets.register(workspace, datasets.read_bytes(b"a,b,y\n1,2,0\n3,4,1\n", name="alice.csv"),
                                   owner="alice")
    return alice_model, bob_model, alice_data


def _upload_page(user: str):
    at = signed_in_app(user)
    at.switch_page(UPLOAD_PAGE).run()
    assert not at.exception
    return at


def test_everyone_sees_every_item_and_its_owner(owned):
    at = _upload_page("bob")
    table = at.dataframe[0].value.set_index("name")
    assert table.loc["alice.skops", "owner"] == "alice" and table.loc["bob.skops", "owner"] == "bob"
    assert at.dataframe[1].value.set_index("name").loc["alice.csv", "owner"] == "alice"


def test_the_delete_control_offers_only_your_own_items(owned):
    _, bob_model, _ = owned
    at = _upload_page("bob")
    assert at.selectbox(key="upload:model_delete:choice").options == [f"{bob_model.name} · skops"]
    assert not [s for s in at.selectbox if s.key == "upload:dataset_delete:choice"]
    assert any("none of these is yours" in c for c in captions(at))
    at.selectbox(key="upload:model_delete:choice").set_value(bob_model.id).run()
    at.button(key="upload:model_delete:ask").click().run()
    at.button(key="upload:model_delete:confirm").click().run()
    assert any("Deleted bob.skops" in s for s in successes(at))


def test_an_admin_is_offered_everything(owned):
    at = _upload_page("carol")
    options = at.selectbox(key="upload:model_delete:choice").options
    assert "alice.skops · skops" in options and "bob.skops · skops" in options
    assert "Logistic regression (scikit-learn) · skops" in options  # shared samples: admins only


def test_deleting_someone_elses_model_or_dataset_is_refused(workspace, owned):
    """Attack: call the delete action with a teammate's id (a hidden option is not a permission check)."""
    alice_model, _, alice_data = owned
    with pytest.raises(FrontierError, match="alice's"):
        actions.delete_model(workspace, alice_model.id, actor=Actor("bob"))
    with pytest.raises(FrontierError, match="alice's"):
        actions.delete_dataset(workspace, alice_data.id, actor=Actor("bob"))
    assert models.get(workspace, alice_model.id)
    assert alice_data.id in set(datasets.list_registered(workspace)["id"])
    actions.delete_model(workspace, alice_model.id, actor=Actor("alice"))
    actions.delete_dataset(workspace, alice_data.id, actor=Actor("carol", admin=True))


def test_runs_are_deleted_by_their_owner_only(workspace):
    job_id, run_ids = submit_directly(workspace, LOGREG, "digits", owner="alice")
    assert jobs.wait(workspace, job_id, timeout_s=150).state == "done"
    store = ResultStore(workspace)
    record = store.summary(run_ids[0])
    if record.get("owner") != "alice":  # until the engine records the job's owner on its runs
        tables = {name: store.table(run_ids[0], name) for name in ("folds", "predictions", "latency")}
        store.save(RunRecord(run_ids[0], record | {"owner": "alice"}, tables), replace=True)
    with pytest.raises(FrontierError, match="alice's"):
        actions.delete_run(workspace, run_ids[0], actor=Actor("bob"))
    assert store.has(run_ids[0])
    bob = signed_in_app("bob")
    assert not [s for s in bob.selectbox if s.key == "benchmark:run_delete:choice"]
    alice = signed_in_app("alice")
    assert alice.selectbox(key="benchmark:run_delete:choice").options
    actions.delete_run(workspace, run_ids[0], actor=Actor("alice"))
    assert not store.has(run_ids[0])


def test_uploads_and_jobs_record_the_signed_in_owner(workspace):
    at = signed_in_app("bob")
    at.multiselect(key="benchmark:models").set_value(
        [next(i.id for i in models.list_registered(workspace) if i.name == LOGREG)])
    at.number_input(key="benchmark:folds").set_value(2)
    at.multiselect(key="benchmark:lat_batches").set_value([])
    at.button(key="FormSubmitter:benchmark:form-Run benchmark").click().run()
    job_id = at.session_state["benchmark:job_id"]
    assert jobs.status(workspace, job_id).owner == "bob"
    jobs.cancel(workspace, job_id)
