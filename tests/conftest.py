"""Shared fixtures. Every access test has an owner, a member of each role and an outsider from another
merchant, so each view can prove who gets what (the healthchecks habit)."""

import pytest
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.services import Actor, api_key_create
from scripts import check_services
from tests.factories import MembershipFactory, MerchantFactory, UserFactory


def pytest_configure(config):
    # Same check as `make test` runs first, for people who call pytest directly.
    if check_services.main() != 0:
        raise pytest.UsageError("The test suite needs PostgreSQL and Redis; see the message above.")


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


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real Celery worker (both queues) in a subprocess, on the test Redis and the test database.
    Tests that hand it work must use `transactional_db` so the rows they create are committed."""
    import os
    import subprocess
    import sys
    import time

    from django.conf import settings
    from django.db import connection

    from config.celery import app

    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "TEST_DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "TEST_REDIS_URL": settings.CELERY_BROKER_URL,
        "MODEL_STORE_DIR": str(tmp_path_factory.mktemp("worker-model-store")),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    app.control.purge()
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "default,ml", "--pool", "solo",
         "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "-n", f"test-{os.getpid()}@%h"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"Celery worker exited early:\n{proc.stdout.read().decode()}")
            if app.control.ping(timeout=1.0):
                break
        else:
            raise RuntimeError("Celery worker did not answer a ping within 60 s.")
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
