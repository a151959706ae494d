"""Runs claimed copy-generation jobs in an `ml` worker: builds prompts from each product, the brand voice and
the campaign, decodes them in batches with the merchant's serving copy model, grounds every piece, retries
failing ones a bounded number of times, and writes pieces as it goes. Imported by the worker only (it pulls
in torch through ml.engine).

Idempotent: pieces are keyed on (campaign, product, customer, variant); a rerun or a redelivered task skips
what exists and writes the rest."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from itertools import pairwise

from django.conf import settings
from django.db import transaction

from accounts.services import Actor, audit_record
from catalog.models import Product
from marketing.campaigns.services import campaign_generation_finished
from marketing.generation_progress import CampaignProgress
from marketing.generation_settings import CHANNEL_TEMPERATURE, MAX_NEW_TOKENS, SAMPLING
from marketing.models import Campaign, ContentPiece
from marketing.review.services import content_apply_regeneration
from marketing.selectors import approved_examples, brand_voice_get, product_facts
from marketing.workflow import ContentConflict, GroundingOutcome
from ml.engine import GenerationRequest
from ml.engine.copy_assembly import Choice, choose, complete_sentences
from ml.engine.copy_decoding import copy_banned_phrases
from ml.engine.grounding import CopyChecker
from ml.engine.prompts import MAX_EXAMPLES, build_copy_messages, parse_copy_output, with_feedback
from ml.jobs import job_finish, job_heartbeat, job_log
from ml.models import Job, ModelVersion
from ml.serving import generator_for  # the name tests and the copy fine-tune worker use

logger = logging.getLogger(__name__)

BATCH_PRODUCTS = settings.GENERATION_BATCH_PRODUCTS
HEARTBEAT_SECONDS = 30.0
QUANTIZATION = settings.GENERATION_QUANTIZATION
CANDIDATES = settings.GENERATION_CANDIDATES
# SAMPLING, MAX_NEW_TOKENS and CHANNEL_TEMPERATURE (generation_settings) are bound on this module too: tests
# and benchmarks set them here, and sampling_for reads them from here.


def sampling_for(campaign: Campaign) -> dict:
    return {
        **SAMPLING,
        "temperature": CHANNEL_TEMPERATURE.get(campaign.channel, SAMPLING["temperature"]),
        "max_new_tokens": MAX_NEW_TOKENS[campaign.channel][campaign.length],
    }


def _seed(*parts) -> int:
    return int(hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:15], 16)


# Control characters (NUL above all: PostgreSQL refuses it in text and JSON) are never copy.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _printable(text: str) -> str:
    return _CONTROL.sub("", text)


def distinct_2(text: str) -> float:
    words = text.lower().split()
    bigrams = list(pairwise(words))
    return round(len(set(bigrams)) / len(bigrams), 3) if bigrams else 0.0


@dataclass
class Draft:
    """One piece being written: its prompt, and the best attempt so far. ``messages`` is what the current try
    sends: the prompt (``base_messages``), on a retry with the verifier's findings on the best draft so far
    added; ``feedback`` is a report to answer on the first try (a flagged piece a reviewer regenerates)."""

    product: Product
    variant: int
    messages: list[dict]
    base_messages: list[dict] = field(default_factory=list)
    feedback: dict | None = None
    fields: dict = field(default_factory=dict)
    outcome: GroundingOutcome | None = None
    attempts: int = 0
    first_try_passed: bool = False
    seed: int | None = None
    result: object = None
    error: str = ""
    assembled: bool = False  # built from several drafts' verified sentences
    kept_messages: list[dict] | None = None  # the prompt of the try whose text is kept

    def __post_init__(self):
        self.base_messages = self.base_messages or self.messages

    def score(self, outcome: GroundingOutcome) -> tuple:
        report = outcome.report
        problems = sum(
            len(report.get(key) or [])
            for key in ("unsupported", "channel_violations", "degenerate", "banned")
        )
        return (outcome.passed, outcome.approvable, -problems)


class CopyWriter:
    """Generates and grounds pieces for one campaign with one model version."""

    def __init__(
        self,
        campaign: Campaign,
        version: ModelVersion,
        *,
        max_attempts: int,
        seed_salt: str = "",
        candidates: int | None = None,
    ):
        self.campaign = campaign
        self.candidates = max(1, candidates or CANDIDATES)
        self.version = version
        self.max_attempts = max_attempts
        self.seed_salt = seed_salt
        self.generator = generator_for(version)
        voice = brand_voice_get(merchant=campaign.merchant)
        self.brand_voice = voice.as_prompt_dict() if voice else None
        self.banned_words = list(voice.banned_words) if voice else []
        self.voice_rules = voice.as_prompt_dict() if voice else None
        self.sampling = sampling_for(campaign)
        self.tokens = 0
        # Placeholders, unbacked claims and the voice's never-words, suppressed while decoding (per product:
        # what its facts use stays writable); GENERATION_BANNED_PHRASES=off measures the studio without them.
        self.ban_phrases = settings.GENERATION_BANNED_PHRASES
        self.banned_by_product: dict[int, tuple[str, ...]] = {}

    def draft(self, product: Product, variant: int) -> Draft:
        voice = self.brand_voice
        if self.campaign.audience:  # the campaign's audience narrows the brand's
            voice = {**(voice or {}), "audience": self.campaign.audience}
        examples = [(facts, fields) for pk, facts, fields in self.examples if pk != product.pk]
        messages = build_copy_messages(
            product_facts(product),
            channel=self.campaign.channel,
            tone=self.campaign.tone,
            length=self.campaign.length,
            language=self.campaign.language,
            brand_voice=voice,
            goal=self.campaign.goal,
            examples=examples[:MAX_EXAMPLES],
        )
        return Draft(product=product, variant=variant, messages=messages)

    @cached_property
    def examples(self) -> list[tuple[int, dict, dict]]:
        """(product id, facts, fields) of the merchant's latest approved pieces of this channel, read once per
        run; one more than a prompt shows, so that a product's own piece can be left out of its prompt."""
        pieces = approved_examples(
            merchant=self.campaign.merchant, channel=self.campaign.channel, limit=MAX_EXAMPLES + 1
        )
        return [(p.product_id, product_facts(p.product), p.channel_fields()) for p in pieces]

    def write(
        self, drafts: list[Draft], *, on_done: Callable[[list[Draft]], None] | None = None
    ) -> list[Draft]:
        """First try for every draft, then up to `max_attempts` more tries for those still failing; each
        draft keeps its best attempt. A draft whose generation raised keeps `error` and no outcome.
        A retry's prompt carries the verifier's findings on the draft's best try so far, and a first try
        those of `Draft.feedback` (GENERATION_RETRY_FEEDBACK off: the same prompt every time). Each draft ends
        with the prompt of the try whose text it keeps.

        After each try, `on_done` gets the drafts that are final from then on (passed, out of tries, or failed
        to generate), so a caller stores them and reports progress as they finish, not once per batch."""
        pending = list(drafts)
        for attempt in range(self.max_attempts + 1):
            if not pending:
                break
            for draft in pending:
                report = draft.outcome.report if draft.outcome else draft.feedback
                draft.messages = draft.base_messages
                if report and settings.GENERATION_RETRY_FEEDBACK:
                    draft.messages = with_feedback(
                        draft.base_messages, report, product=product_facts(draft.product)
                    )
            self._attempt(pending, attempt)
            if attempt == 0:
                for draft in pending:
                    draft.first_try_passed = bool(draft.outcome and draft.outcome.passed)
            last_try = attempt == self.max_attempts
            again = [not last_try and d.outcome is not None and not d.outcome.passed for d in pending]
            finished = [d for d, retry in zip(pending, again) if not retry]
            for draft in finished:
                draft.messages = draft.kept_messages or draft.base_messages
            if on_done is not None and finished:
                on_done(finished)
            pending = [d for d, retry in zip(pending, again) if retry]
        return drafts

    def _requests(self, drafts: list[Draft], attempt: int) -> list[GenerationRequest]:
        requests = []
        for draft in drafts:
            banned = ()
            if self.ban_phrases:
                banned = self.banned_by_product.get(draft.product.pk)
                if banned is None:
                    banned = copy_banned_phrases(product_facts(draft.product), self.voice_rules)
                    self.banned_by_product[draft.product.pk] = banned
            for candidate in range(self.candidates):
                seed = _seed(
                    self.campaign.pk, draft.product.pk, draft.variant, attempt, self.seed_salt, candidate
                )
                requests.append(
                    GenerationRequest.chat(
                        draft.messages,
                        request_id=f"{draft.product.pk}:{draft.variant}:{candidate}",
                        seed=seed,
                        banned_phrases=banned,
                        **self.sampling,
                    )
                )
        return requests

    def _attempt(self, drafts: list[Draft], attempt: int) -> None:
        requests = self._requests(drafts, attempt)
        try:
            results = self.generator.generate(requests)
        except Exception as exc:  # one bad prompt must not sink the batch: retry them one by one
            logger.warning("Batch generation failed (%s); retrying one by one", exc)
            results = []
            for request in requests:
                try:
                    results.extend(self.generator.generate([request]))
                except Exception as one_exc:
                    results.append(one_exc)
        k = self.candidates
        for index, draft in enumerate(drafts):
            draft.attempts += 1
            parsed = []
            for request, result in zip(
                requests[index * k : (index + 1) * k], results[index * k : (index + 1) * k]
            ):
                if isinstance(result, Exception):
                    draft.error = f"{type(result).__name__}: {result}"
                    continue
                try:
                    fields = parse_copy_output(_printable(result.text), self.campaign.channel)
                    if result.finish_reason == "length":
                        fields = complete_sentences(fields, self.campaign.channel)
                except Exception as exc:
                    draft.error = f"{type(exc).__name__}: {exc}"
                    continue
                self.tokens += result.completion_tokens
                parsed.append((fields, result, request.params.seed))
            try:
                choice = self._choose(draft, [fields for fields, _, _ in parsed])
            except Exception as exc:
                draft.error = f"{type(exc).__name__}: {exc}"
                continue
            if choice is None:
                continue
            outcome = GroundingOutcome(
                report=choice.report.to_dict(),
                passed=bool(choice.report.passed),
                approvable=bool(choice.report.approvable),
            )
            if draft.outcome is None or draft.score(outcome) > draft.score(draft.outcome):
                _, result, seed = parsed[choice.index if choice.index is not None else 0]
                draft.fields, draft.outcome, draft.result = choice.fields, outcome, result
                draft.seed, draft.error, draft.assembled = seed, "", choice.assembled
                draft.kept_messages = draft.messages

    def _choose(self, draft: Draft, candidates: list[dict]) -> Choice | None:
        """The try's piece (ml.engine.copy_assembly.choose), checked as content_check checks it."""
        product = product_facts(draft.product)
        checker = CopyChecker(product, banned_words=self.banned_words, brand_voice=self.voice_rules)
        return choose(
            [{k: v for k, v in c.items() if v} for c in candidates],
            product,
            channel=self.campaign.channel,
            checker=checker,
            prompt=draft.messages[-1]["content"],
        )

    def piece_values(self, draft: Draft) -> dict:
        text = " ".join(v for v in draft.fields.values() if v)
        return {
            "fields": draft.fields,
            "outcome": draft.outcome,
            "model_version": self.version,
            "prompt": json.dumps(draft.messages, ensure_ascii=False),
            "params": {**self.sampling, "seed": draft.seed, "model": self.version.name},
            "quality": {
                "chars": len(text),
                "words": len(text.split()),
                "distinct_2": distinct_2(text),
                "finish_reason": draft.result.finish_reason,
                "completion_tokens": draft.result.completion_tokens,
                "passed_first_try": draft.first_try_passed,
                "assembled": draft.assembled,
                "candidates": self.candidates,
            },
            "attempts": draft.attempts,
        }


def _products_in_order(job: Job, ids: list[int]) -> list[Product]:
    by_id = Product.objects.filter(merchant=job.merchant, pk__in=ids).select_related("category").in_bulk()
    return [by_id[pk] for pk in ids if pk in by_id]


def campaign_copy_run(job: Job) -> str:
    params = job.params
    campaign = Campaign.objects.select_related("merchant").get(
        pk=params["campaign_id"], merchant=job.merchant
    )
    try:
        with job_heartbeat(job.pk, every_s=HEARTBEAT_SECONDS):
            return _campaign_copy_run(job, campaign, params)
    except Exception as exc:  # recorded on the job rather than lost in a worker log
        logger.exception("Copy generation job %s crashed", job.pk)
        job_log(job.pk, f"Crashed: {type(exc).__name__}: {exc}")
        with transaction.atomic():
            job_finish(job.pk, status=Job.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
            campaign_generation_finished(campaign_id=campaign.pk, succeeded=False)
        return "failed"


def _campaign_copy_run(job: Job, campaign: Campaign, params: dict) -> str:
    products = _products_in_order(job, params["product_ids"])
    variants = range(1, int(params.get("variants", campaign.variants_per_product)) + 1)
    writer = CopyWriter(campaign, job.base_version, max_attempts=int(params.get("max_attempts", 2)))
    existing = set(
        ContentPiece.objects.filter(campaign=campaign, customer_external_id="").values_list(
            "product_id", "variant"
        )
    )
    job_log(
        job.pk,
        f"Writing {campaign.get_channel_display().lower()} copy for {len(products)} product(s) with "
        f"{job.base_version.name}; {len(existing)} piece(s) already exist.",
    )
    progress = CampaignProgress(job, campaign, writer, total=len(products))
    progress.report()  # from 0 with no ETA yet, also when a redelivered job starts over
    counts = progress.counts
    for start in range(0, len(products), BATCH_PRODUCTS):
        if progress.reporter.should_cancel():
            job_log(
                job.pk, f"Cancelled after {progress.done} product(s); the pieces written so far are kept."
            )
            with transaction.atomic():
                job_finish(job.pk, status=Job.Status.CANCELLED, metrics=progress.metrics())
                campaign_generation_finished(campaign_id=campaign.pk, succeeded=True)
            return "cancelled"
        progress.write_batch(products[start : start + BATCH_PRODUCTS], variants, existing)

    metrics = progress.metrics()
    all_failed = products and counts["failed_products"] >= len(products)
    status = Job.Status.FAILED if all_failed else Job.Status.SUCCEEDED
    # One transaction: a page that sees the job ended also sees the campaign's new status.
    with transaction.atomic():
        job_finish(
            job.pk,
            status=status,
            error="Every product failed; see the log." if all_failed else "",
            metrics=metrics,
            progress_current=progress.done,
            progress_total=len(products),
        )
        campaign_generation_finished(campaign_id=campaign.pk, succeeded=not all_failed)
    audit_record(
        merchant=campaign.merchant,
        actor=Actor.system(f"job:{job.pk}"),
        action="campaign.generated",
        obj=campaign,
        changes=metrics,
    )
    job_log(
        job.pk,
        f"Wrote {counts['pieces']} piece(s): {counts['passed_first_try']} passed on the first try, "
        f"{counts['flagged']} flagged, {counts['failed_products']} product(s) failed.",
    )
    return "succeeded" if not all_failed else "failed"


def piece_regenerate_run(job: Job) -> str:
    """Write one piece again (a reviewer asked): new seeds, the same retries, the text kept as a revision. The
    first try's prompt carries the findings of the piece's stored grounding report."""
    piece = ContentPiece.objects.select_related(
        "campaign", "campaign__merchant", "product", "product__category"
    ).get(pk=job.params["piece_id"], merchant=job.merchant)
    writer = CopyWriter(
        piece.campaign,
        job.base_version,
        max_attempts=int(job.params.get("max_attempts", 2)),
        seed_salt=f"regenerate:{job.pk}",
    )
    actor = Actor(label=f"{job.created_by_label or 'system'} (regenerate)"[:200], user=job.created_by)
    try:
        with job_heartbeat(job.pk, every_s=HEARTBEAT_SECONDS):
            draft = writer.draft(piece.product, piece.variant)
            draft.feedback = piece.grounding  # what the checker found in the text being replaced
            writer.write([draft])
        if draft.outcome is None:
            raise RuntimeError(draft.error or "generation failed")
        values = writer.piece_values(draft)
        values["quality"]["regenerated"] = True
        piece = content_apply_regeneration(piece_id=piece.pk, actor=actor, **values)
    except ContentConflict as exc:
        job_log(job.pk, str(exc))
        job_finish(job.pk, status=Job.Status.CANCELLED, error=str(exc))
        return "cancelled"
    except Exception as exc:
        logger.exception("Regeneration job %s failed", job.pk)
        job_log(job.pk, f"Failed: {type(exc).__name__}: {exc}")
        job_finish(job.pk, status=Job.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
        return "failed"
    job_finish(
        job.pk,
        status=Job.Status.SUCCEEDED,
        progress_current=1,
        progress_total=1,
        metrics={
            "piece_id": piece.pk,
            "attempts": draft.attempts,
            "flagged": piece.flagged,
            "approvable": piece.approvable,
        },
    )
    return "succeeded"
