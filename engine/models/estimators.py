"""Metadata of a fitted scikit-learn estimator (from a skops file or a trusted pickle)."""

from __future__ import annotations

from typing import Any

from engine.errors import FrontierError


def sklearn_metadata(est: Any) -> dict[str, Any]:
    """Task, estimator name, features, classes and learned-parameter count of ``est``."""
    from sklearn.base import is_regressor

    if not hasattr(est, "predict") or not hasattr(est, "__dict__") or isinstance(est, type):
        raise FrontierError(f"the file holds a {type(est).__name__}, not a scikit-learn model with predict(); "
                            "save the fitted estimator itself")

    final = est.steps[-1][1] if hasattr(est, "steps") else est
    classes = getattr(est, "classes_", None)
    names = getattr(est, "feature_names_in_", None)
    estimators = list(_walk_estimators(est))
    return {
        "task": "regression" if is_regressor(est) else "classification",
        "estimator": type(est).__name__ if final is est else f"{type(est).__name__}({type(final).__name__})",
        "n_features": getattr(est, "n_features_in_", None),
        "feature_names": [str(n) for n in names] if names is not None else None,
        "classes": [c.item() if hasattr(c, "item") else c for c in classes] if classes is not None else None,
        "n_parameters": _count_learned(est) or None,
        "accepts_non_numeric": any(
            "Encoder" in type(o).__name__ or type(o).__name__ == "ColumnTransformer" for o in estimators),
    }


def _count_learned(obj: Any, depth: int = 0) -> int:
    """Learned numbers in a fitted estimator: array sizes, tree nodes, nested estimators."""
    import numpy as np

    if depth > 6:
        return 0
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            return sum(_count_learned(x, depth + 1) for x in obj.ravel())
        # learned values are floats (coefficients, thresholds) or tree-node records; integer
        # arrays are labels and counts (classes_, n_iter_), not parameters
        return len(obj) if obj.dtype.names else int(obj.size) if obj.dtype.kind in "fc" else 0
    if isinstance(obj, list | tuple):
        return sum(_count_learned(x, depth + 1) for x in obj)
    if hasattr(obj, "node_count"):  # sklearn.tree._tree.Tree
        return int(obj.node_count)
    if type(obj).__module__.startswith("sklearn.") and hasattr(obj, "__dict__"):
        return sum(_count_learned(v, depth + 1) for k, v in vars(obj).items()
                   if k.endswith("_") or k in ("nodes", "steps", "transformers", "estimator", "_predictors"))
    return 0


def _walk_estimators(est: Any, depth: int = 0):
    yield est
    if depth > 4:
        return
    for value in vars(est).values():
        for item in value if isinstance(value, list | tuple) else [value]:
            item = item[1] if isinstance(item, tuple) and len(item) >= 2 else item
            if hasattr(item, "get_params") and item is not est:
                yield from _walk_estimators(item, depth + 1)
