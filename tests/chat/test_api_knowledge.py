"""The knowledge API and import: CRUD with validation, re-embedding queued on commit, the all-or-nothing
CSV/JSON import with its per-row report, scopes and outsiders."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import AuditLog
from chat.knowledge.services import knowledge_import
from chat.models import KnowledgeItem

pytestmark = pytest.mark.django_db

URL = "/api/v1/chat/knowledge/"


@pytest.fixture
def queued(monkeypatch):
    calls = []

    class FakeTask:
        @staticmethod
        def apply_async(args, queue):
            calls.append((args[0], queue))

    monkeypatch.setattr("chat.tasks.embed_knowledge_task", FakeTask)
    return calls


def test_create_read_update_delete(api_client, merchant, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(
            URL,
            {"kind": "faq", "title": "Do you ship abroad?", "body": "Yes, to 30 countries."},
            format="json",
        )
    assert response.status_code == 201, response.json()
    item = response.json()
    assert (item["kind"], item["is_internal"], item["is_active"], item["has_embedding"]) == (
        "faq",
        False,
        True,
        False,
    )
    assert queued == [(merchant.pk, "ml")]

    assert api_client.get(URL, {"kind": "faq"}).json()["count"] == 1
    assert api_client.get(URL, {"search": "countries"}).json()["count"] == 1
    assert api_client.get(URL, {"kind": "policy"}).json()["count"] == 0

    response = api_client.patch(
        f"{URL}{item['id']}/", {"is_internal": True, "body": "Only EU."}, format="json"
    )
    assert response.status_code == 200 and response.json()["is_internal"] is True
    assert api_client.put(f"{URL}{item['id']}/", {}, format="json").status_code == 405
    assert api_client.delete(f"{URL}{item['id']}/").status_code == 204
    assert not KnowledgeItem.objects.exists()
    assert list(
        AuditLog.objects.filter(object_type="knowledgeitem").order_by("id").values_list("action", flat=True)
    ) == ["knowledge.create", "knowledge.update", "knowledge.delete"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"title": "", "body": "x"}, "title"),
        ({"title": "T", "body": "  "}, "body"),
        ({"title": "T", "body": "x", "kind": "rumour"}, "kind"),
        ({"title": "x" * 301, "body": "x"}, "title"),
        ({"title": "T", "body": "x", "is_internal": "perhaps"}, "is_internal"),
    ],
)
def test_bad_items_answer_400(api_client, queued, body, field):
    response = api_client.post(URL, body, format="json")
    assert response.status_code == 400 and field in response.json()["field_errors"]


def test_titles_are_unique_per_kind(api_client, queued):
    assert api_client.post(URL, {"title": "Returns", "body": "30 days."}, format="json").status_code == 201
    response = api_client.post(URL, {"title": "Returns", "body": "Other."}, format="json")
    assert response.status_code == 400 and "already" in response.json()["field_errors"]["title"][0]
    assert (
        api_client.post(
            URL, {"title": "Returns", "body": "Policy.", "kind": "policy"}, format="json"
        ).status_code
        == 201
    )


def test_scopes_and_outsiders(make_api_client, merchant, outsider_api_client, queued):
    item = KnowledgeItem.objects.create(merchant=merchant, title="Returns", body="30 days.")
    reader = make_api_client(merchant, scopes=("read",))
    assert reader.get(f"{URL}{item.pk}/").status_code == 200
    assert reader.patch(f"{URL}{item.pk}/", {"body": "x"}, format="json").status_code == 403
    assert reader.post(f"{URL}import/", b"title,body\nA,B\n", content_type="text/csv").status_code == 403
    assert outsider_api_client.get(f"{URL}{item.pk}/").status_code == 404
    assert outsider_api_client.patch(f"{URL}{item.pk}/", {"body": "x"}, format="json").status_code == 404
    assert outsider_api_client.delete(f"{URL}{item.pk}/").status_code == 404
    assert outsider_api_client.get(URL).json()["count"] == 0
    item.refresh_from_db()
    assert item.body == "30 days."


# --- import ------------------------------------------------------------------------------------------------

GOOD_CSV = (
    "kind,title,body,is_internal\n"
    'faq,Do you ship abroad?,"Yes, to 30 countries.",false\n'
    "policy,Returns,Unworn items within 30 days.,no\n"
    "policy,Fraud checks,Flag more than three returns a month.,true\n"
)


def test_csv_import_creates_then_updates_by_kind_and_title(api_client, merchant, queued):
    response = api_client.post(f"{URL}import/", GOOD_CSV.encode(), content_type="text/csv")
    assert response.status_code == 200, response.json()
    report = response.json()
    assert (report["total"], report["created"], report["updated"], report["applied"]) == (3, 3, 0, True)
    assert KnowledgeItem.objects.get(title="Fraud checks").is_internal is True

    again = GOOD_CSV.replace("Unworn items within 30 days.", "Unworn items within 60 days.")
    report = api_client.post(f"{URL}import/", again.encode(), content_type="text/csv").json()
    assert (report["created"], report["updated"]) == (0, 3)
    assert KnowledgeItem.objects.get(title="Returns").body == "Unworn items within 60 days."
    assert KnowledgeItem.objects.count() == 3


def test_one_bad_row_and_nothing_is_imported(api_client, queued):
    bad = GOOD_CSV + "rumour,Secret sale,Everything free,false\nfaq,,No title,false\nfaq,Gift,Wrapped,maybe\n"
    response = api_client.post(f"{URL}import/", bad.encode(), content_type="text/csv")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_rows" and "nothing was imported" in body["message"]
    assert [row["line"] for row in body["report"]["errors"]] == [5, 6, 7]
    assert set(body["report"]["errors"][0]["errors"]) == {"kind"}
    assert set(body["report"]["errors"][1]["errors"]) == {"title"}
    assert set(body["report"]["errors"][2]["errors"]) == {"is_internal"}
    assert body["field_errors"]["rows"][0].startswith("line 5: kind:")
    assert not KnowledgeItem.objects.exists()


def test_csv_rows_are_numbered_as_a_spreadsheet_shows_them(api_client, queued):
    """A quoted multi-line cell is one row, as in the catalog import (the line a record ends on is not
    reported any more: the bad rows below were lines 5 and 6 of the text)."""
    text = (
        "kind,title,body\n"
        'faq,Opening hours,"Mon-Fri 9-17.\nSat 10-14."\n'
        "rumour,Secret sale,Everything free\n"
        "faq,Opening hours,Again.\n"
    )
    response = api_client.post(f"{URL}import/", text.encode(), content_type="text/csv")
    assert response.status_code == 400
    assert response.json()["report"]["errors"] == [
        {"line": 3, "errors": {"kind": ["Must be one of faq, policy."]}},
        {"line": 4, "errors": {"title": ["Duplicate of line 2 in this file."]}},
    ]


def test_json_import_and_duplicate_rows(api_client, queued):
    rows = [
        {"kind": "faq", "title": "Gift wrap?", "body": "Yes, 4 dollars.", "is_internal": False},
        {"title": "Gift wrap?", "body": "Duplicate."},
    ]
    response = api_client.post(f"{URL}import/", json.dumps(rows), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["report"]["errors"] == [
        {"line": 2, "errors": {"title": ["Duplicate of line 1 in this file."]}}
    ]
    response = api_client.post(f"{URL}import/", json.dumps(rows[:1]), content_type="application/json")
    assert response.status_code == 200 and response.json()["format"] == "json"


def test_multipart_upload(api_client, queued):
    upload = SimpleUploadedFile("faq.csv", GOOD_CSV.encode(), content_type="text/csv")
    response = api_client.post(f"{URL}import/", {"file": upload}, format="multipart")
    assert response.status_code == 200 and response.json()["filename"] == "faq.csv"


@pytest.mark.parametrize(
    "data, content_type, message",
    [
        (b"", "text/csv", "empty"),
        (b"question,answer\nA,B\n", "text/csv", "Missing required column(s): title, body"),
        (b'{"title": "x"}', "application/json", "must be a list"),
        (b"[{", "application/json", "Not valid JSON"),
        (b"\x00\x01\x02binary", "text/csv", "binary"),
    ],
)
def test_unreadable_files_answer_400_on_file(api_client, queued, data, content_type, message):
    response = api_client.post(f"{URL}import/", data, content_type=content_type)
    assert response.status_code == 400
    assert message in response.json()["field_errors"]["file"][0]


def test_oversized_upload_is_413(api_client, queued, settings):
    settings.CHAT_KNOWLEDGE_IMPORT_MAX_BYTES = 1000
    response = api_client.post(f"{URL}import/", b"title,body\n" + b"a,b\n" * 30000, content_type="text/csv")
    assert response.status_code == 413


def test_import_service_rejects_non_objects(merchant, actor):
    report = knowledge_import(
        merchant=merchant, actor=actor, data=b'[1, {"title": "A", "body": "B"}]', filename="k.json"
    )
    assert report["applied"] is False and report["errors"] == [
        {"line": 1, "errors": {"row": ["Must be an object."]}}
    ]
