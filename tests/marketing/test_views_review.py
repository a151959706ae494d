"""The review page: the queue beside each product's facts, filters, highlighted unsupported claims, escaping,
outsiders' 404s, and a bounded query count. Actions on the cards are in test_views_review_actions.py."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from marketing.models import Campaign, ContentPiece, ContentRevision
from marketing.review.piece_views import highlight_claims
from ml.models import Job
from tests.factories import ProductFactory
from tests.marketing.review_data import HTMX, card_of, record, url

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"


# ---------- The page ----------


def test_queue_shows_each_piece_beside_its_product_facts(login, make_piece, bottle):
    piece = make_piece("in_review")
    response = login().get(reverse("dashboard:review"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'aria-current="page"' in html and "<h1>Review</h1>" in html
    card = card_of(html, piece)
    assert "Trail bottle" in card and "Spring launch" in card
    assert "24.90" in card and "USD" in card  # price
    assert "stainless steel" in card and "750 ml" in card  # attributes
    assert "keeps drinks cold for 24 hours" in card  # description
    assert 'data-action="approve"' in card and "disabled" not in card.split('data-action="approve"')[1][:40]


def test_htmx_gets_the_queue_partial_and_a_full_page_otherwise(login, make_piece):
    make_piece("in_review")
    client = login()
    partial = client.get(reverse("dashboard:review"), {"status": "all"}, **HTMX).content.decode()
    assert "<html" not in partial and 'class="piece-card' in partial and 'data-testid="tab-all"' in partial
    full = client.get(reverse("dashboard:review"), {"status": "all"}).content.decode()
    assert "<html" in full and 'id="review-results"' in full and 'id="shortcut-help"' in full


def test_empty_states(login, make_piece):
    client = login()
    assert 'data-testid="review-empty"' in client.get(reverse("dashboard:review")).content.decode()
    make_piece("approved")
    html = client.get(reverse("dashboard:review")).content.decode()
    assert "All caught up" in html
    assert (
        "No pieces match" in client.get(reverse("dashboard:review"), {"status": "rejected"}).content.decode()
    )


def test_filters_by_campaign_status_channel_and_flag(login, merchant, campaign, make_piece, jacket):
    sms = Campaign.objects.create(merchant=merchant, name="Texts", channel="sms")
    in_review = make_piece("in_review")
    approved = make_piece("approved", product=jacket)
    flagged_sms = make_piece("in_review", camp=sms, flagged=True, approvable=False, title="")
    client = login()

    def ids(**params):
        html = client.get(reverse("dashboard:review"), params).content.decode()
        return {int(i) for i in re.findall(r'data-piece-id="(\d+)"', html)}

    assert ids() == {in_review.pk, flagged_sms.pk}  # what waits for review, by default
    assert ids(status="all") == {in_review.pk, approved.pk, flagged_sms.pk}
    assert ids(status="approved") == {approved.pk}
    assert ids(status="all", campaign=campaign.pk) == {in_review.pk, approved.pk}
    assert ids(status="all", channel="sms") == {flagged_sms.pk}
    assert ids(status="all", flag="flagged") == {flagged_sms.pk}
    assert ids(status="all", flag="passing") == {in_review.pk, approved.pk}
    # Junk is dropped, never an error page.
    assert ids(status="bogus", channel="fax", flag="x", campaign="abc", per_page="7") == {
        in_review.pk,
        flagged_sms.pk,
    }
    html = client.get(reverse("dashboard:review"), {"status": "all"}).content.decode()
    assert re.search(r'data-testid="tab-in_review"[^>]*>To review<span class="tab-count">2</span>', html)
    assert re.search(r'data-testid="tab-approved"[^>]*>Approved<span class="tab-count">1</span>', html)


def test_another_merchants_campaign_filter_shows_nothing_of_theirs(login, other_merchant, make_piece):
    theirs = Campaign.objects.create(merchant=other_merchant, name="Contoso secret", channel="sms")
    product = ProductFactory(merchant=other_merchant)
    ContentPiece.objects.create(
        merchant=other_merchant, campaign=theirs, product=product, body="Contoso text", status="in_review"
    )
    make_piece("in_review")
    html = login().get(reverse("dashboard:review"), {"campaign": theirs.pk, "status": "all"}).content.decode()
    assert "Contoso" not in html


def test_two_hundred_pieces_render_with_a_bounded_number_of_queries(
    login, merchant, campaign, bottle, jacket, django_assert_max_num_queries
):
    products = [bottle, jacket] + [
        ProductFactory(merchant=merchant, attributes={"material": f"m{i}"}) for i in range(98)
    ]
    ContentPiece.objects.bulk_create(
        [
            ContentPiece(
                merchant=merchant,
                campaign=campaign,
                product=product,
                variant=variant,
                status="in_review",
                title=product.title,
                body=f"Text {product.pk}/{variant} for $5",
                approvable=False,
                flagged=True,
                grounding={
                    "unsupported": [
                        {
                            "text": "$5",
                            "kind": "price",
                            "field": "body",
                            "start": 0,
                            "end": 2,
                            "reason": "price not in the product data",
                        }
                    ]
                },
            )
            for product in products
            for variant in (1, 2)
        ]
    )
    Job.objects.create(merchant=merchant, kind="generate", params={"piece_id": 1}, status="running")
    client = login()
    client.get(reverse("dashboard:review"))  # session and caches warm
    with django_assert_max_num_queries(10):
        response = client.get(reverse("dashboard:review"), {"per_page": 200})
    assert response.status_code == 200
    assert response.content.decode().count('class="piece-card') == 200
    with django_assert_max_num_queries(10):
        client.get(reverse("dashboard:review"), {"per_page": 25}, **HTMX)


# ---------- Escaping and highlights ----------


def test_model_text_is_always_escaped(login, make_piece, bottle):
    body = f"Only $5 today {SCRIPT} and more"
    start = body.index("$5")
    piece = make_piece(
        "in_review",
        title=f"<b>{SCRIPT}</b>",
        body=body,
        approvable=False,
        flagged=True,
        rejection_reason=SCRIPT,
        grounding={
            "unsupported": [
                {
                    "text": "$5",
                    "kind": "price",
                    "field": "body",
                    "start": start,
                    "end": start + 2,
                    "reason": f'price "{SCRIPT}"',
                }
            ],
            "degenerate": [SCRIPT],
            "banned": [SCRIPT],
            "channel_violations": [SCRIPT],
        },
    )
    client = login()
    for response in (
        client.get(reverse("dashboard:review")),
        client.get(url("piece_card", piece), **HTMX),
        client.get(url("piece_edit", piece), **HTMX),
        client.get(url("piece_edit", piece)),
    ):
        html = response.content.decode()
        assert SCRIPT not in html, response.request["PATH_INFO"]
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    html = card_of(client.get(reverse("dashboard:review")).content.decode(), piece)
    # The highlight wraps the claim and the rest of the text stays escaped around it.
    assert re.search(
        r'<mark class="claim claim-price" data-claim title="Unsupported price: price &quot;&lt;script&gt;'
        r'alert\(1\)&lt;/script&gt;&quot;">\$5</mark> today &lt;script&gt;alert\(1\)&lt;/script&gt; and more',
        html,
    )


def test_highlight_claims_wraps_the_reported_spans():
    text = "Now $5 in 100% silk, 2 kg"
    claims = [
        {
            "text": "silk",
            "kind": "material",
            "field": "body",
            "start": 15,
            "end": 19,
            "reason": "not in the data",
        },
        {"text": "$5", "kind": "price", "field": "body", "start": 4, "end": 6, "reason": "wrong price"},
        {"text": "100%", "kind": "percentage", "field": "body", "start": 10, "end": 14, "reason": "no"},
    ]
    html = str(highlight_claims(text, claims))
    assert html == (
        'Now <mark class="claim claim-price" data-claim title="Unsupported price: wrong price">$5</mark> in '
        '<mark class="claim claim-percentage" data-claim title="Unsupported percentage: no">100%</mark> '
        '<mark class="claim claim-material" data-claim title="Unsupported material: not in the data">silk</mark>, 2 kg'
    )


def test_highlight_claims_survives_stale_overlapping_and_hostile_spans():
    text = "<i>Only</i> 2 kg & $5"
    claims = [
        {"text": "$5", "kind": "price", "field": "body", "start": 0, "end": 2, "reason": "stale offsets"},
        {"text": "2 kg", "kind": "measurement", "field": "body", "start": 12, "end": 16, "reason": "r"},
        {"text": "kg", "kind": "<evil>", "field": "body", "start": 14, "end": 16, "reason": "overlaps"},
        {"text": "zz", "kind": "number", "field": "body", "start": 500, "end": 502, "reason": "nowhere"},
        {"text": "x", "kind": "number", "field": "body", "start": "3", "end": None, "reason": "junk types"},
    ]
    html = str(highlight_claims(text, claims))
    assert html == (
        '&lt;i&gt;Only&lt;/i&gt; <mark class="claim claim-measurement" data-claim title="Unsupported measurement: r">'
        '2 kg</mark> &amp; <mark class="claim claim-price" data-claim title="Unsupported price: stale offsets">$5</mark>'
    )
    assert str(highlight_claims("<b>", [])) == "&lt;b&gt;"


def test_channel_limit_meter(login, merchant, bottle):
    sms = Campaign.objects.create(merchant=merchant, name="Texts", channel="sms")
    piece = record(sms, bottle, "Trail bottle: keeps drinks cold for 24 hours. " * 4)
    assert not piece.approvable
    card = card_of(login().get(reverse("dashboard:review")).content.decode(), piece)
    length = len(piece.body)
    assert re.search(
        rf'class="char-count is-over" data-testid="meter-body"[^>]*>{length} / 160 characters<', card
    )
    assert "characters; sms allows at most 160" in card


# ---------- Outsiders ----------


def test_outsider_gets_404_on_every_piece_url(client, outsider, make_piece, copy_model):
    piece = make_piece("approved")
    client.force_login(outsider)
    for method, name in [
        ("get", "piece_card"),
        ("get", "piece_edit"),
        ("post", "piece_edit"),
        ("post", "piece_approve"),
        ("post", "piece_reject"),
        ("post", "piece_regenerate"),
        ("post", "piece_publish"),
        ("post", "piece_unpublish"),
    ]:
        for headers in ({}, HTMX):
            response = getattr(client, method)(
                url(name, piece), {"reason": "x", f"piece-{piece.pk}-body": "x"}, **headers
            )
            assert response.status_code == 404, (method, name, response.status_code)
    html = client.get(reverse("dashboard:review"), {"status": "all"}).content.decode()
    assert f'data-piece-id="{piece.pk}"' not in html
    piece.refresh_from_db()
    assert piece.status == "approved" and not Job.objects.exists() and not ContentRevision.objects.exists()


def test_anonymous_users_are_sent_to_log_in(client, make_piece):
    piece = make_piece("in_review")
    response = client.post(url("piece_approve", piece))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_price_facts_use_the_product_price(login, merchant, campaign):
    product = ProductFactory(merchant=merchant, price=Decimal("1234.50"), currency="INR", attributes={})
    piece = ContentPiece.objects.create(
        merchant=merchant, campaign=campaign, product=product, body="x", status="in_review"
    )
    card = card_of(login().get(reverse("dashboard:review")).content.decode(), piece)
    assert "1,234.50" in card and "INR" in card
