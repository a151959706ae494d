"""The knowledge page: list with kind filter and search, the internal flag shown, inline create / edit /
delete over HTMX (and without it), CSV/JSON import with its per-row report, the empty state, roles (editors
and owners change it) and another merchant's items answering 404."""

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import Role
from chat.models import KnowledgeItem

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def quiet(no_enqueue):
    """Knowledge writes queue vectors for the ml worker; keep them off the shared broker."""
    return no_enqueue


def item(merchant, title, body="Some text.", **fields):
    return KnowledgeItem.objects.create(merchant=merchant, title=title, body=body, **fields)


def listed(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<li id="knowledge-(\d+)"', html)]


def upload(name: str, content: str, content_type="text/csv"):
    return SimpleUploadedFile(name, content.encode(), content_type=content_type)


# ---------- List ----------


def test_empty_state_explains_what_knowledge_is_for(login):
    html = login().get(reverse("chat:knowledge")).content.decode()
    assert 'data-testid="knowledge-empty"' in html and "No knowledge yet" in html
    assert 'data-testid="knowledge-create-form"' in html and 'data-testid="knowledge-file"' in html


def test_list_filters_by_kind_and_searches_and_flags_internal_items(login, merchant):
    faq = item(merchant, "How long does delivery take?", "3 to 5 days.")
    policy = item(merchant, "Returns policy", "30 days, unused.", kind="policy")
    internal = item(
        merchant, "Goodwill refunds", "Up to $40 without a manager.", kind="policy", is_internal=True
    )
    client = login(Role.VIEWER)
    html = client.get(reverse("chat:knowledge")).content.decode()
    assert sorted(listed(html)) == sorted([faq.pk, policy.pk, internal.pk])
    row = re.search(rf'<li id="knowledge-{internal.pk}".*?</li>', html, re.DOTALL).group(0)
    assert "is-internal" in row and re.search(r'data-testid="internal-badge"[^>]*>Internal · staff-only', row)
    assert "not searchable by the bot" in row
    assert "Internal · staff-only" not in re.search(
        rf'<li id="knowledge-{faq.pk}".*?</li>', html, re.DOTALL
    ).group(0)

    assert listed(client.get(reverse("chat:knowledge"), {"kind": "policy"}).content.decode()) == [
        internal.pk,
        policy.pk,
    ]
    assert listed(client.get(reverse("chat:knowledge"), {"q": "DELIVERY"}).content.decode()) == [faq.pk]
    html = client.get(reverse("chat:knowledge"), {"q": "manager", "kind": "faq"}).content.decode()
    assert listed(html) == [] and 'data-testid="knowledge-no-match"' in html
    # A kind that does not exist shows everything rather than nothing.
    assert len(listed(client.get(reverse("chat:knowledge"), {"kind": "bogus"}).content.decode())) == 3


def test_htmx_filtering_answers_the_results_partial(login, merchant):
    item(merchant, "Shipping policy", kind="policy")
    html = login().get(reverse("chat:knowledge"), {"kind": "policy"}, **HTMX).content.decode()
    assert "<html" not in html and 'data-testid="knowledge-list"' in html and "data-result-summary" in html


def test_viewers_and_reviewers_read_but_do_not_get_the_forms(login, merchant):
    target = item(merchant, "Shipping policy", kind="policy")
    for role in (Role.VIEWER, Role.REVIEWER):
        html = login(role).get(reverse("chat:knowledge")).content.decode()
        assert listed(html) == [target.pk]
        assert "knowledge-create-form" not in html and 'data-testid="knowledge-edit"' not in html
        assert "editors and owners change it" in html


def test_item_text_is_escaped(login, merchant):
    item(merchant, "<b>Bold</b> question", "<script>alert(1)</script>")
    html = login().get(reverse("chat:knowledge")).content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;Bold&lt;/b&gt; question" in html


# ---------- Create, edit, delete ----------


def test_create_over_htmx_returns_a_fresh_form_and_asks_the_list_to_reload(login, merchant):
    response = login().post(
        reverse("chat:knowledge_create"),
        {
            "kind": "faq",
            "title": "Do you ship to Canada?",
            "body": "Yes, in 5 to 10 days.",
            "is_active": "on",
        },
        **HTMX,
    )
    assert response.status_code == 200 and response["HX-Trigger"] == "knowledge-changed"
    created = KnowledgeItem.objects.get(merchant=merchant)
    assert (created.title, created.kind, created.is_internal, created.is_active) == (
        "Do you ship to Canada?",
        "faq",
        False,
        True,
    )
    html = response.content.decode()
    assert "Added “Do you ship to Canada?”." in html
    assert 'name="title" value=""' in html


def test_create_internal_item_without_javascript(login, merchant):
    response = login(Role.EDITOR).post(
        reverse("chat:knowledge_create"),
        {
            "kind": "policy",
            "title": "Escalations",
            "body": "Call the lead.",
            "is_internal": "on",
            "is_active": "on",
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("chat:knowledge")
    assert KnowledgeItem.objects.get(merchant=merchant, title="Escalations").is_internal is True


def test_create_refuses_a_duplicate_title_and_blank_fields(login, merchant):
    item(merchant, "Shipping policy", kind="policy")
    client = login()
    response = client.post(
        reverse("chat:knowledge_create"),
        {"kind": "policy", "title": "Shipping policy", "body": "Other"},
        **HTMX,
    )
    assert response.status_code == 422
    assert "There is already a policy titled" in response.content.decode()
    response = client.post(
        reverse("chat:knowledge_create"), {"kind": "nonsense", "title": "", "body": ""}, **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 422 and html.count("This field is required.") == 2
    assert "Select a valid choice" in html
    assert KnowledgeItem.objects.filter(merchant=merchant).count() == 1


def test_edit_inline_then_save(login, merchant):
    target = item(merchant, "Warranty", "One year.", kind="policy")
    client = login()
    form = client.get(reverse("chat:knowledge_edit", args=[target.pk]), **HTMX).content.decode()
    assert form.startswith(f'<li id="knowledge-{target.pk}" class="knowledge-item is-editing"')
    assert 'value="Warranty"' in form and "One year." in form
    response = client.post(
        reverse("chat:knowledge_edit", args=[target.pk]),
        {
            "kind": "policy",
            "title": "Warranty policy",
            "body": "Two years.",
            "is_internal": "on",
            "is_active": "on",
        },
        **HTMX,
    )
    assert response.status_code == 200
    target.refresh_from_db()
    assert (target.title, target.body, target.is_internal) == ("Warranty policy", "Two years.", True)
    html = response.content.decode()
    assert "Saved" in html and "Internal · staff-only" in html and "is-editing" not in html
    # Cancel brings the row back.
    assert (
        "Two years." in client.get(reverse("chat:knowledge_item", args=[target.pk]), **HTMX).content.decode()
    )


def test_edit_with_errors_keeps_the_form(login, merchant):
    target = item(merchant, "Warranty", kind="policy")
    response = login().post(
        reverse("chat:knowledge_edit", args=[target.pk]),
        {"kind": "policy", "title": "Warranty", "body": " "},
        **HTMX,
    )
    assert response.status_code == 422 and "is-editing" in response.content.decode()
    target.refresh_from_db()
    assert target.body == "Some text."


def test_edit_page_without_javascript(login, merchant):
    target = item(merchant, "Warranty", kind="policy")
    html = login().get(reverse("chat:knowledge_edit", args=[target.pk])).content.decode()
    assert "<html" in html and "Edit “Warranty”" in html


def test_delete(login, merchant):
    target = item(merchant, "Old FAQ")
    response = login().post(reverse("chat:knowledge_delete", args=[target.pk]), **HTMX)
    assert (
        response.status_code == 200
        and response.content == b""
        and response["HX-Trigger"] == "knowledge-changed"
    )
    assert not KnowledgeItem.objects.filter(pk=target.pk).exists()


def test_viewers_and_reviewers_cannot_change_knowledge(login, merchant):
    target = item(merchant, "Old FAQ")
    for role in (Role.VIEWER, Role.REVIEWER):
        client = login(role)
        assert (
            client.post(
                reverse("chat:knowledge_create"), {"kind": "faq", "title": "T", "body": "B"}
            ).status_code
            == 403
        )
        assert (
            client.post(
                reverse("chat:knowledge_edit", args=[target.pk]), {"kind": "faq", "title": "T", "body": "B"}
            ).status_code
            == 403
        )
        assert client.post(reverse("chat:knowledge_delete", args=[target.pk])).status_code == 403
        assert (
            client.post(
                reverse("chat:knowledge_import"), {"file": upload("k.csv", "title,body\nA,B\n")}
            ).status_code
            == 403
        )
    assert list(KnowledgeItem.objects.filter(merchant=merchant).values_list("title", flat=True)) == [
        "Old FAQ"
    ]


def test_another_merchants_items_answer_404(login, other_merchant):
    theirs = item(other_merchant, "Their secret policy", kind="policy", is_internal=True)
    client = login()
    assert client.get(reverse("chat:knowledge_item", args=[theirs.pk]), **HTMX).status_code == 404
    assert client.get(reverse("chat:knowledge_edit", args=[theirs.pk]), **HTMX).status_code == 404
    assert (
        client.post(
            reverse("chat:knowledge_edit", args=[theirs.pk]),
            {"kind": "faq", "title": "Mine now", "body": "B"},
            **HTMX,
        ).status_code
        == 404
    )
    assert client.post(reverse("chat:knowledge_delete", args=[theirs.pk]), **HTMX).status_code == 404
    assert KnowledgeItem.objects.get(pk=theirs.pk).title == "Their secret policy"
    assert "Their secret policy" not in client.get(reverse("chat:knowledge")).content.decode()


# ---------- Import ----------


def test_csv_import_upserts_and_reports(login, merchant):
    item(merchant, "Shipping policy", "Old text.", kind="policy")
    csv_text = (
        "kind,title,body,is_internal\n"
        "policy,Shipping policy,Ships in 2 days.,no\n"
        "faq,Do you gift wrap?,Yes for $4.,no\n"
        "policy,Escalations,Call the lead.,yes\n"
    )
    response = login().post(reverse("chat:knowledge_import"), {"file": upload("kb.csv", csv_text)}, **HTMX)
    assert response.status_code == 200 and response["HX-Trigger"] == "knowledge-changed"
    html = response.content.decode()
    assert 'data-testid="import-report"' in html
    assert "Imported kb.csv: 2 created, 1 updated (3 rows)." in html
    assert KnowledgeItem.objects.get(merchant=merchant, title="Shipping policy").body == "Ships in 2 days."
    assert KnowledgeItem.objects.get(merchant=merchant, title="Escalations").is_internal is True


def test_import_with_bad_rows_writes_nothing_and_lists_each_problem(login, merchant):
    csv_text = (
        "kind,title,body,is_internal\nfaq,Good row,Fine.,no\nrecipe,Bad kind,Text,no\nfaq,,No title,maybe\n"
    )
    response = login().post(reverse("chat:knowledge_import"), {"file": upload("kb.csv", csv_text)}, **HTMX)
    assert response.status_code == 200 and "HX-Trigger" not in response
    html = response.content.decode()
    assert "Nothing was imported: 2 of 3 rows have errors." in html
    table = re.search(r'data-testid="import-errors">.*?</table>', html, re.DOTALL).group(0)
    cells = re.findall(r'<tr><td class="num">(\d+)</td><td><code>(\w+)</code></td>', table)
    assert ("3", "kind") in cells and ("4", "title") in cells and ("4", "is_internal") in cells
    assert not KnowledgeItem.objects.filter(merchant=merchant).exists()


def test_json_import(login, merchant):
    rows = [
        {"kind": "faq", "title": "Gift cards?", "body": "From $25."},
        {"kind": "policy", "title": "Warranty", "body": "2 years."},
    ]
    response = login().post(
        reverse("chat:knowledge_import"),
        {"file": upload("kb.json", json.dumps(rows), "application/json")},
        **HTMX,
    )
    assert "2 created, 0 updated" in response.content.decode()
    assert KnowledgeItem.objects.filter(merchant=merchant).count() == 2


def test_unreadable_files_are_refused_with_a_reason(login, merchant):
    client = login()
    response = client.post(reverse("chat:knowledge_import"), {"file": upload("kb.txt", "hello")}, **HTMX)
    assert response.status_code == 422 and "Upload a .csv or .json file." in response.content.decode()
    response = client.post(reverse("chat:knowledge_import"), {"file": upload("kb.json", "{not json")}, **HTMX)
    assert response.status_code == 422 and "Not valid JSON" in response.content.decode()
    response = client.post(
        reverse("chat:knowledge_import"), {"file": upload("kb.csv", "question,answer\nA,B\n")}, **HTMX
    )
    assert (
        response.status_code == 422 and "Missing required column(s): title, body" in response.content.decode()
    )
    response = client.post(reverse("chat:knowledge_import"), {}, **HTMX)
    assert response.status_code == 422 and "This field is required." in response.content.decode()
    assert not KnowledgeItem.objects.filter(merchant=merchant).exists()


def test_oversized_import_is_refused(login, merchant, monkeypatch):
    monkeypatch.setattr("chat.knowledge.views.KNOWLEDGE_IMPORT_MAX_BYTES", 100)
    big = "kind,title,body\n" + "".join(f"faq,Q{i},{'x' * 40}\n" for i in range(10))
    response = login().post(reverse("chat:knowledge_import"), {"file": upload("kb.csv", big)}, **HTMX)
    assert response.status_code == 413 and "larger than" in response.content.decode()
    assert not KnowledgeItem.objects.filter(merchant=merchant).exists()


def test_import_without_javascript_shows_the_report_on_the_page(login, merchant):
    response = login().post(
        reverse("chat:knowledge_import"), {"file": upload("kb.csv", "title,body\nHello?,Hi.\n")}
    )
    html = response.content.decode()
    assert response.status_code == 200 and "<html" in html and "1 created, 0 updated" in html
    assert listed(html) == [KnowledgeItem.objects.get(merchant=merchant).pk]
