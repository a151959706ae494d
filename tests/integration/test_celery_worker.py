import pytest

from accounts.tasks import ping

pytestmark = pytest.mark.integration


def test_real_worker_round_trip_on_both_queues(celery_worker_process):
    assert ping.apply_async(queue="default").get(timeout=30) == "pong"
    assert ping.apply_async(queue="ml").get(timeout=30) == "pong"
