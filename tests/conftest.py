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
    return MembershipFactory(
        merchant=merchant, role=Role.OWNER, user=UserFactory(username="owner@example.com")
    ).user


@pytest.fixture
def member_with_role(merchant):
    def make(role: str):
        return MembershipFactory(
            merchant=merchant, role=role, user=UserFactory(username=f"{role}@example.com")
        ).user

    return make


@pytest.fixture
def login(client, owner, member_with_role):
    """``login(role)``: the test client logged in as the owner (default) or a new member with ``role``."""

    def as_role(role=Role.OWNER):
        client.force_login(owner if role == Role.OWNER else member_with_role(role))
        return client

    return as_role


@pytest.fixture
def outsider(other_merchant):
    return MembershipFactory(
        merchant=other_merchant, role=Role.OWNER, user=UserFactory(username="outsider@example.com")
    ).user


@pytest.fixture
def make_api_client(db):
    def make(merchant, scopes=("read", "write", "publish")):
        _, key = api_key_create(
            merchant=merchant, name="test", scopes=list(scopes), actor=Actor.system("test")
        )
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


class CeleryWorker:
    """A real Celery worker (all queues) in a subprocess; tests can kill it and start it again.
    The threads pool keeps the worker answering control pings while a long task runs (solo would not)."""

    def __init__(self, env: dict):
        self.env = env
        self.proc = None

    def start(self, timeout: float = 60) -> None:
        import subprocess
        import sys
        import time

        from config.celery import app

        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                "default,ml,chat",
                "--pool",
                "threads",
                "-c",
                "2",
                "--loglevel",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"test-{time.time_ns()}@%h",
            ],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Celery worker exited early:\n{self.proc.stdout.read().decode()}")
            if app.control.ping(timeout=1.0):
                return
        raise RuntimeError(f"Celery worker did not answer a ping within {timeout} s.")

    def kill(self) -> None:
        """SIGKILL, as when a machine dies or the OOM killer strikes: no cleanup, no ack."""
        self.proc.kill()
        self.proc.wait(timeout=20)

    def stop(self) -> None:
        import subprocess

        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real worker on the test Redis and the test database. Tests that hand it work must use
    `transactional_db` so the rows they create are committed."""
    import os

    from django.conf import settings
    from django.db import connection

    from config.celery import app

    db = connection.settings_dict
    worker = CeleryWorker(
        {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "TEST_DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
            "TEST_REDIS_URL": settings.CELERY_BROKER_URL,
            "MODEL_STORE_DIR": str(tmp_path_factory.mktemp("worker-model-store")),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            # Worker tests deliver webhooks to receivers on loopback, which the SSRF guard refuses by default.
            "STORYFRONT_OUTBOUND_ALLOW_PRIVATE": "1",
        }
    )
    app.control.purge()
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture(scope="session")
def real_store():
    """Model store for integration tests with the real models; shared between runs (var/models by default, as
    `make demo` uses) so the SmolLM2 GGUF is converted only once (~20 s), on first use."""
    import os
    from pathlib import Path

    return Path(
        os.environ.get("STORYFRONT_TEST_MODEL_STORE", Path(__file__).resolve().parents[1] / "var" / "models")
    )


@pytest.fixture(scope="session")
def smollm2_checkpoint(real_store):
    from pathlib import Path

    from ml.engine import provision_base_models

    return Path(provision_base_models(real_store)["smollm2-135m-instruct"])
