"""The admin key every test process runs with (``MODELMON_ADMIN_KEY``), and its header.

``tests/conftest.py`` exports it before any Settings is built, so apps in-process and servers
started as subprocesses accept it; ``AppClient`` sends it unless a test passes its own header.
"""

from __future__ import annotations

TEST_ADMIN_KEY = "mmk_testsuite" + "0123456789abcdefghijklmnopqrstuv"
AUTH_HEADERS = {"Authorization": f"Bearer {TEST_ADMIN_KEY}"}
