"""The Chat training page: importing support dialogues (the report with masked personal data, duplicates,
per-row errors and splits; bad files refused with a message, never a 500), the training data by split and
source, starting full and incremental chat fine-tunes (hyperparameter errors on their fields, refusals in plain
words, a link to the job page), the chat versions with their measurements, roles (viewers read, editors and
owners act) and other merchants' data staying out of sight."""

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import Role
from accounts.services import Actor
from chat.models import Conversation, DialogueImport, Message, SupportDialogue
from chat.training.dialogues import dialogue_import
from ml.models import Job, ModelVersion
from tests.chat.training_data import bitext_csv, dialogues, jsonl

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
PAGE = reverse("chat:training")
IMPORT = reverse("chat:training_import_upload")
START = reverse("chat:training_start")
ACTOR = Actor.system("test")


@pytest.fixture
def base_model(db):
    """A registered base model to start from; no job runs in these tests (queued on commit, never committed)."""
    return ModelVersion.objects.create(name="chat-test-base", kind="base", path="/nonexistent/chat-test-base")


def upload(name: str, content: bytes, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def import_dialogues(merchant, count, offset=0, filename="d.jsonl"):
    return dialogue_import(
        merchant=merchant, actor=ACTOR, data=jsonl(dialogues(count, offset=offset)), filename=filename
    )


def text(response) -> str:
    return response.content.decode()


def resolved_conversation(merchant, question: str, answer: str) -> Conversation:
    conversation = Conversation.objects.create(merchant=merchant, status="resolved")
    Message.objects.create(conversation=conversation, merchant=merchant, role="shopper", text=question)
    Message.objects.create(conversation=conversation, merchant=merchant, role="staff", text=answer)
    return conversation


# ---------- The page and who sees what ----------


def test_empty_state_says_what_to_upload_and_offers_the_forms(login):
    response = login().get(PAGE)
    html = text(response)
    assert response.status_code == 200
    assert 'data-testid="training-empty"' in html and "No support dialogues yet" in html
    assert "at least 20" in html and "[EMAIL]" in html
    assert 'data-testid="training-import-form"' in html and 'data-testid="finetune-form"' in html
    # The format help shows a tiny example of each layout.
    assert "conversation_id,role,text" in html and "instruction,intent,response" in html
    assert "&quot;turns&quot;" in html
    assert 'data-testid="no-versions"' in html


def test_the_chat_pages_link_to_training(login):
    client = login(Role.VIEWER)
    for name in ("chat:inbox", "chat:knowledge", "chat:settings"):
        assert f'href="{PAGE}"' in text(client.get(reverse(name))), name


def test_viewers_see_the_data_but_not_the_forms(login, merchant):
    import_dialogues(merchant, 30)
    html = text(login(Role.VIEWER).get(PAGE))
    assert 'data-testid="training-data"' in html and 'data-testid="training-read-only"' in html
    assert 'data-testid="training-import-form"' not in html and 'data-testid="finetune-form"' not in html


@pytest.mark.parametrize("role", [Role.VIEWER, Role.REVIEWER])
def test_roles_without_edit_cannot_import_or_start(login, merchant, base_model, role):
    import_dialogues(merchant, 30)
    client = login(role)
    assert (
        client.post(IMPORT, {"file": upload("d.jsonl", jsonl(dialogues(5, offset=100)))}).status_code == 403
    )
    assert client.post(START, {"mode": "full"}).status_code == 403
    assert DialogueImport.objects.count() == 1 and not Job.objects.exists()


def test_editors_can_import(login, merchant):
    response = login(Role.EDITOR).post(IMPORT, {"file": upload("d.jsonl", jsonl(dialogues(5)))}, **HTMX)
    assert response.status_code == 200 and SupportDialogue.objects.filter(merchant=merchant).count() == 5


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(PAGE)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.post(IMPORT).status_code == 302


def test_outsiders_see_only_their_own_merchant(client, outsider, merchant, other_merchant):
    batch = import_dialogues(merchant, 30, filename="northwind-secrets.jsonl")
    ModelVersion.objects.create(merchant=merchant, name="northwind-chat-v1", purpose="chat", kind="lora")
    client.force_login(outsider)
    html = text(client.get(PAGE))
    assert "northwind-secrets.jsonl" not in html and "northwind-chat-v1" not in html
    assert 'data-testid="training-empty"' in html
    assert client.get(reverse("chat:training_import", args=[batch.pk])).status_code == 404
    # An import by the outsider lands in its own merchant.
    client.post(IMPORT, {"file": upload("mine.jsonl", jsonl(dialogues(3)))}, **HTMX)
    assert SupportDialogue.objects.filter(merchant=other_merchant).count() == 3
    assert SupportDialogue.objects.filter(merchant=merchant).count() == 30


# ---------- Importing ----------


def test_an_upload_answers_its_report(login, merchant):
    rows = dialogues(30)
    rows[0]["turns"][0]["text"] = "I'm jane.doe@example.com, call me on +1 415 555 0134 about order 55812937."
    lines = [json.dumps(r) for r in rows]
    lines.insert(3, '{"turns": [{"role": "customer", "text": "Only a question"}]}')
    lines.insert(5, "this is not json")
    response = login().post(IMPORT, {"file": upload("support.jsonl", "\n".join(lines).encode())}, **HTMX)
    html = text(response)
    assert response.status_code == 200 and "<html" not in html
    assert response["HX-Trigger"] == "training-changed"
    assert re.search(r'data-testid="report-rows">32<', html)
    assert re.search(r'data-testid="report-imported">30<', html)
    assert re.search(r'data-testid="report-duplicates">0<', html)
    assert re.search(r'data-testid="report-errors"[^>]*>2<', html)
    errors = re.search(r'data-testid="import-errors".*?</table>', html, re.DOTALL).group(0)
    assert '<td class="num">4</td>' in errors and '<td class="num">6</td>' in errors
    masked = re.search(r'data-testid="report-masked".*?</ul>', html, re.DOTALL).group(0)
    assert re.search(r"Email addresses <code>\[EMAIL\]</code>: <strong>1</strong>", masked)
    assert "Phone numbers" in masked and "Order numbers" in masked
    splits = re.search(r'data-testid="report-splits".*?</ul>', html, re.DOTALL).group(0)
    stored = {
        s: SupportDialogue.objects.filter(merchant=merchant, split=s).count()
        for s in ("train", "heldout", "regression")
    }
    assert f"Training: <strong>{stored['train']}</strong>" in splits
    assert f"Held-out: <strong>{stored['heldout']}</strong>" in splits
    assert f"Regression set: <strong>{stored['regression']}</strong>" in splits
    assert sum(stored.values()) == 30
    stored_text = json.dumps([d.turns for d in SupportDialogue.objects.filter(merchant=merchant)])
    assert "[EMAIL]" in stored_text and "jane.doe" not in stored_text and "555 0134" not in stored_text


def test_the_same_file_again_counts_duplicates(login, merchant):
    client = login()
    data = jsonl(dialogues(12))
    client.post(IMPORT, {"file": upload("d.jsonl", data)}, **HTMX)
    html = text(
        client.post(
            IMPORT, {"file": upload("d.jsonl", data + b"\n" + jsonl(dialogues(2, offset=40)))}, **HTMX
        )
    )
    assert re.search(r'data-testid="report-imported">2<', html)
    assert re.search(r'data-testid="report-duplicates">12<', html)
    assert SupportDialogue.objects.filter(merchant=merchant).count() == 14


def test_a_bitext_csv_with_a_chosen_layout_imports(login, merchant):
    data = bitext_csv(
        [
            ("How do I cancel order 1234?", "cancel_order", "I can help you cancel it."),
            ("Where is my refund?", "track_refund", "Refunds take 5 days."),
        ]
    )
    html = text(login().post(IMPORT, {"file": upload("bitext.csv", data), "format": "bitext"}, **HTMX))
    assert re.search(r'data-testid="report-imported">2<', html) and "(bitext)" in html
    assert set(SupportDialogue.objects.filter(merchant=merchant).values_list("intent", flat=True)) == {
        "cancel_order",
        "track_refund",
    }


def test_a_plain_form_post_lands_on_the_import_report(login, merchant):
    client = login()
    response = client.post(IMPORT, {"file": upload("d.jsonl", jsonl(dialogues(6)))})
    batch = DialogueImport.objects.get(merchant=merchant)
    assert response.status_code == 302 and response["Location"] == reverse(
        "chat:training_import", args=[batch.pk]
    )
    html = text(client.get(response["Location"]))
    assert "d.jsonl" in html and re.search(r'data-testid="report-imported">6<', html)


FIELD, IMPORT_FAILED = 'data-testid="training-file-error"', 'data-testid="import-failed"'


# The form refuses on the field what it can tell by itself; the import's refusal is said once, above the form.
@pytest.mark.parametrize(
    ("name", "content", "where", "expected"),
    [
        ("empty.jsonl", b"", FIELD, "The submitted file is empty."),
        ("export.xlsx", b"PK\x03\x04 binary", FIELD, "Upload a .csv, .jsonl or .json file."),
        ("blank.jsonl", b"\n\n", IMPORT_FAILED, "The file holds no valid dialogue"),
        (
            "latin.csv",
            "conversation_id,role,text\nc1,customer,Caf\xe9\n".encode("latin-1"),
            IMPORT_FAILED,
            "The file holds no valid dialogue",
        ),
        (
            "only-questions.jsonl",
            jsonl([{"turns": [{"role": "customer", "text": "Hello?"}]}] * 3),
            IMPORT_FAILED,
            "3 row(s) were rejected",
        ),
        ("notes.csv", b"name,comment\nAnn,hello\n", IMPORT_FAILED, "The file holds no valid dialogue"),
    ],
)
def test_bad_files_are_refused_with_a_message_and_nothing_is_written(login, name, content, where, expected):
    response = login().post(IMPORT, {"file": upload(name, content)}, **HTMX)
    html = text(response)
    assert response.status_code == 422
    assert expected in html and where in html
    assert not DialogueImport.objects.exists() and not SupportDialogue.objects.exists()
    assert "HX-Trigger" not in response


def test_rejected_rows_are_listed_when_nothing_could_be_imported(login):
    html = text(login().post(IMPORT, {"file": upload("bad.jsonl", b'{"turns": []}\nnot json\n')}, **HTMX))
    assert 'data-testid="import-failed"' in html and "Nothing was imported" in html
    errors = re.search(r'data-testid="import-errors".*?</table>', html, re.DOTALL).group(0)
    assert '<td class="num">1</td>' in errors and '<td class="num">2</td>' in errors


def test_an_oversized_file_is_refused_before_it_is_parsed(login, settings, monkeypatch):
    settings.CHAT_DIALOGUE_IMPORT_MAX_BYTES = 1000
    monkeypatch.setattr(
        "chat.training.views.dialogue_import", lambda **kw: pytest.fail("parsed an oversized file")
    )
    response = login().post(IMPORT, {"file": upload("big.jsonl", jsonl(dialogues(40)))}, **HTMX)
    assert response.status_code == 422
    assert "the limit is 1000" in text(response)


def test_no_file_and_an_unknown_layout_are_field_errors(login):
    client = login()
    response = client.post(IMPORT, {}, **HTMX)
    assert response.status_code == 422 and "This field is required." in text(response)
    response = client.post(IMPORT, {"file": upload("d.jsonl", jsonl(dialogues(3))), "format": "xml"}, **HTMX)
    assert response.status_code == 422 and "Select a valid choice" in text(response)
    assert not SupportDialogue.objects.exists()


def test_a_plain_form_post_with_a_bad_file_shows_the_whole_page(login):
    response = login().post(IMPORT, {"file": upload("notes.csv", b"name,comment\nAnn,hello\n")})
    html = text(response)
    assert response.status_code == 422 and "<html" in html and "The file holds no valid dialogue" in html


# ---------- The training data ----------


def test_counts_per_split_and_source_recent_imports_and_escaped_examples(login, merchant):
    import_dialogues(merchant, 40, filename="first.jsonl")
    import_dialogues(merchant, 5, offset=50, filename="second.jsonl")
    SupportDialogue.objects.create(
        merchant=merchant,
        source="conversation",
        split="train",
        content_hash="x" * 64,
        turns=[
            {"role": "customer", "text": "<script>alert(1)</script> is my [EMAIL] ok?"},
            {"role": "agent", "text": "Yes, <b>it is</b>."},
        ],
    )
    resolved_conversation(merchant, "Do you ship to Canada?", "Yes, within 5 days.")
    html = text(login(Role.VIEWER).get(PAGE))
    for split in ("train", "heldout", "regression"):
        row = re.search(rf'data-testid="split-{split}".*?</tr>', html, re.DOTALL).group(0)
        cells = [int(n) for n in re.findall(r'<td class="num">(?:<strong>)?(\d+)', row)]
        imported = SupportDialogue.objects.filter(merchant=merchant, split=split, source="import").count()
        from_conversations = SupportDialogue.objects.filter(
            merchant=merchant, split=split, source="conversation"
        ).count()
        assert cells == [imported, from_conversations, imported + from_conversations], split
    assert re.search(r'data-testid="waiting-conversations">1 resolved conversation<', html)
    recent = re.search(r'data-testid="recent-imports".*?</table>', html, re.DOTALL).group(0)
    assert recent.index("second.jsonl") < recent.index("first.jsonl")
    examples = re.search(r'data-testid="example-dialogues".*?</ul>', html, re.DOTALL).group(0)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; is my [EMAIL] ok?" in examples
    assert "<script>alert" not in html and "Yes, &lt;b&gt;it is&lt;/b&gt;." in examples


def test_htmx_refreshes_answer_one_panel(login, merchant):
    import_dialogues(merchant, 10)
    client = login()
    data = text(client.get(PAGE, {"part": "data"}, **HTMX))
    assert "<html" not in data and 'data-testid="training-data"' in data and "versions-table" not in data
    versions = text(client.get(PAGE, {"part": "versions"}, **HTMX))
    assert 'data-testid="training-versions"' in versions and "training-data" not in versions
    # Without HTMX (or with an unknown part) it is the whole page.
    assert "<html" in text(client.get(PAGE, {"part": "data"}))
    assert "<html" in text(client.get(PAGE, {"part": "bogus"}, **HTMX))


# ---------- Starting a fine-tune ----------


def test_a_full_fine_tune_starts_and_links_to_its_job_page(login, merchant, base_model):
    import_dialogues(merchant, 60)
    response = login().post(
        START,
        {
            "mode": "full",
            "max_steps": "12",
            "learning_rate": "0.001",
            "name": "chat-spring",
            "auto_promote": "on",
        },
        **HTMX,
    )
    html = text(response)
    job = Job.objects.get(merchant=merchant)
    assert response.status_code == 200 and response["HX-Trigger"] == "training-changed"
    assert (
        f'href="{reverse("ml:job_detail", args=[job.pk])}"' in html
        and 'data-testid="started-job-link"' in html
    )
    assert (job.params["mode"], job.params["name"], job.params["auto_promote"]) == (
        "full",
        "chat-spring",
        True,
    )
    assert job.params["hyperparameters"]["max_steps"] == 12
    assert job.params["hyperparameters"]["learning_rate"] == 0.001
    assert job.params["hyperparameters"]["max_seq_len"] == 320  # chat.training's defaults fill the rest
    assert job.base_version == base_model

    jobs = text(login().get(PAGE, {"part": "jobs"}, **HTMX))
    assert 'data-testid="training-running"' in jobs and f'data-testid="job-link-{job.pk}"' in jobs


def test_blank_settings_keep_the_defaults_and_an_unticked_box_turns_promotion_off(
    login, merchant, base_model
):
    import_dialogues(merchant, 60)
    login().post(START, {"mode": "full", "method": "lora"}, **HTMX)
    job = Job.objects.get(merchant=merchant)
    assert job.params["auto_promote"] is False
    assert {k: job.params["hyperparameters"][k] for k in ("epochs", "learning_rate", "method")} == {
        "epochs": 1,
        "learning_rate": 2e-4,
        "method": "lora",
    }
    assert job.params["hyperparameters"].get("max_steps") is None


def test_a_plain_form_post_returns_to_the_page_with_the_job_link(login, merchant, base_model):
    import_dialogues(merchant, 60)
    client = login()
    response = client.post(START, {"mode": "full", "auto_promote": "on"})
    job = Job.objects.get(merchant=merchant)
    assert response.status_code == 302 and response["Location"] == PAGE
    html = text(client.get(PAGE))
    assert f"Fine-tuning job #{job.pk} is queued" in html
    assert re.search(
        rf'data-testid="running-job-link"|href="{reverse("ml:job_detail", args=[job.pk])}"', html
    )


def test_invalid_settings_are_shown_on_their_fields(login, merchant, base_model):
    import_dialogues(merchant, 60)
    client = login()
    response = client.post(START, {"mode": "full", "learning_rate": "5", "epochs": "0"}, **HTMX)
    html = text(response)
    assert response.status_code == 422
    assert re.search(r'id="id_learning_rate_error">must be in \(0, 0.01\]<', html)
    assert re.search(r'id="id_epochs_error">must be an integer between 1 and 100<', html)
    response = client.post(START, {"mode": "full", "max_steps": "two", "learning_rate": "nan"}, **HTMX)
    html = text(response)
    assert response.status_code == 422
    assert re.search(r'id="id_max_steps_error">Enter a whole number.<', html)
    assert re.search(r'id="id_learning_rate_error">Enter a number.<', html)
    response = client.post(START, {"mode": "sideways"}, **HTMX)
    assert response.status_code == 422 and "Select a valid choice" in text(response)
    assert not Job.objects.exists()


def test_too_few_dialogues_is_a_friendly_message(login, merchant, base_model):
    import_dialogues(merchant, 8)
    response = login().post(START, {"mode": "full"}, **HTMX)
    html = text(response)
    assert response.status_code == 422
    assert 'data-code="too_few_dialogues"' in html and "Too few dialogues to train on." in html
    assert "at least 20 are needed" in html and not Job.objects.exists()


def test_a_second_start_while_one_runs_links_to_the_running_job(login, merchant, base_model):
    import_dialogues(merchant, 60)
    client = login()
    client.post(START, {"mode": "full"}, **HTMX)
    running = Job.objects.get(merchant=merchant)
    response = client.post(START, {"mode": "incremental"}, **HTMX)
    html = text(response)
    assert response.status_code == 409
    assert "A chat fine-tune is already running." in html
    assert f'href="{reverse("ml:job_detail", args=[running.pk])}"' in html
    assert Job.objects.filter(merchant=merchant).count() == 1


def test_incremental_with_nothing_new_says_so(login, merchant, base_model):
    import_dialogues(merchant, 40)
    response = login().post(START, {"mode": "incremental"}, **HTMX)
    html = text(response)
    assert response.status_code == 409 and 'data-code="nothing_new"' in html
    assert "Nothing new to learn from." in html and not Job.objects.exists()


def test_incremental_trains_on_resolved_conversations(login, merchant, base_model):
    import_dialogues(merchant, 60)
    for item in ["shirt", "hoodie", "scarf", "dress", "jacket", "cap", "socks", "belt"]:
        resolved_conversation(merchant, f"Is the {item} machine washable?", f"Yes, wash the {item} cold.")
    response = login().post(START, {"mode": "incremental", "max_steps": "5"}, **HTMX)
    assert response.status_code == 200, text(response)
    job = Job.objects.get(merchant=merchant)
    assert job.params["mode"] == "incremental" and job.params["new_dialogues"] >= 1
    html = text(login().get(PAGE, {"part": "jobs"}, **HTMX))
    assert f"Incremental: {job.params['new_dialogues']} new" in html


def test_without_a_model_the_refusal_is_explained(login, merchant):
    import_dialogues(merchant, 60)
    response = login().post(START, {"mode": "full"}, **HTMX)
    assert response.status_code == 409
    assert "No base model is registered yet" in text(response) and not Job.objects.exists()


# ---------- Versions ----------


def test_chat_versions_show_perplexity_regression_loss_and_the_verdict(
    login, merchant, other_merchant, base_model
):
    promotion = {"promoted": True, "reason": "Promoted: Held-out loss 1.2000 beats its parent's 1.9000."}
    tuned = ModelVersion.objects.create(
        merchant=merchant,
        name="chat-v1",
        purpose="chat",
        kind="lora",
        parent=base_model,
        status="promoted",
        metrics={
            "eval_loss": 1.2,
            "parent_eval_loss": 1.9,
            "base_heldout_perplexity": 6.874,
            "tuned_heldout_perplexity": 3.558,
            "perplexity_reduction": 0.4824,
            "heldout_examples": 12,
            "parent_regression_loss": 1.95,
            "regression_loss": 1.31,
            "promotion": promotion,
        },
    )
    job = Job.objects.create(
        merchant=merchant,
        kind="finetune",
        status="succeeded",
        result_version=tuned,
        params={"purpose": "chat", "mode": "full", "name": "chat-v1"},
    )
    refused = ModelVersion.objects.create(
        merchant=merchant,
        name="chat-v2",
        purpose="chat",
        kind="full",
        parent=tuned,
        status="ready",
        metrics={
            "base_heldout_perplexity": 3.5,
            "tuned_heldout_perplexity": 3.1,
            "perplexity_reduction": 0.1143,
            "parent_regression_loss": 1.31,
            "regression_loss": 1.42,
            "promotion": {
                "promoted": False,
                "reason": "Not promoted: Regression-set loss 1.4200 is worse than its parent's 1.3100.",
            },
        },
    )
    ModelVersion.objects.create(merchant=merchant, name="copy-v1", purpose="copy", kind="lora")
    ModelVersion.objects.create(merchant=other_merchant, name="contoso-chat", purpose="chat", kind="lora")
    from ml.models import Deployment

    Deployment.objects.create(merchant=merchant, purpose="chat", version=tuned)

    html = text(login(Role.VIEWER).get(PAGE))
    assert "copy-v1" not in html and "contoso-chat" not in html
    assert re.search(r'data-testid="serving-chat">chat-v1<', html)
    first = re.search(rf'data-testid="version-{tuned.pk}".*?</tr>', html, re.DOTALL).group(0)
    assert "6.87 → 3.56" in first and "−48.2%" in first and "12 examples" in first
    assert "1.950 → 1.310" in first and "no worse" in first
    assert "Serving" in first and "gate-pass" in first and "beats its parent" in first
    assert f'href="{reverse("ml:job_detail", args=[job.pk])}"' in first
    second = re.search(rf'data-testid="version-{refused.pk}".*?</tr>', html, re.DOTALL).group(0)
    assert "1.310 → 1.420" in second and ">worse<" in second
    assert "gate-fail" in second and "Not promoted: Regression-set loss 1.4200 is worse" in second
    assert html.index(f'data-testid="version-{refused.pk}"') < html.index(f'data-testid="version-{tuned.pk}"')
