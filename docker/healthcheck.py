"""The image's HEALTHCHECK: exit 0 when ``GET /healthz`` on this container answers 200, else 1.

Python rather than curl: the interpreter is in the image already, curl would be one more binary
(and its libraries) to patch. Only the ``serve`` role listens; containers of the other roles
turn the check off (docker-compose.yml), and Kubernetes ignores HEALTHCHECK and uses the
chart's probes.
"""

from __future__ import annotations

import os
import sys
import urllib.request

# Below the Dockerfile's HEALTHCHECK --timeout (5 s), so a slow answer is reported as such
# rather than the check being killed.
TIMEOUT_SECONDS = 4.0


def main() -> int:
    url = f"http://127.0.0.1:{os.environ.get('MODELMON_PORT', '8000')}/healthz"
    # No proxies: an HTTP_PROXY in the environment must not route a loopback check elsewhere.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=TIMEOUT_SECONDS) as response:
            status = response.status
    except (OSError, ValueError) as error:  # URLError and HTTPError are OSErrors
        print(f"healthcheck: {url}: {error}", file=sys.stderr)
        return 1
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
