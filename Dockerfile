# syntax=docker/dockerfile:1
#
# One image for every role of modelmon: `serve` (default), `worker`, `migrate`; see
# docker/entrypoint.sh. Build: docker build -t modelmon:0.1.0 .
#
# Two stages: the builder installs the runtime dependencies, pinned by requirements.lock, into a
# virtual environment; the final stage copies only that environment onto a fresh base. Every
# dependency installs from a binary wheel, so neither stage has or needs a compiler.

# ---- builder ---------------------------------------------------------------------------------
FROM python:3.11.14-slim-trixie AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src

# Dependencies first, in a layer of their own (~700 MiB, docs/benchmarks.md "What evidently
# costs"): a change to the code alone then reuses it. requirements.lock pins dev tools too; as
# constraints (-c) they only pin what the runtime dependencies pull in. --only-binary: every
# pinned version ships a wheel for CPython 3.11 on manylinux x86_64, so a dependency that would
# need a compiler fails here, by name, instead of half-building.
COPY pyproject.toml requirements.lock ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > runtime-requirements.txt \
    && pip install --no-cache-dir --only-binary=:all: -c requirements.lock -r runtime-requirements.txt

# The package itself (a non-editable install; the Alembic scripts travel inside it as
# service/_migrations). Its dependencies are satisfied by the layer above.
COPY README.md ./
COPY service ./service
COPY migrations ./migrations
RUN pip install --no-cache-dir -c requirements.lock . \
    && pip check

# ---- runtime ---------------------------------------------------------------------------------
FROM python:3.11.14-slim-trixie

LABEL org.opencontainers.image.title="modelmon" \
      org.opencontainers.image.description="Self-hosted monitoring of machine-learning models in production" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Apache-2.0"

# A fixed numeric UID/GID (10001, above the ranges distributions hand out) so that Kubernetes'
# runAsNonRoot can verify it without a passwd lookup and volume permissions are predictable.
# --no-log-init: a high UID would otherwise grow /var/log/faillog and lastlog to gigabytes.
RUN groupadd --system --gid 10001 modelmon \
    && useradd --system --no-log-init --uid 10001 --gid 10001 \
        --home-dir /var/lib/modelmon --shell /usr/sbin/nologin modelmon \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/modelmon

# Owned by root and read-only for modelmon: the process cannot change its own code.
COPY --from=builder /opt/venv /opt/venv
COPY --chmod=0755 docker/entrypoint.sh /usr/local/bin/modelmon-entrypoint
COPY --chmod=0644 docker/healthcheck.py /usr/local/lib/modelmon/healthcheck.py

# PYTHONDONTWRITEBYTECODE: the bytecode was compiled at install time, and under Kubernetes the
# root filesystem is read-only. MODELMON_HOST: listen on every interface of the container, also
# when the entrypoint is bypassed (docker run --entrypoint modelmon ...). DO_NOT_TRACK: the
# evidently dependency sends usage events from its UI and collector components unless it is set;
# modelmon uses neither, and a self-hosted monitor should not call out.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MODELMON_HOST=0.0.0.0 \
    MODELMON_PORT=8000 \
    DO_NOT_TRACK=1

# The working directory is writable by modelmon, so `docker run IMAGE` works on the embedded
# SQLite default (./modelmon.db) for a first look; real deployments set MODELMON_DATABASE_URL.
WORKDIR /var/lib/modelmon
USER 10001:10001
# 8000: the API (`serve`); 9464: a worker's /metrics (MODELMON_WORKER_METRICS_PORT).
EXPOSE 8000 9464

# uvicorn drains in-flight requests on SIGTERM for up to 30 s; give `docker stop` at least that
# (docker stop --time 40, stop_grace_period: 40s in docker-compose.yml) or it SIGKILLs after 10 s.
STOPSIGNAL SIGTERM

# Only the `serve` role answers; compose turns the check off for `worker` and `migrate`. The API
# starts in ~1.7 s (docs/benchmarks.md); 20 s of start period also covers SQLite auto-migration.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "/usr/local/lib/modelmon/healthcheck.py"]

ENTRYPOINT ["modelmon-entrypoint"]
CMD ["serve"]
