"""The ``modelmon`` command: ``serve`` and ``migrate``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from pydantic import ValidationError
from sqlalchemy.engine import make_url

from service.config import Settings, UnsafeConfigurationError, check_production_safety

log = logging.getLogger("modelmon")


def _load_settings() -> Settings:
    try:
        settings = Settings()
        check_production_safety(settings)
    except ValidationError as error:
        problems = "\n".join(
            f"  - MODELMON_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in error.errors()
        )
        raise SystemExit(f"modelmon: invalid configuration:\n{problems}") from None
    except UnsafeConfigurationError as error:
        raise SystemExit(f"modelmon: {error}") from None
    return settings


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def migrate(settings: Settings) -> None:
    from service.storage.migrations import upgrade

    log.info("migrating %s to the newest schema", _safe_url(settings.database_url))
    upgrade(settings.database_url)
    log.info("schema is at head")


def _check_schema(settings: Settings) -> None:
    from service.storage.database import create_database_engine
    from service.storage.migrations import current_revision, head_revision

    engine = create_database_engine(settings)
    try:
        current = current_revision(engine)
    finally:
        engine.dispose()
    head = head_revision()
    if current != head:
        raise SystemExit(
            f"modelmon: the database schema is at {current or 'nothing'}, expected {head}: "
            "run `modelmon migrate` first (or set MODELMON_AUTO_MIGRATE=true)"
        )


def serve(settings: Settings) -> None:
    import uvicorn

    if settings.migrate_on_start:
        migrate(settings)
    else:
        _check_schema(settings)
    # Readiness probes consult Alembic's migration context; its INFO lines on every probe
    # (every few seconds under Kubernetes) would drown the service's own log.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    log.info("modelmon listening on http://%s:%d (API docs at /docs)", settings.host, settings.port)
    uvicorn.run(
        "service.app:create_app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level.value,
        timeout_graceful_shutdown=30,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="modelmon", description="Monitor machine-learning models in production."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the HTTP API (migrates the embedded SQLite database by itself)")
    commands.add_parser("migrate", help="upgrade the database schema to the newest version")
    args = parser.parse_args(argv)
    settings = _load_settings()
    logging.basicConfig(
        level=settings.log_level.value.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    if args.command == "migrate":
        migrate(settings)
    else:
        serve(settings)


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
