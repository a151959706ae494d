"""Shared fixtures. Every access test has an owner, a member of each role and an outsider from another
merchant, so each view can prove who gets what (the healthchecks habit)."""

import socket
from urllib.parse import urlparse

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.services import Actor, api_key_create
from tests.factories import MembershipFactory, MerchantFactory, UserFactory


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def pytest_configure(config):
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("postgresql") and not _reachable(f"//{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}", 5432):
        raise pytest.UsageError(
            f"PostgreSQL is not reachable at {db.get('HOST')}:{db.get('PORT') or 5432}. Start it "
            "(e.g. `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`) or set TEST_DATABASE_URL."
        )
    if not _reachable(settings.CELERY_BROKER_URL, 6379):
        raise pytest.UsageError(
            f"Redis is not reachable at {settings.CELERY_BROKER_URL}. Start it "
            "(e.g. `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ''`) or set TEST_REDIS_URL."
        )


@pytest.fixture
def merchant(db):
    return MerchantFactory(name="Northwind Outfitters", slug="northwind")


@pytest.fixture
def other_merchant(db):
    return MerchantFactory(name="Contoso Goods", slug="contoso")


@pytest.fixture
def owner(merchant):
    return MembershipFactory(merchant=merchant, role=Role.OWNER, user=UserFactory(username="owner@example.com")).user


@pytest.fixture
def member_with_role(merchant):
    def make(role: str):
        return MembershipFactory(merchant=merchant, role=role, user=UserFactory(username=f"{role}@example.com")).user

    return make


@pytest.fixture
def outsider(other_merchant):
    return MembershipFactory(
        merchant=other_merchant, role=Role.OWNER, user=UserFactory(username="outsider@example.com")
    ).user


@pytest.fixture
def make_api_client(db):
    def make(merchant, scopes=("read", "write", "publish")):
        _, key = api_key_create(merchant=merchant, name="test", scopes=list(scopes), actor=Actor.system("test"))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        return client

    return make


@pytest.fixture
def api_client(make_api_client, merchant):
    return make_api_client(merchant)


@pytest.fixture
def outsider_api_client(make_api_client, other_merchant):
    return make_api_client(other_merchant)
