"""``service.stats`` is pure: numpy, scipy, the standard library and itself, nothing else; and
the one kernel module it may use besides, which is pure the same way."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import service.stats

PACKAGE_DIR = Path(service.stats.__file__).parent
# orjson: a pure JSON codec (no I/O of its own), used by serialize.py for speed.
ALLOWED_THIRD_PARTY = {"numpy", "scipy", "orjson"}
# A label column that carries its dictionary encoding: the storage floor builds it (it may not
# import stats) and the profile reads it. numpy only, checked below.
ALLOWED_KERNEL = {"service.kernel.coded"}
MODULES = sorted(PACKAGE_DIR.rglob("*.py"))


def _imported_roots(tree: ast.AST) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: stays inside the package
                continue
            found.append((node.module or "", node.lineno))
    return found


def _allowed(module: str) -> bool:
    root = module.split(".")[0]
    if root in sys.stdlib_module_names or root == "__future__" or root in ALLOWED_THIRD_PARTY:
        return True
    return module in ALLOWED_KERNEL or module == "service.stats" or module.startswith("service.stats.")


def test_the_package_has_modules() -> None:
    assert {"aggregates.py", "layout.py", "profile.py", "drift.py", "verdict.py"} <= {m.name for m in MODULES}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_module_imports_only_pure_dependencies(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    imports = _imported_roots(tree)
    offending = [f"{path.name}:{line} imports {name}" for name, line in imports if not _allowed(name)]
    assert not offending, offending


@pytest.mark.parametrize("module", sorted(ALLOWED_KERNEL))
def test_the_kernel_modules_allowed_are_pure_too(module: str) -> None:
    path = PACKAGE_DIR.parent.joinpath(*module.split(".")[1:]).with_suffix(".py")
    imports = _imported_roots(ast.parse(path.read_text(), filename=str(path)))
    assert imports and all(
        name.split(".")[0] in sys.stdlib_module_names | {"__future__", "numpy"} for name, _ in imports
    )


def test_the_checker_rejects_impure_imports() -> None:
    source = "import pandas\nfrom sqlalchemy import select\nfrom service.storage import x\nimport json\n"
    tree = ast.parse(source)
    assert [name for name, _ in _imported_roots(tree) if not _allowed(name)] == [
        "pandas",
        "sqlalchemy",
        "service.storage",
    ]
