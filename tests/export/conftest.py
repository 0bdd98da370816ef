"""The evaluated two-model database of ``data.populate``, built once per test process: the
live-stack and text-rendering modules each used to run the engine's scenario for it (~10 s
each on 2 cores). Each module copies the file, so none sees another's writes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.export.data import populate


@pytest.fixture(scope="session")
def populated_template(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Path:
    path = tmp_path_factory.mktemp("populated") / "modelmon.db"
    shutil.copy(sqlite_template, path)
    populate(f"sqlite:///{path}")
    return path
