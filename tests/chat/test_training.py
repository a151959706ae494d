"""Chat fine-tuning: the API's validation, the whole job path in-process on a tiny random model (held-out and
regression-set evaluation, the promotion gate), and incremental fine-tuning from resolved conversations."""

import pytest
from django.utils import timezone

from accounts.services import Actor
from chat.models import Conversation, Message, SupportDialogue
from chat.training.dialogues import dialogue_import
from chat.training.services import (
    FinetuneRefused,
    chat_finetune_start,
    chat_incremental_finetune_start,
    conversation_turns,
    incremental_collect,
)
from ml.models import Deployment, Job, ModelVersion, TrainingDataset
from ml.services import PromotionRefused, promotion_gate, version_promote
from ml.tasks import finetune_task
from tests.chat.training_data import dialogues, jsonl
from tests.ml.engine.conftest import build_tiny_checkpoint

pytestmark = pytest.mark.django_db

FINETUNE = "/api/v1/chat/finetune/"
FAST = {
    "max_steps": 6,
    "batch_size": 8,
    "learning_rate": 0.005,
    "max_seq_len": 128,
    "eval_every": 0,
    "checkpoint_every": 0,
}


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-chat-base"))


@pytest.fixture
def tiny_base(tiny_path, settings, tmp_path):
    settings.MODEL_STORE_DIR = tmp_path / "store"
    return ModelVersion.objects.create(name="tiny-base", kind="base", path=str(tiny_path))


@pytest.fixture
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def import_dialogues(merchant, count, offset=0):
    return dialogue_import(
        merchant=merchant,
        actor=Actor.system("test"),
        data=jsonl(dialogues(count, offset=offset)),
        filename="d.jsonl",
    )


def run_job(job: Job) -> Job:
    """What the ml worker does with the queued task, in this process."""
    assert finetune_task(job.pk) in ("succeeded", "failed")
    job.refresh_from_db()
    return job


# --- the API ------------------------------------------------------------------------------------------------


def test_invalid_hyperparameters_answer_400_with_field_errors(api_client, merchant, tiny_base):
    import_dialogues(merchant, 60)
    response = api_client.post(
        FINETUNE, {"hyperparameters": {"learning_rate": 5, "epochs": "two", "warp_speed": 9}}, format="json"
    )
    assert response.status_code == 400
    errors = response.json()["field_errors"]["hyperparameters"]
    assert "warp_speed" in errors
    response = api_client.post(
        FINETUNE, {"hyperparameters": {"learning_rate": 5, "epochs": "two"}}, format="json"
    )
    errors = response.json()["field_errors"]["hyperparameters"]
    assert set(errors) == {"learning_rate", "epochs"}
    assert not Job.objects.exists()


def test_too_few_training_dialogues_answer_400(api_client, merchant, tiny_base):
    import_dialogues(merchant, 12)
    response = api_client.post(FINETUNE, {}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "too_few_dialogues"
    assert not Job.objects.exists()


def test_a_second_start_while_one_runs_answers_409(
    api_client, merchant, tiny_base, django_capture_on_commit_callbacks
):
    import_dialogues(merchant, 60)
    with django_capture_on_commit_callbacks(execute=False):
        first = api_client.post(FINETUNE, {"hyperparameters": FAST}, format="json")
        second = api_client.post(FINETUNE, {"incremental": True}, format="json")
    assert first.status_code == 202, first.json()
    assert second.status_code == 409
    assert second.json()["code"] == "already_running"
    assert Job.objects.filter(merchant=merchant).count() == 1


def test_outsiders_get_404_for_the_job_and_see_none_of_the_data(
    api_client, outsider_api_client, merchant, tiny_base, django_capture_on_commit_callbacks
):
    import_dialogues(merchant, 60)
    with django_capture_on_commit_callbacks(execute=False):
        job_id = api_client.post(FINETUNE, {"hyperparameters": FAST}, format="json").json()["id"]
    assert outsider_api_client.get(f"/api/v1/jobs/{job_id}/").status_code == 404
    assert api_client.get(f"/api/v1/jobs/{job_id}/").status_code == 200
    assert outsider_api_client.get("/api/v1/chat/dialogues/").json()["count"] == 0
    # The outsider has no dialogues of its own, so it cannot start a fine-tune on this merchant's.
    assert outsider_api_client.post(FINETUNE, {}, format="json").json()["code"] == "too_few_dialogues"


def test_starting_needs_the_write_scope(make_api_client, merchant, tiny_base):
    assert make_api_client(merchant, scopes=("read",)).post(FINETUNE, {}, format="json").status_code == 403


# --- the job ------------------------------------------------------------------------------------------------


def test_a_chat_finetune_reports_base_and_tuned_held_out_figures_and_is_promoted(
    api_client, merchant, tiny_base, one_thread, django_capture_on_commit_callbacks
):
    import_dialogues(merchant, 120)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api_client.post(FINETUNE, {"hyperparameters": FAST, "name": "chat-v1"}, format="json")
    assert response.status_code == 202, response.json()
    assert len(callbacks) == 1  # queued on commit
    job = Job.objects.get(pk=response.json()["id"])
    assert (job.params["purpose"], job.params["mode"], job.base_version) == ("chat", "full", tiny_base)
    train = TrainingDataset.objects.get(pk=job.params["dataset_id"])
    heldout = TrainingDataset.objects.get(pk=job.params["eval_dataset_id"])
    regression = TrainingDataset.objects.get(pk=job.params["regression_dataset_id"])
    assert train.record_count == SupportDialogue.objects.filter(merchant=merchant, split="train").count()
    assert (
        regression.record_count
        == SupportDialogue.objects.filter(merchant=merchant, split="regression").count()
        == 20
    )
    # Examples are chat messages: the system prompt, the customer's turn, and the agent's reply to learn.
    first = train.records[0]
    assert first["prompt"][0]["role"] == "system" and first["prompt"][-1]["role"] == "user"

    job = run_job(job)
    assert job.status == "succeeded", (job.error, job.logs)
    m = job.metrics
    assert (m["heldout_examples"], m["heldout_source"]) == (heldout.record_count, "held-out dialogues")
    assert m["tuned_heldout_loss"] < m["base_heldout_loss"]
    assert m["tuned_heldout_perplexity"] < m["base_heldout_perplexity"]
    assert m["perplexity_reduction"] == pytest.approx(
        1 - m["tuned_heldout_perplexity"] / m["base_heldout_perplexity"], abs=1e-3
    )
    assert m["regression_examples"] == 20
    assert m["regression_loss"] < m["parent_regression_loss"]
    assert m["promotion"]["promoted"] is True

    version = job.result_version
    assert (version.purpose, version.kind, version.status, version.parent) == (
        "chat",
        "lora",
        "promoted",
        tiny_base,
    )
    assert version.metrics["eval_loss"] == pytest.approx(m["tuned_heldout_loss"], abs=1e-4)
    assert version.metrics["regression_loss"] == m["regression_loss"]
    deployment = Deployment.objects.get(merchant=merchant, purpose="chat", is_active=True)
    assert deployment.version == version
    assert deployment.gate_report["regression_loss"] == m["regression_loss"]


def test_the_gate_refuses_a_version_that_is_worse_on_the_regression_set(merchant, tiny_base):
    version = ModelVersion.objects.create(
        merchant=merchant,
        name="chat-worse",
        purpose="chat",
        kind="lora",
        parent=tiny_base,
        path="/nowhere",
        metrics={
            "eval_loss": 1.0,
            "parent_eval_loss": 2.0,
            "regression_loss": 2.51,
            "parent_regression_loss": 2.5,
        },
    )
    gate = promotion_gate(version)
    assert gate["passed"] is False
    assert "Regression-set loss 2.5100 is worse than its parent's 2.5000" in gate["reason"]
    with pytest.raises(PromotionRefused):
        version_promote(merchant=merchant, version=version, purpose="chat", actor=Actor.system("test"))
    version.metrics["regression_loss"] = 2.5
    ModelVersion.objects.filter(pk=version.pk).update(metrics=version.metrics)
    version.refresh_from_db()
    assert promotion_gate(version)["passed"] is True


def test_a_model_that_forgets_the_regression_set_is_trained_but_not_promoted(
    merchant, tiny_base, one_thread, django_capture_on_commit_callbacks
):
    import_dialogues(merchant, 120)
    actor = Actor.system("test")
    # Full fine-tuning, long enough for the tiny model to learn the replies well (LoRA on a random model
    # cannot), so that there is something to forget.
    settled = {**FAST, "method": "full", "max_steps": 30, "learning_rate": 0.003}
    with django_capture_on_commit_callbacks(execute=False):
        first = run_job(chat_finetune_start(merchant=merchant, actor=actor, hyperparameters=settled))
    assert first.metrics["promotion"]["promoted"] is True, first.metrics["promotion"]
    # The merchant's replies change completely (training and held-out alike), the fixed regression set does
    # not: learning the new replies makes the model worse at the old ones, which is forgetting.
    for dialogue in SupportDialogue.objects.filter(merchant=merchant).exclude(split="regression"):
        dialogue.turns[1]["text"] = "Zebra quantum violin: xylophone marmalade, " + dialogue.intent
        dialogue.save(update_fields=["turns"])
    with django_capture_on_commit_callbacks(execute=False):
        second = chat_finetune_start(
            merchant=merchant, actor=actor, hyperparameters={**settled, "max_steps": 15}
        )
    assert second.base_version == first.result_version
    second = run_job(second)
    assert second.status == "succeeded", (second.error, second.logs)
    assert second.metrics["tuned_heldout_loss"] < second.metrics["base_heldout_loss"]
    assert second.metrics["regression_loss"] > second.metrics["parent_regression_loss"]
    assert second.metrics["promotion"]["promoted"] is False
    assert "worse than its parent" in second.metrics["promotion"]["reason"]
    assert (second.result_version.kind, second.result_version.status) == ("full", "ready")
    assert second.result_version.metrics["promotion"]["promoted"] is False
    serving = Deployment.objects.get(merchant=merchant, purpose="chat", is_active=True)
    assert serving.version == first.result_version


# --- incremental --------------------------------------------------------------------------------------------


def make_conversation(merchant, messages, *, status="resolved"):
    conversation = Conversation.objects.create(
        merchant=merchant, status=status, resolved_at=timezone.now() if status == "resolved" else None
    )
    for role, text, extra in messages:
        Message.objects.create(conversation=conversation, merchant=merchant, role=role, text=text, **extra)
    return conversation


def test_conversation_turns_prefer_corrections_count_staff_and_drop_bad_replies():
    def msg(role, text, **extra):
        return Message(role=role, text=text, status=extra.pop("status", "complete"), **extra)

    turns = conversation_turns(
        [
            msg("bot", "Hi! How can I help?"),  # before the shopper speaks: not a reply to anything
            msg("shopper", "Can I return sandals?"),
            msg("bot", "No returns, ever.", rating=-1, correction="Yes, within 30 days if unworn."),
            msg("shopper", "And the belt?"),
            msg("bot", "Belts cannot be worn.", rating=-1),  # rated bad, nothing better given: dropped
            msg("system", "Handed to a person."),
            msg("shopper", "Hello?"),
            msg("staff", "Sorry for the wait: belts too, within 30 days."),
            msg("bot", "", status="failed"),
            msg("shopper", "Thanks!"),  # no reply after it: not a training turn
        ]
    )
    assert turns == [
        {"role": "customer", "text": "Can I return sandals?"},
        {"role": "agent", "text": "Yes, within 30 days if unworn."},
        {"role": "customer", "text": "And the belt?\nHello?"},
        {"role": "agent", "text": "Sorry for the wait: belts too, within 30 days."},
    ]
    assert conversation_turns([msg("shopper", "Anyone?"), msg("bot", "Wrong.", rating=-1)]) == []


def test_incremental_collects_resolved_untrained_conversations_masked(merchant, tiny_base):
    corrected = make_conversation(
        merchant,
        [
            ("shopper", "My email is sam@example.com, where is order 55812937?", {}),
            ("bot", "I don't know.", {"rating": -1, "correction": "Order [ORDER_NUMBER] ships tomorrow."}),
        ],
    )
    plain = make_conversation(
        merchant, [("shopper", "Do you ship to Canada?", {}), ("bot", "Yes, in 5 days.", {})]
    )
    make_conversation(merchant, [("shopper", "Still open?", {}), ("bot", "Yes.", {})], status="open")
    earlier = ModelVersion.objects.create(
        merchant=merchant, name="v0", purpose="chat", kind="lora", parent=tiny_base
    )
    trained = make_conversation(merchant, [("shopper", "Old question?", {}), ("bot", "Old answer.", {})])
    Conversation.objects.filter(pk=trained.pk).update(trained_in=earlier)

    collected = incremental_collect(merchant=merchant)
    assert collected.conversation_ids == [
        corrected.pk,
        plain.pk,
    ]  # corrected first; open and trained ones left out
    assert collected.masked_counts == {"email": 1, "order_number": 1}
    stored = SupportDialogue.objects.get(conversation=corrected)
    assert stored.source == "conversation" and stored.split in ("train", "heldout")
    assert stored.turns == [
        {"role": "customer", "text": "My email is [EMAIL], where is order [ORDER_NUMBER]?"},
        {"role": "agent", "text": "Order [ORDER_NUMBER] ships tomorrow."},
    ]
    # Collecting again (a job that never ran) reuses the stored dialogues.
    assert len(incremental_collect(merchant=merchant).dialogues) == 2
    assert SupportDialogue.objects.filter(merchant=merchant, source="conversation").count() == 2


def test_nothing_new_skips_without_a_job(api_client, merchant, tiny_base):
    import_dialogues(merchant, 40)
    response = api_client.post(FINETUNE, {"incremental": True}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "nothing_new"
    assert not Job.objects.exists()


def test_incremental_trains_new_dialogues_with_a_replay_sample_and_marks_the_conversations(
    api_client, merchant, tiny_base, one_thread, django_capture_on_commit_callbacks
):
    import_dialogues(merchant, 100)
    conversations = [
        make_conversation(
            merchant,
            [
                ("shopper", f"Is the {item} machine washable?", {}),
                (
                    "bot",
                    "Maybe.",
                    {"rating": -1, "correction": f"Yes, wash the {item} cold and dry it flat."},
                ),
            ],
        )
        for item in ["shirt", "hoodie", "scarf", "dress", "jacket", "cap", "socks", "belt"]
    ]
    with django_capture_on_commit_callbacks(execute=False):
        response = api_client.post(FINETUNE, {"incremental": True, "hyperparameters": FAST}, format="json")
    assert response.status_code == 202, response.json()
    job = Job.objects.get(pk=response.json()["id"])
    new = job.params["new_dialogues"]
    assert (
        new
        == SupportDialogue.objects.filter(merchant=merchant, source="conversation", split="train").count()
        >= 1
    )
    assert job.params["replay_dialogues"] == 2 * new
    records = TrainingDataset.objects.get(pk=job.params["dataset_id"]).records
    assert len(records) == 3 * new
    assert (
        sum("wash the" in r["response"] for r in records) == new
    )  # the corrections, not the bad bot replies
    assert not any(r["response"] == "Maybe." for r in records)
    assert sorted(job.params["conversation_ids"]) == sorted(c.pk for c in conversations)

    job = run_job(job)
    assert job.status == "succeeded", (job.error, job.logs)
    assert set(
        Conversation.objects.filter(pk__in=[c.pk for c in conversations]).values_list("trained_in", flat=True)
    ) == {job.result_version_id}
    assert "promotion" in job.metrics
    # Nothing new now: the beat task's next run finds no candidates and starts nothing.
    from chat.training.tasks import incremental_finetune_sweep_task, incremental_finetune_task

    assert incremental_finetune_sweep_task() == []
    assert incremental_finetune_task(merchant.pk).startswith("skipped:")
    assert Job.objects.filter(merchant=merchant).count() == 1


def test_the_beat_task_starts_one_job_per_merchant_with_new_conversations(
    merchant, other_merchant, tiny_base, django_capture_on_commit_callbacks, monkeypatch
):
    from chat.training import tasks as training_tasks

    import_dialogues(merchant, 60)
    for n in range(10):
        make_conversation(
            merchant, [("shopper", f"Question number {n} about sizes?", {}), ("staff", f"Answer {n}.", {})]
        )
    queued = []
    monkeypatch.setattr(
        training_tasks.incremental_finetune_task, "apply_async", lambda args, queue: queued.append(args)
    )
    assert training_tasks.incremental_finetune_sweep_task() == [merchant.pk]
    assert queued == [[merchant.pk]]
    with django_capture_on_commit_callbacks(execute=False):
        assert training_tasks.incremental_finetune_task(merchant.pk).startswith("job ")
        # Delivered twice: the second finds the job running.
        assert "still queued" in training_tasks.incremental_finetune_task(merchant.pk)
    assert Job.objects.filter(merchant=merchant).count() == 1
    assert training_tasks.incremental_finetune_task(other_merchant.pk).startswith("skipped:")


def test_the_beat_schedule_has_the_incremental_entry(settings):
    from config.celery import app

    entry = app.conf.beat_schedule["chat-incremental-finetune"]
    assert entry["task"] == "chat.training_tasks.incremental_finetune_sweep_task"
    assert entry["schedule"] == settings.CHAT_INCREMENTAL_FINETUNE_SCHEDULE_SECONDS
    assert "chat.training_tasks.incremental_finetune_sweep_task" in app.tasks


def test_incremental_refuses_while_a_job_runs(merchant, tiny_base, django_capture_on_commit_callbacks):
    import_dialogues(merchant, 60)
    make_conversation(merchant, [("shopper", "Hi there, a question?", {}), ("staff", "Sure, ask.", {})])
    with django_capture_on_commit_callbacks(execute=False):
        chat_finetune_start(merchant=merchant, actor=Actor.system("test"), hyperparameters=FAST)
        with pytest.raises(FinetuneRefused) as refused:
            chat_incremental_finetune_start(merchant=merchant, actor=Actor.system("test"))
    assert refused.value.conflict and refused.value.code == "already_running"
