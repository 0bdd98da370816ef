"""Who is calling: the principal an API key stands for, and the roles a key may hold."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request


class Role(StrEnum):
    """``ingest`` writes predictions and outcomes of named models; ``read`` reads aggregates,
    evaluations, alerts and configuration, not raw records; ``export`` reads as ``read`` does
    and also the raw labelled records (features, protected attributes); ``admin`` does
    everything (configuration, keys, erasure) and reads, exports and ingests too."""

    INGEST = "ingest"
    READ = "read"
    EXPORT = "export"
    ADMIN = "admin"


ENV_ADMIN = "env:MODELMON_ADMIN_KEY"


@dataclass(frozen=True, slots=True)
class Principal:
    """``actor`` identifies the key in the audit log without revealing it: ``key:<prefix>``,
    ``env:MODELMON_ADMIN_KEY``, ``cli:<user>`` or ``anonymous`` (authentication off)."""

    actor: str
    name: str
    role: Role
    models: frozenset[str] | None = None
    key_id: int | None = None

    def may_ingest(self, model: str) -> bool:
        if self.role is Role.ADMIN:
            return True
        return self.role is Role.INGEST and self.models is not None and model in self.models

    @property
    def may_read(self) -> bool:
        return self.role in (Role.READ, Role.EXPORT, Role.ADMIN)

    @property
    def may_export(self) -> bool:
        """Raw labelled records (features, protected attributes, outcomes) leave the service."""
        return self.role in (Role.EXPORT, Role.ADMIN)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


ANONYMOUS = Principal("anonymous", "authentication off", Role.ADMIN)
SYSTEM = Principal("system", "modelmon", Role.ADMIN)


async def current_principal(request: Request) -> Principal:
    """The principal the auth guard attached to this request."""
    principal = getattr(request.state, "principal", None)
    return principal if isinstance(principal, Principal) else ANONYMOUS


Actor = Annotated[Principal, Depends(current_principal)]
