"""Adds a brand voice and a demo campaign to the demo merchant, with generated copy waiting for review.
Run after demo_setup and ml_provision. Safe to re-run: an existing demo campaign only gets its missing
pieces."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Merchant
from accounts.services import Actor
from catalog.models import Product
from marketing.campaigns.services import brand_voice_set, campaign_create, campaign_generate
from marketing.models import Campaign
from marketing.selectors import brand_voice_get
from marketing.workflow import ContentConflict
from ml.jobs import job_claim
from ml.models import Job

DEMO_CAMPAIGN = "Autumn catalogue refresh"
DEMO_PRODUCTS = 8
WAIT_FOR_WORKER_SECONDS = 600


class Command(BaseCommand):
    help = "Create the demo brand voice and a demo campaign whose generated copy waits for review."

    def add_arguments(self, parser):
        parser.add_argument("--merchant", default="demo", help="Merchant slug (default: demo).")
        parser.add_argument(
            "--queue",
            action="store_true",
            help="Queue generation for an `ml` worker instead of generating here and now.",
        )

    def handle(self, *args, merchant: str, queue: bool, **options):
        actor = Actor.system("demo_campaign")
        merchant_obj = Merchant.objects.filter(slug=merchant).first()
        if merchant_obj is None:
            raise CommandError(f"No merchant '{merchant}'; run `manage.py demo_setup` first.")
        if brand_voice_get(merchant=merchant_obj) is None:
            brand_voice_set(
                merchant=merchant_obj,
                actor=actor,
                tone_words=["warm", "confident", "plain-spoken"],
                audience="Outdoor and city shoppers who buy well-made things and keep them for years",
                do_list=["Say what the product is made of", "Name one concrete use"],
                dont_list=["Invent discounts, prices or sizes", "Use exclamation marks"],
                banned_words=["cheap", "guaranteed", "best ever"],
                examples=["Built for long days on the trail, and for the commute after."],
            )
        campaign = Campaign.objects.filter(merchant=merchant_obj, name=DEMO_CAMPAIGN).first()
        if campaign is None:
            products = list(
                Product.objects.filter(merchant=merchant_obj, is_active=True).order_by("id")[:DEMO_PRODUCTS]
            )
            if not products:
                raise CommandError("The demo merchant has no products; run `manage.py demo_setup` first.")
            campaign = campaign_create(
                merchant=merchant_obj,
                actor=actor,
                name=DEMO_CAMPAIGN,
                channel="product_description",
                products=products,
                goal="Fresh product descriptions for the autumn catalogue",
                tone="warm",
                length="medium",
            )
        missing = campaign.products.count() * campaign.variants_per_product - campaign.pieces.count()
        if missing <= 0:
            self.stdout.write(f"Demo campaign '{campaign.name}' already has its copy.")
            return
        try:
            with transaction.atomic():
                job = campaign_generate(campaign=campaign, actor=actor)
        except ContentConflict as exc:
            raise CommandError(exc.message) from exc
        if queue:
            self.stdout.write(f"Queued generation job {job.pk} for '{campaign.name}' on the ml queue.")
            return
        # Generate here so the copy is waiting when the dashboard opens; the queued task then finds the job
        # already claimed and does nothing.
        from marketing.generation import campaign_copy_run

        claimed = job_claim(job.pk)
        if claimed is not None:
            self.stdout.write(f"Generating copy for {missing} piece(s) with {claimed.base_version.name}...")
            campaign_copy_run(claimed)
        else:  # a running worker took it first
            deadline = time.monotonic() + WAIT_FOR_WORKER_SECONDS
            while (
                Job.objects.filter(pk=job.pk, status__in=Job.ACTIVE).exists() and time.monotonic() < deadline
            ):
                time.sleep(1)
        job.refresh_from_db()
        if job.status != Job.Status.SUCCEEDED:
            raise CommandError(f"Generation job {job.pk} ended {job.status}: {job.error}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo campaign '{campaign.name}': {job.metrics.get('pieces', 0)} piece(s) waiting for "
                f"review ({job.metrics.get('flagged', 0)} flagged)."
            )
        )
