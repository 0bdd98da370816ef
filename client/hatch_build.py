"""Where the client's code comes from when hatchling builds it.

The code has one home, the server's ``service/client/``. Built from a checkout, that folder is
``../service/client``, which the hook adds as ``modelmon_client``; built from this
distribution's sdist (what ``pip install modelmon-client-*.tar.gz`` does), the sdist already
holds it as ``modelmon_client/``, which hatchling selects by the project's name. The wheel is
the same both ways (tests/client/test_distribution.py installs from the sdist).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

PACKAGE = "modelmon_client"
CHECKOUT_SOURCE = Path("..") / "service" / "client"


class ClientSource(BuildHookInterface):
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:  # noqa: ARG002 (hatch's signature)
        root = Path(self.root)
        if (root / PACKAGE / "__init__.py").is_file():
            return
        if (root / CHECKOUT_SOURCE / "__init__.py").is_file():
            build_data["force_include"][str((root / CHECKOUT_SOURCE).resolve())] = PACKAGE
            return
        raise FileNotFoundError(
            f"the client's code is neither at {CHECKOUT_SOURCE} (a checkout) nor at {PACKAGE}/ (an sdist)"
        )
