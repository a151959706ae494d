"""Copy-studio fixtures: a campaign over two products with known facts, pieces in any state, and a tiny
random Llama checkpoint registered as the base model so generation runs in seconds."""

from decimal import Decimal

import pytest

from accounts.services import Actor
from marketing.models import Campaign, ContentPiece
from ml.engine.verification import VERIFIER_VERSION
from ml.models import ModelVersion
from tests.factories import ProductFactory

ACTOR = Actor.system("test")


@pytest.fixture
def actor():
    return ACTOR


@pytest.fixture
def bottle(merchant):
    return ProductFactory(
        merchant=merchant,
        sku="BOTTLE-1",
        title="Trail bottle",
        brand="Northwind",
        price=Decimal("24.90"),
        currency="USD",
        attributes={"material": "stainless steel", "capacity": "750 ml", "colour": "green"},
        description="Insulated bottle that keeps drinks cold for 24 hours.",
    )


@pytest.fixture
def jacket(merchant):
    return ProductFactory(
        merchant=merchant,
        sku="JACKET-1",
        title="Rain jacket",
        brand="Northwind",
        price=Decimal("89.00"),
        currency="USD",
        attributes={"material": "recycled polyester", "sizes": "S, M, L"},
        description="A light waterproof jacket with a hood.",
    )


@pytest.fixture
def campaign(merchant, bottle, jacket):
    campaign = Campaign.objects.create(merchant=merchant, name="Spring launch", channel="product_description")
    campaign.products.set([bottle, jacket])
    return campaign


@pytest.fixture
def make_piece(campaign, bottle):
    def make(
        status=ContentPiece.Status.IN_REVIEW,
        *,
        approvable=True,
        flagged=False,
        product=None,
        variant=1,
        camp=None,
        **fields,
    ):
        camp = camp or campaign
        return ContentPiece.objects.create(
            merchant=camp.merchant,
            campaign=camp,
            product=product or bottle,
            variant=variant,
            status=status,
            approvable=approvable,
            flagged=flagged,
            title=fields.pop("title", "Trail bottle"),
            body=fields.pop("body", "A stainless steel bottle that keeps drinks cold for 24 hours."),
            # A report as the current checker stores it, unless the test gives another verifier_version.
            grounding={
                "verifier_version": VERIFIER_VERSION,
                **fields.pop(
                    "grounding", {"passed": not flagged, "approvable": approvable, "unsupported": []}
                ),
            },
            **fields,
        )

    return make


@pytest.fixture(scope="session")
def tiny_checkpoint_dir(tmp_path_factory):
    from tests.ml.engine.conftest import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-copy-model"))


@pytest.fixture
def tiny_base(db, tiny_checkpoint_dir):
    return ModelVersion.objects.create(name="tiny-base", kind="base", path=str(tiny_checkpoint_dir))


@pytest.fixture
def copy_model(db):
    return ModelVersion.objects.create(name="tiny-base", kind="base", path="/var/models/tiny", status="ready")
