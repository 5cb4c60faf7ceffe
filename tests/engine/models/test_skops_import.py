"""skops is imported without torch, and nothing about skops or torch changes for it."""

from __future__ import annotations

import json
import subprocess
import sys

from frontier_support import REPO_ROOT, sample

_TRUSTED_NAMES = """
import json, sys
{prelude}
from skops.io import _trusted_types as t
names = sorted(set(t.SKLEARN_ESTIMATOR_TYPE_NAMES) | set(t.SCIPY_UFUNC_TYPE_NAMES) | set(t.NUMPY_UFUNC_TYPE_NAMES))
print(json.dumps({{"names": names, "torch": "torch" in sys.modules}}))
"""


def _run(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_skops_types_are_the_same_without_importing_torch():
    plain = _run(_TRUSTED_NAMES.format(prelude=""))
    ours = _run(_TRUSTED_NAMES.format(prelude="from engine.models.formats.skops import import_skops; import_skops()"))
    assert plain["torch"] is True  # the cost the helper avoids: skops' discovery imports torch
    assert ours["torch"] is False
    assert ours["names"] == plain["names"] and len(ours["names"]) > 100


def test_torch_and_scikit_learn_array_api_import_normally_afterwards():
    code = f"""
import json, sys
from engine import models
est = models.load_skops(open({str(sample("digits_logreg.skops"))!r}, "rb").read(), trusted=False)
before = "torch" in sys.modules
import torch
from sklearn.externals.array_api_compat import torch as compat_torch
print(json.dumps({{"before": before, "tensor": float(torch.ones(3).sum()), "compat": compat_torch.__name__,
                  "predicts": int(est.predict([[0.0] * 64])[0]) >= 0}}))
"""
    assert _run(code) == {"before": False, "tensor": 3.0, "compat": "sklearn.externals.array_api_compat.torch",
                          "predicts": True}


def test_only_the_importing_thread_is_kept_from_torch():
    """A server thread that needs torch while another thread imports skops still gets it."""
    code = """
import json, sys, threading
from engine.models.formats.skops import _NoTorch
sys.meta_path.insert(0, _NoTorch(threading.get_ident()))
try:
    import torch
    here = "imported"
except ImportError:
    here = "refused"
other = {}
def work():
    import torch
    other["sum"] = float(torch.ones(2).sum())
t = threading.Thread(target=work); t.start(); t.join()
print(json.dumps({"here": here, "other": other.get("sum")}))
"""
    assert _run(code) == {"here": "refused", "other": 2.0}
