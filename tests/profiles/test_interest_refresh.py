"""When chat's worker writes product vectors, the merchant's profiles are rebuilt so interest vectors appear
(the demo embeds its catalog after the customers' first profile build)."""

from django.utils import timezone

from chat.knowledge.embeddings import embed_products_run
from profiles.models import CustomerProfile
from profiles.tasks import rebuild_profiles_task
from tests.chat.conftest import KeywordEmbedder
from tests.factories import CustomerFactory, EventFactory, ProductFactory


def test_new_product_vectors_queue_a_rebuild_that_fills_interest_vectors(
    merchant,
    other_merchant,
    queued_tasks,
    django_capture_on_commit_callbacks,
):
    jacket = ProductFactory(merchant=merchant, sku="J-1", title="Rain jacket", description="waterproof hood")
    customer = CustomerFactory(merchant=merchant)
    EventFactory(customer=customer, type="purchase", product=jacket, value=89, order_id="o1")
    CustomerFactory(merchant=other_merchant)
    rebuild_profiles_task(merchant.pk)
    assert CustomerProfile.objects.get(customer=customer).interest_vector is None

    with django_capture_on_commit_callbacks(execute=True):
        assert embed_products_run(merchant.pk, embedder=KeywordEmbedder()) == (1, False)
    assert queued_tasks() == [("profiles.tasks.rebuild_profiles_task", [merchant.pk])]

    rebuild_profiles_task(merchant.pk)  # what the worker runs for that message
    vector = CustomerProfile.objects.get(customer=customer).interest_vector
    assert vector is not None and abs(sum(x * x for x in vector) - 1) < 1e-4


def test_no_rebuild_is_queued_without_profiled_customers(
    merchant,
    queued_tasks,
    django_capture_on_commit_callbacks,
):
    ProductFactory(merchant=merchant, sku="J-1", title="Rain jacket")
    CustomerFactory(merchant=merchant, consent_profiling=False, last_seen_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        embed_products_run(merchant.pk, embedder=KeywordEmbedder())
    assert queued_tasks() == []
