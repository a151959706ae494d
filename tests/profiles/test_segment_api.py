"""Segments API: CRUD by slug, members, preview, 400s by condition index, scopes, and tenant isolation."""

import pytest

from accounts.models import AuditLog
from accounts.services import Actor
from profiles.models import Segment
from profiles.segments import ensure_builtin_segments, recompute_segments, segment_create
from tests.profiles.segment_helpers import customer

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")
URL = "/api/v1/segments/"
CHAMPS = [{"field": "rfm_segment", "op": "in", "value": ["champions"]}]


@pytest.fixture
def shoppers(merchant, other_merchant):
    made = {
        "ann": customer(
            merchant,
            "ann",
            email="ann@example.com",
            name="Ann",
            country="GB",
            profile={"r_score": 5, "f_score": 5, "m_score": 4, "rfm_segment": "champions"},
        ),
        "bob": customer(merchant, "bob", country="GB"),
        "cat": customer(merchant, "cat", country="FR"),
    }
    customer(
        other_merchant,
        "secret",
        email="secret@contoso.example",
        country="GB",
        profile={"r_score": 5, "f_score": 5, "m_score": 5, "rfm_segment": "champions"},
    )
    return made


def test_create_then_read_update_delete(api_client, merchant, shoppers):
    body = {"name": "UK shoppers", "rules": [{"field": "country", "op": "in", "value": ["GB"]}]}
    created = api_client.post(URL, body, format="json")
    assert created.status_code == 201, created.json()
    data = created.json()
    assert data["slug"] == "uk-shoppers" and data["kind"] == "custom" and data["match"] == "all"
    assert data["member_count"] == 2 and data["is_current"] is False and data["computed_at"] is None
    assert AuditLog.objects.filter(action="segment.create", actor_label__startswith="api-key:").exists()

    recompute_segments(merchant_id=merchant.pk)
    got = api_client.get(f"{URL}uk-shoppers/").json()
    assert got["is_current"] is True and got["member_count"] == 2

    patched = api_client.patch(
        f"{URL}uk-shoppers/",
        {"match": "any", "rules": [{"field": "country", "op": "in", "value": "fr"}, CHAMPS[0]]},
        format="json",
    )
    assert patched.status_code == 200, patched.json()
    assert patched.json()["member_count"] == 2  # cat (FR) and ann (champion)
    assert patched.json()["rules"][0] == {"field": "country", "op": "in", "value": ["fr"]}

    renamed = api_client.patch(
        f"{URL}uk-shoppers/", {"name": "FR or best", "slug": "fr-or-best"}, format="json"
    )
    assert renamed.status_code == 200 and renamed.json()["slug"] == "fr-or-best"
    assert api_client.get(f"{URL}uk-shoppers/").status_code == 404

    assert api_client.delete(f"{URL}fr-or-best/").status_code == 204
    assert not Segment.objects.filter(merchant=merchant, kind="custom").exists()


def test_list_has_builtins_and_custom(api_client, merchant, shoppers):
    ensure_builtin_segments(merchant=merchant)
    segment_create(
        merchant=merchant, actor=ACTOR, name="UK", rules=[{"field": "country", "op": "in", "value": ["GB"]}]
    )
    listed = api_client.get(URL).json()
    assert listed["count"] == 6
    assert [row["slug"] for row in listed["results"]][:2] == ["at-risk", "champions"]
    custom = api_client.get(URL, {"kind": "custom"}).json()["results"]
    assert [row["slug"] for row in custom] == ["uk"]
    assert custom[0]["rules"] == [{"field": "country", "op": "in", "value": ["GB"]}]


def test_members_are_paginated_with_rfm_badges(api_client, merchant, shoppers):
    ensure_builtin_segments(merchant=merchant)
    recompute_segments(merchant_id=merchant.pk)
    page = api_client.get(f"{URL}champions/members/").json()
    assert page["count"] == 1
    assert page["results"] == [
        {
            "external_id": "ann",
            "email": "ann@example.com",
            "name": "Ann",
            "country": "GB",
            "last_seen_at": None,
            "rfm_segment": "champions",
            "rfm_label": "Champions",
            "r_score": 5,
            "f_score": 5,
            "m_score": 4,
        }
    ]
    segment_create(
        merchant=merchant, actor=ACTOR, name="UK", rules=[{"field": "country", "op": "in", "value": ["GB"]}]
    )
    small = api_client.get(f"{URL}uk/members/", {"page_size": 1}).json()
    assert small["count"] == 2 and len(small["results"]) == 1 and small["next"]
    assert small["results"][0]["rfm_segment"] in ("champions", None)


def test_preview_counts_and_samples(api_client, shoppers):
    answer = api_client.post(
        f"{URL}preview/",
        {"match": "any", "rules": [{"field": "country", "op": "in", "value": ["FR"]}, *CHAMPS]},
        format="json",
    )
    assert answer.status_code == 200, answer.json()
    assert answer.json()["count"] == 2
    assert sorted(row["external_id"] for row in answer.json()["sample"]) == ["ann", "cat"]
    everyone = api_client.post(f"{URL}preview/", {"rules": []}, format="json").json()
    assert everyone["count"] == 3  # never the other merchant's customer


@pytest.mark.parametrize("url", [f"{URL}preview/", URL])
def test_bad_rules_answer_400_by_condition_index(api_client, url):
    body = {
        "name": "x",
        "rules": [
            CHAMPS[0],
            {"field": "r_score", "op": "gte", "value": 7},
            {"field": "wat"},
            {"field": "events", "event_type": "view", "op": "gte", "value": 1},
        ],
    }
    answer = api_client.post(url, body, format="json")
    assert answer.status_code == 400
    error = answer.json()
    assert error["code"] == "invalid" and error["message"].startswith("Invalid input.")
    rules = error["field_errors"]["rules"]
    assert set(rules) == {"1", "2", "3"}
    assert rules["1"] == {"value": ["Enter a number from 1 to 5."]}
    assert rules["2"]["field"][0].startswith("Unknown field.")
    assert rules["3"] == {"within_days": ["Enter a number."]}
    assert not Segment.objects.exists()


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"rules": "r_score>4"}, "rules", "Send a list of conditions."),
        ({"rules": [CHAMPS[0]] * 21}, "rules", "At most 20 conditions."),
        ({"match": "most", "rules": CHAMPS}, "match", None),
        ({}, "rules", None),
        ({"rules": [["r_score", 4]]}, "rules", None),
    ],
)
@pytest.mark.parametrize("url", [f"{URL}preview/", URL])
def test_malformed_bodies_answer_400(api_client, url, body, field, message):
    answer = api_client.post(url, {"name": "x", **body}, format="json")
    assert answer.status_code == 400, answer.json()
    errors = answer.json()["field_errors"]
    assert field in errors
    if message:
        assert errors[field] == [message]
    assert not Segment.objects.exists()


def test_builtins_cannot_change_rules_or_be_deleted(api_client, merchant):
    ensure_builtin_segments(merchant=merchant)
    refused = api_client.patch(
        f"{URL}champions/", {"rules": [{"field": "country", "op": "in", "value": ["GB"]}]}, format="json"
    )
    assert refused.status_code == 400 and "rules" in refused.json()["field_errors"]
    renamed = api_client.patch(f"{URL}champions/", {"name": "Best"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "Best"
    deleted = api_client.delete(f"{URL}champions/")
    assert deleted.status_code == 409 and deleted.json()["code"] == "builtin_segment"


def test_duplicate_slug_answers_400(api_client, merchant):
    segment_create(merchant=merchant, actor=ACTOR, name="VIP", rules=CHAMPS)
    answer = api_client.post(URL, {"name": "Other", "slug": "vip", "rules": CHAMPS}, format="json")
    assert answer.status_code == 400 and "slug" in answer.json()["field_errors"]
    bad = api_client.post(URL, {"name": "Other", "slug": "Not a slug", "rules": CHAMPS}, format="json")
    assert bad.status_code == 400 and "slug" in bad.json()["field_errors"]


def test_another_merchants_segments_are_invisible(
    api_client, outsider_api_client, merchant, other_merchant, shoppers
):
    ensure_builtin_segments(merchant=other_merchant)
    theirs = segment_create(
        merchant=other_merchant,
        actor=ACTOR,
        name="Their UK",
        rules=[{"field": "country", "op": "in", "value": ["GB"]}],
    )
    recompute_segments(merchant_id=other_merchant.pk)
    for method, path in [
        ("get", f"{URL}{theirs.slug}/"),
        ("get", f"{URL}{theirs.slug}/members/"),
        ("get", f"{URL}champions/members/"),
        ("patch", f"{URL}{theirs.slug}/"),
        ("delete", f"{URL}{theirs.slug}/"),
    ]:
        answer = (
            getattr(api_client, method)(path, {"name": "mine now"}, format="json")
            if method == "patch"
            else getattr(api_client, method)(path)
        )
        assert answer.status_code == 404, (method, path)
    assert api_client.get(URL).json()["count"] == 0
    # Their members never show up in this merchant's preview or lists.
    preview = api_client.post(f"{URL}preview/", {"rules": CHAMPS}, format="json").json()
    assert [row["external_id"] for row in preview["sample"]] == ["ann"]
    assert Segment.objects.get(pk=theirs.pk).name == "Their UK"
    # The outsider sees their own.
    assert outsider_api_client.get(f"{URL}champions/members/").json()["results"][0]["external_id"] == "secret"


def test_scopes(make_api_client, merchant):
    reader = make_api_client(merchant, scopes=("read",))
    assert reader.get(URL).status_code == 200
    assert reader.post(f"{URL}preview/", {"rules": CHAMPS}, format="json").status_code == 200
    refused = reader.post(URL, {"name": "x", "rules": CHAMPS}, format="json")
    assert refused.status_code == 403 and "write" in refused.json()["message"]
    writer = make_api_client(merchant, scopes=("write",))
    assert writer.get(URL).status_code == 403
    assert writer.post(URL, {"name": "x", "rules": CHAMPS}, format="json").status_code == 201


def test_unauthenticated_requests_are_refused(client):
    assert client.get(URL).status_code == 401
