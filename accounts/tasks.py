from celery import shared_task


@shared_task(name="accounts.tasks.ping")
def ping() -> str:
    """Round trip used by health checks and the worker integration test."""
    return "pong"
