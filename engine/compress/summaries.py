"""What a compress job reports beyond each variant's deltas: the batch-size sweep, the gate's basis for
variants trained on fold 1, and the distilled student against its twin."""

from __future__ import annotations

from typing import Any

from engine.compress import deltas
from engine.errors import FrontierError
from engine.results import ResultStore


def sweep_rows(store: ResultStore, orig_run_id: str, orig_summary: dict[str, Any],
               variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Batch size x precision x provider: every measured batch size of the original and each variant, with
    the accuracy of that model (from each stored run's latency table; the provider its run recorded)."""
    models = [("original", "", "as uploaded", orig_run_id, orig_summary.get("accuracy_mean"),
               orig_summary.get("backend"), orig_summary.get("provider") or orig_summary.get("device"))]
    models += [(v["method"], v.get("flavour") or (v["backend"] if v["backend"] == "torch" else ""),
                v.get("precision"), v["run_id"], v.get("accuracy_mean"), v.get("runtime"),
                v.get("provider") or v.get("device")) for v in variants]
    out = []
    for method, how, precision, run_id, accuracy, runtime, provider in models:
        try:
            latency = store.table(run_id, "latency")
        except (FrontierError, OSError, ValueError):  # unreadable (a shared folder): that model is left out
            continue
        for r in latency.itertuples():
            out.append({"method": method, "how": how, "precision": precision, "runtime": runtime,
                        "provider": provider, "batch_size": int(r.batch_size), "p50_ms": float(r.p50_ms),
                        "p95_ms": float(r.p95_ms), "throughput_per_s": float(r.throughput_per_s),
                        "skewed": bool(r.skewed), "accuracy_mean": accuracy, "run_id": run_id})
    return out


def gate_on_held_out(b: Any, compared: dict[str, Any], gate: float) -> dict[str, Any]:  # b: a run.Built
    """The gate's basis. A variant trained on fold 1's training part has seen the test rows of every other
    fold, so its cross-validated delta flatters it: it is gated on fold 1's test part instead (rows it never
    trained on, against the original on the same rows)."""
    d = b.details or {}
    if not b.trained or d.get("heldout_accuracy") is None or d.get("original_heldout_accuracy") is None:
        return {"gate_basis": "folds", "heldout_delta": None}
    held = 100 * (d["heldout_accuracy"] - d["original_heldout_accuracy"])
    return {"gate_basis": "held-out", "heldout_delta": held, "gate_passed": held >= -gate - 1e-9,
            "folds_gate_passed": compared.get("gate_passed")}


def distillation_summary(variants: list[dict[str, Any]], store: ResultStore | None = None) -> dict[str, Any] | None:
    """The distilled student against its twin (same net, seed and rows, no teacher): held-out and CV accuracy,
    and on fold 1's held-out rows the rows only one of them gets right with McNemar's exact test
    (statsmodels), so a difference of a row or two reads as what it is."""
    by_role = {v["flavour"]: v for v in variants if v["method"] == "distill"}
    if set(by_role) != {"student", "twin"}:
        return None
    student, twin = by_role["student"], by_role["twin"]
    s, t = student["details"], twin["details"]
    out = {"heldout_rows": s["heldout_rows"], "student_heldout_accuracy": s["heldout_accuracy"],
           "twin_heldout_accuracy": t["heldout_accuracy"],
           "teacher_heldout_accuracy": s.get("original_heldout_accuracy"),
           "heldout_difference_points": 100 * (s["heldout_accuracy"] - t["heldout_accuracy"]),
           "student_accuracy_mean": student.get("accuracy_mean"), "twin_accuracy_mean": twin.get("accuracy_mean")}
    if out["student_accuracy_mean"] is not None and out["twin_accuracy_mean"] is not None:
        out["cv_difference_points"] = 100 * (out["student_accuracy_mean"] - out["twin_accuracy_mean"])
    if store is not None:
        out |= _paired_heldout(store, student["run_id"], twin["run_id"])
    return out


def _paired_heldout(store: ResultStore, student_run: str, twin_run: str) -> dict[str, Any]:
    from statsmodels.stats.contingency_tables import mcnemar

    try:
        a = deltas.by_row(store.table(student_run, "predictions")).set_index("row")
        b = deltas.by_row(store.table(twin_run, "predictions")).set_index("row")
    except (FrontierError, OSError, ValueError, KeyError):
        return {}
    a, b = a[a["fold"] == 0], b[b["fold"] == 0]  # fold 1's test part: rows neither trained on
    rows = a.index.intersection(b.index)
    sa = (a.loc[rows, "y_pred"] == a.loc[rows, "y_true"]).to_numpy()
    sb = (b.loc[rows, "y_pred"] == b.loc[rows, "y_true"]).to_numpy()
    only_student, only_twin = int((sa & ~sb).sum()), int((~sa & sb).sum())
    table = [[int((sa & sb).sum()), only_student], [only_twin, int((~sa & ~sb).sum())]]
    p = float(mcnemar(table, exact=True).pvalue) if only_student + only_twin else 1.0
    return {"heldout_only_student": only_student, "heldout_only_twin": only_twin, "heldout_mcnemar_p": p,
            "heldout_paired_rows": len(rows)}
