import csv
import io
import json

import pytest

from accounts.models import AuditLog
from marketing.models import Campaign, ContentPiece, ContentRevision
from ml.models import Job

pytestmark = pytest.mark.django_db

SCRIPT = '<script>alert("owned")</script>'


def test_list_and_filters(api_client, merchant, campaign, make_piece, jacket):
    sms = Campaign.objects.create(merchant=merchant, name="Texts", channel="sms")
    a = make_piece("in_review")
    b = make_piece("approved", product=jacket)
    c = make_piece("in_review", camp=sms, flagged=True, title="")

    def ids(**params):
        response = api_client.get("/api/v1/contents/", params)
        assert response.status_code == 200, response.json()
        return {row["id"] for row in response.json()["results"]}

    assert ids() == {a.pk, b.pk, c.pk}
    assert ids(campaign=campaign.pk) == {a.pk, b.pk}
    assert ids(status="in_review") == {a.pk, c.pk}
    assert ids(status=["in_review", "approved"]) == {a.pk, b.pk, c.pk}
    assert ids(channel="sms") == {c.pk}
    assert ids(flagged="true") == {c.pk}
    assert ids(product=jacket.pk) == {b.pk}
    row = api_client.get(f"/api/v1/contents/{a.pk}/").json()
    assert row["channel"] == "product_description" and row["product"]["sku"] == "BOTTLE-1"
    assert row["campaign_name"] == "Spring launch"


@pytest.mark.parametrize("params", [{"status": "bogus"}, {"channel": "fax"}, {"campaign": "abc"}])
def test_bad_filters_answer_400(api_client, params):
    response = api_client.get("/api/v1/contents/", params)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_approve_reject_publish_unpublish(api_client, make_piece, jacket):
    piece = make_piece("in_review")
    response = api_client.post(f"/api/v1/contents/{piece.pk}/approve/")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "approved"
    assert api_client.post(f"/api/v1/contents/{piece.pk}/publish/").json()["status"] == "published"
    assert api_client.post(f"/api/v1/contents/{piece.pk}/unpublish/").json()["status"] == "approved"

    other = make_piece("in_review", product=jacket)
    missing_reason = api_client.post(f"/api/v1/contents/{other.pk}/reject/", {}, format="json")
    assert missing_reason.status_code == 400 and "reason" in missing_reason.json()["field_errors"]
    rejected = api_client.post(f"/api/v1/contents/{other.pk}/reject/", {"reason": "Off brand"}, format="json")
    assert rejected.json()["status"] == "rejected" and rejected.json()["rejection_reason"] == "Off brand"


@pytest.mark.parametrize(
    ("status", "action"),
    [
        ("in_review", "publish"),
        ("draft", "publish"),
        ("rejected", "publish"),
        ("published", "approve"),
        ("approved", "reject"),
        ("in_review", "unpublish"),
        ("rejected", "approve"),
    ],
)
def test_illegal_moves_answer_409(api_client, make_piece, status, action):
    piece = make_piece(status)
    response = api_client.post(f"/api/v1/contents/{piece.pk}/{action}/", {"reason": "r"}, format="json")
    assert response.status_code == 409, response.json()
    assert response.json()["code"] == "illegal_transition"
    piece.refresh_from_db()
    assert piece.status == status


def test_approving_a_piece_with_unsupported_claims_answers_409(api_client, make_piece):
    piece = make_piece(
        "in_review",
        approvable=False,
        flagged=True,
        grounding={"approvable": False, "passed": False, "unsupported": [{"text": "$5"}]},
    )
    response = api_client.post(f"/api/v1/contents/{piece.pk}/approve/")
    assert response.status_code == 409
    assert response.json()["code"] == "grounding_failed"


def test_edit_saves_a_revision_and_rechecks(api_client, make_piece):
    piece = make_piece("approved")
    response = api_client.patch(
        f"/api/v1/contents/{piece.pk}/", {"body": "Green stainless steel bottle, 750 ml."}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "in_review" and body["body"] == "Green stainless steel bottle, 750 ml."
    assert isinstance(body["grounding"], dict) and "approvable" in body["grounding"]
    revisions = api_client.get(f"/api/v1/contents/{piece.pk}/revisions/").json()
    assert len(revisions) == 1 and revisions[0]["author_label"].startswith("api-key:")
    assert revisions[0]["fields_after"]["body"] == "Green stainless steel bottle, 750 ml."


def test_edit_of_a_published_piece_answers_409_and_bad_edits_400(api_client, make_piece, jacket):
    published = make_piece("published")
    assert (
        api_client.patch(f"/api/v1/contents/{published.pk}/", {"body": "x"}, format="json").status_code == 409
    )
    piece = make_piece("in_review", product=jacket)
    assert api_client.patch(f"/api/v1/contents/{piece.pk}/", {}, format="json").status_code == 400
    too_long = api_client.patch(f"/api/v1/contents/{piece.pk}/", {"body": "x" * 5001}, format="json")
    assert too_long.status_code == 400 and "body" in too_long.json()["field_errors"]
    wrong_field = api_client.patch(f"/api/v1/contents/{piece.pk}/", {"subject": "Hi"}, format="json")
    assert wrong_field.status_code == 400 and "subject" in wrong_field.json()["field_errors"]
    assert api_client.put(f"/api/v1/contents/{piece.pk}/", {"body": "x"}, format="json").status_code == 405
    assert not ContentRevision.objects.exists()


def test_bulk_approve(api_client, make_piece, campaign, jacket):
    good = make_piece("in_review")
    flagged = make_piece("in_review", product=jacket, flagged=True)
    response = api_client.post(
        "/api/v1/contents/bulk-approve/", {"ids": [good.pk, flagged.pk, 999999]}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "approved": [good.pk],
        "skipped": {str(flagged.pk): "does not pass every check", "999999": "not found"},
    }
    by_campaign = api_client.post("/api/v1/contents/bulk-approve/", {"campaign": campaign.pk}, format="json")
    assert by_campaign.json()["approved"] == []
    assert api_client.post("/api/v1/contents/bulk-approve/", {}, format="json").status_code == 400


def test_regenerate_queues_a_job_and_refuses_published_pieces(api_client, make_piece, tiny_base, jacket):
    piece = make_piece("rejected", rejection_reason="dull")
    response = api_client.post(f"/api/v1/contents/{piece.pk}/regenerate/")
    assert response.status_code == 202, response.json()
    job = Job.objects.get(pk=response.json()["id"])
    assert job.params["piece_id"] == piece.pk and job.kind == "generate"
    assert api_client.post(f"/api/v1/contents/{piece.pk}/regenerate/").status_code == 409  # already running
    published = make_piece("published", product=jacket)
    assert api_client.post(f"/api/v1/contents/{published.pk}/regenerate/").status_code == 409


@pytest.mark.parametrize(
    ("scopes", "action", "expected"),
    [
        (["read"], "approve", 403),
        (["read"], "reject", 403),
        (["write"], "approve", 200),
        (["write"], "reject", 200),
        (["write"], "publish", 403),
        (["read", "write"], "publish", 403),
        (["publish"], "publish", 200),
        (["publish"], "approve", 403),
    ],
)
def test_scopes(make_api_client, merchant, make_piece, scopes, action, expected):
    piece = make_piece("approved" if action == "publish" else "in_review")
    client = make_api_client(merchant, scopes=scopes)
    response = client.post(f"/api/v1/contents/{piece.pk}/{action}/", {"reason": "no"}, format="json")
    assert response.status_code == expected, response.json()
    if expected == 403:
        assert "scope" in response.json()["message"]


def test_read_scope_cannot_edit_or_unpublish(make_api_client, merchant, make_piece):
    reader = make_api_client(merchant, scopes=["read"])
    writer = make_api_client(merchant, scopes=["read", "write"])
    piece = make_piece("published")
    assert reader.patch(f"/api/v1/contents/{piece.pk}/", {"body": "x"}, format="json").status_code == 403
    assert writer.post(f"/api/v1/contents/{piece.pk}/unpublish/").status_code == 403
    assert reader.get(f"/api/v1/contents/{piece.pk}/").status_code == 200
    assert reader.get("/api/v1/contents/export/?format=json").status_code == 200


def test_outsider_gets_404_everywhere(outsider_api_client, make_piece, tiny_base):
    piece = make_piece("approved")
    assert outsider_api_client.get("/api/v1/contents/").json()["results"] == []
    for method, path in [
        ("get", ""),
        ("patch", ""),
        ("post", "approve/"),
        ("post", "reject/"),
        ("post", "publish/"),
        ("post", "unpublish/"),
        ("post", "regenerate/"),
        ("get", "revisions/"),
    ]:
        response = getattr(outsider_api_client, method)(
            f"/api/v1/contents/{piece.pk}/{path}", {"reason": "x", "body": "x"}, format="json"
        )
        assert response.status_code == 404, (method, path, response.status_code)
    bulk = outsider_api_client.post("/api/v1/contents/bulk-approve/", {"ids": [piece.pk]}, format="json")
    assert bulk.json() == {"approved": [], "skipped": {str(piece.pk): "not found"}}
    assert (
        outsider_api_client.get(
            f"/api/v1/contents/export/?format=json&campaign={piece.campaign_id}"
        ).status_code
        == 404
    )
    assert json.loads(outsider_api_client.get("/api/v1/contents/export/?format=json").content) == {
        "results": []
    }
    piece.refresh_from_db()
    assert piece.status == "approved"
    assert not Job.objects.exists()
    assert not AuditLog.objects.filter(object_type="contentpiece").exists()


def test_export_json_and_csv_only_contain_approved_and_published(api_client, make_piece, jacket):
    approved = make_piece("approved", body=SCRIPT)
    published = make_piece("published", product=jacket, title='=HYPERLINK("http://evil","x")')
    make_piece("in_review", variant=2)
    make_piece("rejected", variant=3)

    as_json = api_client.get("/api/v1/contents/export/?format=json")
    assert as_json.status_code == 200 and as_json["Content-Type"] == "application/json"
    rows = json.loads(as_json.content)["results"]
    assert {r["id"] for r in rows} == {approved.pk, published.pk}
    assert next(r for r in rows if r["id"] == approved.pk)["body"] == SCRIPT  # data, exactly as written

    as_csv = api_client.get("/api/v1/contents/export/?format=csv")
    assert as_csv.status_code == 200
    assert as_csv["Content-Type"].startswith("text/csv")
    assert as_csv["Content-Disposition"].startswith("attachment;")
    assert as_csv["X-Content-Type-Options"] == "nosniff"
    table = list(csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert {int(r["id"]) for r in table} == {approved.pk, published.pk}
    by_id = {int(r["id"]): r for r in table}
    assert by_id[published.pk]["title"] == '\'=HYPERLINK("http://evil","x")'
    assert by_id[approved.pk]["body"] == SCRIPT

    only_published = json.loads(
        api_client.get("/api/v1/contents/export/?format=json&status=published").content
    )
    assert [r["id"] for r in only_published["results"]] == [published.pk]
    assert api_client.get("/api/v1/contents/export/?format=json&status=in_review").status_code == 400
    bad_format = api_client.get("/api/v1/contents/export/?format=xml")
    assert bad_format.status_code == 400 and "format" in bad_format.json()["field_errors"]


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "plain", "a=b"])
def test_csv_cells_that_look_like_formulas_are_neutralised(value):
    from marketing.publishing.channels import csv_safe

    assert csv_safe(value) == (value if value[0] not in "=+-@\t" else "'" + value)


def test_model_output_with_script_stays_inert_in_the_api(api_client, make_piece):
    piece = make_piece("in_review", body=SCRIPT, title="<img src=x onerror=alert(1)>")
    response = api_client.get(f"/api/v1/contents/{piece.pk}/")
    assert response["Content-Type"] == "application/json"
    assert response.json()["body"] == SCRIPT
    assert b"<script>" in response.content  # JSON carries it as data; never served as HTML
    assert ContentPiece.objects.get(pk=piece.pk).body == SCRIPT
