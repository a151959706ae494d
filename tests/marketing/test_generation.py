"""Batch generation, in process: the worker-side runner with a tiny random Llama checkpoint (gibberish, but
it exercises prompts, batching, grounding, retries and flagging), and a scripted generator where exact
texts matter. Running twice, or a redelivered task, never duplicates a piece."""

import json

import pytest

from accounts.models import AuditLog
from marketing import generation
from marketing.campaigns.services import campaign_generate
from marketing.generation import campaign_copy_run, piece_regenerate_run
from marketing.models import ContentPiece, ContentRevision
from marketing.review.services import content_regenerate
from ml.engine.generation import GenerationResult
from ml.jobs import job_claim
from ml.models import Job

pytestmark = pytest.mark.django_db

GOOD = "Stainless steel trail bottle in green that keeps drinks cold for 24 hours, for $24.90."
INVENTED = "Stainless steel trail bottle that keeps drinks cold for 24 hours, now only $5!"


@pytest.fixture(autouse=True)
def one_draft_per_try(monkeypatch):
    # Most tests here script one text per try; the tests of several drafts per try set their own number.
    monkeypatch.setattr(generation, "CANDIDATES", 1)


@pytest.fixture(autouse=True)
def short_outputs(monkeypatch):
    # The tiny model writes gibberish at any length; short outputs keep these tests fast on a busy CPU.
    monkeypatch.setattr(
        generation,
        "MAX_NEW_TOKENS",
        {ch: {ln: 24 for ln in ("short", "medium", "long")} for ch in generation.MAX_NEW_TOKENS},
    )


def run(job_id):
    job = job_claim(job_id)
    assert job is not None
    return campaign_copy_run(job)


def test_generation_writes_grounded_pieces_in_review(campaign, tiny_base, actor, bottle, jacket):
    campaign.variants_per_product = 2
    campaign.save()
    job = campaign_generate(campaign=campaign, actor=actor)
    assert run(job.pk) == "succeeded"

    pieces = list(ContentPiece.objects.filter(campaign=campaign))
    assert sorted((p.product_id, p.variant) for p in pieces) == sorted(
        [(bottle.pk, 1), (bottle.pk, 2), (jacket.pk, 1), (jacket.pk, 2)]
    )
    for piece in pieces:
        assert piece.status == "in_review" and piece.merchant == campaign.merchant
        assert piece.model_version == tiny_base
        assert {"unsupported", "channel_violations", "degenerate", "banned", "passed", "approvable"} <= set(
            piece.grounding
        )
        assert piece.flagged == (not piece.grounding["passed"])
        assert piece.approvable == piece.grounding["approvable"]
        assert 1 <= piece.attempts <= 3
        assert piece.flagged is False or piece.attempts == 3  # failing pieces used every retry
        messages = json.loads(piece.prompt)
        assert (
            messages[-1]["role"] == "user"
            and "Trail bottle" in json.dumps(messages)
            or "Rain jacket" in json.dumps(messages)
        )
        assert piece.params["seed"] is not None and piece.params["repetition_penalty"] > 1
        assert {"distinct_2", "finish_reason", "passed_first_try"} <= set(piece.quality)
    seeds = {piece.params["seed"] for piece in pieces}
    assert len(seeds) == 4  # variants differ

    job.refresh_from_db()
    assert (job.status, job.progress_current, job.progress_total, job.percent) == ("succeeded", 2, 2, 100)
    metrics = job.metrics
    assert metrics["pieces"] == 4 and metrics["failed_products"] == 0
    assert metrics["flagged"] == sum(p.flagged for p in pieces)
    assert metrics["passed_first_try"] == sum(p.quality["passed_first_try"] for p in pieces)
    assert metrics["products_per_minute"] > 0
    campaign.refresh_from_db()
    assert campaign.status == "ready"
    assert AuditLog.objects.filter(action="campaign.generated", object_id=str(campaign.pk)).exists()


def test_running_twice_or_a_redelivered_task_never_duplicates(campaign, tiny_base, actor):
    job = campaign_generate(campaign=campaign, actor=actor)
    run(job.pk)
    first = {p.pk: p.body for p in ContentPiece.objects.filter(campaign=campaign)}
    assert len(first) == 2

    # The broker redelivers the same task after the worker died mid-way: the job is claimable again.
    Job.objects.filter(pk=job.pk).update(status="queued")
    assert run(job.pk) == "succeeded"
    assert Job.objects.get(pk=job.pk).metrics["skipped_existing"] == 2

    # A second generation of the same campaign only fills in what is missing.
    second = campaign_generate(campaign=campaign, actor=actor)
    run(second.pk)
    assert {p.pk: p.body for p in ContentPiece.objects.filter(campaign=campaign)} == first
    ContentPiece.objects.filter(pk=min(first)).delete()
    third = campaign_generate(campaign=campaign, actor=actor)
    run(third.pk)
    assert ContentPiece.objects.filter(campaign=campaign).count() == 2
    assert Job.objects.get(pk=third.pk).metrics["pieces"] == 1

    # A duplicate delivery while the job is running or finished finds nothing to claim.
    assert job_claim(third.pk) is None


def test_one_product_failing_does_not_fail_the_batch(campaign, tiny_base, actor, bottle, monkeypatch):
    original = generation.build_copy_messages

    def broken_for_jacket(product, **kwargs):
        if product["sku"] == "JACKET-1":
            raise ValueError("attribute table is corrupt")
        return original(product, **kwargs)

    monkeypatch.setattr(generation, "build_copy_messages", broken_for_jacket)
    job = campaign_generate(campaign=campaign, actor=actor)
    assert run(job.pk) == "succeeded"
    job.refresh_from_db()
    assert [p.product_id for p in ContentPiece.objects.filter(campaign=campaign)] == [bottle.pk]
    assert job.metrics["failed_products"] == 1 and job.metrics["pieces"] == 1
    assert "JACKET-1" in job.logs and "attribute table is corrupt" in job.logs


def test_every_product_failing_fails_the_job(campaign, tiny_base, actor, monkeypatch):
    class Down:
        def generate(self, requests):
            raise ConnectionError("endpoint unreachable")

    monkeypatch.setattr(generation, "generator_for", lambda version: Down())
    job = campaign_generate(campaign=campaign, actor=actor)
    assert run(job.pk) == "failed"
    job.refresh_from_db()
    assert job.status == "failed" and "Every product failed" in job.error
    assert "endpoint unreachable" in job.logs
    assert not ContentPiece.objects.exists()
    campaign.refresh_from_db()
    assert campaign.status == "failed"


class Scripted:
    """A TextGenerator answering each product's requests from a script, in order, one text per attempt."""

    def __init__(self, script: dict[str, list[str]]):
        self.script = {k: list(v) for k, v in script.items()}
        self.calls: list[int] = []

    def generate(self, requests):
        self.calls.append(len(requests))
        results = []
        for request in requests:
            title = "Trail bottle" if "Trail bottle" in request.messages[-1]["content"] else "Rain jacket"
            text = self.script[title].pop(0) if len(self.script[title]) > 1 else self.script[title][0]
            results.append(GenerationResult(text, 10, 20, "stop", 0.01, request.request_id))
        return results


@pytest.fixture
def scripted(monkeypatch):
    def install(script):
        generator = Scripted(script)
        monkeypatch.setattr(generation, "generator_for", lambda version: generator)
        monkeypatch.setattr(
            generation, "parse_copy_output", lambda text, channel: {"title": "Northwind", "body": text}
        )
        return generator

    return install


def test_failing_pieces_are_regenerated_then_kept_flagged(
    campaign, tiny_base, actor, bottle, jacket, scripted
):
    jacket_good = "A light waterproof rain jacket in recycled polyester with a hood, sizes S, M and L."
    generator = scripted(
        {
            "Trail bottle": [INVENTED, GOOD],  # fixed by the first retry
            "Rain jacket": [
                jacket_good.replace("recycled polyester", "merino wool") + " 50% off!"
            ],  # never fixed
        }
    )
    job = campaign_generate(campaign=campaign, actor=actor)
    run(job.pk)
    bottle_piece = ContentPiece.objects.get(product=bottle)
    jacket_piece = ContentPiece.objects.get(product=jacket)
    assert (bottle_piece.body, bottle_piece.attempts, bottle_piece.flagged) == (GOOD, 2, False)
    assert bottle_piece.approvable and bottle_piece.quality["passed_first_try"] is False
    assert (jacket_piece.attempts, jacket_piece.flagged, jacket_piece.approvable) == (3, True, False)
    assert {c["kind"] for c in jacket_piece.grounding["unsupported"]} == {"material", "percentage"}
    assert generator.calls == [2, 2, 1]  # the batch, then only the failing ones
    metrics = Job.objects.get(pk=job.pk).metrics
    assert (metrics["passed_first_try"], metrics["flagged"], metrics["approvable"]) == (0, 1, 1)


def test_the_best_attempt_is_kept(campaign, tiny_base, actor, bottle, jacket, scripted):
    scripted(
        {
            "Trail bottle": [INVENTED, "", "x " * 10],  # invented price, then empty, then degenerate
            "Rain jacket": ["A light waterproof jacket with a hood, in recycled polyester, for $89."],
        }
    )
    run(campaign_generate(campaign=campaign, actor=actor).pk)
    piece = ContentPiece.objects.get(product=bottle)
    assert piece.body == INVENTED  # the only attempt with real copy, flagged for its price
    assert piece.flagged and piece.attempts == 3


def test_regenerate_one_piece(campaign, tiny_base, actor, bottle, make_piece, scripted):
    scripted({"Trail bottle": [GOOD], "Rain jacket": [GOOD]})
    piece = make_piece("rejected", body=INVENTED, rejection_reason="Invented price", attempts=1)
    job = content_regenerate(piece=piece, actor=actor)
    assert piece_regenerate_run(job_claim(job.pk)) == "succeeded"
    piece.refresh_from_db()
    assert (piece.status, piece.body, piece.rejection_reason, piece.approvable) == (
        "in_review",
        GOOD,
        "",
        True,
    )
    assert piece.attempts == 2 and piece.quality["regenerated"] is True
    revision = ContentRevision.objects.get(piece=piece)
    assert (revision.kind, revision.fields_before["body"], revision.status_before) == (
        "regenerate",
        INVENTED,
        "rejected",
    )
    assert revision.author_label == "test (regenerate)"
    assert Job.objects.get(pk=job.pk).status == "succeeded"


def test_regeneration_that_finds_the_piece_approved_meanwhile_changes_nothing(
    campaign, tiny_base, actor, make_piece, scripted
):
    scripted({"Trail bottle": [GOOD], "Rain jacket": [GOOD]})
    piece = make_piece("in_review", body=INVENTED)
    job = content_regenerate(piece=piece, actor=actor)
    ContentPiece.objects.filter(pk=piece.pk).update(status="approved")
    assert piece_regenerate_run(job_claim(job.pk)) == "cancelled"
    piece.refresh_from_db()
    assert piece.body == INVENTED and piece.status == "approved"
    assert not ContentRevision.objects.exists()


def test_a_generation_job_whose_worker_died_is_queued_again(
    campaign, tiny_base, actor, make_piece, monkeypatch
):
    from datetime import timedelta

    from django.utils import timezone

    from marketing import tasks

    sent = []
    monkeypatch.setattr(
        tasks.generate_campaign_copy_task,
        "apply_async",
        lambda args, queue: sent.append(("campaign", args, queue)),
    )
    monkeypatch.setattr(
        tasks.regenerate_content_task, "apply_async", lambda args, queue: sent.append(("piece", args, queue))
    )
    campaign_job = campaign_generate(campaign=campaign, actor=actor)
    piece_job = content_regenerate(piece=make_piece("rejected", rejection_reason="x"), actor=actor)
    fresh = Job.objects.create(
        merchant=campaign.merchant, kind="generate", status="running", heartbeat_at=timezone.now()
    )
    stale = timezone.now() - timedelta(minutes=10)
    Job.objects.filter(pk__in=[campaign_job.pk, piece_job.pk]).update(status="running", heartbeat_at=stale)
    assert sorted(tasks.requeue_stale_generation_jobs()) == sorted([campaign_job.pk, piece_job.pk])
    assert sorted(sent) == [("campaign", [campaign_job.pk], "ml"), ("piece", [piece_job.pk], "ml")]
    assert fresh.pk not in [args[0] for _, args, _ in sent]


@pytest.mark.django_db(transaction=True)
def test_a_long_batch_keeps_the_job_heartbeat_fresh(merchant):
    import time
    from datetime import timedelta

    from django.utils import timezone

    from ml.jobs import job_heartbeat, stale_jobs

    old = timezone.now() - timedelta(minutes=10)
    job = Job.objects.create(merchant=merchant, kind="generate", status="running", heartbeat_at=old)
    with job_heartbeat(job.pk, every_s=0.05):
        time.sleep(0.5)  # the model decoding one long batch
    job.refresh_from_db()
    assert job.heartbeat_at > old + timedelta(minutes=9)
    assert job not in stale_jobs(kind="generate")


def test_the_passing_draft_of_several_is_kept(
    campaign, tiny_base, actor, bottle, jacket, scripted, monkeypatch
):
    monkeypatch.setattr(generation, "CANDIDATES", 3)
    jacket_good = "A light waterproof rain jacket in recycled polyester with a hood, sizes S, M and L."
    generator = scripted({"Trail bottle": [INVENTED, GOOD, INVENTED], "Rain jacket": [jacket_good]})
    run(campaign_generate(campaign=campaign, actor=actor).pk)
    piece = ContentPiece.objects.get(product=bottle)
    assert (piece.body, piece.attempts, piece.flagged, piece.approvable) == (GOOD, 1, False, True)
    assert piece.quality["assembled"] is False and piece.quality["candidates"] == 3
    assert generator.calls == [6]  # two products, three drafts each, one batch, no retry


def test_a_piece_is_assembled_from_the_verified_sentences_of_several_drafts(
    campaign, tiny_base, actor, bottle, jacket, scripted, monkeypatch
):
    """No draft is clean, but each has a clean sentence: the piece is built from those, in draft order,
    without the unsupported ones and without repeating itself."""
    monkeypatch.setattr(generation, "CANDIDATES", 3)
    drafts = [
        "A stainless steel trail bottle that keeps drinks cold for 24 hours. Now only $5.",
        "Loved by Dr. Michael Johnson. The trail bottle holds 750 ml and comes in green.",
        "A stainless steel trail bottle that keeps drinks cold for 24 hours! Buy it on Amazon.",
    ]
    scripted({"Trail bottle": drafts * 3, "Rain jacket": ["A light waterproof rain jacket with a hood."]})
    run(campaign_generate(campaign=campaign, actor=actor).pk)
    piece = ContentPiece.objects.get(product=bottle)
    assert piece.body == (
        "A stainless steel trail bottle that keeps drinks cold for 24 hours. "
        "The trail bottle holds 750 ml and comes in green."
    )
    assert (piece.flagged, piece.approvable, piece.attempts) == (False, True, 1)
    assert piece.quality["assembled"] is True and piece.grounding["unsupported"] == []


def test_nothing_verifiable_keeps_the_best_draft_flagged(
    campaign, tiny_base, actor, bottle, jacket, scripted, monkeypatch
):
    monkeypatch.setattr(generation, "CANDIDATES", 2)
    scripted({"Trail bottle": ["Now only $5 at Amazon."], "Rain jacket": ["Free shipping from Paris."]})
    run(campaign_generate(campaign=campaign, actor=actor).pk)
    piece = ContentPiece.objects.get(product=bottle)
    assert piece.body == "Now only $5 at Amazon." and piece.flagged and not piece.approvable
    assert piece.quality["assembled"] is False and piece.attempts == 3


def test_the_openai_backend_gets_the_install_outbound_policy(settings):
    """generator_for passes OUTBOUND_ALLOW_PRIVATE to the engine: a loopback endpoint is refused by default."""
    from ml.engine import GenerationBackendError, GenerationRequest
    from ml.models import ModelVersion

    version = ModelVersion(
        name="ep", backend="openai", endpoint_url="http://127.0.0.1:9/v1", endpoint_model="m"
    )
    settings.OUTBOUND_ALLOW_PRIVATE = False
    with pytest.raises(GenerationBackendError, match="refused: 127.0.0.1 is a loopback address"):
        generation.generator_for(version).generate([GenerationRequest.raw("x")])
    settings.OUTBOUND_ALLOW_PRIVATE = True
    generator = generation.generator_for(version)
    generator.max_retries, generator.backoff_s = 0, 0.0
    with pytest.raises(GenerationBackendError, match="failed after 1 attempts"):  # allowed, so it connects
        generator.generate([GenerationRequest.raw("x")])
