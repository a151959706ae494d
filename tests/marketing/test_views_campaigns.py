"""The campaign pages: list with counts and live progress, the create/edit form (picked products or a catalog
filter, with its bad inputs), starting generation, the progress fragment that ends on a link to the review
queue, exports, the brand voice page, roles and outsiders' 404s."""

import csv
import io
import json
import re

import pytest
from django.urls import reverse

from accounts.models import AuditLog, Role
from marketing.models import BrandVoice, Campaign
from ml.models import Job
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def no_dispatch(monkeypatch):
    """Generation jobs are queued after commit; keep them off the shared broker."""
    from marketing import tasks

    sent = []
    monkeypatch.setattr(
        tasks.generate_campaign_copy_task,
        "apply_async",
        lambda *a, **k: sent.append((a, k)) or type("R", (), {"id": "test"})(),
    )
    return sent


def form_data(**overrides):
    data = {
        "name": "Spring launch",
        "goal": "Launch the spring range",
        "channel": "product_description",
        "product_mode": "pick",
        "products": [],
        "target_segment": "",
        "audience": "",
        "tone": "fresh",
        "length": "medium",
        "language": "en",
        "variants_per_product": "1",
        "publish_at": "",
    }
    data.update(overrides)
    return data


# ---------- List ----------


def test_list_empty_state_guides_to_the_catalog_then_to_a_campaign(login, merchant):
    client = login()
    html = client.get(reverse("dashboard:campaigns")).content.decode()
    assert 'data-testid="no-campaigns"' in html and "Import products first" in html
    assert 'aria-current="page"' in html
    ProductFactory(merchant=merchant)
    html = client.get(reverse("marketing:campaign_list")).content.decode()
    assert "Create a campaign" in html and 'data-testid="no-model"' in html


def test_list_shows_status_counts_and_running_progress(
    login, merchant, campaign, make_piece, jacket, copy_model
):
    make_piece("in_review")
    make_piece("approved", product=jacket)
    make_piece("in_review", product=jacket, variant=2, flagged=True)
    job = Job.objects.create(
        merchant=merchant,
        kind="generate",
        status="running",
        progress_current=1,
        progress_total=4,
        params={"campaign_id": campaign.pk},
    )
    Campaign.objects.filter(pk=campaign.pk).update(last_job=job, status="generating")
    html = login(Role.VIEWER).get(reverse("marketing:campaign_list")).content.decode()
    row = re.search(rf'<tr data-testid="campaign-{campaign.pk}">.*?</tr>', html, re.DOTALL).group(0)
    assert "Spring launch" in row and "Generating" in row
    assert "<strong>2</strong> to review" in row and "<strong>1</strong> approved" in row
    assert "<strong>1</strong> flagged" in row
    assert 'data-testid="job-percent">25%' in row
    assert f'hx-get="/campaigns/{campaign.pk}/progress/" hx-trigger="every 2s"' in row
    assert "New campaign" not in html  # viewers look only


# ---------- Create and edit ----------


def test_create_with_picked_products(login, merchant, bottle, jacket):
    response = login().post(reverse("marketing:campaign_create"), form_data(products=[bottle.pk, jacket.pk]))
    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/campaigns/{campaign.pk}/"
    assert set(campaign.products.all()) == {bottle, jacket} and campaign.product_filter == {}
    assert campaign.tone == "fresh" and campaign.merchant == merchant
    assert AuditLog.objects.filter(action="campaign.create").exists()


def test_create_with_a_catalog_filter(login, merchant, bottle):
    category = CategoryFactory(merchant=merchant, name="Bottles", slug="bottles")
    response = login().post(
        reverse("marketing:campaign_create"),
        form_data(
            product_mode="filter",
            products=[bottle.pk],
            filter_category="bottles",
            filter_min_price="10",
            channel="sms",
            variants_per_product="3",
            publish_at="2031-05-01T09:30",
        ),
    )
    assert response.status_code == 302
    campaign = Campaign.objects.get()
    assert campaign.product_filter == {"category": "bottles", "min_price": "10"}
    assert not campaign.products.exists()  # the filter wins; picked ones are ignored in filter mode
    assert campaign.channel == "sms" and campaign.variants_per_product == 3
    assert campaign.publish_at.year == 2031 and category


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"products": []}, "Pick at least one product"),
        ({"product_mode": "filter"}, "Give at least one catalog filter"),
        (
            {"product_mode": "filter", "filter_min_price": "50", "filter_max_price": "10"},
            "below the min price",
        ),
        ({"variants_per_product": "9"}, "less than or equal to 5"),
        ({"channel": "fax"}, "Select a valid choice"),
        ({"name": ""}, "This field is required"),
        ({"publish_at": "tomorrow"}, "Enter a valid date/time"),
        ({"products": ["abc"]}, "is not a valid value"),
    ],
)
def test_create_refuses_bad_input(login, bottle, overrides, error):
    response = login().post(
        reverse("marketing:campaign_create"), form_data(**{"products": [bottle.pk], **overrides})
    )
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Campaign.objects.exists()


def test_create_refuses_another_merchants_product(login, other_merchant, bottle):
    theirs = ProductFactory(merchant=other_merchant, title="Contoso secret")
    response = login().post(reverse("marketing:campaign_create"), form_data(products=[bottle.pk, theirs.pk]))
    assert response.status_code == 400
    assert f"{theirs.pk} is not one of the available choices" in response.content.decode()
    assert not Campaign.objects.exists()


def test_form_keeps_picked_products_after_an_error(login, bottle, jacket):
    html = (
        login()
        .post(reverse("marketing:campaign_create"), form_data(products=[jacket.pk], name=""))
        .content.decode()
    )
    picked = re.search(r'data-testid="picked-products">.*?</ul>', html, re.DOTALL).group(0)
    assert f'value="{jacket.pk}" checked' in picked and "Rain jacket" in picked


@pytest.mark.parametrize("role", [Role.VIEWER, Role.REVIEWER])
def test_only_editors_create_and_edit(login, campaign, bottle, role):
    client = login(role)
    assert client.get(reverse("marketing:campaign_create")).status_code == 403
    assert (
        client.post(reverse("marketing:campaign_create"), form_data(products=[bottle.pk])).status_code == 403
    )
    assert client.post(reverse("marketing:campaign_edit", args=[campaign.pk]), form_data()).status_code == 403
    assert client.post(reverse("marketing:campaign_generate", args=[campaign.pk])).status_code == 403
    assert Campaign.objects.count() == 1


def test_edit_prefills_and_saves(login, campaign, bottle):
    client = login()
    html = client.get(reverse("marketing:campaign_edit", args=[campaign.pk])).content.decode()
    assert 'value="Spring launch"' in html and f'value="{bottle.pk}" checked' in html
    response = client.post(
        reverse("marketing:campaign_edit", args=[campaign.pk]),
        form_data(name="Spring launch v2", products=[bottle.pk], length="short"),
    )
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.name == "Spring launch v2" and campaign.length == "short"
    assert list(campaign.products.all()) == [bottle]


def test_channel_is_locked_once_copy_exists(login, campaign, bottle, make_piece):
    make_piece("in_review")
    client = login()
    html = client.get(reverse("marketing:campaign_edit", args=[campaign.pk])).content.decode()
    assert "can no longer change" in html
    response = client.post(
        reverse("marketing:campaign_edit", args=[campaign.pk]), form_data(channel="sms", products=[bottle.pk])
    )
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.channel == "product_description"


def test_product_picker_searches_only_this_merchants_catalog(login, other_merchant, bottle, jacket):
    ProductFactory(merchant=other_merchant, title="Contoso rain jacket")
    html = (
        login()
        .get(reverse("marketing:product_picker"), {"picker_q": "jacket", "products": [bottle.pk]}, **HTMX)
        .content.decode()
    )
    assert "Contoso" not in html
    assert re.search(rf'value="{bottle.pk}" checked', html)  # the chosen one stays chosen
    results = re.search(r'data-testid="picker-results">.*?</ul>', html, re.DOTALL).group(0)
    assert f'value="{jacket.pk}"' in results and f'value="{bottle.pk}"' not in results


def test_filter_preview_counts_matching_products(login, merchant, bottle, jacket):
    html = (
        login()
        .get(reverse("marketing:product_filter_preview"), {"filter_max_price": "50"}, **HTMX)
        .content.decode()
    )
    assert "<strong>1</strong> active product match" in html and "Trail bottle" in html
    html = (
        login()
        .get(reverse("marketing:product_filter_preview"), {"filter_min_price": "abc"}, **HTMX)
        .content.decode()
    )
    assert "No active product matches" in html


# ---------- Detail, generation and progress ----------


def test_detail_without_a_model_explains_why_generation_is_off(login, campaign):
    html = login().get(reverse("marketing:campaign_detail", args=[campaign.pk])).content.decode()
    assert 'data-testid="generate" disabled' in html and "No copy model is installed yet" in html
    assert 'data-testid="not-generated"' in html


def test_generate_starts_a_job_and_the_page_polls_its_progress(login, campaign, copy_model, no_dispatch):
    client = login()
    response = client.post(reverse("marketing:campaign_generate", args=[campaign.pk]))
    assert response.status_code == 302
    job = Job.objects.get(params__campaign_id=campaign.pk)
    assert job.kind == "generate" and job.progress_total == 2
    html = client.get(response["Location"]).content.decode()
    assert "Writing copy for 2 products." in html
    assert f'hx-get="/campaigns/{campaign.pk}/progress/" hx-trigger="every 2s"' in html
    assert 'data-testid="generate" disabled' in html and "Generating now." in html
    again = client.post(reverse("marketing:campaign_generate", args=[campaign.pk]), follow=True)
    assert "This campaign is already generating." in again.content.decode()
    assert Job.objects.count() == 1


def test_progress_fragment_ends_on_a_link_to_the_review_queue(login, campaign, make_piece, copy_model):
    job = Job.objects.create(
        merchant=campaign.merchant,
        kind="generate",
        status="running",
        progress_current=1,
        progress_total=2,
        params={"campaign_id": campaign.pk},
    )
    Campaign.objects.filter(pk=campaign.pk).update(last_job=job, status="generating")
    client = login(Role.VIEWER)
    progress_url = reverse("marketing:campaign_progress", args=[campaign.pk])
    running = client.get(progress_url, **HTMX).content.decode()
    assert 'data-testid="job-percent">50%' in running and 'hx-trigger="every 2s"' in running
    make_piece("in_review")
    Job.objects.filter(pk=job.pk).update(status="succeeded", progress_current=2)
    response = client.get(progress_url, **HTMX)
    done = response.content.decode()
    assert 'data-testid="job-percent">100%' in done and "hx-trigger" not in done
    # The last poll tells the page to fetch its finished state (status, counts, buttons).
    assert response["HX-Trigger-After-Settle"] == "campaign-generation-ended"
    assert (
        f'href="/review/?campaign={campaign.pk}" data-testid="review-link"' in done
        and "1 piece written" in done
    )
    assert client.get(progress_url)["Location"] == f"/campaigns/{campaign.pk}/"


def test_progress_counts_products_and_estimates_the_time_left(login, campaign, copy_model):
    job = Job.objects.create(
        merchant=campaign.merchant,
        kind="generate",
        status="queued",
        progress_total=2,
        params={"campaign_id": campaign.pk},
    )
    Campaign.objects.filter(pk=campaign.pk).update(last_job=job, status="generating")
    client = login(Role.VIEWER)
    progress_url = reverse("marketing:campaign_progress", args=[campaign.pk])
    queued = client.get(progress_url, **HTMX)
    assert "waiting for a worker" in queued.content.decode() and 'data-testid="job-eta"' not in (
        queued.content.decode()
    )
    assert "HX-Trigger-After-Settle" not in queued  # still going: the page keeps polling

    Job.objects.filter(pk=job.pk).update(status="running")  # claimed; no product finished yet
    html = client.get(progress_url, **HTMX).content.decode()
    assert 'data-testid="job-products">0 of 2 products done' in html
    assert 'data-testid="job-eta">estimating time left…' in html

    Job.objects.filter(pk=job.pk).update(progress_current=1, eta_seconds=40.4)
    html = client.get(progress_url, **HTMX).content.decode()
    assert 'data-testid="job-percent">50%' in html and "1 of 2 products done" in html
    assert 'data-testid="job-eta">about 40 s left' in html
    Job.objects.filter(pk=job.pk).update(eta_seconds=130)
    assert "about 2 min left" in client.get(progress_url, **HTMX).content.decode()


def test_a_generating_campaign_page_refreshes_itself_when_the_job_ends(login, campaign, copy_model):
    """While a job runs, the page carries a listener that fetches the page again on the progress poll's
    `campaign-generation-ended`; once the job ended it has none, nor does a page with nothing running."""
    job = Job.objects.create(
        merchant=campaign.merchant, kind="generate", status="running", params={"campaign_id": campaign.pk}
    )
    Campaign.objects.filter(pk=campaign.pk).update(last_job=job, status="generating")
    client = login(Role.VIEWER)
    detail_url = reverse("marketing:campaign_detail", args=[campaign.pk])
    listener = (
        f'hx-get="{detail_url}" hx-trigger="campaign-generation-ended from:body" hx-target="#main" '
        'hx-select="#main" hx-swap="outerHTML"'
    )
    assert listener in client.get(detail_url).content.decode()
    list_html = client.get(reverse("marketing:campaign_list"), {"page": "1"}).content.decode()
    assert 'hx-get="/campaigns/?page=1" hx-trigger="campaign-generation-ended from:body"' in list_html

    Job.objects.filter(pk=job.pk).update(status="succeeded")
    Campaign.objects.filter(pk=campaign.pk).update(status="ready")
    assert "campaign-generation-ended" not in client.get(detail_url).content.decode()
    assert "campaign-generation-ended" not in client.get(reverse("marketing:campaign_list")).content.decode()


def test_the_filter_preview_targets_a_live_region_on_the_form(login, merchant, bottle):
    """The filter fields swap the preview into #filter-preview: that element must be on the page (it was
    missing, so htmx refused the swap with a targetError), and it stays in place as a live region."""
    html = login().get(reverse("marketing:campaign_create")).content.decode()
    assert 'hx-target="#filter-preview" hx-swap="innerHTML"' in html
    region = re.search(r'<div id="filter-preview" aria-live="polite">(.*?)</div>', html, re.DOTALL)
    assert region and 'data-testid="filter-preview"' in region.group(1)
    assert len(re.findall(r'\sid="filter-preview"', html)) == 1  # one target, not a copy in each swap


def test_failed_generation_says_so(login, campaign):
    job = Job.objects.create(
        merchant=campaign.merchant,
        kind="generate",
        status="failed",
        error=SCRIPT,
        params={"campaign_id": campaign.pk},
    )
    Campaign.objects.filter(pk=campaign.pk).update(last_job=job, status="failed")
    html = login().get(reverse("marketing:campaign_detail", args=[campaign.pk])).content.decode()
    assert "Generation failed: &lt;script&gt;" in html and SCRIPT not in html


# ---------- Export ----------


def test_export_downloads_only_approved_and_published_pieces(login, campaign, make_piece, jacket):
    approved = make_piece("approved", body=SCRIPT)
    published = make_piece("published", product=jacket)
    make_piece("in_review", variant=2)
    client = login(Role.VIEWER)
    as_csv = client.get(reverse("marketing:campaign_export", args=[campaign.pk]), {"format": "csv"})
    assert as_csv.status_code == 200 and as_csv["Content-Type"].startswith("text/csv")
    assert re.match(r'attachment; filename="spring-launch-\d{8}-\d{4}\.csv"', as_csv["Content-Disposition"])
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert {int(r["id"]) for r in rows} == {approved.pk, published.pk}
    as_json = client.get(reverse("marketing:campaign_export", args=[campaign.pk]), {"format": "json"})
    assert {r["id"] for r in json.loads(as_json.content)["results"]} == {approved.pk, published.pk}
    assert as_json["X-Content-Type-Options"] == "nosniff"
    assert (
        client.get(reverse("marketing:campaign_export", args=[campaign.pk]), {"format": "xml"}).status_code
        == 400
    )


# ---------- Brand voice ----------


def test_brand_voice_is_set_from_the_form(login, merchant):
    client = login()
    assert 'data-testid="voice-empty"' in client.get(reverse("marketing:brand_voice")).content.decode()
    response = client.post(
        reverse("marketing:brand_voice"),
        {
            "tone_words": "warm, playful,, concise",
            "audience": "Outdoor families",
            "do_list": "Mention one feature per sentence\n\nUse the product name",
            "dont_list": "No exclamation marks",
            "banned_words": "cheap\nguaranteed, best ever",
            "examples": "Cold for a day.\nWarm for a night.\n\nBuilt to last.",
        },
    )
    assert response.status_code == 302
    voice = BrandVoice.objects.get(merchant=merchant)
    assert voice.tone_words == ["warm", "playful", "concise"]
    assert voice.do_list == ["Mention one feature per sentence", "Use the product name"]
    assert voice.banned_words == ["cheap", "guaranteed", "best ever"]
    assert voice.examples == ["Cold for a day.\nWarm for a night.", "Built to last."]
    html = client.get(reverse("marketing:brand_voice")).content.decode()
    assert "warm, playful, concise" in html and "Built to last." in html
    summary = client.get(reverse("marketing:campaign_list")).content.decode()
    assert "3 banned words" in summary


def test_brand_voice_limits_and_roles(login, merchant):
    too_many = ", ".join(f"word{i}" for i in range(25))
    response = login().post(reverse("marketing:brand_voice"), {"tone_words": too_many})
    assert response.status_code == 400 and "At most 20 entries." in response.content.decode()
    viewer = login(Role.VIEWER)
    html = viewer.get(reverse("marketing:brand_voice")).content.decode()
    assert '<fieldset class="form-fieldset" disabled>' in html and "voice-save" not in html
    assert viewer.post(reverse("marketing:brand_voice"), {"tone_words": "x"}).status_code == 403
    assert not BrandVoice.objects.exists()


# ---------- Escaping and outsiders ----------


def test_campaign_text_is_escaped(login, merchant, bottle):
    campaign = Campaign.objects.create(
        merchant=merchant, name=SCRIPT, goal=SCRIPT, channel="sms", tone=SCRIPT
    )
    campaign.products.set([bottle])
    client = login()
    for name in ("marketing:campaign_list", "dashboard:review"):
        assert SCRIPT not in client.get(reverse(name)).content.decode()
    for name in ("marketing:campaign_detail", "marketing:campaign_edit"):
        html = client.get(reverse(name, args=[campaign.pk])).content.decode()
        assert SCRIPT not in html and "&lt;script&gt;" in html


def test_outsider_gets_404_on_every_campaign_url(client, outsider, campaign, copy_model, no_dispatch):
    client.force_login(outsider)
    for method, name in [
        ("get", "campaign_detail"),
        ("get", "campaign_edit"),
        ("post", "campaign_edit"),
        ("post", "campaign_generate"),
        ("get", "campaign_progress"),
        ("get", "campaign_export"),
    ]:
        for headers in ({}, HTMX):
            response = getattr(client, method)(reverse(f"marketing:{name}", args=[campaign.pk]), **headers)
            assert response.status_code == 404, (method, name, response.status_code)
    assert "Spring launch" not in client.get(reverse("marketing:campaign_list")).content.decode()
    assert not Job.objects.exists()
    assert client.get("/campaigns/999999/").status_code == 404
