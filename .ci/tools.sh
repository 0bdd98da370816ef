#!/usr/bin/env bash
# The Debian packages some tests drive: promtool and Prometheus, Alertmanager, and a headless
# Chromium with its chromedriver (the status page's browser tests).
# Installs what is missing when apt-get can (root); otherwise says so and leaves the
# tests that need them to skip (or fail, with CI=true).
set -euo pipefail
missing=()
command -v promtool >/dev/null || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null || command -v alertmanager >/dev/null || missing+=(prometheus-alertmanager)
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${missing[*]} (Debian packages) for the tests that drive them"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "not installing ${missing[*]}: needs root and apt-get; the tests that drive them will skip" >&2
fi
