"""API key bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.config import JsonDict

from service.kernel.principal import Role
from service.names import DisplayName
from service.registry.schemas import NAME_PATTERN
from service.storage.trust_tables import ApiKey

ModelName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]


class KeyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"role": "ingest", "name": "credit-scoring service", "models": ["credit-scoring"]}]
        },
    )

    role: Role
    name: DisplayName = Field(min_length=1, max_length=128, description="Who or what uses the key.")
    models: list[ModelName] | None = Field(
        None,
        max_length=1000,
        description="Models an ingest key may write to (required for ingest, refused for the other roles).",
    )


_KEY_EXAMPLE: JsonDict = {
    "prefix": "mmk_Ab3dEf9h",
    "name": "credit-scoring service",
    "role": "ingest",
    "models": ["credit-scoring"],
    "created_at": "2026-11-22T12:00:00Z",
    "created_by": "cli:alice",
    "last_used_at": "2026-11-22T12:05:00Z",
    "revoked_at": None,
}


class KeyView(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_KEY_EXAMPLE]})

    prefix: str = Field(description="Public identifier: the key's first 12 characters.")
    name: str
    role: Role
    models: list[str] | None
    created_at: datetime
    created_by: str
    last_used_at: datetime | None = Field(description="Updated at most once a minute.")
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiKey) -> KeyView:
        return cls(
            prefix=row.prefix,
            name=row.name,
            role=Role(row.role),
            models=row.models,
            created_at=row.created_at,
            created_by=row.created_by,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
        )


class CreatedKey(KeyView):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{**_KEY_EXAMPLE, "key": "mmk_Ab3dEf9h" + "x" * 32}]}
    )

    key: str = Field(description="The key itself. Shown once: store it now; only its hash is kept.")


class KeyList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"keys": [_KEY_EXAMPLE]}]})

    keys: list[KeyView]
