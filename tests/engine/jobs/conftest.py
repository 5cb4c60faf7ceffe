"""Fixtures for the job-system tests: the iris test models, built once."""

from __future__ import annotations

from pathlib import Path

import pytest
from jobs_support import iris_models


@pytest.fixture(scope="session")
def iris_files(tmp_path_factory) -> dict[str, Path]:
    return iris_models(tmp_path_factory.mktemp("iris-models"))
