"""Worker side of copy fine-tuning (imported by `ml` workers only: it pulls in torch).

The generic job path (ml.training.finetune_run) trains on the job's dataset with the held-out catalog pairs
as its fixed evaluation set (reply loss on the merchant's own descriptions). Before the version is registered,
this runner writes a product description for every held-out product with the starting model and with the new
one, the way the copy studio does (drafts, choice, verification), and records for each: the share of pieces
approvable with no finding, the share with an unsupported claim or unverified statement, fact coverage, and
ROUGE-L / chrF against the product's own description. The registry's gate then promotes the new version only
if it is no worse on any of them and better on one (ml.services.promotion_gate)."""

from __future__ import annotations

import logging

from catalog.models import Product
from marketing.generation import CANDIDATES, MAX_NEW_TOKENS, QUANTIZATION, SAMPLING, _seed, generator_for
from marketing.models import Length
from marketing.selectors import brand_voice_get, product_facts
from ml.engine import LocalHFGenerator
from ml.engine.copy_assembly import write_copy
from ml.engine.copy_metrics import chrf, fact_coverage, rouge_l
from ml.engine.copy_training import readable_description
from ml.engine.finetune import FinetuneResult
from ml.engine.grounding import CopyChecker
from ml.engine.prompts import build_copy_messages
from ml.jobs import job_heartbeat, job_log
from ml.models import Job, ModelVersion, Purpose
from ml.training import _base_and_adapter, finetune_run, promote_if_asked

logger = logging.getLogger(__name__)

CHANNEL = "product_description"


def copy_finetune_run(job: Job) -> str:
    params = job.params
    start_from = job.base_version
    products = list(
        Product.objects.filter(merchant=job.merchant, pk__in=params.get("eval_product_ids") or [])
        .select_related("category")
        .order_by("id")
    )

    def evaluate(result: FinetuneResult) -> dict:
        job_log(
            job.pk,
            f"Writing descriptions for {len(products)} held-out product(s) with {start_from.name} "
            "and with the new version.",
        )
        parent = copy_quality(generator_for(start_from), products, job=job)
        tuned = copy_quality(_result_generator(result, start_from), products, job=job)
        return {
            "copy_eval_products": len(products),
            **{f"parent_copy_{k}": v for k, v in parent.items()},
            **{f"copy_{k}": v for k, v in tuned.items()},
        }

    # Generating for the held-out products runs for minutes on a CPU with no training step to report progress.
    with job_heartbeat(job.pk):
        outcome = finetune_run(job, evaluate=evaluate)
    if outcome == "succeeded":
        promote_if_asked(job, Purpose.COPY)
    return outcome


def copy_quality(generator, products: list[Product], *, job: Job) -> dict:
    """The copy studio's product descriptions for ``products`` with ``generator``, scored."""
    if not products:
        return {}
    voice = brand_voice_get(merchant=job.merchant)
    voice_dict = voice.as_prompt_dict() if voice else None
    banned = list(voice.banned_words) if voice else []
    items = []
    for product in products:
        facts = product_facts(product)
        messages = build_copy_messages(facts, channel=CHANNEL, length=Length.MEDIUM, brand_voice=voice_dict)
        items.append((facts, messages, CopyChecker(facts, banned_words=banned, brand_voice=voice_dict)))
    choices = write_copy(
        generator,
        items,
        channel=CHANNEL,
        candidates=CANDIDATES,
        sampling={**SAMPLING, "max_new_tokens": MAX_NEW_TOKENS[CHANNEL][Length.MEDIUM]},
        seed_of=lambda i, j: _seed("copy-eval", job.pk, products[i].pk, j),
    )
    n = len(products)
    texts = [" ".join(v for v in c.fields.values() if v) for c in choices]
    refs = [readable_description(p.description, 10_000) for p in products]
    return {
        "approvable": round(sum(c.report.approvable for c in choices) / n, 4),
        "unsupported": round(sum(bool(c.report.unsupported) for c in choices) / n, 4),
        "fact_coverage": round(
            sum(fact_coverage(t, product_facts(p)) for t, p in zip(texts, products)) / n, 4
        ),
        "rouge_l": round(sum(rouge_l(t, r) for t, r in zip(texts, refs)) / n, 4),
        "chrf": round(sum(chrf(t, r) for t, r in zip(texts, refs)) / n, 4),
    }


def _result_generator(result: FinetuneResult, start_from: ModelVersion) -> LocalHFGenerator:
    """A LoRA result is an adapter on the starting version's base checkpoint; a full one is a checkpoint."""
    if result.method == "lora":
        base_path, _ = _base_and_adapter(start_from)
        return LocalHFGenerator(base_path, adapter_path=result.output_path, quantization=QUANTIZATION)
    return LocalHFGenerator(result.output_path, quantization=QUANTIZATION)
