#!/bin/sh
# Entrypoint of the modelmon image: one image for every role.
#
#   serve    the HTTP API; listens on MODELMON_HOST, 0.0.0.0 unless set
#   worker   aggregation, evaluation, alerting and webhook delivery in a loop, with its metrics
#            on MODELMON_WORKER_METRICS_PORT (9464) (`worker --once`: one pass, then exit)
#   migrate  upgrade the database schema to the newest revision, then exit
#   backfill evaluate a model's history as new revisions (--model NAME --from T --to T)
#
# Arguments after the role go to `modelmon <role>` unchanged. Anything else prints the usage and
# exits 64 (EX_USAGE in sysexits.h), so a typo in a manifest fails at once instead of starting
# the wrong process.
#
# `exec` replaces this shell with modelmon, so modelmon itself receives the SIGTERM of
# `docker stop` or the kubelet, and uvicorn drains in-flight requests for up to 30 s
# (timeout_graceful_shutdown in service/cli.py). Without it the shell, PID 1 in the container,
# would get the signal instead and modelmon would be SIGKILLed when the grace period ends.
set -eu

usage() {
    cat >&2 <<'USAGE'
usage: entrypoint.sh ROLE [ARGS...]

roles:
  serve    run the HTTP API (MODELMON_HOST defaults to 0.0.0.0 in the container)
  worker   run aggregation, evaluation, alerting and webhook delivery in a loop
           (--once: one pass); metrics on MODELMON_WORKER_METRICS_PORT (9464)
  migrate  upgrade the database schema, then exit
  backfill evaluate a model's history again: backfill --model NAME --from T --to T

ARGS are passed to `modelmon ROLE`. Settings come from MODELMON_* environment variables.
USAGE
}

if [ "$#" -eq 0 ]; then
    usage
    exit 64
fi

case "$1" in
    serve | worker | migrate | backfill)
        # The CLI's default, 127.0.0.1, is the container's own loopback: unreachable from the
        # host, other containers and the kubelet's probes.
        MODELMON_HOST="${MODELMON_HOST:-0.0.0.0}"
        export MODELMON_HOST
        exec modelmon "$@"
        ;;
    -h | --help | help)
        usage
        exit 0
        ;;
    *)
        printf "entrypoint.sh: unknown role '%s'\n\n" "$1" >&2
        usage
        exit 64
        ;;
esac
