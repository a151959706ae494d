"""Fails fast, with what to start, when the test suite's PostgreSQL or Redis is unreachable."""

import os
import socket
import sys
from urllib.parse import urlparse

DB_URL = (
    os.environ.get("TEST_DATABASE_URL")
    or os.environ.get("DATABASE_URL")
    or "postgres://postgres@127.0.0.1:5432/storyfront"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"

HINTS = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start  (or set TEST_DATABASE_URL)",
    "Redis": "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ''  (or set TEST_REDIS_URL)",
}


def reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=3
        ):
            return True
    except OSError:
        return False


def main() -> int:
    failed = False
    for name, url, port in (("PostgreSQL", DB_URL, 5432), ("Redis", REDIS_URL, 6379)):
        if reachable(url, port):
            continue
        failed = True
        print(
            f"{name} is not reachable at {urlparse(url).hostname}:{urlparse(url).port or port}.",
            file=sys.stderr,
        )
        print(f"  Start it: {HINTS[name]}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
