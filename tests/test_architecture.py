"""The floors hold: no import cycle between the packages of `service`, none among the table
modules of `storage`, and the measuring script finds a cycle when there is one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.architecture import (
    EXTENSION_EXAMPLES,
    MAX_EXTENSION_FILES,
    cycles,
    module_graph,
    package_graph,
    report,
    storage_graph,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def modules() -> dict[str, set[str]]:
    """The import graph of `service/`, parsed once (~4 s of `ast` on two shared cores)."""
    return module_graph(ROOT)


def test_no_package_cycle(modules: dict[str, set[str]]) -> None:
    assert cycles(package_graph(modules)) == []


def test_no_module_cycle_in_storage(modules: dict[str, set[str]]) -> None:
    assert cycles(storage_graph(modules)) == []


def _write(base: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_a_cycle_through_a_relative_import_is_found(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "service/__init__.py": "",
            "service/low/__init__.py": "",
            "service/low/grid.py": "from ..high import pages\n",
            "service/high/__init__.py": "",
            "service/high/pages.py": "from service.low.grid import step\n",
            "service/storage/__init__.py": "",
            "service/storage/tables.py": "from service.storage import other_tables\n",
            "service/storage/other_tables.py": "def inner():\n    from service.storage.tables import Base\n",
        },
    )
    modules = module_graph(tmp_path)
    assert cycles(package_graph(modules)) == [["high", "low"]]
    assert cycles(storage_graph(modules)) == [["service.storage.other_tables", "service.storage.tables"]]
    lines, holds = report(tmp_path)
    assert not holds
    assert "largest package cycle: 2 (goal 0)" in lines


def test_each_extension_example_touched_at_most_two_service_files() -> None:
    for example, touched in EXTENSION_EXAMPLES.items():
        assert 1 <= len(touched) <= MAX_EXTENSION_FILES, example
        assert all(path.startswith("service/") and (ROOT / path).is_file() for path in touched), example


def test_the_report_lists_the_extension_examples(tmp_path: Path) -> None:
    _write(tmp_path, {"service/__init__.py": ""})
    lines, holds = report(tmp_path)
    assert holds
    assert "files touched by the fairness disparity example: 2 (goal ≤ 2)" in lines
    assert "  service/stats/disparities.py" in lines
