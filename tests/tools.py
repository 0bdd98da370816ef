"""The ecosystem binaries some tests drive (promtool, Prometheus, Alertmanager, Chromium).

`make test` installs them where it can (``.ci/tools.sh``). Where one is missing a test
skips with the reason — except in CI (``CI=true``), where a missing tool fails the test,
so a green CI run never hides an untested part.
"""

from __future__ import annotations

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def require_binary(*names: str) -> str:
    """The path of the first of ``names`` on PATH; skip (fail in CI) when none is."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    message = f"{' / '.join(names)} is not installed (apt-get install; see .ci/tools.sh)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)
