"""The floors hold: no import cycle between the packages of `service`, none among the table
modules of `storage`, no package reads another's `repository` or (unless listed with its
reason) another domain's tables, and the measuring script finds each of these when there is one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.architecture import (
    ALLOWED_TABLE_READS,
    EXTENSION_EXAMPLES,
    MAX_EXTENSION_FILES,
    cycles,
    foreign_repository_imports,
    foreign_table_imports,
    module_graph,
    package_graph,
    report,
    storage_graph,
    unlisted_table_imports,
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


def test_no_package_imports_another_packages_repository(modules: dict[str, set[str]]) -> None:
    assert foreign_repository_imports(modules) == []


def test_every_read_of_another_domains_tables_is_listed(modules: dict[str, set[str]]) -> None:
    assert unlisted_table_imports(modules) == []


def test_every_listed_table_read_still_exists(modules: dict[str, set[str]]) -> None:
    found = {(importer, target.rpartition(".")[2]) for importer, target in foreign_table_imports(modules)}
    assert sorted(set(ALLOWED_TABLE_READS) - found) == []


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


def test_a_foreign_repository_or_table_import_is_found(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "service/__init__.py": "",
            "service/registry/__init__.py": "",
            "service/registry/repository.py": "from service.storage.registry_tables import Model\n",
            "service/registry/queries.py": "from service.registry import repository\n",
            "service/ui/__init__.py": "",
            "service/ui/service.py": "from service.registry import queries, repository\n",
            "service/ui/repository.py": (
                "def f():\n    from service.storage import registry_tables, trust_tables\n"
            ),
            "service/storage/__init__.py": "",
            "service/storage/registry_tables.py": "",
            "service/storage/trust_tables.py": "",
        },
    )
    modules = module_graph(tmp_path)
    assert foreign_repository_imports(modules) == [("service.ui.service", "service.registry.repository")]
    # ui.repository is listed for registry_tables (a page's join), never for trust_tables.
    assert unlisted_table_imports(modules) == [("service.ui.repository", "service.storage.trust_tables")]
    lines, _ = report(tmp_path)
    assert "imports of another package's repository: 1 (goal 0)" in lines
    assert "imports of another domain's tables: 1 (goal 0)" in lines


# What only `service/storage/` may say: a dialect's name or Postgres-only SQL.
DIALECT_WORDS = ("dialect.name", "is_postgres", "pg_advisory", "SET LOCAL", "LOCK TABLE", "jsonb")


def test_dialect_differences_stay_in_storage() -> None:
    leaks = [
        f"{path.relative_to(ROOT)}: {word}"
        for path in sorted((ROOT / "service").rglob("*.py"))
        if path.relative_to(ROOT / "service").parts[0] != "storage"
        for word in DIALECT_WORDS
        if word in path.read_text(encoding="utf-8")
    ]
    assert leaks == []
