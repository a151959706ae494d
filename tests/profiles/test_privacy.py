"""Privacy services: the export holds every kind of data about a customer and nobody else's; erasure leaves
nothing linked to the customer (events, session events, profile, memberships gone; conversations anonymised
and out of chat training), records which chat model versions learned from their data, queues a real
retraining job for the one in service, and audits without personal data; withdrawing profiling consent drops
the profile, the memberships and the chat training dialogues, and keeps their conversations out of training."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import AuditLog
from accounts.services import Actor, audit_record
from chat.models import Conversation, Message, SupportDialogue
from chat.training.services import conversation_turns, incremental_collect
from ml.engine.dialogues import dialogue_to_examples
from ml.models import Deployment, Job, ModelVersion, TrainingDataset
from profiles.models import CustomerProfile, ErasureRecord, Event, Segment, SegmentMembership
from profiles.privacy import ERASED_TEXT, consent_changed, customer_erase, customer_export, customer_ref
from tests.factories import CustomerFactory, EventFactory, ProductFactory

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("privacy-test")
SYSTEM_PROMPT = "You are the Northwind assistant."
MINE = [
    {"role": "customer", "text": "Where is my order for the blue kayak?"},
    {"role": "agent", "text": "It ships on Monday from our Leeds store."},
]
THEIRS = [
    {"role": "customer", "text": "Do you sell gift cards?"},
    {"role": "agent", "text": "Yes, from 10 to 200 dollars."},
]
IMPORTED = [
    {"role": "customer", "text": "How long do returns take?"},
    {"role": "agent", "text": "Refunds arrive within five working days."},
]


@pytest.fixture
def shopper(merchant):
    return CustomerFactory(
        merchant=merchant, external_id="shopper-7f3a", email="ines.varga@example.com", name="Ines Varga"
    )


@pytest.fixture
def bystander(merchant):
    return CustomerFactory(merchant=merchant, external_id="shopper-b2c9", email="otto.keel@example.com")


def conversation_of(merchant, external_id: str, *, shopper_text: str, reply: str, status="resolved"):
    conversation = Conversation.objects.create(
        merchant=merchant,
        customer_external_id=external_id,
        status=status,
        session_secret="s3cret",
        source="widget",
    )
    Message.objects.create(conversation=conversation, merchant=merchant, role="shopper", text=shopper_text)
    Message.objects.create(
        conversation=conversation,
        merchant=merchant,
        role="bot",
        text=reply,
        prompt=f"...{shopper_text}...",
        correction=f"{reply} (corrected)",
        safety={"unverified": [{"sentence": reply, "why": "no source"}]},
    )
    return conversation


def dialogue_of(merchant, conversation, turns, digest: str) -> SupportDialogue:
    return SupportDialogue.objects.create(
        merchant=merchant,
        source="conversation" if conversation else "import",
        split="train",
        conversation=conversation,
        turns=turns,
        content_hash=digest * 64,
    )


def records(*turn_lists) -> list[dict]:
    """Training records as chat.training builds them: the system prompt first, then the dialogue's example."""
    out = []
    for turns in turn_lists:
        for example in dialogue_to_examples(turns):
            out.append(
                {
                    "prompt": [{"role": "system", "content": SYSTEM_PROMPT}, *example["prompt"]],
                    "response": example["response"],
                }
            )
    return out


def dataset(merchant, rows, source="chat:dialogues") -> TrainingDataset:
    return TrainingDataset.objects.create(
        merchant=merchant, name=source, purpose="chat", records=rows, record_count=len(rows), source=source
    )


def finetune_job(merchant, *, data, base, result, conversation_ids=(), mode="full", **params) -> Job:
    return Job.objects.create(
        merchant=merchant,
        kind="finetune",
        status="succeeded",
        base_version=base,
        result_version=result,
        params={
            "purpose": "chat",
            "runner": "chat.finetune",
            "mode": mode,
            "auto_promote": True,
            "dataset_id": data.pk,
            "conversation_ids": list(conversation_ids),
            "hyperparameters": {"method": "lora", "epochs": 1, "max_seq_len": 320},
            **params,
        },
    )


def texts_of(conversation) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for message in conversation.messages.order_by("id"):
        out.setdefault(message.role, []).append(message.text)
    return out


def no_personal_data(merchant, *values) -> None:
    for entry in AuditLog.objects.filter(merchant=merchant):
        blob = json.dumps([entry.summary, entry.object_id, entry.changes], default=str)
        for value in values:
            assert value not in blob, (entry.action, value)


# ---------- export ----------


def test_export_holds_every_kind_of_data_and_nothing_of_anyone_else(merchant, shopper, bystander):
    product = ProductFactory(merchant=merchant, sku="KAYAK-1", title="Blue kayak")
    now = timezone.now()
    EventFactory(
        customer=shopper,
        type="view",
        product=product,
        session_id="sess-1",
        occurred_at=now - timedelta(days=2),
    )
    EventFactory(
        customer=shopper,
        type="purchase",
        product=product,
        product_sku="KAYAK-1",
        quantity=1,
        value=Decimal("449.50"),
        currency="USD",
        order_id="A-1001",
        session_id="sess-1",
        occurred_at=now - timedelta(days=1),
    )
    EventFactory(customer=shopper, type="search", query="kayak paddle", occurred_at=now)
    Event.objects.create(
        merchant=merchant,
        session_id="sess-1",
        type="view",
        product=product,
        occurred_at=now - timedelta(days=3),
    )
    Event.objects.create(merchant=merchant, session_id="sess-other", type="view", occurred_at=now)
    EventFactory(customer=bystander, type="view", occurred_at=now)
    CustomerProfile.objects.create(
        customer=shopper,
        merchant=merchant,
        frequency=1,
        monetary=Decimal("449.50"),
        r_score=5,
        rfm_segment="new",
        affinities={"category": {"Boats": 1.0}},
        interest_vector=[0.6, 0.8],
        churn_risk=0.2,
    )
    segment = Segment.objects.create(merchant=merchant, name="Paddlers", slug="paddlers", member_count=1)
    SegmentMembership.objects.create(segment=segment, customer=shopper, merchant=merchant)
    conversation = conversation_of(
        merchant, shopper.external_id, shopper_text="Where is my kayak?", reply="On its way."
    )
    dialogue_of(merchant, conversation, MINE, "a")
    conversation_of(merchant, bystander.external_id, shopper_text="Gift cards?", reply="Yes.")

    data = customer_export(customer=shopper)

    json.dumps(data)  # plain JSON
    assert (
        data["customer"]["external_id"] == "shopper-7f3a"
        and data["customer"]["email"] == "ines.varga@example.com"
    )
    assert data["consent"] == {"marketing": False, "profiling": True}
    assert [e["type"] for e in data["events"]] == ["view", "purchase", "search"]
    purchase = data["events"][1]
    assert (
        purchase["value"] == "449.50"
        and purchase["order_id"] == "A-1001"
        and purchase["product_title"] == "Blue kayak"
    )
    assert purchase["occurred_at"].startswith(str((now - timedelta(days=1)).date()))
    assert [e["session_id"] for e in data["session_events"]] == ["sess-1"]
    assert data["profile"]["rfm_segment"] == "new" and data["profile"]["monetary"] == "449.50"
    assert data["profile"]["interest_vector"] == [0.6, 0.8]
    assert data["segments"] == [
        {"name": "Paddlers", "slug": "paddlers", "added_at": data["segments"][0]["added_at"]}
    ]
    [exported] = data["conversations"]
    assert [m["text"] for m in exported["messages"]] == ["Where is my kayak?", "On its way."]
    assert exported["training_dialogues"][0]["turns"] == MINE
    assert "otto.keel@example.com" not in json.dumps(data) and "Gift cards?" not in json.dumps(data)


def test_export_of_a_customer_with_nothing_but_a_record(merchant, shopper):
    data = customer_export(customer=shopper)
    assert data["profile"] is None
    assert data["events"] == data["session_events"] == data["segments"] == data["conversations"] == []


# ---------- erasure ----------


def test_erasure_leaves_nothing_of_the_customer_and_spares_everyone_else(
    merchant, other_merchant, shopper, bystander
):
    now = timezone.now()
    EventFactory(customer=shopper, type="view", session_id="sess-1", occurred_at=now)
    EventFactory(customer=shopper, type="purchase", value=Decimal("12.00"), order_id="A-1", occurred_at=now)
    Event.objects.create(
        merchant=merchant, session_id="sess-1", type="search", query="kayak", occurred_at=now
    )
    kept_anonymous = Event.objects.create(
        merchant=merchant, session_id="sess-9", type="view", occurred_at=now
    )
    kept_event = EventFactory(customer=bystander, type="view", occurred_at=now)
    stranger = CustomerFactory(merchant=other_merchant, external_id=shopper.external_id)
    stranger_event = EventFactory(customer=stranger, type="view", occurred_at=now)
    CustomerProfile.objects.create(customer=shopper, merchant=merchant)
    CustomerProfile.objects.create(customer=bystander, merchant=merchant)
    segment = Segment.objects.create(merchant=merchant, name="All", slug="all", member_count=2)
    SegmentMembership.objects.create(segment=segment, customer=shopper, merchant=merchant)
    SegmentMembership.objects.create(segment=segment, customer=bystander, merchant=merchant)
    mine = conversation_of(
        merchant, shopper.external_id, shopper_text="I am Ines, call 0711 555", reply="Hi Ines!"
    )
    theirs = conversation_of(merchant, bystander.external_id, shopper_text="Gift cards?", reply="Yes.")
    elsewhere = conversation_of(other_merchant, shopper.external_id, shopper_text="Hello there", reply="Hi.")
    dialogue_of(merchant, mine, MINE, "a")
    kept_dialogue = dialogue_of(merchant, theirs, THEIRS, "b")
    audit_record(
        merchant=merchant,
        actor=ACTOR,
        action="customer.update",
        obj=shopper,
        changes={"email": shopper.email},
    )

    record = customer_erase(customer=shopper, actor=Actor.system("owner@example.com"))

    assert not type(shopper).objects.filter(pk=shopper.pk).exists()
    assert (
        not Event.objects.filter(merchant=merchant)
        .exclude(pk__in=[kept_anonymous.pk, kept_event.pk])
        .exists()
    )
    assert Event.objects.filter(pk=stranger_event.pk).exists()
    assert list(CustomerProfile.objects.values_list("customer_id", flat=True)) == [bystander.pk]
    assert list(SegmentMembership.objects.values_list("customer_id", flat=True)) == [bystander.pk]
    segment.refresh_from_db()
    assert segment.member_count == 1
    mine.refresh_from_db()
    assert (mine.customer_external_id, mine.session_secret) == ("", "")
    texts = texts_of(mine)
    assert texts["shopper"] == [ERASED_TEXT] and texts["bot"] == [""] and len(texts["system"]) == 1
    assert not mine.messages.exclude(prompt="", correction="").exists()
    assert not mine.messages.exclude(safety={}).exists()
    assert not SupportDialogue.objects.filter(conversation=mine).exists()
    assert SupportDialogue.objects.filter(pk=kept_dialogue.pk).exists()
    assert texts_of(theirs) == {"shopper": ["Gift cards?"], "bot": ["Yes."]}
    elsewhere.refresh_from_db()
    assert elsewhere.customer_external_id == shopper.external_id and texts_of(elsewhere)["shopper"] == [
        "Hello there"
    ]
    # An anonymised conversation can never become chat training data.
    assert conversation_turns(list(mine.messages.order_by("created_at", "id"))) == []
    assert mine.pk not in incremental_collect(merchant=merchant).conversation_ids

    assert record.customer_ref == customer_ref(merchant_id=merchant.pk, external_id="shopper-7f3a")
    assert record.deleted | {} == {
        "events": 2,
        "session_events": 1,
        "profile": 1,
        "segment_memberships": 1,
        "conversations_anonymised": 1,
        "messages_anonymised": 2,
        "training_dialogues": 1,
        "training_records": 0,
        "audit_entries_scrubbed": 1,
        "customer": 1,
    }
    assert record.model_versions == [] and record.retrain_purposes == []
    assert AuditLog.objects.filter(
        merchant=merchant, action="customer.erase", object_id=str(record.pk)
    ).exists()
    no_personal_data(merchant, "shopper-7f3a", "ines.varga@example.com", "Ines Varga")
    blob = json.dumps([record.deleted, record.model_versions, record.retrain_purposes, record.requested_by])
    assert "shopper-7f3a" not in blob and "Ines" not in blob


def test_erasure_records_lineage_redacts_training_data_and_queues_a_retrain(merchant, shopper, bystander):
    mine = conversation_of(merchant, shopper.external_id, shopper_text="Where is my order?", reply="Monday.")
    theirs = conversation_of(merchant, bystander.external_id, shopper_text="Gift cards?", reply="Yes.")
    dialogue_of(merchant, mine, MINE, "a")
    dialogue_of(merchant, theirs, THEIRS, "b")
    dialogue_of(merchant, None, IMPORTED, "c")
    base = ModelVersion.objects.create(name="chat-test-base", kind="base", path="/nonexistent/base")
    heldout = dataset(merchant, records(MINE), source="chat:heldout")
    # v1: an incremental run that learned from the customer's conversation (named and marked trained_in).
    v1 = ModelVersion.objects.create(
        merchant=merchant, name="northwind-chat-v1", purpose="chat", kind="lora", parent=base
    )
    finetune_job(
        merchant,
        data=dataset(merchant, records(MINE, IMPORTED)),
        base=base,
        result=v1,
        conversation_ids=[mine.pk],
        mode="incremental",
    )
    Conversation.objects.filter(pk=mine.pk).update(trained_in=v1)
    # v2: a full run from v1 over every training dialogue (the customer's included, not named), now serving.
    v2 = ModelVersion.objects.create(
        merchant=merchant, name="northwind-chat-v2", purpose="chat", kind="lora", parent=v1, status="promoted"
    )
    finetune_job(
        merchant,
        data=dataset(merchant, records(IMPORTED, THEIRS, MINE)),
        base=v1,
        result=v2,
        eval_dataset_id=heldout.pk,
    )
    Deployment.objects.create(merchant=merchant, purpose="chat", version=v2)
    # v3: fine-tuned from v2 later, not serving: carries the data through its parent.
    v3 = ModelVersion.objects.create(
        merchant=merchant, name="northwind-chat-v3", purpose="chat", kind="lora", parent=v2
    )
    # An unrelated version trained on other data only.
    clean = ModelVersion.objects.create(
        merchant=merchant, name="northwind-chat-other", purpose="chat", kind="lora", parent=base
    )
    finetune_job(merchant, data=dataset(merchant, records(THEIRS)), base=base, result=clean)

    record = customer_erase(customer=shopper, actor=ACTOR)

    versions = {v["id"]: v for v in record.model_versions}
    assert set(versions) == {v1.pk, v2.pk, v3.pk}
    assert any("conversation" in how for how in versions[v1.pk]["how"])
    assert any("job" in how for how in versions[v2.pk]["how"])
    assert versions[v3.pk]["how"] == ["fine-tuned from northwind-chat-v2"]
    assert (
        record.deleted["training_records"] == 3
    )  # one example in each of the two training sets and the held-out set
    for data in TrainingDataset.objects.filter(merchant=merchant):
        assert "blue kayak" not in json.dumps(data.records) and data.record_count == len(data.records)
    assert TrainingDataset.objects.get(pk=heldout.pk).records == []

    [retrain] = record.retrain_purposes
    job = Job.objects.get(pk=retrain["job_id"])
    assert retrain | {} == {
        "purpose": "chat",
        "status": "queued",
        "job_id": job.pk,
        "replaces": "northwind-chat-v2",
        "start_from": "chat-test-base",
        "records": 2,
    }
    assert job.status == "queued" and job.base_version == base and job.kind == "finetune"
    assert job.params["mode"] == "retrain" and job.params["erasure_retrain"] is True
    assert job.params["runner"] == "chat.finetune" and job.params["conversation_ids"] == []
    assert job.params["eval_dataset_id"] == heldout.pk and job.params["hyperparameters"]["method"] == "lora"
    trained_on = TrainingDataset.objects.get(pk=job.params["dataset_id"]).records
    assert trained_on == records(IMPORTED, THEIRS)
    no_personal_data(merchant, "shopper-7f3a", "ines.varga@example.com", "Ines Varga")


def test_a_second_erasure_joins_the_retrain_already_queued(merchant, shopper, bystander):
    base = ModelVersion.objects.create(name="chat-test-base", kind="base", path="/nonexistent/base")
    convs = [
        conversation_of(merchant, c.external_id, shopper_text="hi", reply="hello")
        for c in (shopper, bystander)
    ]
    dialogue_of(merchant, convs[0], MINE, "a")
    dialogue_of(merchant, convs[1], THEIRS, "b")
    v1 = ModelVersion.objects.create(
        merchant=merchant, name="chat-v1", purpose="chat", kind="lora", parent=base
    )
    finetune_job(merchant, data=dataset(merchant, records(MINE, THEIRS, IMPORTED)), base=base, result=v1)
    Deployment.objects.create(merchant=merchant, purpose="chat", version=v1)

    first = customer_erase(customer=shopper, actor=ACTOR)
    second = customer_erase(customer=bystander, actor=ACTOR)

    assert first.retrain_purposes[0]["job_id"] == second.retrain_purposes[0]["job_id"]
    assert Job.objects.filter(params__erasure_retrain=True).count() == 1
    queued = Job.objects.get(params__erasure_retrain=True)
    assert TrainingDataset.objects.get(pk=queued.params["dataset_id"]).records == records(IMPORTED)


def test_retrain_is_reported_impossible_when_the_training_data_is_gone(merchant, shopper):
    base = ModelVersion.objects.create(name="chat-test-base", kind="base", path="/nonexistent/base")
    conversation = conversation_of(merchant, shopper.external_id, shopper_text="hi", reply="hello")
    v1 = ModelVersion.objects.create(
        merchant=merchant, name="chat-v1", purpose="chat", kind="lora", parent=base
    )
    Conversation.objects.filter(pk=conversation.pk).update(trained_in=v1)
    Deployment.objects.create(merchant=merchant, purpose="chat", version=v1)

    record = customer_erase(customer=shopper, actor=ACTOR)

    assert [v["name"] for v in record.model_versions] == ["chat-v1"]
    [entry] = record.retrain_purposes
    assert entry["status"] == "not_possible" and "No training job" in entry["reason"]
    assert not Job.objects.exists()


# ---------- consent ----------


def test_withdrawing_profiling_consent_drops_profile_memberships_and_training_use(
    merchant, shopper, bystander
):
    CustomerProfile.objects.create(customer=shopper, merchant=merchant)
    CustomerProfile.objects.create(customer=bystander, merchant=merchant)
    segment = Segment.objects.create(merchant=merchant, name="All", slug="all", member_count=2)
    SegmentMembership.objects.create(segment=segment, customer=shopper, merchant=merchant)
    SegmentMembership.objects.create(segment=segment, customer=bystander, merchant=merchant)
    mine = conversation_of(merchant, shopper.external_id, shopper_text="Where is my order?", reply="Monday.")
    theirs = conversation_of(merchant, bystander.external_id, shopper_text="Gift cards?", reply="Yes.")
    dialogue_of(merchant, mine, MINE, "a")
    dialogue_of(merchant, theirs, THEIRS, "b")
    EventFactory(customer=shopper, type="view", occurred_at=timezone.now())

    shopper.consent_profiling = False
    shopper.save()
    consent_changed(customer=shopper, actor=ACTOR)

    assert not CustomerProfile.objects.filter(customer=shopper).exists()
    assert not SegmentMembership.objects.filter(customer=shopper).exists()
    segment.refresh_from_db()
    assert segment.member_count == 1
    assert list(SupportDialogue.objects.values_list("conversation_id", flat=True)) == [theirs.pk]
    assert Event.objects.filter(customer=shopper).count() == 1  # raw events stay (retention applies)
    assert CustomerProfile.objects.filter(customer=bystander).exists()
    # The chat trainer leaves the customer's conversations out from now on.
    assert incremental_collect(merchant=merchant).conversation_ids == [theirs.pk]
    entry = AuditLog.objects.get(merchant=merchant, action="customer.consent_withdrawn")
    assert entry.changes["removed"] == {"profile": 1, "segment_memberships": 1, "training_dialogues": 1}
    no_personal_data(merchant, "ines.varga@example.com", "Ines Varga")


def test_consent_given_changes_nothing(merchant, shopper):
    CustomerProfile.objects.create(customer=shopper, merchant=merchant)
    consent_changed(customer=shopper, actor=ACTOR)
    assert CustomerProfile.objects.filter(customer=shopper).exists()
    assert not AuditLog.objects.filter(action="customer.consent_withdrawn").exists()


def test_erasure_record_is_the_only_trace_left(merchant, shopper):
    customer_erase(customer=shopper, actor=ACTOR)
    assert ErasureRecord.objects.filter(merchant=merchant).count() == 1
    assert ErasureRecord.objects.get().requested_by == "privacy-test"
