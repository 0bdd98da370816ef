"""The demo stays out of the server's runtime path: building ``modelmon``'s parser for serve or
worker, the app and the runner import no ``service.demo`` module; only ``modelmon demo`` does."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from service.cli import _parser

PROBE = """
import json, sys
from service import app, cli, runner
cli._parser({argv!r}).parse_args({argv!r})
print(json.dumps(sorted(name for name in sys.modules if name.startswith("service.demo"))))
"""


def _demo_modules_after(argv: list[str]) -> list[str]:
    answer = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=argv)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    modules: list[str] = json.loads(answer.stdout)
    return modules


@pytest.mark.parametrize("argv", [["serve"], ["worker", "--once"], ["migrate"]])
def test_server_commands_import_no_demo_module(argv: list[str]) -> None:
    assert _demo_modules_after(argv) == []


def test_the_demo_command_loads_the_demo_and_its_options() -> None:
    assert _demo_modules_after(["demo", "--weeks", "3"]) == ["service.demo", "service.demo.command"]
    assert _parser(["demo"]).parse_args(["demo", "--weeks", "3"]).weeks == 3


def test_the_command_list_still_names_the_demo() -> None:
    assert "watch modelmon catch drift" in _parser(["serve"]).format_help()
