"""The copy studio asks the model not to write placeholders, unbacked claims or the brand voice's never-words
(GenerationParams.banned_phrases, per product), unless GENERATION_BANNED_PHRASES is off."""

import re
from collections import Counter

import pytest

from marketing import generation
from marketing.campaigns.services import brand_voice_set, campaign_generate
from marketing.generation import campaign_copy_run
from marketing.models import ContentPiece
from ml.engine.generation import GenerationResult
from ml.jobs import job_claim

pytestmark = pytest.mark.django_db


class Recording:
    """A TextGenerator that keeps every request and answers with a grounded sentence."""

    def __init__(self):
        self.requests = []

    def generate(self, requests):
        self.requests.extend(requests)
        return [GenerationResult("A light product.", 10, 4, "stop", 0.01, r.request_id) for r in requests]


@pytest.fixture
def recording(monkeypatch):
    generator = Recording()
    monkeypatch.setattr(generation, "generator_for", lambda version: generator)
    monkeypatch.setattr(generation, "CANDIDATES", 1)
    return generator


def run_campaign(campaign, actor):
    job = campaign_generate(campaign=campaign, actor=actor)
    job = job_claim(job.pk)
    assert job is not None
    return campaign_copy_run(job)


def banned_by_product(requests):
    by_product: dict[str, set[tuple[str, ...]]] = {}
    for request in requests:
        by_product.setdefault(request.request_id.split(":")[0], set()).add(request.params.banned_phrases)
    return {pk: lists.pop() for pk, lists in by_product.items() if len(lists) == 1}


def test_every_request_bans_placeholders_and_unbacked_claims_except_the_products_own(
    campaign, tiny_base, actor, bottle, jacket, recording
):
    jacket.description = "A light waterproof jacket with a hood. Free shipping and a 2-year warranty."
    jacket.save()
    run_campaign(campaign, actor)
    assert recording.requests
    lists = banned_by_product(recording.requests)
    assert set(lists) == {str(bottle.pk), str(jacket.pk)}  # one list per product, for all its requests
    for banned in lists.values():
        assert {"[", "]", "{", "}", "insert", "Your Name", "Lorem", "TBD", "XXX", "link here"} <= set(banned)
        claims = {
            "amazon",
            "flipkart",
            "ebay",
            "walmart",
            "buy one",
            "BOGO",
            "limited time",
            "% off",
            "sale",
            "guarantee",
            "award",
            "best-selling",
            "No. 1",
            "certified",
            "doctor",
            "order now at",
        }
        assert claims <= set(banned)
    assert {"free shipping", "warranty"} <= set(lists[str(bottle.pk)])
    assert not {"free shipping", "warranty"} & set(lists[str(jacket.pk)])
    # The list travels with each request; it does not change the sampling settings recorded on the piece.
    piece = ContentPiece.objects.get(product=bottle)
    assert "banned_phrases" not in piece.params


def test_exclamation_marks_are_banned_only_under_a_voice_that_forbids_them(
    campaign, tiny_base, actor, merchant, recording
):
    run_campaign(campaign, actor)
    assert all("!" not in r.params.banned_phrases for r in recording.requests)

    brand_voice_set(
        merchant=merchant,
        actor=actor,
        dont_list=["Never use exclamation marks"],
        banned_words=["cheap", "steal"],
    )
    ContentPiece.objects.all().delete()
    recording.requests.clear()
    run_campaign(campaign, actor)
    assert recording.requests
    for request in recording.requests:
        assert {"!", "cheap", "steal"} <= set(request.params.banned_phrases)


def test_the_setting_turns_the_bans_off(campaign, tiny_base, actor, recording, settings):
    settings.GENERATION_BANNED_PHRASES = False
    run_campaign(campaign, actor)
    assert recording.requests and all(r.params.banned_phrases == () for r in recording.requests)


def test_the_tiny_model_stops_writing_what_the_voice_bans(campaign, tiny_base, actor, merchant, monkeypatch):
    """End to end through the local backend: the words the tiny model writes most are banned by the brand
    voice, and the next run's raw replies hold none of them."""
    monkeypatch.setattr(
        generation,
        "MAX_NEW_TOKENS",
        {ch: {ln: 24 for ln in ("short", "medium", "long")} for ch in generation.MAX_NEW_TOKENS},
    )
    monkeypatch.setattr(generation, "CANDIDATES", 2)
    replies: list[str] = []
    parse = generation.parse_copy_output

    def keep(text, channel):
        replies.append(text)
        return parse(text, channel)

    monkeypatch.setattr(generation, "parse_copy_output", keep)
    assert run_campaign(campaign, actor) == "succeeded"
    words = Counter(w for text in replies for w in re.findall(r"[a-z]{2,}", text)).most_common(3)
    written = [w for w, _ in words]
    assert len(written) == 3

    brand_voice_set(merchant=merchant, actor=actor, banned_words=written)
    ContentPiece.objects.all().delete()
    replies.clear()
    assert run_campaign(campaign, actor) == "succeeded"
    assert replies and not [w for w in written if any(w in text for text in replies)], (written, replies)
