"""yamllint, with the repository's .yamllint, on the static YAML and on the rendered chart.

Helm templates are not YAML until rendered, so .yamllint ignores them and the manifests the
chart renders are linted instead: the same rules, except that sequences under a key may sit
at the key's indentation, which is how Helm's toYaml writes them.
"""

from __future__ import annotations

import subprocess

import pytest
from yamllint import linter  # type: ignore[import-untyped]
from yamllint.config import YamlLintConfig  # type: ignore[import-untyped]

from tests.deploy.support import CHART, COMPOSE_FILE, REPO, VALUE_SETS, YAMLLINT_CONFIG, render_files, tool

STATIC_YAML = sorted(
    [
        COMPOSE_FILE,
        YAMLLINT_CONFIG,
        CHART / "Chart.yaml",
        CHART / "values.yaml",
        *(CHART / "files").glob("*.yml"),
        *(REPO / "deploy").rglob("*.yml"),
    ]
)


def test_the_static_yaml_is_clean() -> None:
    assert len(STATIC_YAML) >= 8
    result = subprocess.run(
        [tool("yamllint"), "--strict", "--format", "parsable", "--config-file", str(YAMLLINT_CONFIG)]
        + [str(path.relative_to(REPO)) for path in STATIC_YAML],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _rendered_config() -> YamlLintConfig:
    return YamlLintConfig(
        f"extends: {YAMLLINT_CONFIG}\nrules:\n  indentation:\n    indent-sequences: whatever\n"
    )


@pytest.mark.slow
@pytest.mark.parametrize("values_name", list(VALUE_SETS))
def test_the_rendered_manifests_are_clean(values_name: str) -> None:
    config = _rendered_config()
    problems = [
        f"{path}:{problem.line}:{problem.column} {problem.message}"
        for path, text in render_files(VALUE_SETS[values_name]).items()
        if path.endswith(".yaml") and text.strip()
        for problem in linter.run(text, config)
    ]
    assert problems == []


def test_yamllint_does_catch_a_problem() -> None:
    # The negative control: the configuration in use does report an error.
    problems = list(linter.run("key: value \nkey: yes\n", _rendered_config()))
    assert {problem.rule for problem in problems} >= {"trailing-spaces", "key-duplicates", "truthy"}
