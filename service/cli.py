"""The ``modelmon`` command: ``serve``, ``worker``, ``migrate``, ``backfill``, ``keys``, ``demo``,
``import`` and ``spark-backfill``."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import ValidationError
from sqlalchemy.engine import make_url

from service.config import (
    Environment,
    Settings,
    UnsafeConfigurationError,
    check_production_safety,
    environment_problems,
)

if TYPE_CHECKING:
    from service.runner import Runner

log = logging.getLogger("modelmon")

DEMO_HELP = "watch modelmon catch drift, degradation and bias in a simulated credit-scoring model"


def _load_settings() -> tuple[Settings, list[str]]:
    """The settings, and the warnings about them to log (unknown variables in development)."""
    try:
        settings = Settings()
        warnings = environment_problems(settings, os.environ)
        check_production_safety(settings)
    except ValidationError as error:
        problems = "\n".join(
            f"  - MODELMON_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in error.errors()
        )
        raise SystemExit(f"modelmon: invalid configuration:\n{problems}") from None
    except UnsafeConfigurationError as error:
        raise SystemExit(f"modelmon: {error}") from None
    return settings, warnings


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def migrate(settings: Settings) -> None:
    """Upgrade the schema as the tables' owner, then encrypt webhook secrets stored in plaintext."""
    from service.storage.migrations import upgrade

    log.info("migrating %s to the newest schema", _safe_url(settings.owner_database_url))
    upgrade(settings.owner_database_url)
    log.info("schema is at head")
    _grant_service_role(settings)
    _seal_webhook_secrets(settings)


def _grant_service_role(settings: Settings) -> None:
    """With two URLs naming different users, grant the service's user its privileges."""
    role = make_url(settings.database_url).username
    if settings.is_sqlite or role is None or role == make_url(settings.owner_database_url).username:
        return
    _grant(settings, role)
    log.info("granted %r read and write on every table, and only SELECT and INSERT on audit_events", role)


def _grant(settings: Settings, role: str) -> list[str]:
    from sqlalchemy import create_engine

    from service.storage.roles import grant_service_role

    engine = create_engine(settings.owner_database_url)
    try:
        return grant_service_role(engine, role)
    finally:
        engine.dispose()


def grant_command(settings: Settings, role: str) -> None:
    """``modelmon db grant --role NAME``: print the statements run as the owner."""
    if settings.is_sqlite:
        raise SystemExit("modelmon: SQLite has no roles; `db grant` is for Postgres")
    if role == make_url(settings.owner_database_url).username:
        raise SystemExit(f"modelmon: {role!r} owns the tables (MODELMON_MIGRATION_DATABASE_URL)")
    for statement in _grant(settings, role):
        print(statement)


def _check_service_role(settings: Settings) -> None:
    """Production refuses to serve as a role that can rewrite the audit log; development warns."""
    from service.storage.database import create_database_engine
    from service.storage.roles import audit_privilege_problems

    engine = create_database_engine(settings)
    try:
        problems = audit_privilege_problems(engine)
    finally:
        engine.dispose()
    if not problems:
        return
    advice = (
        "connect MODELMON_DATABASE_URL as a role made for the service and let the owner migrate "
        "(MODELMON_MIGRATION_DATABASE_URL; `modelmon db grant --role NAME`; docs/security.md)"
    )
    if settings.env is Environment.PRODUCTION:
        refused = "; ".join(problems)
        raise SystemExit(f"modelmon: refusing to start in production mode: {refused}; {advice}")
    for problem in problems:
        log.warning("%s; production refuses this: %s", problem, advice)


def _seal_webhook_secrets(settings: Settings) -> None:
    from service.storage.database import create_database_engine, create_session_factory, unit_of_work
    from service.webhooks.sealing import sealer_for
    from service.webhooks.service import seal_plaintext_secrets

    engine = create_database_engine(settings.model_copy(update={"database_url": settings.owner_database_url}))
    try:
        with unit_of_work(create_session_factory(engine)) as session:
            sealed = seal_plaintext_secrets(session, sealer_for(settings))
    finally:
        engine.dispose()
    if sealed:
        log.info("encrypted the signing secrets of %d webhook endpoints stored in plaintext", sealed)


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
    _check_service_role(settings)
    from service.auth.commands import bootstrap_admin

    bootstrap_admin(settings)
    if not settings.auth:
        log.warning("authentication is OFF (MODELMON_AUTH=false): every route is open to whoever reaches it")
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
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


def _runner(settings: Settings, *, pool_gauges: bool = False) -> Runner:
    from service.clock import system_clock
    from service.kernel.threads import one_blas_thread
    from service.runner import Runner
    from service.storage.database import create_database_engine, create_session_factory

    if settings.migrate_on_start:
        migrate(settings)
    else:
        _check_schema(settings)
    _check_service_role(settings)
    engine = create_database_engine(settings)
    one_blas_thread()
    if pool_gauges:
        from service.export.setup import watch_pool

        watch_pool(engine, settings)
    return Runner(create_session_factory(engine), settings, system_clock)


def _serve_worker_metrics(settings: Settings) -> Callable[[], None] | None:
    """Serve the default registry (job instruments, process metrics) on the worker's metrics
    port; the function that stops it, or None when the port is 0."""
    from prometheus_client import start_http_server

    if settings.worker_metrics_port == 0:
        log.info("worker metrics are off (MODELMON_WORKER_METRICS_PORT=0)")
        return None
    try:
        server, thread = start_http_server(settings.worker_metrics_port, addr=settings.host)
    except OSError as error:
        raise SystemExit(
            f"modelmon: cannot serve worker metrics on {settings.host}:{settings.worker_metrics_port} "
            f"({error.strerror or error}): set MODELMON_WORKER_METRICS_PORT to a free port, or to 0 "
            "to turn them off"
        ) from None
    log.info("worker metrics on http://%s:%d/metrics", settings.host, settings.worker_metrics_port)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop


def worker(settings: Settings, *, once: bool) -> None:
    """Aggregation, evaluation, alerting and webhook delivery until SIGTERM/SIGINT (or one
    round with ``once``); a long-running worker serves its metrics on its own port."""
    # Bound before the schema check, so a taken port fails the start at once.
    stop_metrics = None if once else _serve_worker_metrics(settings)
    runner = _runner(settings, pool_gauges=stop_metrics is not None)
    if once:
        summary, delivered = runner.once()
        log.info(
            "worker: folded %d predictions and %d late labels, evaluated %d windows, fired %d and "
            "resolved %d alerts, attempted %d webhook deliveries in %.1f s",
            summary.predictions, summary.late_labels, summary.windows, summary.alerts_fired,
            summary.alerts_resolved, delivered, summary.seconds,
        )  # fmt: skip
        runner.close()
        return
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    log.info("worker started (%s); stop with SIGTERM", _safe_url(settings.database_url))
    try:
        runner.run_forever(stop)
    finally:
        runner.close()
        if stop_metrics is not None:
            stop_metrics()
    log.info("worker stopped")


def _timestamp(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    if moment.utcoffset() is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a timezone, e.g. 2026-11-01T00:00:00Z")
    from service.kernel import grid

    if not grid.on_grid(moment):
        years = f"{grid.FIRST:%Y} to {grid.LAST:%Y}"
        raise argparse.ArgumentTypeError(f"{text!r} is outside the years {years} UTC")
    return moment


def backfill(settings: Settings, model: str, start: datetime, end: datetime) -> None:
    from service.errors import ApiError
    from service.windows.commands import backfill as run_backfill

    if start >= end:
        raise SystemExit("modelmon: --from must be before --to")
    runner = _runner(settings)
    try:
        done = run_backfill(runner.pipeline.aggregation, runner.pipeline.evaluation, model, start, end)
    except ApiError as error:
        raise SystemExit(f"modelmon: {error.detail}") from None
    finally:
        runner.close()
    log.info("backfill of %s: %d windows evaluated", model, done)


def _parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelmon", description="Monitor machine-learning models in production."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the HTTP API (migrates the embedded SQLite database by itself)")
    commands.add_parser("migrate", help="upgrade the database schema to the newest version")
    work = commands.add_parser("worker", help="run aggregation and window evaluation (any number of them)")
    work.add_argument("--once", action="store_true", help="one round: catch up, evaluate what is due, exit")
    fill = commands.add_parser("backfill", help="evaluate a model's history as new revisions")
    fill.add_argument("--model", required=True, help="model name")
    fill.add_argument("--from", dest="start", required=True, type=_timestamp, help="windows ending after")
    fill.add_argument("--to", dest="end", required=True, type=_timestamp, help="windows ending at or before")
    database = commands.add_parser("db", help="database roles")
    roles = database.add_subparsers(dest="db_command", required=True)
    grant = roles.add_parser(
        "grant", help="as the owner (MODELMON_MIGRATION_DATABASE_URL), grant the role serve and worker use"
    )
    grant.add_argument("--role", required=True, help="the role serve and worker connect as")
    from service.audit.commands import register as register_audit
    from service.auth.commands import register as register_keys
    from service.importer.command import register as register_import
    from service.profiles.commands import register as register_spark_backfill

    register_keys(commands)
    register_audit(commands)
    register_import(commands)
    register_spark_backfill(commands)
    demo = commands.add_parser("demo", help=DEMO_HELP)
    if argv[:1] == ["demo"]:
        # Only `modelmon demo` loads the demo: serve, worker and the rest never import service.demo.
        from service.demo import command as demo_command

        demo_command.configure(demo)
    return parser


def _client_command(args: argparse.Namespace) -> int:
    """The commands that read no server settings: the demo builds its own (a production
    MODELMON_* shell must not stop it), and import and spark-backfill are clients of a running
    modelmon."""
    if args.command == "demo":
        from service.demo import command as demo_command

        return demo_command.run(args)
    if args.command == "spark-backfill":
        from service.profiles import commands as spark_backfill

        return spark_backfill.run(args)
    from service.importer.command import run as run_import

    return run_import(args)


def main(argv: Sequence[str] | None = None) -> None:
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = _parser(arguments).parse_args(arguments)
    if args.command in ("demo", "import", "spark-backfill"):
        raise SystemExit(_client_command(args))
    settings, warnings = _load_settings()
    logging.basicConfig(
        level=settings.log_level.value.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    for warning in warnings:
        log.warning("%s (production refuses to start with it)", warning)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    if args.command == "migrate":
        migrate(settings)
    elif args.command == "worker":
        worker(settings, once=args.once)
    elif args.command == "backfill":
        backfill(settings, args.model, args.start, args.end)
    elif args.command == "db":
        grant_command(settings, args.role)
    elif args.command == "audit":
        from service.audit.commands import run as run_audit

        raise SystemExit(run_audit(settings, args))
    elif args.command == "keys":
        from service.auth.commands import run as run_keys

        logging.getLogger().setLevel(logging.WARNING)  # stdout carries the key; keep stderr quiet
        if settings.migrate_on_start:
            migrate(settings)
        run_keys(settings, args)
    else:
        serve(settings)


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
