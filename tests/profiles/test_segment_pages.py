"""Segment pages: list, detail, the builder (with and without htmx), roles and tenant isolation."""

import pytest

from accounts.models import Role
from accounts.services import Actor
from profiles.models import Segment
from profiles.segments import ensure_builtin_segments, recompute_segments, segment_create
from tests.profiles.segment_helpers import customer

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")
GB = [{"field": "country", "op": "in", "value": ["GB"]}]
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def shoppers(merchant, other_merchant):
    customer(
        merchant,
        "ann",
        name="Ann Shopper",
        country="GB",
        profile={"r_score": 5, "f_score": 4, "m_score": 3, "rfm_segment": "champions"},
    )
    customer(merchant, "bob", name="Bob Buyer", country="GB")
    customer(merchant, "cat", name="Cat Client", country="FR")
    customer(other_merchant, "secret", name="Secret Person", country="GB")


def builder_data(**overrides):
    data = {
        "name": "UK shoppers",
        "description": "",
        "match": "all",
        "c-0-field": "country",
        "c-0-shown": "country",
        "c-0-op": "in",
        "c-0-value": "GB",
    }
    data.update(overrides)
    return data


# ---------- List ----------


def test_list_shows_builtins_chart_and_empty_state(login, merchant, shoppers):
    page = login(Role.VIEWER).get("/customers/segments/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="segments-empty"' in html and "Build your first segment" in html
    for name in ("Champions", "Loyal", "At risk", "Hibernating", "New customers"):
        assert name in html
    assert 'data-testid="segment-chart"' in html
    assert 'data-testid="new-segment"' not in html  # viewers cannot build
    assert 'aria-current="page"' in html and "Segments</a>" in html  # the Customers area's tabs


def test_list_chart_and_rows_have_counts(login, merchant, shoppers):
    segment_create(merchant=merchant, actor=ACTOR, name="UK shoppers", rules=GB)
    ensure_builtin_segments(merchant=merchant)
    recompute_segments(merchant_id=merchant.pk)
    html = login().get("/customers/segments/").content.decode()
    assert 'data-testid="segments-empty"' not in html and 'data-testid="new-segment"' in html
    assert '<svg class="chart-svg chart-bars"' in html and "UK shoppers: 2" in html
    assert 'data-slug="uk-shoppers"' in html
    assert "Secret" not in html


# ---------- Detail ----------


def test_detail_lists_members_rules_and_campaigns(login, merchant, shoppers):
    segment = segment_create(merchant=merchant, actor=ACTOR, name="UK shoppers", rules=GB)
    html = login(Role.VIEWER).get(f"/customers/segments/{segment.slug}/").content.decode()
    assert 'data-testid="segment-updating"' in html  # not computed yet: live list
    assert "Ann Shopper" in html and "Bob Buyer" in html and "Cat Client" not in html
    assert "Country is any of GB" in html
    assert 'data-testid="edit-segment"' not in html and 'data-testid="delete-segment"' not in html
    recompute_segments(segment_id=segment.pk)
    html = login().get(f"/customers/segments/{segment.slug}/").content.decode()
    assert 'data-testid="segment-updating"' not in html
    assert 'data-testid="edit-segment"' in html and 'data-testid="delete-segment"' in html
    assert 'data-rfm-segment="champions"' in html


def test_detail_paginates(login, merchant):
    for number in range(30):
        customer(merchant, f"c{number:02d}", country="GB")
    segment = segment_create(merchant=merchant, actor=ACTOR, name="UK", rules=GB)
    recompute_segments(segment_id=segment.pk)
    first = login().get("/customers/segments/uk/").content.decode()
    assert first.count('data-testid="member-row"') == 25 and "Page 1 of 2" in first
    second = login().get("/customers/segments/uk/?page=2").content.decode()
    assert second.count('data-testid="member-row"') == 5


def test_other_merchants_segments_are_404(login, client, merchant, other_merchant, shoppers, outsider):
    theirs = segment_create(merchant=other_merchant, actor=ACTOR, name="Their UK", rules=GB)
    viewer = login()
    for url in (f"/customers/segments/{theirs.slug}/", f"/customers/segments/{theirs.slug}/edit/"):
        assert viewer.get(url).status_code == 404
    assert viewer.post(f"/customers/segments/{theirs.slug}/delete/").status_code == 404
    assert (
        viewer.post(f"/customers/segments/{theirs.slug}/edit/", builder_data(name="Mine")).status_code == 404
    )
    assert Segment.objects.get(pk=theirs.pk).name == "Their UK"
    # The outsider sees their own segment, and only their own customer in it.
    client.force_login(outsider)
    html = client.get(f"/customers/segments/{theirs.slug}/").content.decode()
    assert "Secret Person" in html and "Ann Shopper" not in html


def test_pages_need_a_login(client):
    response = client.get("/customers/segments/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# ---------- Roles ----------


@pytest.mark.parametrize("role", [Role.VIEWER, Role.REVIEWER])
def test_roles_without_edit_cannot_build_or_delete(login, merchant, role):
    segment = segment_create(merchant=merchant, actor=ACTOR, name="UK", rules=GB)
    client = login(role)
    assert client.get("/customers/segments/new/").status_code == 403
    assert client.post("/customers/segments/new/", builder_data()).status_code == 403
    assert client.get("/customers/segments/uk/edit/").status_code == 403
    assert client.post("/customers/segments/preview/", builder_data()).status_code == 403
    assert client.post("/customers/segments/conditions/", builder_data(action="add")).status_code == 403
    assert client.post("/customers/segments/uk/delete/").status_code == 403
    assert Segment.objects.filter(pk=segment.pk).exists()


def test_editors_can_build(login, merchant, shoppers):
    response = login(Role.EDITOR).post("/customers/segments/new/", builder_data())
    assert response.status_code == 302 and response["Location"] == "/customers/segments/uk-shoppers/"


# ---------- Builder without JS ----------


def test_new_segment_page_starts_with_one_condition(login):
    html = login().get("/customers/segments/new/").content.decode()
    assert html.count('data-testid="condition"') == 1
    assert 'name="c-0-field"' in html and 'hx-post="/customers/segments/preview/"' in html
    # Enter in a field presses the form's first button, which only refreshes the preview.
    first_button = html.index("<button", html.index('id="segment-form"'))
    assert 'value="preview"' in html[first_button : first_button + 200]


def test_save_creates_and_redirects(login, merchant, shoppers):
    client = login()
    response = client.post(
        "/customers/segments/new/",
        builder_data(
            match="any",
            **{
                "c-3-field": "r_score",
                "c-3-shown": "r_score",
                "c-3-op": "gte",
                "c-3-value": "5",
                "c-1-field": "churn_risk",
                "c-1-shown": "churn_risk",
                "c-1-op": "gte",
                "c-1-value": "70",
            },
        ),
    )
    assert response.status_code == 302
    segment = Segment.objects.get(merchant=merchant, slug="uk-shoppers")
    # Rows keep the page's order (by their number); the churn percentage is stored as a fraction.
    assert segment.match == "any" and segment.rules == [
        {"field": "country", "op": "in", "value": ["GB"]},
        {"field": "churn_risk", "op": "gte", "value": 0.7},
        {"field": "r_score", "op": "gte", "value": 5},
    ]
    assert segment.member_count == 2
    page = client.get(response["Location"])
    assert "Segment “UK shoppers” saved: 2 customers." in page.content.decode()


def test_invalid_rows_are_shown_with_their_errors_and_nothing_is_lost(login, merchant):
    data = builder_data(
        name="",
        **{
            "c-1-field": "events",
            "c-1-shown": "events",
            "c-1-event_type": "purchase",
            "c-1-op": "gte",
            "c-1-value": "2",
            "c-1-within_days": "0",
            "c-2-field": "churn_risk",
            "c-2-shown": "churn_risk",
            "c-2-op": "gte",
            "c-2-value": "150",
        },
    )
    response = login().post("/customers/segments/new/", data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "The segment was not saved." in html and "This field is required." in html
    assert "Enter a number from 1 to 36500." in html  # the events row's window
    assert "Enter a percentage from 0 to 100." in html
    assert 'value="150"' in html and 'name="c-1-within_days" value="0"' in html
    assert not Segment.objects.exists()


def test_add_remove_and_field_change_without_js(login, merchant):
    client = login()
    added = client.post("/customers/segments/new/", builder_data(action="add")).content.decode()
    assert (
        added.count('data-testid="condition"') == 2
        and 'id="c-1-field" name="c-1-field" data-testid="condition-field" autofocus' in added
    )
    removed = client.post("/customers/segments/new/", builder_data(action="remove-0")).content.decode()
    assert removed.count('data-testid="condition"') == 0 and 'data-testid="no-conditions"' in removed
    # The field changed to events but the inputs are still the country's: redrawn with defaults, not saved.
    changed = client.post("/customers/segments/new/", builder_data(**{"c-0-field": "events"}))
    assert changed.status_code == 200 and not Segment.objects.exists()
    html = changed.content.decode()
    assert 'name="c-0-within_days" value="30"' in html and "field changed" in html
    previewed = client.post("/customers/segments/new/", builder_data(action="preview")).content.decode()
    assert 'data-testid="preview-count">0<' in previewed


def test_edit_updates_and_builtins_only_rename(login, merchant, shoppers):
    segment_create(merchant=merchant, actor=ACTOR, name="UK", rules=GB)
    client = login()
    page = client.get("/customers/segments/uk/edit/").content.decode()
    assert 'name="c-0-value" value="GB"' in page
    response = client.post("/customers/segments/uk/edit/", builder_data(name="France", **{"c-0-value": "FR"}))
    assert response.status_code == 302
    assert Segment.objects.get(slug="uk").rules == [{"field": "country", "op": "in", "value": ["FR"]}]

    ensure_builtin_segments(merchant=merchant)
    page = client.get("/customers/segments/champions/edit/").content.decode()
    assert 'name="c-0-field"' not in page and "RFM group is any of Champions" in page
    response = client.post("/customers/segments/champions/edit/", {"name": "Best", "description": "Ours"})
    assert response.status_code == 302
    champions = Segment.objects.get(merchant=merchant, slug="champions")
    assert (champions.name, champions.rules[0]["field"]) == ("Best", "rfm_segment")


def test_delete(login, merchant):
    segment_create(merchant=merchant, actor=ACTOR, name="UK", rules=GB)
    ensure_builtin_segments(merchant=merchant)
    client = login()
    assert client.post("/customers/segments/uk/delete/").status_code == 302
    assert not Segment.objects.filter(slug="uk").exists()
    refused = client.post("/customers/segments/champions/delete/", follow=True)
    assert "Built-in segments cannot be deleted." in refused.content.decode()
    assert Segment.objects.filter(slug="champions").exists()


# ---------- htmx pieces ----------


def test_preview_partial_counts_and_marks_errors(login, merchant, shoppers):
    client = login()
    answer = client.post("/customers/segments/preview/", builder_data(), **HTMX)
    html = answer.content.decode()
    assert answer.status_code == 200 and 'data-testid="preview-count">2<' in html
    assert "Ann Shopper" in html and "Secret" not in html
    assert 'id="c-0-errors" hx-swap-oob="innerHTML"></div>' in html
    bad = client.post(
        "/customers/segments/preview/", builder_data(**{"c-0-value": ""}), **HTMX
    ).content.decode()
    assert 'data-testid="preview-count">—<' in bad
    assert (
        'id="c-0-errors" hx-swap-oob="innerHTML"><p class="field-error">Enter at least one value.</p>' in bad
    )
    # A row whose field just changed is being redrawn: no preview until it is.
    stale = client.post("/customers/segments/preview/", builder_data(**{"c-0-field": "r_score"}), **HTMX)
    assert stale.status_code == 204


def test_conditions_endpoint_adds_removes_and_redraws(login, merchant):
    client = login()
    added = client.post("/customers/segments/conditions/", builder_data(action="add"), **HTMX)
    assert added["HX-Trigger-After-Settle"] == "segment-rules-changed"
    html = added.content.decode()
    assert html.startswith('\n<div id="condition-list"') or 'id="condition-list"' in html[:200]
    assert html.count('data-testid="condition"') == 2 and "Condition 2" in html
    removed = client.post(
        "/customers/segments/conditions/",
        builder_data(
            action="remove-0",
            **{"c-5-field": "locale", "c-5-shown": "locale", "c-5-op": "eq", "c-5-value": "en"},
        ),
        **HTMX,
    ).content.decode()
    assert removed.count('data-testid="condition"') == 1 and "Condition 1" in removed
    assert 'id="c-5-field" name="c-5-field" data-testid="condition-field" autofocus' in removed
    redrawn = client.post(
        "/customers/segments/conditions/",
        builder_data(action="refresh-0", **{"c-0-field": "affinity"}),
        **HTMX,
    ).content.decode()
    assert redrawn.count('data-testid="condition"') == 1 and 'name="c-0-kind"' in redrawn
    assert 'id="condition-list"' not in redrawn
    missing = client.post("/customers/segments/conditions/", builder_data(action="refresh-9"), **HTMX)
    assert missing.status_code == 400


def test_conditions_stop_at_the_limit(login, merchant):
    data = builder_data(action="add")
    for index in range(1, 20):
        data.update(
            {
                f"c-{index}-field": "locale",
                f"c-{index}-shown": "locale",
                f"c-{index}-op": "eq",
                f"c-{index}-value": "en",
            }
        )
    html = login().post("/customers/segments/conditions/", data, **HTMX).content.decode()
    assert html.count('data-testid="condition"') == 20 and 'data-testid="condition-limit"' in html
    assert 'data-testid="add-condition"' not in html
