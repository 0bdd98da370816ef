"""The Dockerfile and .dockerignore: hadolint clean, and the properties the image must have.

No Docker engine runs here, so the image is never built in the tests; these read the
Dockerfile itself. The entrypoint script is tested by running it (test_entrypoint.py).
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
from pathlib import Path

from tests.deploy.support import DOCKERFILE, ENTRYPOINT, HEALTHCHECK, REPO, tool

Instruction = tuple[str, str]


def _instructions(text: str) -> list[Instruction]:
    """(KEYWORD, arguments) of each instruction, continuation lines joined, comments dropped."""
    logical: list[str] = []
    current = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        logical.append(current + stripped)
        current = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in logical]


def _stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    stages: list[list[Instruction]] = []
    for instruction in instructions:
        if instruction[0] == "FROM":
            stages.append([])
        stages[-1].append(instruction)
    return stages


INSTRUCTIONS = _instructions(DOCKERFILE.read_text())
BUILDER, FINAL = _stages(INSTRUCTIONS)


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, cwd=REPO)


def test_hadolint_finds_nothing() -> None:
    result = _run(tool("hadolint"), "--no-color", "--failure-threshold", "style", str(DOCKERFILE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_hadolint_does_catch_a_bad_dockerfile(tmp_path: Path) -> None:
    # The negative control: the same call on a Dockerfile with known mistakes.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install gcc\nUSER root\n")
    result = _run(tool("hadolint"), "--no-color", "--failure-threshold", "style", str(bad))
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # latest
    assert "DL3008" in result.stdout  # unpinned apt package


def test_shellcheck_finds_nothing_in_the_entrypoint() -> None:
    result = _run(tool("shellcheck"), "--shell=sh", "--severity=style", str(ENTRYPOINT))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_base_image_is_one_pinned_slim_python_311() -> None:
    bases = [arguments.split()[0] for keyword, arguments in INSTRUCTIONS if keyword == "FROM"]
    assert len(bases) == 2
    assert len(set(bases)) == 1, "builder and runtime must share the base, or the venv's python breaks"
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-[a-z]+)?", bases[0]), bases[0]
    assert BUILDER[0][1].split()[-2:] == ["AS", "builder"]


def test_dependencies_come_from_the_lock_and_only_the_venv_reaches_the_final_image() -> None:
    builder_runs = " ".join(arguments for keyword, arguments in BUILDER if keyword == "RUN")
    assert "-c requirements.lock ." in builder_runs
    assert "-c requirements.lock -r" in builder_runs
    copies = [arguments for keyword, arguments in FINAL if keyword == "COPY"]
    assert [copy for copy in copies if "--from=" in copy] == ["--from=builder /opt/venv /opt/venv"]
    # No compiler or package install in the final stage: its only RUN creates the user.
    final_runs = [arguments for keyword, arguments in FINAL if keyword == "RUN"]
    assert len(final_runs) == 1
    assert re.search(r"apt|apk|gcc|build-essential|pip ", final_runs[0]) is None


def test_the_final_image_runs_as_a_fixed_non_root_user() -> None:
    (user,) = [arguments for keyword, arguments in FINAL if keyword == "USER"]
    uid, gid = user.split(":")
    assert uid.isdigit() and gid.isdigit(), "numeric, so runAsNonRoot can check it"
    assert int(uid) >= 10000 and int(gid) >= 10000
    (create_user,) = [arguments for keyword, arguments in FINAL if keyword == "RUN"]
    assert f"--uid {uid}" in create_user and f"--gid {gid}" in create_user
    assert "--no-log-init" in create_user


def test_signals_health_and_entrypoint() -> None:
    final = dict(FINAL)
    assert final["STOPSIGNAL"] == "SIGTERM"
    assert final["ENTRYPOINT"] == '["modelmon-entrypoint"]'
    assert final["CMD"] == '["serve"]'
    assert final["EXPOSE"].split() == ["8000", "9464"]  # the API; a worker's metrics
    healthcheck = final["HEALTHCHECK"]
    assert "curl" not in healthcheck and "wget" not in healthcheck
    (command,) = re.findall(r'CMD \["python", "([^"]+)"\]', healthcheck)
    copies = [arguments.split()[-2:] for keyword, arguments in FINAL if keyword == "COPY"]
    assert [f"docker/{HEALTHCHECK.name}", command] in copies
    assert ["docker/entrypoint.sh", "/usr/local/bin/modelmon-entrypoint"] in copies
    assert re.search(r"\bMODELMON_HOST=0\.0\.0\.0\b", final["ENV"])


def _dockerignore_includes(path: str, patterns: list[str]) -> bool:
    """Whether ``path`` reaches the build context: the last matching pattern wins."""
    included = True
    for pattern in patterns:
        exclude = not pattern.startswith("!")
        pattern = pattern.removeprefix("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: index + 1]) for index in range(len(parts))]
        if any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes) or fnmatch.fnmatchcase(
            path, pattern.replace("**/", "*")
        ):
            included = not exclude
    return included


def test_dockerignore_lets_in_exactly_what_the_build_copies() -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip()[:1] not in {"", "#"}
    ]
    sources = [
        source
        for keyword, arguments in INSTRUCTIONS
        if keyword == "COPY" and "--from=" not in arguments
        for source in [word for word in arguments.split() if not word.startswith("--")][:-1]
    ]
    assert {"pyproject.toml", "requirements.lock", "README.md", "service", "migrations"} <= set(sources)
    for source in sources:
        assert (REPO / source).exists(), source
        assert _dockerignore_includes(source, patterns), f".dockerignore leaves out {source}"
    assert _dockerignore_includes("service/app.py", patterns)
    for outside in (
        ".git/config",
        ".venv/bin/python",
        "modelmon.db",
        "tests/conftest.py",
        "service/__pycache__",
    ):
        assert not _dockerignore_includes(outside, patterns), outside
