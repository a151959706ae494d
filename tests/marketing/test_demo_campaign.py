import pytest
from django.core.management import CommandError, call_command

from marketing import generation
from marketing.models import BrandVoice, Campaign, ContentPiece
from tests.factories import MerchantFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_demo_campaign_leaves_copy_waiting_for_review_and_is_safe_to_rerun(tiny_base, monkeypatch, capsys):
    monkeypatch.setattr(
        generation,
        "MAX_NEW_TOKENS",
        {ch: {ln: 16 for ln in ("short", "medium", "long")} for ch in generation.MAX_NEW_TOKENS},
    )
    demo = MerchantFactory(slug="demo", name="Demo")
    for number in range(10):
        ProductFactory(merchant=demo, sku=f"DEMO-{number}")
    call_command("demo_campaign")
    campaign = Campaign.objects.get(merchant=demo)
    assert campaign.products.count() == 8 and campaign.status == "ready"
    assert ContentPiece.objects.filter(campaign=campaign, status="in_review").count() == 8
    assert BrandVoice.objects.get(merchant=demo).banned_words
    assert "waiting for review" in capsys.readouterr().out

    call_command("demo_campaign")
    assert "already has its copy" in capsys.readouterr().out
    assert ContentPiece.objects.filter(campaign=campaign).count() == 8


def test_demo_campaign_needs_the_demo_merchant(db):
    with pytest.raises(CommandError, match="demo_setup"):
        call_command("demo_campaign")
