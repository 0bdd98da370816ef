#!/bin/sh
# Run by the postgres image once, when it initialises an empty data directory (compose mounts
# this directory at /docker-entrypoint-initdb.d). It creates the role `modelmon serve` and
# `modelmon worker` connect as; POSTGRES_USER owns the tables and only `modelmon migrate` uses
# it. `modelmon migrate` grants the service role its privileges after every upgrade:
# everything on every table but SELECT and INSERT only on audit_events (docs/security.md).
set -eu

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v service_password="$POSTGRES_SERVICE_PASSWORD" <<'SQL'
CREATE ROLE modelmon_service LOGIN PASSWORD :'service_password';
SQL
