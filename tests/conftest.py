"""Shared paths and the real sample data (../shared/data), which tests read in place."""
from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import load_site
from pipeline.settings import REPO_ROOT

pytest_plugins = ["tests.live_services"]  # infra, speakers, worker: shared by integration and fault tests

DATA = REPO_ROOT.parent / "shared" / "data"
TEST_SITE = REPO_ROOT / "tests" / "fixtures" / "site.yaml"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.exists():
        pytest.fail(f"sample data missing: {DATA} (the shared/ folder must sit beside the repository)")
    return DATA


@pytest.fixture(scope="session")
def site():
    return load_site(TEST_SITE)
