"""Rechecking stored copy with the current checker (issue 12): pieces whose grounding report an older checker
wrote get the current verdict without being regenerated; approved pieces it now blocks go back to review,
published ones keep their status and show the findings; nothing is approved or published on an old verdict;
the recheck is idempotent, scoped to one merchant, and reachable from a task, a command and a button."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.models import AuditLog, Role
from accounts.services import Actor
from marketing import tasks, workflow
from marketing.campaigns.services import content_piece_record
from marketing.models import Campaign, ContentPiece
from marketing.publishing.services import content_publish, content_publish_scheduled, content_unpublish
from marketing.review import recheck
from marketing.review.recheck import RECHECK_BLOCKED_REASON, content_recheck
from marketing.review.services import content_approve, content_bulk_approve, content_update
from marketing.workflow import ContentConflict
from ml.engine.verification import VERIFIER_VERSION
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

S = ContentPiece.Status
HTMX = {"HTTP_HX_REQUEST": "true"}
OLD_VERSION = "2026-01-01"
# What the current checker says about these texts for the `bottle` fixture: the second invents a price.
PASSING = "A stainless steel bottle that keeps drinks cold for 24 hours."
INVENTED_PRICE = "A stainless steel bottle that keeps drinks cold for 24 hours. Now only $5!"
OLD_PASS = {"verifier_version": OLD_VERSION, "passed": True, "approvable": True, "unsupported": []}
OLD_FAIL = {
    "verifier_version": OLD_VERSION,
    "passed": False,
    "approvable": False,
    "unsupported": [
        {
            "text": "24 hours",
            "kind": "measurement",
            "field": "body",
            "start": 44,
            "end": 52,
            "reason": "old rule",
        }
    ],
}


@pytest.fixture
def stale(make_piece):
    """A piece an older checker passed (or, with approvable=False, blocked)."""

    def make(status=S.IN_REVIEW, *, body=PASSING, approvable=True, **kwargs):
        return make_piece(
            status,
            body=body,
            approvable=approvable,
            flagged=not approvable,
            grounding=dict(OLD_PASS if approvable else OLD_FAIL),
            **kwargs,
        )

    return make


def reload(piece):
    return ContentPiece.objects.get(pk=piece.pk)


def recheck_entries(piece):
    return list(AuditLog.objects.filter(action="content.recheck", object_id=str(piece.pk)).order_by("id"))


@pytest.fixture
def actor():
    return Actor.system("recheck-test")


# ---------- content_recheck ----------


def test_a_stale_approvable_piece_the_current_checker_blocks_becomes_blocked(stale, merchant, actor):
    piece = stale(S.IN_REVIEW, body=INVENTED_PRICE)
    report = content_recheck(merchant=merchant, actor=actor)
    assert (report.checked, report.newly_blocked, report.unchanged, report.remaining) == (1, 1, 0, 0)
    piece = reload(piece)
    assert piece.status == S.IN_REVIEW and piece.body == INVENTED_PRICE  # not regenerated
    assert not piece.approvable and piece.flagged
    assert piece.grounding["verifier_version"] == VERIFIER_VERSION
    assert [c["text"] for c in piece.grounding["unsupported"]] == ["$5"]
    [entry] = recheck_entries(piece)
    assert entry.changes["reason"] == RECHECK_BLOCKED_REASON and entry.changes["approvable"] is False


def test_an_approved_unpublished_piece_that_now_fails_goes_back_to_review(stale, merchant, actor):
    piece = stale(S.APPROVED, body=INVENTED_PRICE)
    report = content_recheck(merchant=merchant, actor=actor)
    assert (report.moved_to_review, report.newly_blocked) == (1, 1)
    piece = reload(piece)
    assert piece.status == S.IN_REVIEW and not piece.approvable and piece.flagged
    [entry] = recheck_entries(piece)
    assert entry.changes["from"] == "approved" and entry.changes["to"] == "in_review"
    assert entry.changes["reason"] == "blocked by the current checker"
    assert entry.actor_label == "recheck-test"
    assert any("unsupported" in b for b in entry.changes["blockers"])


def test_a_published_piece_keeps_its_status_and_gets_the_findings(stale, merchant, actor, client, owner):
    piece = stale(S.PUBLISHED, body=INVENTED_PRICE)
    report = content_recheck(merchant=merchant, actor=actor)
    assert (report.newly_blocked, report.moved_to_review) == (1, 0)
    piece = reload(piece)
    assert piece.status == S.PUBLISHED and piece.flagged and not piece.approvable
    client.force_login(owner)
    card = client.get(reverse("marketing:piece_card", args=[piece.pk]), **HTMX).content.decode()
    assert 'data-testid="piece-flagged"' in card and "$5" in card


def test_a_passing_piece_stays_as_it_is_and_gets_the_current_version(stale, merchant, actor):
    in_review, approved = stale(S.IN_REVIEW, variant=1), stale(S.APPROVED, variant=2)
    report = content_recheck(merchant=merchant, actor=actor)
    assert (report.checked, report.unchanged, report.newly_blocked, report.moved_to_review) == (2, 2, 0, 0)
    assert reload(in_review).status == S.IN_REVIEW and reload(approved).status == S.APPROVED
    assert all(
        reload(p).approvable and reload(p).grounding["verifier_version"] == VERIFIER_VERSION
        for p in (in_review, approved)
    )
    assert not AuditLog.objects.filter(action="content.recheck").exists()  # nothing changed, nothing to audit


def test_a_piece_an_old_rule_blocked_becomes_approvable(stale, merchant, actor):
    piece = stale(S.IN_REVIEW, approvable=False)
    report = content_recheck(merchant=merchant, actor=actor)
    assert report.newly_passing == 1
    piece = reload(piece)
    assert piece.approvable and not piece.flagged and piece.grounding["unsupported"] == []


def test_running_twice_changes_nothing_the_second_time(stale, merchant, actor):
    stale(S.APPROVED, body=INVENTED_PRICE, variant=1)
    stale(S.IN_REVIEW, variant=2)
    first = content_recheck(merchant=merchant, actor=actor)
    rows = list(ContentPiece.objects.order_by("pk").values("status", "grounding", "approvable", "updated_at"))
    audit_count = AuditLog.objects.count()
    second = content_recheck(merchant=merchant, actor=actor)
    assert first.checked == 2 and second.checked == 0 and second.remaining == 0
    assert (
        list(ContentPiece.objects.order_by("pk").values("status", "grounding", "approvable", "updated_at"))
        == rows
    )
    assert AuditLog.objects.count() == audit_count


def test_pieces_already_checked_by_this_version_are_not_touched(make_piece, merchant, actor):
    piece = make_piece(S.IN_REVIEW, body=INVENTED_PRICE)  # the fixture stamps the current version
    before = reload(piece)
    assert content_recheck(merchant=merchant, actor=actor).checked == 0
    after = reload(piece)
    assert after.approvable and after.grounding == before.grounding and after.updated_at == before.updated_at


def test_a_report_without_any_version_counts_as_stale(make_piece, merchant, actor):
    piece = make_piece(S.IN_REVIEW, body=INVENTED_PRICE)
    ContentPiece.objects.filter(pk=piece.pk).update(grounding={})
    assert content_recheck(merchant=merchant, actor=actor).newly_blocked == 1


def test_another_merchants_pieces_are_untouched(stale, merchant, other_merchant, actor):
    mine = stale(S.APPROVED, body=INVENTED_PRICE)
    product = ProductFactory(merchant=other_merchant, sku="BOTTLE-1", title="Trail bottle")
    theirs_campaign = Campaign.objects.create(
        merchant=other_merchant, name="Theirs", channel="product_description"
    )
    theirs = stale(S.APPROVED, body=INVENTED_PRICE, product=product, camp=theirs_campaign)
    content_recheck(merchant=merchant, actor=actor)
    assert reload(mine).status == S.IN_REVIEW
    theirs = reload(theirs)
    assert theirs.status == S.APPROVED and theirs.grounding["verifier_version"] == OLD_VERSION
    # Another merchant's campaign as the scope matches none of the merchant's pieces.
    assert content_recheck(merchant=other_merchant, actor=actor, campaign=mine.campaign).checked == 0
    assert not AuditLog.objects.filter(merchant=other_merchant, action__startswith="content.recheck").exists()


def test_the_campaign_scope_leaves_other_campaigns_alone(stale, merchant, campaign, actor):
    other = Campaign.objects.create(merchant=merchant, name="Other", channel="product_description")
    inside = stale(S.APPROVED, body=INVENTED_PRICE)
    outside = stale(S.APPROVED, body=INVENTED_PRICE, camp=other)
    report = content_recheck(merchant=merchant, actor=actor, campaign=campaign)
    assert (
        report.checked == 1 and reload(inside).status == S.IN_REVIEW and reload(outside).status == S.APPROVED
    )
    run = AuditLog.objects.get(action="content.recheck_run")
    assert run.object_type == "campaign" and run.object_id == str(campaign.pk) and run.changes["checked"] == 1


def test_batches_and_limit(stale, merchant, actor, monkeypatch):
    monkeypatch.setattr(recheck, "RECHECK_BATCH", 2)
    for variant in range(1, 6):
        stale(S.IN_REVIEW, variant=variant)
    first = content_recheck(merchant=merchant, actor=actor, limit=3)
    assert (first.checked, first.remaining) == (3, 2)
    rest = content_recheck(merchant=merchant, actor=actor)
    assert (rest.checked, rest.remaining) == (2, 0)


def test_an_edit_made_meanwhile_wins(stale, actor):
    piece = stale(S.APPROVED, body=INVENTED_PRICE)
    read = reload(piece)
    ContentPiece.objects.filter(pk=piece.pk).update(body=PASSING + " Fixed by hand.")
    report = recheck.RecheckReport()
    recheck._piece_recheck(read, actor, {"banned_words": [], "brand_voice": None}, report)
    assert report.skipped == 1
    piece = reload(piece)
    assert piece.status == S.APPROVED and piece.grounding["verifier_version"] == OLD_VERSION


def test_the_brand_voice_rules_of_today_apply(stale, merchant, actor):
    from marketing.campaigns.services import brand_voice_set

    piece = stale(S.APPROVED)
    brand_voice_set(merchant=merchant, actor=actor, banned_words=["stainless"])
    content_recheck(merchant=merchant, actor=actor)
    piece = reload(piece)
    assert piece.status == S.IN_REVIEW and piece.grounding["banned"]


# ---------- every stored report carries the version ----------


def test_stored_reports_carry_the_checker_version(campaign, bottle, make_piece, actor):
    outcome = workflow.content_check(
        product=bottle, channel=campaign.channel, fields={"title": "Trail bottle", "body": PASSING}
    )
    piece, _ = content_piece_record(
        campaign=campaign,
        product=bottle,
        variant=9,
        fields={"title": "Trail bottle", "body": PASSING},
        outcome=outcome,
        model_version=None,
        prompt="[]",
        params={},
        quality={},
        attempts=1,
    )
    assert piece.grounding["verifier_version"] == VERIFIER_VERSION
    edited = make_piece(S.IN_REVIEW, variant=2, grounding={"verifier_version": OLD_VERSION})
    edited = content_update(piece=edited, actor=actor, body=PASSING + " Green.")
    assert edited.grounding["verifier_version"] == VERIFIER_VERSION


# ---------- no approval or publication on an old verdict ----------


def test_approve_rechecks_a_stale_verdict_and_refuses_what_now_fails(stale, actor):
    piece = stale(S.IN_REVIEW, body=INVENTED_PRICE)
    with pytest.raises(ContentConflict) as exc:
        content_approve(piece=piece, actor=actor)
    assert exc.value.code == "grounding_failed" and "unsupported" in exc.value.message
    piece = reload(piece)  # the fresh report is kept although the approval was refused
    assert piece.status == S.IN_REVIEW and not piece.approvable
    assert piece.grounding["verifier_version"] == VERIFIER_VERSION


def test_approve_rechecks_a_stale_verdict_and_approves_what_still_passes(stale, actor):
    piece = content_approve(piece=stale(S.IN_REVIEW), actor=actor)
    assert piece.status == S.APPROVED and piece.grounding["verifier_version"] == VERIFIER_VERSION


def test_approve_all_skips_stale_verdicts_the_current_checker_blocks(stale, merchant, actor):
    still_good = stale(S.IN_REVIEW, variant=1)
    now_bad = stale(S.IN_REVIEW, body=INVENTED_PRICE, variant=2)
    result = content_bulk_approve(
        merchant=merchant, actor=actor, pieces=ContentPiece.objects.filter(pk__in=[still_good.pk, now_bad.pk])
    )
    assert result.approved == [still_good.pk]
    assert result.skipped == {now_bad.pk: RECHECK_BLOCKED_REASON}
    assert reload(now_bad).status == S.IN_REVIEW and not reload(now_bad).approvable


def test_approve_all_passing_on_the_review_page_skips_stale_verdicts(stale, client, owner):
    now_bad = stale(S.IN_REVIEW, body=INVENTED_PRICE)
    client.force_login(owner)
    response = client.post(
        reverse("marketing:bulk_approve"), {"action": "page", "page_ids": [now_bad.pk]}, **HTMX
    )
    assert response.status_code == 200
    assert (
        "Approved 0 pieces" in response.content.decode()
        and RECHECK_BLOCKED_REASON in response.content.decode()
    )
    assert reload(now_bad).status == S.IN_REVIEW


def test_api_approve_of_a_stale_verdict_answers_409(stale, api_client):
    piece = stale(S.IN_REVIEW, body=INVENTED_PRICE)
    response = api_client.post(f"/api/v1/contents/{piece.pk}/approve/")
    assert response.status_code == 409 and response.json()["code"] == "grounding_failed"
    assert reload(piece).status == S.IN_REVIEW


def test_publishing_a_stale_approval_that_now_fails_sends_it_back_to_review(stale, actor):
    piece = stale(S.APPROVED, body=INVENTED_PRICE)
    with pytest.raises(ContentConflict) as exc:
        content_publish(piece=piece, actor=actor)
    assert exc.value.code == "grounding_failed" and RECHECK_BLOCKED_REASON in exc.value.message
    piece = reload(piece)
    assert piece.status == S.IN_REVIEW and piece.published_at is None


def test_publishing_a_stale_approval_that_still_passes_goes_ahead(stale, actor):
    piece = content_publish(piece=stale(S.APPROVED), actor=actor)
    assert piece.status == S.PUBLISHED and piece.grounding["verifier_version"] == VERIFIER_VERSION


def test_an_unpublished_piece_the_recheck_flagged_cannot_be_published_again(stale, merchant, actor):
    piece = stale(S.PUBLISHED, body=INVENTED_PRICE)
    content_recheck(merchant=merchant, actor=actor)
    piece = content_unpublish(piece=piece, actor=actor)
    assert piece.status == S.APPROVED and not piece.approvable
    with pytest.raises(ContentConflict):
        content_publish(piece=piece, actor=actor)
    assert reload(piece).status == S.IN_REVIEW


def test_scheduled_publishing_skips_stale_approvals_that_now_fail(stale, campaign, actor):
    from datetime import timedelta

    from django.utils import timezone

    Campaign.objects.filter(pk=campaign.pk).update(publish_at=timezone.now() - timedelta(minutes=5))
    good = stale(S.APPROVED, variant=1)
    bad = stale(S.APPROVED, body=INVENTED_PRICE, variant=2)
    assert content_publish_scheduled() == [good.pk]
    assert reload(good).status == S.PUBLISHED and reload(bad).status == S.IN_REVIEW


# ---------- task, command and button ----------


def test_the_task_rechecks_one_merchant_and_queues_the_next_batch(stale, merchant, monkeypatch):
    sent = []
    monkeypatch.setattr(
        tasks.recheck_copy_task, "apply_async", lambda args, queue: sent.append((args, queue))
    )
    monkeypatch.setattr(tasks, "RECHECK_TASK_PIECES", 1)
    stale(S.APPROVED, body=INVENTED_PRICE, variant=1)
    stale(S.IN_REVIEW, variant=2)
    result = tasks.recheck_copy_task(merchant.pk)
    assert result["checked"] == 1 and result["remaining"] == 1
    assert sent == [([merchant.pk, None], "default")]
    sent.clear()
    assert tasks.recheck_copy_task(merchant.pk)["remaining"] == 0 and sent == []
    assert tasks.recheck_copy_task(999999) == {"skipped": "merchant not found"}


def test_the_task_without_a_merchant_fans_out_to_merchants_with_stale_copy(
    stale, merchant, other_merchant, monkeypatch
):
    sent = []
    monkeypatch.setattr(
        tasks.recheck_copy_task, "apply_async", lambda args, queue: sent.append((args, queue))
    )
    stale(S.IN_REVIEW)
    assert tasks.recheck_copy_task() == {"queued_merchants": 1}
    assert sent == [([merchant.pk], "default")]


def test_the_command_rechecks_every_merchant_or_one(stale, merchant, other_merchant):
    mine = stale(S.APPROVED, body=INVENTED_PRICE)
    product = ProductFactory(merchant=other_merchant, sku="BOTTLE-1", title="Trail bottle")
    theirs_campaign = Campaign.objects.create(
        merchant=other_merchant, name="Theirs", channel="product_description"
    )
    theirs = stale(S.APPROVED, body=INVENTED_PRICE, product=product, camp=theirs_campaign)

    out = StringIO()
    call_command("recheck_copy", "--merchant", "northwind", stdout=out)
    assert "northwind: checked 1" in out.getvalue() and "moved back to review 1" in out.getvalue()
    assert reload(mine).status == S.IN_REVIEW and reload(theirs).status == S.APPROVED

    out = StringIO()
    call_command("recheck_copy", stdout=out)
    assert "contoso: checked 1" in out.getvalue() and "northwind" not in out.getvalue()
    assert reload(theirs).status == S.IN_REVIEW

    out = StringIO()
    call_command("recheck_copy", stdout=out)
    assert "Nothing to recheck" in out.getvalue()
    with pytest.raises(CommandError, match="No merchant with slug 'nobody'"):
        call_command("recheck_copy", "--merchant", "nobody")


def recheck_url(campaign):
    return reverse("marketing:campaign_recheck", args=[campaign.pk])


def test_the_button_shows_for_reviewers_only(login, stale, campaign):
    stale(S.IN_REVIEW)
    page = login(Role.REVIEWER).get(reverse("marketing:campaign_detail", args=[campaign.pk])).content.decode()
    assert 'data-testid="recheck"' in page and "Recheck with the current checker" in page
    page = login(Role.VIEWER).get(reverse("marketing:campaign_detail", args=[campaign.pk])).content.decode()
    assert 'data-testid="recheck"' not in page


def test_the_button_rechecks_and_shows_the_counts(login, stale, campaign):
    piece = stale(S.APPROVED, body=INVENTED_PRICE)
    client = login(Role.REVIEWER)
    response = client.post(recheck_url(campaign), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="main"' in html
    assert (
        "Rechecked 1 piece: 0 unchanged, 1 newly blocked, 0 newly passing; 1 approved piece went back to review."
        in html
    )
    assert reload(piece).status == S.IN_REVIEW
    entry = AuditLog.objects.get(action="content.recheck", object_id=str(piece.pk))
    assert entry.actor_label == "reviewer@example.com"

    response = client.post(recheck_url(campaign))  # without JavaScript: back to the page, with the message
    assert response.status_code == 302 and response.url == reverse(
        "marketing:campaign_detail", args=[campaign.pk]
    )
    assert "nothing changed" in client.get(response.url).content.decode()


def test_a_large_campaign_hands_the_rest_to_a_worker(login, stale, campaign, monkeypatch):
    from marketing.campaigns import views

    sent = []
    monkeypatch.setattr(
        tasks.recheck_copy_task, "apply_async", lambda args, queue: sent.append((args, queue))
    )
    monkeypatch.setattr(views, "RECHECK_INLINE_PIECES", 1)
    stale(S.IN_REVIEW, variant=1)
    stale(S.IN_REVIEW, variant=2)
    client = login()
    html = client.post(recheck_url(campaign), **HTMX).content.decode()
    assert "Rechecked 1 piece" in html and "1 more is being rechecked in the background" in html
    assert sent == [([campaign.merchant_id, campaign.pk], "default")]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR])
def test_viewers_and_editors_cannot_recheck(login, stale, campaign, role):
    piece = stale(S.APPROVED, body=INVENTED_PRICE)
    assert login(role).post(recheck_url(campaign), **HTMX).status_code == 403
    assert reload(piece).status == S.APPROVED


def test_outsiders_get_404_and_get_is_not_allowed(client, outsider, login, stale, campaign):
    piece = stale(S.APPROVED, body=INVENTED_PRICE)
    client.force_login(outsider)
    assert client.post(recheck_url(campaign), **HTMX).status_code == 404
    assert reload(piece).status == S.APPROVED
    assert login().get(recheck_url(campaign)).status_code == 405
