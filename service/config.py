"""One typed settings object, read from ``MODELMON_*`` environment variables at start-up.

Build it once (``Settings()``), call :func:`check_production_safety`, and pass it down; no
module reads the environment on its own.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.secrecy import unknown_variables, weak_key_reason, weak_password_reason

EMBEDDED_DATABASE_URL = "sqlite:///./modelmon.db"
# 32 characters of a random key carry >= 160 bits; a shorter secret can be guessed offline
# from one pseudonym (HMAC) or online against the API.
MIN_SECRET_LENGTH = 32


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class UnsafeConfigurationError(RuntimeError):
    """A setting that is acceptable on a laptop but refused in production mode."""


class Settings(BaseSettings):
    """Every setting of modelmon; each field is the variable ``MODELMON_<FIELD NAME>``."""

    model_config = SettingsConfigDict(env_prefix="MODELMON_", frozen=True, extra="forbid")

    env: Environment = Field(
        Environment.DEVELOPMENT,
        description="`production` refuses unsafe defaults (embedded SQLite, weak database passwords).",
    )
    database_url: str = Field(
        EMBEDDED_DATABASE_URL,
        description="SQLAlchemy URL. Default: an SQLite file in the working directory. "
        "Postgres: `postgresql+psycopg://user:password@host:5432/modelmon`.",
    )
    migration_database_url: str | None = Field(
        None,
        description="SQLAlchemy URL `modelmon migrate` uses: the role that owns the tables. Default: "
        "`MODELMON_DATABASE_URL`. With it set, `serve` and `worker` connect as a role that may not "
        "change the audit log (`modelmon db grant`, docs/security.md).",
    )
    database_pool_size: Annotated[int, Field(ge=1, le=200)] = Field(
        10, description="Connections kept open per process (Postgres)."
    )
    database_max_overflow: Annotated[int, Field(ge=0, le=200)] = Field(
        10, description="Extra connections allowed under burst (Postgres)."
    )
    host: str = Field("127.0.0.1", description="Address `modelmon serve` listens on.")
    port: Annotated[int, Field(ge=1, le=65535)] = Field(8000, description="Port `modelmon serve` listens on.")
    workers: Annotated[int, Field(ge=1, le=64)] = Field(
        1, description="uvicorn worker processes for `modelmon serve`."
    )
    log_level: LogLevel = Field(LogLevel.INFO, description="debug, info, warning or error.")
    max_batch_size: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        10_000, description="Most records in one predictions or outcomes request."
    )
    max_body_bytes: Annotated[int, Field(ge=1024)] = Field(
        32 * 1024 * 1024, description="Largest request body, in bytes (413 above)."
    )
    # At 100,000 rows the empirical CDF behind the fitted bin edges is within 0.43 percentage
    # points of the true one (DKW bound, 95%). The body is parsed in memory at ~10x its size
    # as Python objects, hence 128 MiB.
    max_reference_rows: Annotated[int, Field(ge=1)] = Field(
        100_000, description="Most rows in one reference upload."
    )
    max_reference_body_bytes: Annotated[int, Field(ge=1024)] = Field(
        128 * 1024 * 1024, description="Largest reference upload body, in bytes."
    )
    max_future_skew_seconds: Annotated[int, Field(ge=0)] = Field(
        300, description="How far past the server's clock a timestamp may be, in seconds."
    )
    max_errors_listed: Annotated[int, Field(ge=1, le=10_000)] = Field(
        100, description="Most per-record errors listed in one 4xx response (the total is always given)."
    )
    auto_migrate: bool | None = Field(
        None,
        description="Migrate the schema when `modelmon serve` starts. Default: on for SQLite, off for "
        "Postgres (run `modelmon migrate`).",
    )

    run_jobs: bool | None = Field(
        None,
        description="Run aggregation and evaluation inside `modelmon serve`. Default: on for SQLite (the "
        "embedded default), off for Postgres (run `modelmon worker`).",
    )
    worker_interval_seconds: Annotated[float, Field(gt=0, le=3600)] = Field(
        10.0, description="Pause between job rounds when a worker has caught up, in seconds."
    )
    # 9464 is the default port of OpenTelemetry's Prometheus exporters, the usual port for a
    # process's own metrics; above 1023 (the image runs without capabilities) and apart from
    # the API's 8000, so `serve` and `worker` can share a host.
    worker_metrics_port: Annotated[int, Field(ge=0, le=65535)] = Field(
        9464,
        description="Port on `MODELMON_HOST` where `modelmon worker` serves its own `/metrics` "
        "(job durations, failures, deliveries); 0 turns it off.",
    )
    # Each pass pays fixed costs (claim, layouts, ~5 ms per bucket profile it touches), so
    # larger passes fold faster: 1M predictions in one day folded at 36,161 rows/s (peak RSS
    # 305 MiB) in passes of 20,000 and at 63,722 rows/s (493 MiB) in passes of 100,000
    # (`benchmarks/aggregate.py`). A pass holds only its own model's cursor (~1.5 s).
    aggregation_pass_rows: Annotated[int, Field(ge=100, le=1_000_000)] = Field(
        100_000, description="Most predictions (and outcomes) folded in one aggregation transaction."
    )

    # Two slices read a cold 1M-row window's 20 JSON fields on two Postgres backends at once
    # (the read was ~80% of a cold evaluation on one backend); each holds a pooled connection.
    cold_read_slices: Annotated[int, Field(ge=1, le=16)] = Field(
        2,
        description="Parallel reads (Postgres connections, at most the pool size) of a window "
        "evaluated on demand from its raw events.",
    )

    public_url: str | None = Field(
        None,
        description="Base URL of this service as receivers reach it, for links in webhook payloads "
        "(e.g. `https://modelmon.example.com`). Default: `http://HOST:PORT`.",
    )
    http_timeout_seconds: Annotated[float, Field(gt=0, le=120)] = Field(
        5.0,
        description="Timeout of every outbound HTTP call (webhook attempt, Alertmanager push), in seconds.",
    )
    webhook_allowed_networks: str | None = Field(
        None,
        description="Comma-separated CIDRs that webhook URLs may resolve into although they are private, "
        "loopback or link-local (e.g. `10.0.0.0/8,127.0.0.0/8`). Default: loopback in development, none in "
        "production.",
    )
    # 15 s doubling to a 4 h cap: attempts at +15 s, 45 s, 1 m 45 s, …; the 16th comes 24 h 16 min
    # after the first (docs/webhooks.md has the table), so a receiver down for a day still gets it.
    webhook_max_attempts: Annotated[int, Field(ge=1, le=50)] = Field(
        16, description="Attempts per delivery before it is dead-lettered (backoff 15 s doubling, 4 h cap)."
    )
    webhook_concurrency: Annotated[int, Field(ge=1, le=256)] = Field(
        16, description="Deliveries attempted at once by one worker."
    )
    alertmanager_url: str | None = Field(
        None, description="Alertmanager to push alert states to (v2 API), e.g. `http://alertmanager:9093`."
    )
    alertmanager_resend_seconds: Annotated[float, Field(ge=5, le=3600)] = Field(
        60.0, description="How often firing alerts are re-sent to Alertmanager, in seconds."
    )

    # A cold read of 100 models × 50 features takes 0.4–0.7 s here (docs/metrics.md), so a
    # scrape is answered from a snapshot refreshed in the background at most this often.
    metrics_cache_seconds: Annotated[float, Field(ge=1, le=3600)] = Field(
        15.0, description="How often `/metrics` re-reads the stored evaluations and alerts, in seconds."
    )
    metrics_top_k_features: Annotated[int, Field(ge=0, le=10_000)] = Field(
        10,
        description="Most-drifted input features exported per model version, beyond the configured "
        "`drift.features` (the cardinality budget of `/metrics`).",
    )
    metrics_max_groups: Annotated[int, Field(ge=1, le=10_000)] = Field(
        10, description="Largest groups exported per fairness attribute or intersection on `/metrics`."
    )

    auth: bool = Field(
        True,
        description="Require an API key (`Authorization: Bearer <key>`) on every route but health and "
        "`/metrics`. Refused off in production.",
    )
    admin_key: SecretStr | None = Field(
        None,
        description="An admin key taken from the environment (e.g. a Kubernetes Secret), at least 32 "
        "characters; it is never stored. Keys made with `modelmon keys create` are stored hashed.",
    )
    # 100 requests/s per key, bursts of 200: a model service that posts every prediction on
    # its own gets that many predictions/s through; one batching each second (the client's
    # default) uses 1 %. It caps what one leaked key can make the database do.
    rate_limit_per_second: Annotated[float, Field(ge=0)] = Field(
        100.0, description="Requests per second one API key may make, per process (0 turns the limit off)."
    )
    rate_limit_burst: Annotated[int, Field(ge=1)] = Field(
        200, description="Requests one API key may make at once before the rate limit applies."
    )
    # A working day idle, a day at most: a browser left signed in on a shared screen is
    # signed out by the next morning, and a stolen cookie is worth a day at most.
    ui_session_idle_seconds: Annotated[int, Field(ge=60, le=7 * 86_400)] = Field(
        28_800, description="A status-page session ends after this many seconds without a page view."
    )
    ui_session_max_seconds: Annotated[int, Field(ge=60, le=30 * 86_400)] = Field(
        86_400, description="A status-page session ends this many seconds after sign-in, however used."
    )
    forwarded_allow_ips: str | None = Field(
        None,
        description="Comma-separated addresses (or `*`) of proxies whose X-Forwarded-For/-Proto headers "
        "`modelmon serve` trusts (uvicorn's `forwarded_allow_ips`). Default: uvicorn's, 127.0.0.1.",
    )
    pseudonym_key: SecretStr | None = Field(
        None,
        description="Secret of the keyed hash (HMAC-SHA256) that pseudonymises `subject_id` before it is "
        "stored; at least 32 characters. Required in production; changing it orphans stored subjects.",
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Key that encrypts webhook signing secrets at rest (AES-256-GCM, derived with "
        "HKDF-SHA256); at least 32 characters. Required in production; changing it makes the stored "
        "webhook secrets unreadable (rotate them).",
    )
    retention_days: Annotated[int, Field(ge=1, le=36_500)] = Field(
        90,
        description="Days raw predictions and outcomes are kept; bucket profiles (anonymous counts) are kept "
        "for good.",
    )
    # 10: the smallest cell many statistical offices publish (frequency tables' threshold rule);
    # a filed report must not reveal the decisions of a handful of identifiable applicants.
    report_min_cell: Annotated[int, Field(ge=1, le=100_000)] = Field(
        10,
        description="Compliance report: a cell about fewer people is suppressed, with complementary cells "
        "(docs/reports.md).",
    )
    report_chromium: str | None = Field(
        None,
        description="Compliance report's PDF: the Chromium binary that prints it. Default: `chromium`, "
        "`chromium-browser` or `google-chrome` on PATH.",
    )
    event_horizon_days: Annotated[int, Field(ge=1, le=36_500)] | None = Field(
        None,
        description="Oldest event time accepted, in days before now (older predictions and outcomes get "
        "a 422). Default: `MODELMON_RETENTION_DAYS`, so nothing is accepted that retention would delete.",
    )
    # One day per partition: at 10^6-10^8 predictions a day a day's indexes (~0.1-10 GB) stay
    # in memory, and retention drops whole days (docs/scaling.md).
    partition_days: Annotated[int, Field(ge=1, le=366)] = Field(
        1,
        description="Days of events per partition of `predictions` (by event time) and `outcomes` (by "
        "arrival time) on Postgres; retention drops whole partitions. SQLite is not partitioned.",
    )
    # A window takes 34-62 ms to evaluate (docs/scaling.md), so 1,000 hold one worker ~1 min;
    # 200 records on 200 days (4,800 windows of 24 h stepping hourly) held it ~4 min.
    max_batch_windows: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        1_000,
        description="Most window evaluations one predictions or outcomes batch may schedule per version, "
        "beyond the windows a single bucket lies in (422 above).",
    )
    database_timeout_seconds: Annotated[float, Field(gt=0, le=600)] = Field(
        30.0,
        description="Longest a database statement may run and longest a connection attempt may take "
        "(Postgres), in seconds.",
    )

    @field_validator("database_url", "migration_database_url")
    @classmethod
    def _known_driver(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must start with sqlite:// or postgresql+psycopg://")
        return value

    @field_validator("admin_key", "pseudonym_key", "secret_key", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # Compose and Helm pass an unset secret as an empty variable.
        return None if value == "" else value

    @field_validator("admin_key", "pseudonym_key", "secret_key")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters (e.g. `openssl rand -hex 32`)")
        return value

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _cidrs(cls, value: str | None) -> str | None:
        for part in (value or "").split(","):
            if part.strip():
                try:
                    ipaddress.ip_network(part.strip(), strict=False)
                except ValueError as error:
                    raise ValueError(f"{part.strip()!r} is not a CIDR such as 10.0.0.0/8") from error
        return value

    @field_validator("public_url", "alertmanager_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def jobs_in_api(self) -> bool:
        return self.is_sqlite if self.run_jobs is None else self.run_jobs

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def webhook_networks(self) -> list[str]:
        """The CIDRs of ``webhook_allowed_networks``, or the mode's default."""
        if self.webhook_allowed_networks is not None:
            return [part.strip() for part in self.webhook_allowed_networks.split(",") if part.strip()]
        if self.env is Environment.PRODUCTION:
            return []
        return ["127.0.0.0/8", "::1/128"]

    @property
    def horizon_days(self) -> int:
        """Days back an event time may lie: ``event_horizon_days``, else ``retention_days``."""
        return self.retention_days if self.event_horizon_days is None else self.event_horizon_days

    @property
    def owner_database_url(self) -> str:
        """The URL migrations run with: the tables' owner."""
        return self.migration_database_url or self.database_url

    @property
    def migrate_on_start(self) -> bool:
        return self.is_sqlite if self.auto_migrate is None else self.auto_migrate


def production_problems(settings: Settings) -> list[str]:
    """What production mode refuses in ``settings``; empty when it is safe to start."""
    if settings.env is not Environment.PRODUCTION:
        return []
    problems: list[str] = []
    if settings.is_sqlite:
        problems.append(
            "MODELMON_DATABASE_URL points at SQLite (the embedded default, one process only); "
            "production needs Postgres: postgresql+psycopg://user:password@host/db"
        )
    else:
        problems.extend(_password_problems(settings))
    problems.extend(_trust_problems(settings))
    problems.extend(_key_problems(settings))
    return problems


def _password_problems(settings: Settings) -> list[str]:
    from sqlalchemy.engine import make_url

    urls = {"MODELMON_DATABASE_URL": settings.database_url}
    if settings.migration_database_url is not None:
        urls["MODELMON_MIGRATION_DATABASE_URL"] = settings.migration_database_url
    problems = []
    for variable, url in urls.items():
        password = make_url(url).password
        reason = weak_password_reason(None if password is None else str(password))
        if reason is not None:
            problems.append(f"{variable} {reason}")
    return problems


def _trust_problems(settings: Settings) -> list[str]:
    problems: list[str] = []
    if not settings.auth:
        problems.append("MODELMON_AUTH=false leaves every route open; production requires API keys")
    if settings.pseudonym_key is None:
        problems.append(
            "MODELMON_PSEUDONYM_KEY is not set; production needs its own secret "
            "(e.g. `openssl rand -hex 32`) so subject ids are not hashed with the public development key"
        )
    if settings.secret_key is None:
        problems.append(
            "MODELMON_SECRET_KEY is not set; production needs it to encrypt webhook signing secrets "
            "at rest (e.g. `openssl rand -hex 32`)"
        )
    return problems


def _key_problems(settings: Settings) -> list[str]:
    keys = {
        "MODELMON_PSEUDONYM_KEY": settings.pseudonym_key,
        "MODELMON_ADMIN_KEY": settings.admin_key,
        "MODELMON_SECRET_KEY": settings.secret_key,
    }
    problems = []
    for variable, key in keys.items():
        reason = None if key is None else weak_key_reason(key.get_secret_value())
        if reason is not None:
            problems.append(f"{variable} {reason}")
    return problems


def environment_problems(settings: Settings, environ: Mapping[str, str]) -> list[str]:
    """``MODELMON_*`` variables of ``environ`` that no setting reads (a typo such as
    MODELMON_ENVIRONMENT=production would otherwise leave the service in development).

    Production refuses them (:class:`UnsafeConfigurationError`); development returns them,
    for the caller to log as warnings.
    """
    problems = unknown_variables(environ, Settings.model_fields)
    if problems and settings.env is Environment.PRODUCTION:
        raise UnsafeConfigurationError(
            "refusing to start in production mode (MODELMON_ENV=production):\n  - " + "\n  - ".join(problems)
        )
    return problems


def check_production_safety(settings: Settings) -> None:
    """Raise :class:`UnsafeConfigurationError` listing every unsafe setting in production mode."""
    problems = production_problems(settings)
    if problems:
        raise UnsafeConfigurationError(
            "refusing to start in production mode (MODELMON_ENV=production):\n  - " + "\n  - ".join(problems)
        )
