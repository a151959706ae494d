"""Chat tasks. Thin: they take ids and call one function. Replies run on the `chat` queue (a threads-pool
worker whose threads share one batched model, see chat.replies); embeddings on `ml`. chat.replies pulls in
torch and is imported inside the tasks only."""

from celery import shared_task


@shared_task(name="chat.tasks.generate_reply_task", acks_late=True, ignore_result=True)
def generate_reply_task(message_id: int) -> str:
    from chat.replies.run import reply_generate_run

    return reply_generate_run(message_id)


@shared_task(name="chat.tasks.embed_knowledge_task", acks_late=True, ignore_result=True)
def embed_knowledge_task(merchant_id: int) -> int:
    from chat.knowledge.embeddings import embed_knowledge_run

    return embed_knowledge_run(merchant_id)


@shared_task(name="chat.tasks.embed_products_task", acks_late=True, ignore_result=True)
def embed_products_task(merchant_id: int) -> int:
    """One batch of products per run; a catalog with more queues the next batch (no task runs for long)."""
    from chat.knowledge.embeddings import embed_products_run

    written, more = embed_products_run(merchant_id)
    if more:
        embed_products_task.apply_async(args=[merchant_id], queue="ml")
    return written


@shared_task(name="chat.tasks.sweep_stale_replies_task", acks_late=True)
def sweep_stale_replies_task() -> dict:
    """Celery beat, every minute: a reply still pending after a minute is queued again (its task may have
    been lost; the claim makes a duplicate harmless); one pending or streaming for longer than
    CHAT_REPLY_GIVE_UP_SECONDS ends failed with the fallback text, so no shopper waits forever."""
    from chat.conversations.services import reply_sweep_stale

    outcome = reply_sweep_stale()
    for message_id in outcome["requeued"]:
        generate_reply_task.apply_async(args=[message_id], queue="chat")
    return outcome


@shared_task(name="chat.tasks.embed_stale_catalogs_task", acks_late=True, ignore_result=True)
def embed_stale_catalogs_task() -> list[int]:
    """Celery beat: merchants using chat whose products changed get their vectors refreshed."""
    from chat.knowledge.services import merchants_with_stale_product_vectors

    merchant_ids = merchants_with_stale_product_vectors()
    for merchant_id in merchant_ids:
        embed_products_task.apply_async(args=[merchant_id], queue="ml")
    return merchant_ids
