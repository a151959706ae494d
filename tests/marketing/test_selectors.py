"""The review queue renders 200 pieces beside their product facts in a fixed number of queries, and every
selector is tenant-scoped."""

from datetime import timedelta

import pytest
from django.http import Http404
from django.utils import timezone

from marketing.api.serializers import CampaignSerializer, ContentPieceSerializer
from marketing.models import Campaign, ContentPiece
from marketing.publishing.services import content_publish_scheduled
from marketing.selectors import (
    campaign_get,
    campaign_list,
    campaign_products,
    content_due_for_scheduled_publish,
    content_export_list,
    content_get,
    content_list,
    product_facts,
)
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_hundred_pieces(merchant):
    category = CategoryFactory(merchant=merchant, name="Bottles", slug="bottles")
    products = [ProductFactory(merchant=merchant, category=category) for _ in range(50)]
    campaigns = [
        Campaign.objects.create(merchant=merchant, name=f"C{i}", channel=ch)
        for i, ch in enumerate(["product_description", "sms", "email", "social_post"])
    ]
    ContentPiece.objects.bulk_create(
        ContentPiece(
            merchant=merchant,
            campaign=c,
            product=p,
            variant=1,
            status="in_review",
            body=f"Copy {p.sku}",
            grounding={"passed": True, "approvable": True, "unsupported": []},
        )
        for c in campaigns
        for p in products
    )
    return campaigns, products


def test_review_queue_of_200_pieces_in_a_bounded_number_of_queries(
    merchant, two_hundred_pieces, django_assert_max_num_queries
):
    with django_assert_max_num_queries(1):
        pieces = list(content_list(merchant=merchant, status="in_review"))
        rows = ContentPieceSerializer(pieces, many=True).data
        facts = [product_facts(piece.product) for piece in pieces]
        labels = [(piece.campaign.get_channel_display(), str(piece.model_version)) for piece in pieces]
    assert len(rows) == len(facts) == len(labels) == 200
    assert facts[0]["category"] == "Bottles"


def test_api_list_of_200_pieces_in_a_bounded_number_of_queries(
    api_client, two_hundred_pieces, django_assert_max_num_queries
):
    with django_assert_max_num_queries(6):  # key lookup + last-used touch, count, page
        response = api_client.get("/api/v1/contents/", {"page_size": 200})
    assert response.status_code == 200 and len(response.json()["results"]) == 200


def test_campaign_list_counts_without_n_plus_one(merchant, two_hundred_pieces, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):  # campaigns with counts, their products
        rows = CampaignSerializer(
            campaign_list(merchant=merchant).prefetch_related("products"), many=True
        ).data
    assert sorted(r["piece_count"] for r in rows) == [50, 50, 50, 50]


def test_selectors_never_cross_tenants(merchant, other_merchant, campaign, make_piece):
    piece = make_piece("approved")
    assert not content_list(merchant=other_merchant).exists()
    assert not campaign_list(merchant=other_merchant).exists()
    assert not content_export_list(merchant=other_merchant).exists()
    for call in (
        lambda: content_get(merchant=other_merchant, piece_id=piece.pk),
        lambda: campaign_get(merchant=other_merchant, campaign_id=campaign.pk),
        lambda: content_get(merchant=merchant, piece_id="abc"),
    ):
        with pytest.raises(Http404):
            call()


def test_campaign_products_explicit_list_or_filter(merchant, campaign, bottle, jacket, other_merchant):
    ProductFactory(merchant=other_merchant, brand="Northwind")
    assert set(campaign_products(campaign=campaign)) == {bottle, jacket}
    by_filter = Campaign.objects.create(
        merchant=merchant, name="F", channel="sms", product_filter={"brand": "northwind", "max_price": "50"}
    )
    assert list(campaign_products(campaign=by_filter)) == [bottle]
    inactive = ProductFactory(merchant=merchant, brand="Northwind", price=1, is_active=False)
    assert inactive not in campaign_products(campaign=by_filter)


def test_scheduled_publishing_publishes_due_approved_pieces_only(
    merchant, campaign, make_piece, jacket, django_capture_on_commit_callbacks
):
    future = Campaign.objects.create(
        merchant=merchant, name="Later", channel="sms", publish_at=timezone.now() + timedelta(days=1)
    )
    Campaign.objects.filter(pk=campaign.pk).update(publish_at=timezone.now() - timedelta(minutes=1))
    due = make_piece("approved")
    not_approved = make_piece("in_review", product=jacket)
    later = make_piece("approved", camp=future)
    assert list(content_due_for_scheduled_publish(now=timezone.now())) == [due]
    with django_capture_on_commit_callbacks(execute=True):
        assert content_publish_scheduled() == [due.pk]
    statuses = dict(ContentPiece.objects.values_list("pk", "status"))
    assert (statuses[due.pk], statuses[not_approved.pk], statuses[later.pk]) == (
        "published",
        "in_review",
        "approved",
    )
    assert content_publish_scheduled() == []  # running again does nothing


def test_beat_schedule_runs_scheduled_publishing_every_minute():
    from config.celery import app

    app.loader.import_default_modules()
    entry = app.conf.beat_schedule["publish-scheduled-content"]
    assert entry["task"] == "marketing.tasks.publish_scheduled_content_task" and entry["schedule"] == 60.0
    assert "marketing.tasks.publish_scheduled_content_task" in app.tasks
