"""The demo stays out of the server's runtime path: building ``modelmon``'s parser for serve or
worker, the app and the runner import no ``service.demo`` module; only ``modelmon demo`` does."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from service.cli import _parser

# Each probe is a fresh interpreter that imports the app (~3-7 s on two busy cores).
pytestmark = pytest.mark.slow

PROBE = """
import json, sys
from service import app, cli, runner
for argv in {commands!r}:
    cli._parser(argv).parse_args(argv)
print(json.dumps(sorted(name for name in sys.modules if name.startswith("service.demo"))))
"""


def _demo_modules_after(*commands: list[str]) -> list[str]:
    answer = subprocess.run(
        [sys.executable, "-c", PROBE.format(commands=list(commands))],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    modules: list[str] = json.loads(answer.stdout)
    return modules


def test_server_commands_import_no_demo_module() -> None:
    assert _demo_modules_after(["serve"], ["worker", "--once"], ["migrate"], ["keys", "list"]) == []


def test_the_demo_command_loads_the_demo_and_its_options() -> None:
    assert _demo_modules_after(["demo", "--weeks", "3"]) == ["service.demo", "service.demo.command"]
    assert _parser(["demo"]).parse_args(["demo", "--weeks", "3"]).weeks == 3


def test_the_command_list_still_names_the_demo() -> None:
    assert "watch modelmon catch drift" in _parser(["serve"]).format_help()
