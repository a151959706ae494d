"""The review page's card actions: approve/reject/regenerate/publish through HTMX card swaps, inline edit with
the re-check, bulk actions on passing or selected pieces, and who may do what (viewers look, reviewers approve,
editors edit)."""

import re

import pytest
from django.urls import reverse

from accounts.models import Role
from marketing.models import Campaign, ContentPiece, ContentRevision
from ml.models import Job
from tests.factories import ProductFactory
from tests.marketing.review_data import HTMX, card_of, record, url

pytestmark = pytest.mark.django_db

INVENTED = "Stainless steel trail bottle that keeps drinks cold for 24 hours. Now only $5."
FIXED = "Stainless steel trail bottle that keeps drinks cold for 24 hours, yours for $24.90."


# ---------- Approve ----------


def test_reviewer_approves_through_htmx(login, make_piece):
    piece = make_piece("in_review")
    response = login(Role.REVIEWER).post(url("piece_approve", piece), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.startswith("<article") and 'data-status="approved"' in html and "Approved." in html
    piece.refresh_from_db()
    assert piece.status == "approved" and piece.reviewed_by_label == "reviewer@example.com"


def test_plain_post_redirects_back_with_a_message(login, make_piece):
    piece = make_piece("in_review")
    back = reverse("dashboard:review") + "?status=all"
    response = login().post(url("piece_approve", piece), {"next": back})
    assert response.status_code == 302 and response["Location"] == back
    evil = login().post(url("piece_reject", piece), {"next": "https://evil.example/", "reason": "x"})
    assert evil["Location"].startswith("/review/")


def test_unsupported_claims_disable_approve_and_the_server_refuses(login, campaign, bottle):
    piece = record(campaign, bottle, INVENTED)
    assert not piece.approvable and piece.grounding["unsupported"][0]["text"] == "$5"
    client = login()
    card = card_of(client.get(reverse("dashboard:review")).content.decode(), piece)
    assert re.search(r'data-action="approve" disabled aria-describedby="piece-\d+-why"', card)
    assert "Can't approve yet: 1 unsupported claim" in card
    assert '<mark class="claim claim-price"' in card and ">$5</mark>" in card
    # It can be selected to reject or regenerate with others, but "approve all passing" leaves it out.
    assert 'value="' + str(piece.pk) + '" form="bulk-approve-form" data-bulk-select>' in card

    refused = client.post(url("piece_approve", piece), **HTMX)
    assert refused.status_code == 409
    assert "cannot be approved until it is edited" in refused.content.decode()
    piece.refresh_from_db()
    assert piece.status == "in_review"


def test_each_finding_shows_its_kind_and_what_it_failed_against_and_blocks_approval(login, campaign, bottle):
    """Wrong colours, unverified words and text problems (a placeholder, a cut-off sentence) are listed by kind;
    each blocks approval, singly and in bulk."""
    piece = record(
        campaign, bottle, "A red stainless steel trail bottle. Dr. Michael Johnson approves, [Your Name] and"
    )
    assert not piece.approvable and piece.flagged
    card = card_of(login().get(reverse("dashboard:review")).content.decode(), piece)
    assert '<span class="problem-kind">Wrong colour:</span> <mark class="claim">red</mark>' in card
    assert "not a colour of this product (it is green)" in card
    assert (
        '<span class="problem-kind">Name:</span> <mark class="claim">Dr. Michael Johnson approves</mark>'
        in card
    )
    assert '<span class="problem-kind">Text:</span> Placeholder left in body: &#x27;[Your Name]&#x27;' in card
    assert "Body ends mid-sentence" in card
    assert "Can't approve yet: 2 unsupported claims, 2 text problems" in card
    assert re.search(r'data-action="approve" disabled', card)
    assert 'form="bulk-approve-form" data-bulk-select>' in card  # selectable, not passing


def test_a_piece_with_only_a_text_problem_is_not_approvable(login, campaign, bottle):
    piece = record(campaign, bottle, "A stainless steel trail bottle that keeps drinks cold for 24 hours and")
    assert piece.grounding["unsupported"] == [] and not piece.approvable
    refused = login().post(url("piece_approve", piece), **HTMX)
    assert refused.status_code == 409
    assert "text problem(s): body ends mid-sentence" in refused.content.decode()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR])
def test_viewers_and_editors_cannot_approve_or_reject(login, make_piece, role):
    piece = make_piece("in_review")
    client = login(role)
    html = client.get(reverse("dashboard:review")).content.decode()
    assert 'data-action="approve"' not in html and 'data-action="reject"' not in html
    assert 'id="bulk-approve-form"' not in html
    assert client.post(url("piece_approve", piece), **HTMX).status_code == 403
    assert client.post(url("piece_reject", piece), {"reason": "no"}, **HTMX).status_code == 403
    assert client.post(reverse("marketing:bulk_approve"), {"ids": [piece.pk]}).status_code == 403
    piece.refresh_from_db()
    assert piece.status == "in_review"


def test_viewers_see_no_actions_and_cannot_edit_regenerate_or_publish(login, make_piece, jacket):
    piece = make_piece("in_review")
    approved = make_piece("approved", product=jacket)
    client = login(Role.VIEWER)
    html = client.get(reverse("dashboard:review"), {"status": "all"}).content.decode()
    assert "data-action=" not in html and "Your role can look" in html
    assert client.get(url("piece_edit", piece), **HTMX).status_code == 403
    assert client.post(url("piece_edit", piece), {f"piece-{piece.pk}-body": "x"}).status_code == 403
    assert client.post(url("piece_regenerate", piece)).status_code == 403
    assert client.post(url("piece_publish", approved)).status_code == 403
    assert not ContentRevision.objects.exists()


# ---------- Reject ----------


def test_reject_needs_a_reason(login, make_piece):
    piece = make_piece("in_review")
    client = login(Role.REVIEWER)
    missing = client.post(url("piece_reject", piece), {"reason": "   "}, **HTMX)
    assert missing.status_code == 422
    html = missing.content.decode()
    assert 'data-testid="reject-error"' in html and "Say why the piece is rejected." in html
    assert '<details class="reject-box" data-reject open>' in html
    piece.refresh_from_db()
    assert piece.status == "in_review"

    rejected = client.post(url("piece_reject", piece), {"reason": "Too pushy for our voice"}, **HTMX)
    assert rejected.status_code == 200
    assert "Too pushy for our voice" in rejected.content.decode()
    piece.refresh_from_db()
    assert piece.status == "rejected" and piece.rejection_reason == "Too pushy for our voice"
    again = client.post(url("piece_reject", piece), {"reason": "again"}, **HTMX)
    assert again.status_code == 409 and "cannot be rejected" in again.content.decode()


# ---------- Edit ----------


def test_edit_saves_a_revision_and_shows_the_recheck(login, campaign, bottle):
    piece = record(campaign, bottle, INVENTED)
    client = login()
    form = client.get(url("piece_edit", piece), **HTMX)
    assert form.status_code == 200
    assert (
        f'name="piece-{piece.pk}-body"' in form.content.decode()
        and 'data-testid="piece-edit-form"' in form.content.decode()
    )
    assert f'name="piece-{piece.pk}-subject"' not in form.content.decode()  # not a field of this channel

    saved = client.post(
        url("piece_edit", piece),
        {f"piece-{piece.pk}-title": "Trail bottle", f"piece-{piece.pk}-body": FIXED},
        **HTMX,
    )
    assert saved.status_code == 200
    html = saved.content.decode()
    assert "The re-check passed: ready to approve." in html
    assert 'data-action="approve" disabled' not in html
    piece.refresh_from_db()
    assert piece.body == FIXED and piece.approvable and not piece.flagged
    revision = ContentRevision.objects.get(piece=piece)
    assert revision.fields_before["body"] == INVENTED and revision.author_label == "owner@example.com"
    assert client.post(url("piece_approve", piece), **HTMX).status_code == 200


def test_an_edit_that_keeps_a_problem_says_so(login, campaign, bottle):
    piece = record(campaign, bottle, FIXED)
    response = login().post(
        url("piece_edit", piece),
        {f"piece-{piece.pk}-title": "Trail bottle", f"piece-{piece.pk}-body": FIXED + " Waterproof."},
        **HTMX,
    )
    html = response.content.decode()
    assert "approval is still blocked by 1 unsupported claim" in html
    assert '<mark class="claim claim-claim" data-claim' in html and ">Waterproof</mark>" in html


def test_bad_edits_are_refused_with_the_reason(login, make_piece, jacket):
    piece = make_piece("in_review")
    client = login()
    too_long = client.post(url("piece_edit", piece), {f"piece-{piece.pk}-body": "x" * 5001}, **HTMX)
    assert too_long.status_code == 422
    assert "at most 5000 characters" in too_long.content.decode()
    published = make_piece("published", product=jacket)
    conflict = client.post(url("piece_edit", published), {f"piece-{published.pk}-body": "New"}, **HTMX)
    assert conflict.status_code == 409 and "unpublish it first" in conflict.content.decode()
    unchanged = client.post(
        url("piece_edit", piece),
        {f"piece-{piece.pk}-title": piece.title, f"piece-{piece.pk}-body": piece.body},
        **HTMX,
    )
    assert "No changes to save." in unchanged.content.decode()
    assert not ContentRevision.objects.exists()


def test_edit_without_javascript_has_its_own_page(login, make_piece):
    piece = make_piece("in_review")
    page = login().get(url("piece_edit", piece))
    assert page.status_code == 200 and '<h1 class="break">Edit copy</h1>' in page.content.decode()
    saved = login().post(
        url("piece_edit", piece),
        {
            f"piece-{piece.pk}-title": "Trail bottle",
            f"piece-{piece.pk}-body": "Green stainless steel bottle, 750 ml.",
        },
    )
    assert saved.status_code == 302


# ---------- Regenerate, publish ----------


def test_regenerate_queues_a_job_and_the_card_polls_until_it_is_done(
    login, make_piece, copy_model, monkeypatch
):
    from marketing import tasks

    monkeypatch.setattr(
        tasks.regenerate_content_task, "apply_async", lambda *a, **k: pytest.fail("dispatched")
    )
    piece = make_piece("rejected", rejection_reason="dull")
    client = login()
    response = client.post(url("piece_regenerate", piece), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Regenerating" in html and 'hx-trigger="every 2s"' in html
    job = Job.objects.get(params__piece_id=piece.pk)
    assert client.post(url("piece_regenerate", piece), **HTMX).status_code == 409
    Job.objects.filter(pk=job.pk).update(status="succeeded")
    polled = client.get(url("piece_card", piece), **HTMX).content.decode()
    assert 'hx-trigger="every 2s"' not in polled


def test_regenerate_without_a_model_explains(login, make_piece):
    piece = make_piece("in_review")
    response = login().post(url("piece_regenerate", piece), **HTMX)
    assert response.status_code == 409 and "No copy model is registered yet" in response.content.decode()


def test_publish_and_unpublish(login, make_piece):
    piece = make_piece("approved")
    client = login(Role.REVIEWER)
    published = client.post(url("piece_publish", piece), **HTMX)
    assert published.status_code == 200 and 'data-status="published"' in published.content.decode()
    assert 'data-action="unpublish"' in published.content.decode()
    assert client.post(url("piece_publish", piece), **HTMX).status_code == 409
    unpublished = client.post(url("piece_unpublish", piece), **HTMX)
    assert 'data-status="approved"' in unpublished.content.decode()
    assert login(Role.EDITOR).post(url("piece_publish", piece), **HTMX).status_code == 403


def test_publishing_an_unapproved_piece_is_refused(login, make_piece):
    piece = make_piece("in_review")
    response = login().post(url("piece_publish", piece), **HTMX)
    assert response.status_code == 409
    piece.refresh_from_db()
    assert piece.status == "in_review"


# ---------- Bulk approval ----------


def test_bulk_approve_all_passing_skips_failing_pieces(login, merchant, campaign, make_piece, jacket):
    passing = [make_piece("in_review", variant=v) for v in (1, 2, 3)]
    flagged = make_piece("in_review", product=jacket, flagged=True, approvable=True)
    blocked = make_piece("in_review", product=jacket, variant=2, approvable=False, flagged=True)
    client = login(Role.REVIEWER)
    html = client.get(reverse("dashboard:review")).content.decode()
    page_ids = {int(i) for i in re.findall(r'name="page_ids" value="(\d+)"', html)}
    assert page_ids == {p.pk for p in passing}

    response = client.post(
        reverse("marketing:bulk_approve"),
        {
            "action": "page",
            "page_ids": [p.pk for p in passing] + [flagged.pk, blocked.pk],
            "status": "in_review",
        },
        **HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Approved 3 pieces. Skipped 2:" in html and "does not pass every check" in html
    assert {int(i) for i in re.findall(r'data-piece-id="(\d+)"', html)} == {flagged.pk, blocked.pk}
    statuses = dict(ContentPiece.objects.values_list("pk", "status"))
    assert all(statuses[p.pk] == "approved" for p in passing)
    assert statuses[flagged.pk] == statuses[blocked.pk] == "in_review"


def test_bulk_approve_selected_ignores_other_merchants_and_junk(login, other_merchant, make_piece):
    mine = make_piece("in_review")
    theirs_campaign = Campaign.objects.create(merchant=other_merchant, name="Theirs", channel="sms")
    theirs = ContentPiece.objects.create(
        merchant=other_merchant,
        campaign=theirs_campaign,
        product=ProductFactory(merchant=other_merchant),
        body="Theirs",
        status="in_review",
        approvable=True,
    )
    response = login().post(
        reverse("marketing:bulk_approve"), {"action": "selected", "ids": [mine.pk, theirs.pk, "abc"]}, **HTMX
    )
    assert f"#{theirs.pk} not found" in response.content.decode()
    theirs.refresh_from_db()
    mine.refresh_from_db()
    assert theirs.status == "in_review" and mine.status == "approved"
    nothing = login().post(reverse("marketing:bulk_approve"), {"action": "selected"}, **HTMX)
    assert "Nothing was selected" in nothing.content.decode()


def test_bulk_reject_needs_a_reason_and_rejects_only_what_can_be(login, make_piece, other_merchant):
    in_review = [make_piece("in_review", variant=v, flagged=True, approvable=False) for v in (1, 2)]
    approved = make_piece("approved", variant=3)
    theirs_campaign = Campaign.objects.create(merchant=other_merchant, name="Theirs", channel="sms")
    theirs = ContentPiece.objects.create(
        merchant=other_merchant,
        campaign=theirs_campaign,
        product=ProductFactory(merchant=other_merchant),
        body="Theirs",
        status="in_review",
    )
    ids = [p.pk for p in in_review] + [approved.pk, theirs.pk]
    client = login(Role.REVIEWER)
    no_reason = client.post(reverse("marketing:bulk_reject"), {"ids": ids, "reason": "  "}, **HTMX)
    assert "Say why the selected pieces are rejected" in no_reason.content.decode()
    assert ContentPiece.objects.filter(status="rejected").count() == 0

    response = client.post(
        reverse("marketing:bulk_reject"), {"ids": ids, "reason": "Invented claims"}, **HTMX
    )
    html = response.content.decode()
    assert "Rejected 2 pieces. Skipped 2:" in html and f"#{theirs.pk} not found" in html
    statuses = dict(ContentPiece.objects.values_list("pk", "status"))
    assert [statuses[p.pk] for p in in_review] == ["rejected", "rejected"]
    assert statuses[approved.pk] == "approved" and statuses[theirs.pk] == "in_review"
    assert set(ContentPiece.objects.filter(status="rejected").values_list("rejection_reason", flat=True)) == {
        "Invented claims"
    }


def test_bulk_regenerate_queues_a_job_per_piece_it_can_regenerate(
    login, make_piece, copy_model, django_capture_on_commit_callbacks
):
    flagged = [make_piece("in_review", variant=v, flagged=True, approvable=False) for v in (1, 2)]
    published = make_piece("published", variant=3)
    client = login(Role.EDITOR)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            reverse("marketing:bulk_regenerate"), {"ids": [p.pk for p in flagged] + [published.pk]}, **HTMX
        )
    html = response.content.decode()
    assert "Queued for regeneration 2 pieces. Skipped 1:" in html and "cannot be regenerated" in html
    assert len(callbacks) == 2
    jobs = Job.objects.filter(kind="generate").values_list("params__piece_id", flat=True)
    assert sorted(jobs) == sorted(p.pk for p in flagged)


def test_bulk_actions_respect_roles(login, make_piece):
    piece = make_piece("in_review")
    viewer = login(Role.VIEWER)
    assert (
        viewer.post(reverse("marketing:bulk_reject"), {"ids": [piece.pk], "reason": "x"}).status_code == 403
    )
    assert viewer.post(reverse("marketing:bulk_regenerate"), {"ids": [piece.pk]}).status_code == 403
    reviewer = login(Role.REVIEWER)
    reviewer_page = reviewer.get(reverse("dashboard:review")).content.decode()
    assert (
        'data-testid="reject-selected"' in reviewer_page
        and 'data-testid="regenerate-selected"' not in reviewer_page
    )
    assert reviewer.post(reverse("marketing:bulk_regenerate"), {"ids": [piece.pk]}).status_code == 403
    owner_page = login().get(reverse("dashboard:review")).content.decode()
    assert 'data-testid="regenerate-selected"' in owner_page
