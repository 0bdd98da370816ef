"""What every request handler needs, built once at start-up and reached through a dependency."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from service.clock import Clock
from service.config import Settings


@dataclass(frozen=True, slots=True)
class AppContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock


async def get_context(request: Request) -> AppContext:
    # async: a plain function dependency would cost every request a thread-pool hop.
    context = request.app.state.context
    assert isinstance(context, AppContext)
    return context


Context = Annotated[AppContext, Depends(get_context)]
