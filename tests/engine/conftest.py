"""Engine test settings: single-threaded BLAS in the test process.

On a small, busy machine OpenBLAS/OpenMP threads spinning against each other make
scikit-learn fits orders of magnitude slower; results do not depend on it.
"""

from __future__ import annotations

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(scope="session", autouse=True)
def _single_threaded_blas():
    with threadpool_limits(1):
        yield
