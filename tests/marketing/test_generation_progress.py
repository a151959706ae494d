"""Generation progress as products finish: the job row counts a product once every variant's draft is final
(stored, or given up on), pieces are stored as they finish rather than when the whole batch has, the ETA comes
from the pace of the products the model wrote (none before the first one: the page says it is estimating),
and the row is written when products finish, at most once per try of a batch: not per piece or token."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketing import generation
from marketing.campaigns.services import campaign_generate
from marketing.generation import campaign_copy_run
from marketing.models import ContentPiece
from ml.engine.generation import GenerationResult
from ml.jobs import job_claim
from ml.models import Job

pytestmark = pytest.mark.django_db

GOOD = {
    "Trail bottle": "Stainless steel trail bottle in green that keeps drinks cold for 24 hours, for $24.90.",
    "Rain jacket": "A light waterproof rain jacket in recycled polyester with a hood, sizes S, M and L.",
}
INVENTED = "Now only $5, and it comes in merino wool!"


class Watching:
    """A TextGenerator that answers from a script keyed on (product title, variant, try), and notes what the
    job row and the pieces table held when each call began: what a polling page would have shown then."""

    def __init__(self, job_id_box, script, *, pause_s=0.0):
        self.job_id_box = job_id_box
        self.script = script
        self.pause_s = pause_s
        self.tries: dict[str, int] = {}
        self.seen: list[dict] = []

    def generate(self, requests):
        job = Job.objects.get(pk=self.job_id_box[0])
        self.seen.append(
            {
                "requests": len(requests),
                "current": job.progress_current,
                "eta": job.eta_seconds,
                "pieces": set(ContentPiece.objects.values_list("product__title", "variant")),
            }
        )
        time.sleep(self.pause_s)
        results = []
        for request in requests:
            prompt = request.messages[-1]["content"]
            title = "Trail bottle" if "Trail bottle" in prompt else "Rain jacket"
            variant = int(request.request_id.split(":")[1])
            key = f"{title}:{variant}"
            attempt = self.tries.get(key, 0)
            self.tries[key] = attempt + 1
            texts = self.script.get((title, variant), [GOOD[title]])
            text = texts[min(attempt, len(texts) - 1)]
            results.append(GenerationResult(text, 10, 20, "stop", 0.01, request.request_id))
        return results


@pytest.fixture
def watching(monkeypatch):
    monkeypatch.setattr(generation, "CANDIDATES", 1)
    monkeypatch.setattr(
        generation, "parse_copy_output", lambda text, channel: {"title": "Northwind", "body": text}
    )
    job_id_box = []

    def install(script, **options):
        generator = Watching(job_id_box, script, **options)
        monkeypatch.setattr(generation, "generator_for", lambda version: generator)
        return generator

    def start(campaign, actor):
        job = campaign_generate(campaign=campaign, actor=actor)
        job_id_box.append(job.pk)
        claimed = job_claim(job.pk)
        assert claimed is not None
        return claimed

    install.start = start
    return install


def test_a_product_counts_as_done_once_all_its_variants_are_final(campaign, tiny_base, actor, watching):
    """One batch, two products with two variants each. The jacket passes at once; one of the bottle's variants
    needs a retry. After the first try the jacket is done and stored, the bottle is not (only half of it is
    final); a page polling then shows 1 of 2 with an ETA. Before anything finished it showed 0 and no ETA."""
    campaign.variants_per_product = 2
    campaign.save()
    generator = watching({("Trail bottle", 2): [INVENTED, GOOD["Trail bottle"]]})
    job = watching.start(campaign, actor)
    assert campaign_copy_run(job) == "succeeded"

    first, retry = generator.seen
    assert (first["requests"], first["current"], first["eta"], first["pieces"]) == (4, 0, None, set())
    assert retry["requests"] == 1 and retry["current"] == 1 and retry["eta"] is not None
    # Stored as they finished: the jacket's two pieces and the bottle's first variant, before the retry.
    assert retry["pieces"] == {("Rain jacket", 1), ("Rain jacket", 2), ("Trail bottle", 1)}
    job.refresh_from_db()
    assert (job.status, job.progress_current, job.progress_total, job.eta_seconds) == ("succeeded", 2, 2, 0)
    assert job.metrics["pieces"] == 4 and job.metrics["passed_first_try"] == 3


def test_the_eta_follows_the_pace_of_finished_products(campaign, tiny_base, actor, watching, monkeypatch):
    monkeypatch.setattr(generation, "BATCH_PRODUCTS", 1)  # one product a batch: bottle, then jacket
    generator = watching({}, pause_s=0.3)
    job = watching.start(campaign, actor)
    campaign_copy_run(job)
    bottle, jacket = generator.seen
    assert bottle["current"] == 0 and bottle["eta"] is None
    # One product took about 0.3 s and one is left.
    assert jacket["current"] == 1 and 0.25 <= jacket["eta"] <= 3


def test_products_written_before_give_no_pace(campaign, tiny_base, actor, watching, monkeypatch, make_piece):
    """A rerun skips the bottle, whose piece exists: it is done at once, but the ETA waits for a product the
    model actually wrote."""
    monkeypatch.setattr(generation, "BATCH_PRODUCTS", 1)
    make_piece("in_review")  # the bottle's variant 1
    generator = watching({})
    job = watching.start(campaign, actor)
    campaign_copy_run(job)
    (jacket,) = generator.seen
    assert jacket["current"] == 1 and jacket["eta"] is None
    job.refresh_from_db()
    assert job.progress_current == 2 and job.metrics["skipped_existing"] == 1


def test_progress_is_written_when_products_finish_not_per_piece(campaign, tiny_base, actor, watching):
    """Two products with three variants each: the jacket's pass at once, the bottle's fail every check and
    use all three tries. The row is written at the start, after the first try (jacket done) and after the
    last (bottle done): not per piece, and not after the middle try, which finished nothing."""
    campaign.variants_per_product = 3
    campaign.save()
    watching({("Trail bottle", v): [INVENTED] for v in (1, 2, 3)})
    job = watching.start(campaign, actor)
    with CaptureQueriesContext(connection) as queries:
        campaign_copy_run(job)
    progress_writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith('UPDATE "ml_job" SET "progress_current"')
    ]
    assert [sql.split(",")[0].rsplit(" ", 1)[-1] for sql in progress_writes] == ["0", "1", "2"]
    job.refresh_from_db()
    assert job.metrics["pieces"] == 6 and job.metrics["flagged"] == 3
    assert (job.status, job.progress_current) == ("succeeded", 2)


def test_a_cancel_asked_between_batches_stops_with_the_progress_so_far(
    campaign, tiny_base, actor, watching, monkeypatch
):
    monkeypatch.setattr(generation, "BATCH_PRODUCTS", 1)
    generator = watching({})
    job = watching.start(campaign, actor)
    original = generator.generate

    def cancel_during_the_first(requests):
        Job.objects.filter(pk=job.pk).update(cancel_requested=True)
        return original(requests)

    generator.generate = cancel_during_the_first
    assert campaign_copy_run(job) == "cancelled"
    job.refresh_from_db()
    campaign.refresh_from_db()
    assert (job.status, job.progress_current, job.metrics["pieces"]) == ("cancelled", 1, 1)
    assert campaign.status == "ready"  # the job's end and the campaign's status move together
