"""Fixtures of the webhook tests: receivers, a clock the test moves, and deliverers."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.webhooks.jobs import Deliverer
from tests.conftest import NOW
from tests.webhooks.receivers import Receiver
from tests.windows.scenario import MutableClock


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def start(*args: Any, **kwargs: Any) -> Receiver:
        receiver = Receiver(*args, **kwargs)
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()


@pytest.fixture
def clock() -> MutableClock:
    return MutableClock(NOW)


@pytest.fixture
def sessions(app: FastAPI) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = app.state.context.sessions
    return factory


@pytest.fixture
def deliverer(
    sessions: sessionmaker[Session], settings: Settings, clock: MutableClock
) -> Iterator[Callable[..., Deliverer]]:
    """Build a Deliverer on the test's database with some settings changed; closed at the end."""
    built: list[Deliverer] = []

    def build(**overrides: Any) -> Deliverer:
        options = {k: overrides.pop(k) for k in ("resolver",) if k in overrides}
        changed = settings.model_copy(update={"http_timeout_seconds": 2.0, **overrides})
        made = Deliverer(sessions, changed, clock, rng=random.Random(7), **options)
        built.append(made)
        return made

    yield build
    for made in built:
        made.close()
