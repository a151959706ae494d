"""What the copy studio sends the model: a retry carries the verifier's findings on the first try, the
merchant's approved pieces (never another merchant's) are the few-shot examples, and "Regenerate" on a flagged
piece starts from the findings stored with it. A recording generator shows the prompts; one test runs the tiny
random model end to end."""

import json

import pytest

from marketing import generation
from marketing.campaigns.services import campaign_generate
from marketing.generation import campaign_copy_run, piece_regenerate_run
from marketing.models import Campaign, ContentPiece
from marketing.review.services import content_regenerate
from marketing.selectors import approved_examples, product_facts
from ml.engine.generation import GenerationResult
from ml.engine.grounding import EXAMPLE_PRODUCT_NAME, check_copy
from ml.jobs import job_claim
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

HEADER = "Your last draft for this product could not be used. This time:"
GOOD = (
    "Title: Trail bottle\nBody: Stainless steel trail bottle in green that keeps drinks cold for 24 hours, "
    "for $24.90."
)
INVENTED = "Title: Trail bottle\nBody: Stainless steel trail bottle that keeps drinks cold for 24 hours, now only $5."
JACKET = (
    "Title: Rain jacket\nBody: A light waterproof rain jacket with a hood, in recycled polyester, for $89."
)
PRICE_FINDING = "The price is $24.90; give no other price."
OTHER_BODY = "A storm jacket with a hood, from Northwind, for $24.90."


@pytest.fixture(autouse=True)
def one_draft_per_try(monkeypatch):
    monkeypatch.setattr(generation, "CANDIDATES", 1)


class Recording:
    """Answers each product's requests from a script, one text per try, and keeps every request."""

    def __init__(self, script: dict[str, list[str]]):
        self.script = {k: list(v) for k, v in script.items()}
        self.calls: list[list] = []

    def generate(self, requests):
        self.calls.append(list(requests))
        results = []
        for request in requests:
            name = next(n for n in self.script if f"- Name: {n}" in request.messages[-1]["content"])
            texts = self.script[name]
            results.append(
                GenerationResult(
                    texts.pop(0) if len(texts) > 1 else texts[0], 10, 20, "stop", 0.01, request.request_id
                )
            )
        return results

    def requests_for(self, name: str) -> list:
        return [r for call in self.calls for r in call if f"- Name: {name}" in r.messages[-1]["content"]]


@pytest.fixture
def recording(monkeypatch):
    def install(script):
        generator = Recording(script)
        monkeypatch.setattr(generation, "generator_for", lambda version: generator)
        return generator

    return install


def run(job):
    claimed = job_claim(job.pk)
    assert claimed is not None
    return campaign_copy_run(claimed)


def prompt_text(messages) -> str:
    return "\n".join(m["content"] for m in messages)


# --- retries ----------------------------------------------------------------------------------------------


def test_a_retry_prompt_carries_the_first_tries_findings(
    campaign, tiny_base, actor, bottle, jacket, recording
):
    generator = recording({"Trail bottle": [INVENTED, GOOD], "Rain jacket": [JACKET]})
    assert run(campaign_generate(campaign=campaign, actor=actor)) == "succeeded"

    first, retry = generator.requests_for("Trail bottle")
    assert HEADER not in prompt_text(first.messages)
    system = retry.messages[0]["content"]
    assert HEADER in system and PRICE_FINDING in system
    assert retry.messages[1:] == first.messages[1:]  # the examples and the request are unchanged
    assert [len(call) for call in generator.calls] == [2, 1]
    assert all(HEADER not in prompt_text(r.messages) for r in generator.requests_for("Rain jacket"))

    piece = ContentPiece.objects.get(product=bottle)
    assert (piece.attempts, piece.approvable) == (2, True) and "$24.90" in piece.body
    # The piece keeps the prompt of the try that wrote it.
    assert json.loads(piece.prompt) == list(retry.messages)
    assert HEADER not in ContentPiece.objects.get(product=jacket).prompt


def test_with_the_setting_off_a_retry_repeats_the_prompt(
    campaign, tiny_base, actor, bottle, recording, settings
):
    settings.GENERATION_RETRY_FEEDBACK = False
    generator = recording({"Trail bottle": [INVENTED, INVENTED, GOOD], "Rain jacket": [JACKET]})
    run(campaign_generate(campaign=campaign, actor=actor))
    requests = generator.requests_for("Trail bottle")
    assert len(requests) == 3
    assert requests[0].messages == requests[1].messages == requests[2].messages
    assert HEADER not in ContentPiece.objects.get(product=bottle).prompt


def test_each_retry_answers_the_best_draft_so_far(campaign, tiny_base, actor, bottle, recording):
    worse = INVENTED.replace("now only $5.", "now only $5 at Amazon for 3 days.")
    generator = recording({"Trail bottle": [INVENTED, worse, GOOD], "Rain jacket": [JACKET]})
    run(campaign_generate(campaign=campaign, actor=actor))
    _, second, third = generator.requests_for("Trail bottle")
    assert PRICE_FINDING in second.messages[0]["content"]
    # The second draft was worse (a shop and a measurement too): the third try answers the first, not it.
    assert "Name no shop" not in third.messages[0]["content"]
    assert "Use no size" not in third.messages[0]["content"]
    assert PRICE_FINDING in third.messages[0]["content"]
    assert ContentPiece.objects.get(product=bottle).attempts == 3


def test_the_tiny_model_retries_with_its_findings(campaign, tiny_base, actor, monkeypatch):
    monkeypatch.setattr(
        generation,
        "MAX_NEW_TOKENS",
        {ch: {ln: 16 for ln in ("short", "medium", "long")} for ch in generation.MAX_NEW_TOKENS},
    )
    real = generation.generator_for
    calls = []

    class Spy:
        def __init__(self, inner):
            self.inner = inner

        def generate(self, requests):
            calls.append(list(requests))
            return self.inner.generate(requests)

    monkeypatch.setattr(generation, "generator_for", lambda version: Spy(real(version)))
    assert run(campaign_generate(campaign=campaign, actor=actor)) == "succeeded"
    assert len(calls) > 1, "the random model's gibberish should have been retried"
    assert all(HEADER not in prompt_text(r.messages) for r in calls[0])
    for call in calls[1:]:
        for request in call:
            assert HEADER in request.messages[0]["content"] and "\n- " in request.messages[0]["content"]
    for piece in ContentPiece.objects.filter(campaign=campaign):
        if piece.attempts > 1 and HEADER in piece.prompt:
            assert json.loads(piece.prompt)[-1]["role"] == "user"


# --- few-shot examples -----------------------------------------------------------------------------------


@pytest.fixture
def mug(merchant):
    return ProductFactory(
        merchant=merchant,
        sku="MUG-1",
        title="Camp mug",
        brand="Northwind",
        attributes={"material": "enamel", "colour": "white"},
        description="A white enamel camp mug that holds 350 ml.",
    )


@pytest.fixture
def approved_history(merchant, other_merchant, jacket, mug, make_piece):
    """Earlier campaigns: approved pieces that may serve as examples, and others that must not."""
    old = Campaign.objects.create(merchant=merchant, name="Winter", channel="product_description")
    sms = Campaign.objects.create(merchant=merchant, name="Winter SMS", channel="sms")
    jacket_body = "A light waterproof rain jacket with a hood, made of recycled polyester."
    mug_body = "A white enamel camp mug from Northwind that holds 350 ml."
    make_piece("approved", product=jacket, camp=old, title="Rain jacket", body=jacket_body)
    make_piece("published", product=mug, camp=old, title="Camp mug", body=mug_body)
    make_piece("rejected", product=mug, camp=old, variant=2, title="Camp mug", body="REJECTED mug copy text.")
    make_piece("approved", product=mug, camp=sms, body="SMS-ONLY mug copy.")
    make_piece(
        "approved",
        product=jacket,
        camp=old,
        variant=2,
        title="Rain jacket",
        body="FLAGGED jacket copy, 50% off.",
        grounding={"passed": False, "unsupported": [{"text": "50%"}]},
    )
    # Another merchant's approved piece that would make a good example (its text is backed by its facts).
    other_product = ProductFactory(
        merchant=other_merchant,
        title="Storm jacket",
        sku="OTHER-1",
        attributes={},
        description="A storm jacket with a hood.",
    )
    other_campaign = Campaign.objects.create(
        merchant=other_merchant, name="Theirs", channel="product_description"
    )
    ContentPiece.objects.create(
        merchant=other_merchant,
        campaign=other_campaign,
        product=other_product,
        status="approved",
        title="Storm jacket",
        body=OTHER_BODY,
        grounding={"passed": True, "approvable": True, "unsupported": []},
        approvable=True,
    )
    return {"jacket": jacket_body, "mug": mug_body}


def test_approved_pieces_are_the_examples_and_stay_with_their_merchant(
    campaign, tiny_base, actor, bottle, jacket, approved_history, recording, monkeypatch
):
    reads = []
    monkeypatch.setattr(
        generation, "approved_examples", lambda **kw: reads.append(kw) or approved_examples(**kw)
    )
    generator = recording({"Trail bottle": [GOOD], "Rain jacket": [JACKET]})
    run(campaign_generate(campaign=campaign, actor=actor))
    assert len(reads) == 1  # read once per run, not per product

    bottle_messages = generator.requests_for("Trail bottle")[0].messages
    answers = [m["content"] for m in bottle_messages if m["role"] == "assistant"]
    assert answers == [
        f"Title: Camp mug\nBody: {approved_history['mug']}",  # newest first
        f"Title: Rain jacket\nBody: {approved_history['jacket']}",
    ]
    assert EXAMPLE_PRODUCT_NAME not in prompt_text(bottle_messages)

    jacket_messages = generator.requests_for("Rain jacket")[0].messages
    jacket_text = prompt_text(jacket_messages[:-1])
    assert approved_history["mug"] in jacket_text
    assert approved_history["jacket"] not in jacket_text  # not its own piece

    everything = "\n".join(prompt_text(r.messages) for call in generator.calls for r in call)
    for never in ("Storm jacket", "REJECTED", "SMS-ONLY", "FLAGGED"):
        assert never not in everything


def test_another_merchants_approved_pieces_never_reach_the_prompt(
    other_merchant, campaign, tiny_base, actor, approved_history, recording
):
    """The other merchant generates too: only its own approved piece is an example, never this merchant's."""
    product = ProductFactory(
        merchant=other_merchant, title="Trail bottle", sku="OTHER-2", attributes={"colour": "green"}
    )
    theirs = Campaign.objects.create(merchant=other_merchant, name="Spring", channel="product_description")
    theirs.products.set([product])
    generator = recording({"Trail bottle": [GOOD]})
    run(campaign_generate(campaign=theirs, actor=actor))
    text = prompt_text(generator.requests_for("Trail bottle")[0].messages)
    assert OTHER_BODY in text
    for mine in approved_history.values():
        assert mine not in text


def test_approved_examples_selector(
    merchant, other_merchant, jacket, mug, bottle, approved_history, make_piece
):
    pieces = approved_examples(merchant=merchant, channel="product_description")
    assert [(p.product_id, p.body) for p in pieces] == [
        (mug.pk, approved_history["mug"]),
        (jacket.pk, approved_history["jacket"]),
    ]
    assert [
        p.product_id
        for p in approved_examples(
            merchant=merchant, channel="product_description", exclude_product_id=mug.pk
        )
    ] == [jacket.pk]
    assert len(approved_examples(merchant=merchant, channel="product_description", limit=1)) == 1
    assert approved_examples(merchant=merchant, channel="product_description", limit=0) == []
    assert [p.body for p in approved_examples(merchant=merchant, channel="sms")] == ["SMS-ONLY mug copy."]
    assert approved_examples(merchant=merchant, channel="email") == []
    assert [
        p.merchant_id for p in approved_examples(merchant=other_merchant, channel="product_description")
    ] == [other_merchant.pk]
    # One per product: a second approved piece of the mug does not push the jacket out.
    newer = Campaign.objects.create(merchant=merchant, name="Spring 2", channel="product_description")
    make_piece(
        "approved", product=mug, camp=newer, title="Camp mug", body="Newer white enamel camp mug copy."
    )
    assert [p.body for p in approved_examples(merchant=merchant, channel="product_description")] == [
        "Newer white enamel camp mug copy.",
        approved_history["jacket"],
    ]


# --- regenerate ------------------------------------------------------------------------------------------


def test_regenerating_a_flagged_piece_starts_from_its_stored_findings(
    campaign, tiny_base, actor, bottle, make_piece, recording
):
    fields = {"title": "Trail bottle", "body": INVENTED.split("Body: ")[1]}
    report = check_copy(fields, product_facts(bottle), channel="product_description").to_dict()
    assert not report["passed"]
    piece = make_piece("in_review", flagged=True, approvable=False, grounding=report, **fields)
    generator = recording({"Trail bottle": [GOOD]})
    assert piece_regenerate_run(job_claim(content_regenerate(piece=piece, actor=actor).pk)) == "succeeded"

    (first,) = generator.requests_for("Trail bottle")
    assert HEADER in first.messages[0]["content"] and PRICE_FINDING in first.messages[0]["content"]
    piece.refresh_from_db()
    assert piece.approvable and "$24.90" in piece.body and piece.attempts == 1
    assert json.loads(piece.prompt) == list(first.messages)


def test_regenerating_a_piece_without_findings_sends_the_plain_prompt(
    campaign, tiny_base, actor, bottle, make_piece, recording
):
    piece = make_piece("rejected", rejection_reason="Too plain")
    generator = recording({"Trail bottle": [GOOD]})
    assert piece_regenerate_run(job_claim(content_regenerate(piece=piece, actor=actor).pk)) == "succeeded"
    (first,) = generator.requests_for("Trail bottle")
    assert HEADER not in prompt_text(first.messages)
