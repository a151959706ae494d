import pytest

from accounts.models import AuditLog
from marketing.models import Campaign
from ml.models import Job
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def test_create_campaign_with_products(api_client, merchant, bottle, jacket):
    response = api_client.post(
        "/api/v1/campaigns/",
        {
            "name": "Spring",
            "channel": "sms",
            "products": [bottle.pk, jacket.pk],
            "tone": "playful",
            "length": "short",
            "variants_per_product": 2,
            "audience": "lapsed customers",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["products"] == sorted([bottle.pk, jacket.pk])
    assert (body["channel"], body["status"], body["variants_per_product"]) == ("sms", "draft", 2)
    assert body["created_by_label"].startswith("api-key:")
    campaign = Campaign.objects.get(pk=body["id"])
    assert campaign.merchant == merchant and campaign.audience == "lapsed customers"
    assert AuditLog.objects.filter(action="campaign.create", object_id=str(campaign.pk)).exists()


def test_create_campaign_with_a_catalog_filter(api_client, bottle):
    response = api_client.post(
        "/api/v1/campaigns/",
        {
            "name": "Cheap things",
            "channel": "ad_headline",
            "product_filter": {"brand": "Northwind", "max_price": 50},
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["product_filter"] == {"brand": "Northwind", "max_price": "50.00"}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x", "channel": "fax", "products": [1]}, "channel"),
        ({"name": "x", "channel": "sms"}, "products"),
        ({"name": "x", "channel": "sms", "product_filter": {"colour": "red"}}, "product_filter"),
        ({"name": "x", "channel": "sms", "products": ["abc"]}, "products"),
        ({"name": "x", "channel": "sms", "products": [1], "variants_per_product": 9}, "variants_per_product"),
        ({"name": "", "channel": "sms", "products": [1]}, "name"),
        ({"name": "x", "channel": "sms", "product_filter": {"min_price": "cheap"}}, "product_filter"),
    ],
)
def test_create_campaign_rejects_bad_input(api_client, payload, field):
    response = api_client.post("/api/v1/campaigns/", payload, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["field_errors"]
    assert not Campaign.objects.exists()


def test_products_of_another_merchant_are_named_in_the_error(api_client, bottle, other_merchant):
    foreign = ProductFactory(merchant=other_merchant, sku="THEIRS")
    response = api_client.post(
        "/api/v1/campaigns/",
        {"name": "x", "channel": "sms", "products": [bottle.pk, foreign.pk, 999999]},
        format="json",
    )
    assert response.status_code == 400
    message = response.json()["field_errors"]["products"][0]
    assert str(foreign.pk) in message and "999999" in message and str(bottle.pk) not in message


def test_update_and_delete_campaign(api_client, campaign, bottle):
    response = api_client.patch(
        f"/api/v1/campaigns/{campaign.pk}/", {"products": [bottle.pk], "tone": "calm"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["products"] == [bottle.pk] and response.json()["tone"] == "calm"
    assert api_client.delete(f"/api/v1/campaigns/{campaign.pk}/").status_code == 204
    assert not Campaign.objects.exists()


def test_channel_cannot_change_once_pieces_exist(api_client, campaign, make_piece):
    make_piece()
    response = api_client.patch(f"/api/v1/campaigns/{campaign.pk}/", {"channel": "sms"}, format="json")
    assert response.status_code == 400
    assert "channel" in response.json()["field_errors"]


def test_a_campaign_with_published_pieces_cannot_be_deleted(api_client, campaign, make_piece):
    make_piece("published")
    response = api_client.delete(f"/api/v1/campaigns/{campaign.pk}/")
    assert response.status_code == 409
    assert Campaign.objects.filter(pk=campaign.pk).exists()


def test_list_shows_piece_counts(api_client, campaign, make_piece, jacket):
    make_piece("in_review")
    make_piece("approved", product=jacket, flagged=True)
    row = api_client.get("/api/v1/campaigns/").json()["results"][0]
    assert (row["piece_count"], row["in_review_count"], row["approved_count"], row["flagged_count"]) == (
        2,
        1,
        1,
        1,
    )


def test_generate_answers_202_with_a_queued_job(api_client, campaign, tiny_base, bottle, jacket):
    response = api_client.post(f"/api/v1/campaigns/{campaign.pk}/generate/")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["kind"], body["status"], body["progress_total"]) == ("generate", "queued", 2)
    job = Job.objects.get(pk=body["id"])
    assert job.params["campaign_id"] == campaign.pk
    assert sorted(job.params["product_ids"]) == sorted([bottle.pk, jacket.pk])
    assert job.base_version == tiny_base
    campaign.refresh_from_db()
    assert campaign.status == "generating" and campaign.last_job == job
    # A second click while it runs is refused rather than doubling the work.
    assert api_client.post(f"/api/v1/campaigns/{campaign.pk}/generate/").status_code == 409


def test_generate_without_a_model_is_a_conflict(api_client, campaign):
    response = api_client.post(f"/api/v1/campaigns/{campaign.pk}/generate/")
    assert response.status_code == 409
    assert "ml_provision" in response.json()["message"]
    assert not Job.objects.exists()


def test_generate_needs_write_scope(make_api_client, merchant, campaign, tiny_base):
    reader = make_api_client(merchant, scopes=["read"])
    assert reader.get(f"/api/v1/campaigns/{campaign.pk}/").status_code == 200
    assert reader.post(f"/api/v1/campaigns/{campaign.pk}/generate/").status_code == 403
    assert (
        reader.post("/api/v1/campaigns/", {"name": "x", "channel": "sms"}, format="json").status_code == 403
    )
    assert not Job.objects.exists()


def test_outsider_gets_404_on_campaigns(outsider_api_client, campaign, tiny_base):
    assert outsider_api_client.get("/api/v1/campaigns/").json()["results"] == []
    for method, url in [
        ("get", f"/api/v1/campaigns/{campaign.pk}/"),
        ("patch", f"/api/v1/campaigns/{campaign.pk}/"),
        ("delete", f"/api/v1/campaigns/{campaign.pk}/"),
        ("post", f"/api/v1/campaigns/{campaign.pk}/generate/"),
    ]:
        assert getattr(outsider_api_client, method)(url, {}, format="json").status_code == 404, (method, url)
    assert Campaign.objects.filter(pk=campaign.pk).exists()
    assert not Job.objects.exists()


def test_a_generating_campaign_cannot_be_deleted(api_client, campaign, tiny_base):
    assert api_client.post(f"/api/v1/campaigns/{campaign.pk}/generate/").status_code == 202
    response = api_client.delete(f"/api/v1/campaigns/{campaign.pk}/")
    assert response.status_code == 409 and response.json()["code"] == "already_generating"
    assert Campaign.objects.filter(pk=campaign.pk).exists()


def test_regenerating_one_piece_does_not_block_generating_the_campaign(
    api_client, campaign, tiny_base, make_piece
):
    piece = make_piece("rejected", rejection_reason="dull")
    assert api_client.post(f"/api/v1/contents/{piece.pk}/regenerate/").status_code == 202
    assert api_client.post(f"/api/v1/campaigns/{campaign.pk}/generate/").status_code == 202


def test_a_campaign_whose_queued_job_was_cancelled_no_longer_reads_as_generating(
    api_client, campaign, tiny_base
):
    job_id = api_client.post(f"/api/v1/campaigns/{campaign.pk}/generate/").json()["id"]
    assert api_client.get(f"/api/v1/campaigns/{campaign.pk}/").json()["status"] == "generating"
    assert api_client.post(f"/api/v1/jobs/{job_id}/cancel/").status_code == 200
    assert api_client.get(f"/api/v1/campaigns/{campaign.pk}/").json()["status"] == "ready"
    assert api_client.post(f"/api/v1/campaigns/{campaign.pk}/generate/").status_code == 202
