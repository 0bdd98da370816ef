"""Measure the shape of `service/`: package cycles, long files and functions, repository reach.

Reads the source with `ast` only (never imports `service`), so it runs without the server's
dependencies. Run: `python -m tools.architecture`. Exit status 1 when a package or storage
module cycle exists, so CI can hold the floors.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = "service"
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 40

# The two extension examples of the registries issue: the service files each example's own
# commit touched (`git show --stat`; docs and tests aside). Goal: at most two each. Drift:
# Hellinger (commit c94515a); fairness: predictive equality (commit 011273e), after the one-time
# change that let a disparity default to no bound (commit c550c18).
EXTENSION_EXAMPLES: Mapping[str, tuple[str, ...]] = {
    "drift method": ("service/stats/methods.py",),
    "fairness disparity": ("service/stats/disparities.py", "service/monitors/schemas.py"),
}
MAX_EXTENSION_FILES = 2


# Which packages own the tables of each storage module; a read from any other package is a
# candidate for that domain's query functions.
TABLE_OWNERS: Mapping[str, frozenset[str]] = {
    "registry_tables": frozenset({"registry"}),
    "event_tables": frozenset({"ingestion"}),
    "engine_tables": frozenset({"monitors", "aggregation", "windows", "failures"}),
    "alerting_tables": frozenset({"alerting"}),
    "webhook_tables": frozenset({"webhooks"}),
    "trust_tables": frozenset({"auth", "audit"}),
    "upload_tables": frozenset({"aggregation"}),
}


# Reads of another domain's tables that stay where they are, each with its reason (printed
# apart from the rest, whose goal is 0). Everything else reads another domain through that
# domain's `queries` module (docs/architecture.md, "Reads across domains").
_EVENT_LOG = (
    "the event log's owner, ingestion (the write path), sits on a higher floor (it validates "
    "against the registry and pseudonymises through privacy), so its queries are out of reach"
)
_PUBLISHED_RUNS = (
    "alerting consumes the window runs published to it (RunPublisher): it reads the runs, "
    "their figures and the windows still due by id; windows sits above alerting (a backtest "
    "replays alerting's rules), so windows' queries are out of reach"
)
_ERASURE = (
    "erasure and retention delete predictions and outcomes by design, in the request's or the "
    "job's one transaction; ingestion, their owner, sits above privacy (it pseudonymises through it)"
)
_SNAPSHOT = (
    "the /metrics snapshot joins the newest run of every version with its model and version "
    "names, and each model's newest event time in a correlated subquery over models (one "
    "query each per scrape, where N per-model queries would be the alternative)"
)
_ALERT_LIST = "a ui page lists alerts with their model and version names in one bounded query"
ALLOWED_TABLE_READS: Mapping[tuple[str, str], str] = {
    (
        "service.aggregation.repository",
        "event_tables",
    ): f"the aggregation pass folds the event log; {_EVENT_LOG}",
    ("service.alerting.repository", "event_tables"): f"the no-data rule's model activity; {_EVENT_LOG}",
    ("service.registry.repository", "event_tables"): f"a model's detail counts its events; {_EVENT_LOG}",
    ("service.alerting.repository", "engine_tables"): _PUBLISHED_RUNS,
    ("service.alerting.service", "engine_tables"): _PUBLISHED_RUNS,
    ("service.alerting.jobs", "engine_tables"): _PUBLISHED_RUNS,
    ("service.privacy.repository", "event_tables"): _ERASURE,
    ("service.export.repository", "engine_tables"): _SNAPSHOT,
    ("service.export.repository", "event_tables"): _SNAPSHOT,
    ("service.export.repository", "registry_tables"): _SNAPSHOT,
    ("service.ui.repository", "alerting_tables"): _ALERT_LIST,
    ("service.ui.repository", "registry_tables"): _ALERT_LIST,
}


@dataclass(frozen=True)
class LongFunction:
    path: str
    name: str
    lines: int


def module_name(path: Path, base: Path) -> str:
    """Dotted module name of `path` relative to the directory holding the root package."""
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files(base: Path) -> list[Path]:
    return sorted((base / ROOT).rglob("*.py"))


def imported_modules(tree: ast.Module, module: str, is_package: bool) -> Iterator[str]:
    """Every `service.*` module named by an import anywhere in the file, relative imports resolved."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield from _from_targets(node, package)


def _from_targets(node: ast.ImportFrom, package: str) -> Iterator[str]:
    if node.level:
        anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join(anchor + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    yield base
    # `from service.x import y` may name the submodule `service.x.y`.
    yield from (f"{base}.{alias.name}" for alias in node.names)


def module_graph(base: Path) -> dict[str, set[str]]:
    """Module → the `service` modules it imports (only names that are real modules)."""
    trees = {}
    for path in source_files(base):
        trees[module_name(path, base)] = (ast.parse(path.read_text()), path.name == "__init__.py")
    graph: dict[str, set[str]] = {}
    for module, (tree, is_package) in trees.items():
        targets = set(imported_modules(tree, module, is_package)) & trees.keys()
        graph[module] = targets - {module}
    return graph


def package_of(module: str) -> str:
    """`service.alerting.rules` → `alerting`; top-level modules (`service.clock`) are their own."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def package_graph(modules: Mapping[str, set[str]]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, targets in modules.items():
        source = package_of(module)
        edges = graph.setdefault(source, set())
        edges.update(package_of(target) for target in targets if package_of(target) != source)
    return graph


def strongly_connected(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components sorted largest first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in sorted(graph):
        if start not in index:
            _visit(start, graph, index, low, stack, on_stack, components)
    return sorted((sorted(c) for c in components), key=lambda c: (-len(c), c))


def _visit(
    start: str,
    graph: Mapping[str, Iterable[str]],
    index: dict[str, int],
    low: dict[str, int],
    stack: list[str],
    on_stack: set[str],
    components: list[list[str]],
) -> None:
    work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph.get(start, ()))))]
    index[start] = low[start] = len(index)
    stack.append(start)
    on_stack.add(start)
    while work:
        node, children = work[-1]
        child = next(children, None)
        if child is None:
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                components.append(_pop_component(node, stack, on_stack))
        elif child not in index:
            index[child] = low[child] = len(index)
            stack.append(child)
            on_stack.add(child)
            work.append((child, iter(sorted(graph.get(child, ())))))
        elif child in on_stack:
            low[node] = min(low[node], index[child])


def _pop_component(root: str, stack: list[str], on_stack: set[str]) -> list[str]:
    component: list[str] = []
    while True:
        node = stack.pop()
        on_stack.discard(node)
        component.append(node)
        if node == root:
            return component


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components with more than one member: each holds a cycle."""
    return [c for c in strongly_connected(graph) if len(c) > 1]


def storage_graph(modules: Mapping[str, set[str]]) -> dict[str, set[str]]:
    prefix = f"{ROOT}.storage."
    return {
        m: {t for t in targets if t.startswith(prefix)}
        for m, targets in modules.items()
        if m.startswith(prefix)
    }


def long_files(base: Path) -> list[tuple[str, int]]:
    sized = ((str(p.relative_to(base)), len(p.read_text().splitlines())) for p in source_files(base))
    return sorted((item for item in sized if item[1] > MAX_FILE_LINES), key=lambda i: -i[1])


def long_functions(base: Path) -> list[LongFunction]:
    found: list[LongFunction] = []
    for path in source_files(base):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    found.append(LongFunction(str(path.relative_to(base)), node.name, lines))
    return sorted(found, key=lambda f: -f.lines)


def foreign_repository_imports(modules: Mapping[str, set[str]]) -> list[tuple[str, str]]:
    """(importer, repository) pairs where a package reads another package's `repository`."""
    return sorted(
        (module, target)
        for module, targets in modules.items()
        for target in targets
        if target.endswith(".repository") and package_of(target) != package_of(module)
    )


def foreign_table_imports(modules: Mapping[str, set[str]]) -> list[tuple[str, str]]:
    """(importer, table module) pairs where a package imports tables another domain owns."""
    prefix = f"{ROOT}.storage."
    return sorted(
        (module, target)
        for module, targets in modules.items()
        for target in targets
        if target.startswith(prefix)
        and package_of(module) not in {"storage", *TABLE_OWNERS.get(target.removeprefix(prefix), {"storage"})}
        and target.removeprefix(prefix) in TABLE_OWNERS
    )


def unlisted_table_imports(modules: Mapping[str, set[str]]) -> list[tuple[str, str]]:
    """The foreign table imports not in ``ALLOWED_TABLE_READS`` (goal: none)."""
    return [pair for pair in foreign_table_imports(modules) if _allowance(pair) is None]


def _allowance(pair: tuple[str, str]) -> str | None:
    importer, target = pair
    return ALLOWED_TABLE_READS.get((importer, target.removeprefix(f"{ROOT}.storage.")))


def _table_lines(modules: Mapping[str, set[str]]) -> list[str]:
    found = foreign_table_imports(modules)
    unlisted = [pair for pair in found if _allowance(pair) is None]
    allowed = [(pair, _allowance(pair)) for pair in found if _allowance(pair) is not None]
    lines = [f"imports of another domain's tables: {len(unlisted)} (goal 0)"]
    lines += [f"  {importer} -> {target}" for importer, target in unlisted]
    lines.append(f"allowed imports of another domain's tables: {len(allowed)}")
    lines += [f"  {importer} -> {target}: {why}" for (importer, target), why in allowed]
    return lines


def report(base: Path) -> tuple[list[str], bool]:
    """The printed lines and whether the floors hold (no package or storage cycle)."""
    modules = module_graph(base)
    packages = package_graph(modules)
    package_cycles = cycles(packages)
    storage_cycles = cycles(storage_graph(modules))
    names = sorted(p for p in packages if (base / ROOT / p).is_dir())
    lines = [f"packages ({len(names)}): {' '.join(names)}"]
    largest = max((len(c) for c in package_cycles), default=0)
    lines.append(f"largest package cycle: {largest} (goal 0)")
    lines += [f"  cycle: {' '.join(c)}" for c in package_cycles]
    lines.append(f"storage module cycles: {len(storage_cycles)} (goal 0)")
    lines += [f"  cycle: {' '.join(c)}" for c in storage_cycles]
    files = long_files(base)
    lines.append(f"files over {MAX_FILE_LINES} lines: {len(files)}")
    lines += [f"  {lines_} {path}" for path, lines_ in files]
    functions = long_functions(base)
    lines.append(f"functions over {MAX_FUNCTION_LINES} lines: {len(functions)}")
    lines += [f"  {f.lines} {f.path}:{f.name}" for f in functions]
    foreign = foreign_repository_imports(modules)
    lines.append(f"imports of another package's repository: {len(foreign)} (goal 0)")
    lines += [f"  {importer} -> {target}" for importer, target in foreign]
    lines += _table_lines(modules)
    for example, touched in EXTENSION_EXAMPLES.items():
        lines.append(f"files touched by the {example} example: {len(touched)} (goal ≤ {MAX_EXTENSION_FILES})")
        lines += [f"  {path}" for path in touched]
    return lines, not package_cycles and not storage_cycles


def main() -> int:
    lines, holds = report(Path(__file__).resolve().parent.parent)
    print("\n".join(lines))
    return 0 if holds else 1


if __name__ == "__main__":
    sys.exit(main())
