"""The tests mirror ``service/``: every package of the service has a tests/<package>/ folder, so
a newcomer finds a package's tests where its code is."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _packages(root: Path) -> set[str]:
    return {path.parent.name for path in root.glob("*/__init__.py")}


def test_every_service_package_has_its_tests_folder() -> None:
    missing = _packages(REPO / "service") - _packages(REPO / "tests")
    assert sorted(missing) == []
