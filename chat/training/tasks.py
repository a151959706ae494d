"""Incremental chat fine-tuning on Celery beat: thin tasks that take ids and call chat.training.services. The
training job itself runs on the `ml` queue (ml.tasks.finetune_task, with chat.training.worker as its runner)."""

import logging

from celery import shared_task

from accounts.models import Merchant
from accounts.services import Actor

logger = logging.getLogger(__name__)


@shared_task(name="chat.training_tasks.incremental_finetune_sweep_task", acks_late=True)
def incremental_finetune_sweep_task() -> list[int]:
    """Beat (daily by default): one incremental fine-tune task per merchant with new resolved conversations."""
    from chat.training.services import incremental_candidates

    merchant_ids = incremental_candidates()
    for merchant_id in merchant_ids:
        incremental_finetune_task.apply_async(args=[merchant_id], queue="default")
    return merchant_ids


@shared_task(name="chat.training_tasks.incremental_finetune_task", acks_late=True)
def incremental_finetune_task(merchant_id: int) -> str:
    """Start one merchant's incremental fine-tune; running twice is harmless (the second finds a job running
    or nothing new)."""
    from chat.training.services import FinetuneRefused, chat_incremental_finetune_start

    merchant = Merchant.objects.filter(pk=merchant_id).first()
    if merchant is None:
        return "skipped: no such merchant"
    try:
        job = chat_incremental_finetune_start(
            merchant=merchant, actor=Actor.system("chat-incremental-finetune")
        )
    except FinetuneRefused as exc:
        logger.info("Incremental chat fine-tune for merchant %s not started: %s", merchant_id, exc.message)
        return f"skipped: {exc.message}"
    return f"job {job.pk}"
