"""Campaigns target a segment: chosen in the campaign form or set through the API by slug or id, always one of
the merchant's own; the campaign page shows it with its size; deleting the segment leaves the campaign for
everyone."""

import pytest
from django.urls import reverse

from accounts.models import AuditLog
from accounts.services import Actor
from marketing.campaigns.services import campaign_create, campaign_update
from marketing.models import Campaign
from profiles.segments import segment_create, segment_delete
from tests.factories import ProductFactory
from tests.profiles.segment_helpers import customer

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")
GB = [{"field": "country", "op": "in", "value": ["GB"]}]


@pytest.fixture
def bottle(merchant):
    return ProductFactory(merchant=merchant, sku="BOTTLE-1", title="Trail bottle", price="20.00")


@pytest.fixture
def uk(merchant):
    customer(merchant, "ann", country="GB")
    customer(merchant, "bob", country="GB")
    return segment_create(merchant=merchant, actor=ACTOR, name="UK shoppers", rules=GB)


@pytest.fixture
def theirs(other_merchant):
    return segment_create(merchant=other_merchant, actor=ACTOR, name="Their UK", rules=GB)


def form_data(**overrides):
    data = {
        "name": "Spring launch",
        "goal": "",
        "channel": "email",
        "product_mode": "pick",
        "products": [],
        "target_segment": "",
        "audience": "",
        "tone": "",
        "length": "medium",
        "language": "en",
        "variants_per_product": "1",
        "publish_at": "",
    }
    data.update(overrides)
    return data


def test_the_campaign_form_offers_only_the_merchants_segments(login, bottle, uk, theirs):
    html = login().get(reverse("marketing:campaign_create")).content.decode()
    assert '<option value="uk-shoppers">UK shoppers (2)</option>' in html
    assert "Their UK" not in html and ">Everyone</option>" in html


def test_the_campaign_form_saves_the_segment_and_the_page_shows_it(login, bottle, uk):
    client = login()
    response = client.post(
        reverse("marketing:campaign_create"),
        form_data(products=[bottle.pk], target_segment="uk-shoppers", audience="Walkers in the rain"),
    )
    assert response.status_code == 302
    campaign = Campaign.objects.get()
    assert campaign.target_segment == uk and campaign.audience == "Walkers in the rain"
    page = client.get(response["Location"]).content.decode()
    segment_cell = page[page.index('data-testid="campaign-segment"') :][:400]
    assert "UK shoppers" in segment_cell and "2 customers" in segment_cell
    assert f'href="/customers/segments/{uk.slug}/"' in segment_cell
    assert "Walkers in the rain" in page
    edit = client.get(reverse("marketing:campaign_edit", args=[campaign.pk])).content.decode()
    assert '<option value="uk-shoppers" selected>' in edit


def test_the_campaign_form_refuses_another_merchants_segment(login, bottle, theirs):
    response = login().post(
        reverse("marketing:campaign_create"), form_data(products=[bottle.pk], target_segment=theirs.slug)
    )
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Campaign.objects.exists()


def test_the_api_sets_the_segment_by_slug_or_id(api_client, bottle, uk):
    created = api_client.post(
        "/api/v1/campaigns/",
        {"name": "Spring", "channel": "sms", "products": [bottle.pk], "target_segment": "uk-shoppers"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["target_segment"] == "uk-shoppers" and body["audience"] == ""
    log = AuditLog.objects.get(action="campaign.create")
    assert log.changes["target_segment"] == "uk-shoppers"

    cleared = api_client.patch(f"/api/v1/campaigns/{body['id']}/", {"target_segment": None}, format="json")
    assert cleared.status_code == 200 and cleared.json()["target_segment"] is None
    by_id = api_client.patch(f"/api/v1/campaigns/{body['id']}/", {"target_segment": uk.pk}, format="json")
    assert by_id.status_code == 200 and by_id.json()["target_segment"] == "uk-shoppers"
    assert AuditLog.objects.filter(action="campaign.update").latest("id").changes == {
        "target_segment": "uk-shoppers"
    }


@pytest.mark.parametrize("value", ["their-uk", "no-such-segment", 10**6, True, {"slug": "uk-shoppers"}])
def test_the_api_refuses_other_merchants_and_unknown_segments(api_client, bottle, uk, theirs, value):
    value = theirs.pk if value == 10**6 else value
    answer = api_client.post(
        "/api/v1/campaigns/",
        {"name": "Spring", "channel": "sms", "products": [bottle.pk], "target_segment": value},
        format="json",
    )
    assert answer.status_code == 400
    assert "target_segment" in answer.json()["field_errors"]
    assert not Campaign.objects.exists()


def test_the_service_refuses_another_merchants_segment(merchant, bottle, uk, theirs):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        campaign_create(
            merchant=merchant, actor=ACTOR, name="x", channel="sms", products=[bottle], target_segment=theirs
        )
    assert "target_segment" in caught.value.message_dict
    campaign = campaign_create(
        merchant=merchant, actor=ACTOR, name="x", channel="sms", products=[bottle], target_segment=uk
    )
    with pytest.raises(ValidationError):
        campaign_update(campaign=campaign, actor=ACTOR, target_segment=theirs)
    campaign.refresh_from_db()
    assert campaign.target_segment == uk


def test_deleting_the_segment_leaves_the_campaign_for_everyone(login, merchant, bottle, uk):
    campaign = campaign_create(
        merchant=merchant, actor=ACTOR, name="x", channel="sms", products=[bottle], target_segment=uk
    )
    detail = login().get(f"/customers/segments/{uk.slug}/").content.decode()
    assert f'href="/campaigns/{campaign.pk}/"' in detail  # the segment page lists the campaigns using it
    segment_delete(segment=uk, actor=ACTOR)
    campaign.refresh_from_db()
    assert campaign.target_segment is None
    page = login().get(f"/campaigns/{campaign.pk}/").content.decode()
    assert 'data-testid="campaign-segment">Everyone<' in page
