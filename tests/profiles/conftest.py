"""Fixtures shared by the profiles tests."""

import base64
import json

import pytest
import redis
from django.conf import settings


@pytest.fixture
def queued_tasks():
    """The tasks queued on the test broker during the test: a list of (task name, args), oldest first."""
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("default")

    def read() -> list[tuple[str, list]]:
        messages = [json.loads(raw) for raw in reversed(broker.lrange("default", 0, -1))]
        return [(m["headers"]["task"], json.loads(base64.b64decode(m["body"]))[0]) for m in messages]

    yield read
    broker.delete("default")
