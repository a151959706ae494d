"""Tests run against real PostgreSQL and Redis (defaults below, overridable by env)."""

import os

import dj_database_url

from .base import *  # noqa: F401,F403
from .base import VAR_DIR

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("TEST_DATABASE_URL")
        or os.environ.get("DATABASE_URL")
        or "postgres://postgres@127.0.0.1:5432/storyfront"
    )
}
REDIS_URL = os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Many tests send wrong API keys on purpose, all from 127.0.0.1 and counted in the shared test Redis: without
# a high limit they would lock each other out. tests/accounts/test_api_throttling.py lowers it.
API_KEY_FAILURE_LIMIT = 1_000_000
DEBUG = False
VAR_DIR.mkdir(parents=True, exist_ok=True)
# Chat widget rate limits are counted in the cache; tests count them in the test Redis, as production does.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "sf-test",
    }
}
