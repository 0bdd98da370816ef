"""One live `modelmon serve` shared by the client's tests (each test uses its own model)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.client.live import LiveServer

# Below the client's default batch (500), so a test can watch the client split a refused batch.
SERVER_MAX_BATCH = 200


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("client-server"), MODELMON_MAX_BATCH_SIZE=str(SERVER_MAX_BATCH))
    live.start()
    try:
        yield live
    finally:
        live.stop()
