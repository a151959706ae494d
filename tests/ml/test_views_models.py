"""The dashboard's Models pages: registry and serving versions, promotion through the gate, rollback, the
fine-tuning form with its bad inputs, jobs with live progress and loss charts, and who may do what."""

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from ml.forms import TrainingFileError, parse_training_file
from ml.models import Deployment, Job, ModelVersion, TrainingDataset
from ml.views import MAX_DRAWN_POINTS, loss_chart

HTMX = {"HTTP_HX_REQUEST": "true"}


def jsonl(records) -> bytes:
    return "\n".join(json.dumps(r) for r in records).encode()


def pairs(n, start=0):
    return [
        {"prompt": f"Describe product {i}", "response": f"Product {i} is lovely."}
        for i in range(start, start + n)
    ]


@pytest.fixture
def base_model(db):
    return ModelVersion.objects.create(
        name="SmolLM2-135M-Instruct",
        kind=ModelVersion.Kind.BASE,
        path="/var/models/smollm2",
        status=ModelVersion.Status.READY,
        metrics={"eval_loss": 2.1},
    )


@pytest.fixture
def good_version(merchant, base_model):
    return ModelVersion.objects.create(
        merchant=merchant,
        name="copy-v1",
        purpose="copy",
        kind=ModelVersion.Kind.LORA,
        parent=base_model,
        status=ModelVersion.Status.READY,
        metrics={"eval_loss": 1.2, "parent_eval_loss": 1.5, "perplexity": 3.32},
    )


@pytest.fixture
def worse_version(merchant, base_model):
    return ModelVersion.objects.create(
        merchant=merchant,
        name="copy-v2-overfit",
        purpose="copy",
        kind=ModelVersion.Kind.LORA,
        parent=base_model,
        status=ModelVersion.Status.READY,
        metrics={"eval_loss": 1.6, "parent_eval_loss": 1.5},
    )


@pytest.fixture
def foreign_version(other_merchant, base_model):
    return ModelVersion.objects.create(
        merchant=other_merchant,
        name="contoso-secret-v1",
        purpose="copy",
        kind=ModelVersion.Kind.LORA,
        parent=base_model,
        status=ModelVersion.Status.READY,
        metrics={"eval_loss": 1.0, "parent_eval_loss": 1.5},
    )


def make_job(merchant, base_model=None, **fields):
    fields.setdefault("kind", Job.Kind.FINETUNE)
    fields.setdefault("params", {"name": "copy-run", "purpose": "copy", "hyperparameters": {"epochs": 1}})
    return Job.objects.create(merchant=merchant, base_version=base_model, **fields)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# ---------- Access ----------


@pytest.mark.parametrize(
    "url_name,args",
    [
        ("ml:model_list", []),
        ("ml:finetune", []),
        ("ml:job_list", []),
        ("ml:job_detail", [1]),
        ("ml:job_progress", [1]),
    ],
)
def test_pages_need_login(client, db, url_name, args):
    response = client.get(reverse(url_name, args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_nav_models_link_opens_the_models_page(login, base_model):
    assert reverse("dashboard:models") == reverse("ml:model_list") == "/models/"
    html = login().get(reverse("dashboard:home")).content.decode()
    assert f'href="{reverse("ml:model_list")}"' in html
    html = login().get(reverse("dashboard:models")).content.decode()
    assert re.search(r'class="nav-link is-active" href="/models/" aria-current="page"', html)
    assert "<h1>Models</h1>" in html


@pytest.mark.parametrize("role", [Role.VIEWER, Role.REVIEWER])
def test_roles_without_edit_cannot_start_or_cancel(login, role, base_model, merchant):
    client = login(role)
    job = make_job(merchant, base_model, status=Job.Status.RUNNING)
    assert client.get(reverse("ml:finetune")).status_code == 403
    response = client.post(
        reverse("ml:finetune"),
        {"purpose": "copy", "dataset_file": SimpleUploadedFile("a.jsonl", jsonl(pairs(12)))},
    )
    assert response.status_code == 403
    assert client.post(reverse("ml:job_cancel", args=[job.pk])).status_code == 403
    job.refresh_from_db()
    assert not job.cancel_requested
    assert Job.objects.count() == 1
    assert not TrainingDataset.objects.exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR])
def test_roles_without_publish_cannot_promote_or_roll_back(login, role, merchant, good_version):
    client = login(role)
    response = client.post(reverse("ml:version_promote", args=[good_version.pk]), {"purpose": "copy"})
    assert response.status_code == 403
    assert client.post(reverse("ml:rollback"), {"purpose": "copy"}).status_code == 403
    assert not Deployment.objects.exists()


def test_viewer_sees_the_page_without_any_action(login, good_version):
    html = login(Role.VIEWER).get(reverse("ml:model_list")).content.decode()
    assert "copy-v1" in html
    assert reverse("ml:finetune") not in html
    assert reverse("ml:version_promote", args=[good_version.pk]) not in html
    assert reverse("ml:rollback") not in html
    # The gate's verdict is information, so everybody sees it.
    assert "Held-out loss 1.2000 beats its parent&#x27;s 1.5000." in html


def test_outsider_gets_404_for_another_merchants_rows(client, outsider, merchant, good_version, base_model):
    job = make_job(merchant, base_model, status=Job.Status.RUNNING)
    client.force_login(outsider)
    assert client.get(reverse("ml:job_detail", args=[job.pk])).status_code == 404
    assert client.get(reverse("ml:job_progress", args=[job.pk]), **HTMX).status_code == 404
    assert client.post(reverse("ml:job_cancel", args=[job.pk])).status_code == 404
    assert (
        client.post(reverse("ml:version_promote", args=[good_version.pk]), {"purpose": "copy"}).status_code
        == 404
    )
    job.refresh_from_db()
    assert not job.cancel_requested
    assert not Deployment.objects.exists()
    html = client.get(reverse("ml:model_list")).content.decode()
    assert "copy-v1" not in html
    assert "copy-run" not in html


# ---------- Models page ----------


def test_page_shows_serving_versions_registry_and_gate_verdicts(
    login, merchant, good_version, worse_version, foreign_version
):
    response = login().get(reverse("ml:model_list"))
    assert response.status_code == 200
    html = response.content.decode()
    # Nothing promoted: both purposes are answered by the default base model.
    assert 'data-testid="serving-copy-name">SmolLM2-135M-Instruct<' in html
    assert 'data-testid="serving-chat-name">SmolLM2-135M-Instruct<' in html
    rows = {row["version"].name: row for row in response.context["rows"]}
    assert set(rows) == {"SmolLM2-135M-Instruct", "copy-v1", "copy-v2-overfit"}
    assert "contoso-secret-v1" not in html
    assert rows["copy-v1"]["gate"]["passed"] is True
    assert rows["copy-v2-overfit"]["gate"]["passed"] is False
    assert "Held-out loss 1.6000 does not beat its parent&#x27;s 1.5000." in html
    assert f'data-testid="promote-{good_version.pk}-copy"' in html
    assert f'data-testid="promote-{worse_version.pk}-copy"' in html
    # eval loss against the parent's, with the change
    assert "1.200" in html and "vs 1.500" in html and "-20.0%" in html
    # The base model serves by default, so it is offered for neither purpose.
    assert rows["SmolLM2-135M-Instruct"]["promote_to"] == []
    assert 'data-testid="no-finetuned"' not in html


def test_empty_states_explain_what_to_do(login, db):
    html = login().get(reverse("ml:model_list")).content.decode()
    assert "No base model is installed yet." in html
    assert "python manage.py ml_provision" in html
    assert "No fine-tuned versions yet" in html
    # Without a base model there is nothing to fine-tune, so no button invites it.
    assert f'href="{reverse("ml:finetune")}"' not in html


def test_empty_state_invites_editors_to_start_a_run(login, base_model):
    html = login(Role.EDITOR).get(reverse("ml:model_list")).content.decode()
    assert "No fine-tuned versions yet" in html
    assert "Start a fine-tuning run" in html
    assert f'href="{reverse("ml:finetune")}?purpose=chat"' in html
    html = login(Role.VIEWER).get(reverse("ml:model_list")).content.decode()
    assert "ask an editor or owner to start a run" in html


def test_promote_passing_version(login, merchant, good_version):
    response = login(Role.REVIEWER).post(
        reverse("ml:version_promote", args=[good_version.pk]), {"purpose": "copy"}, follow=True
    )
    assert response.status_code == 200
    assert messages_of(response) == ["“copy-v1” now serves marketing copy."]
    deployment = Deployment.objects.get(merchant=merchant, purpose="copy", is_active=True)
    assert deployment.version == good_version
    html = response.content.decode()
    assert 'data-testid="serving-copy-name">copy-v1<' in html
    assert "Serving marketing copy" in html
    assert 'data-testid="rollback-copy"' in html


def test_gate_refusal_is_a_message_not_an_error(login, merchant, worse_version):
    response = login().post(
        reverse("ml:version_promote", args=[worse_version.pk]), {"purpose": "copy"}, follow=True
    )
    assert response.status_code == 200
    assert messages_of(response) == [
        "“copy-v2-overfit” was not promoted: Held-out loss 1.6000 does not beat its parent's 1.5000."
    ]
    assert 'class="message message-error"' in response.content.decode()
    assert not Deployment.objects.exists()
    worse_version.refresh_from_db()
    assert worse_version.status == ModelVersion.Status.READY


def test_promotion_for_the_wrong_purpose_is_refused_with_a_message(login, good_version):
    response = login().post(
        reverse("ml:version_promote", args=[good_version.pk]), {"purpose": "chat"}, follow=True
    )
    assert messages_of(response) == [
        "“copy-v1” was not promoted: This version was trained for marketing copy."
    ]
    assert not Deployment.objects.exists()


def test_promote_base_model_needs_a_known_purpose(login, base_model, merchant):
    client = login()
    assert client.post(reverse("ml:version_promote", args=[base_model.pk])).status_code == 400
    assert (
        client.post(reverse("ml:version_promote", args=[base_model.pk]), {"purpose": "poetry"}).status_code
        == 400
    )
    response = client.post(reverse("ml:version_promote", args=[base_model.pk]), {"purpose": "chat"})
    assert response.status_code == 302
    assert Deployment.objects.get(merchant=merchant, is_active=True).purpose == "chat"


def test_rollback_restores_previous_version_and_lists_history(login, merchant, base_model, good_version):
    client = login()
    second = ModelVersion.objects.create(
        merchant=merchant,
        name="copy-v3",
        purpose="copy",
        kind=ModelVersion.Kind.LORA,
        parent=good_version,
        status=ModelVersion.Status.READY,
        metrics={"eval_loss": 1.0, "parent_eval_loss": 1.2},
    )
    client.post(reverse("ml:version_promote", args=[good_version.pk]), {"purpose": "copy"})
    client.post(reverse("ml:version_promote", args=[second.pk]), {"purpose": "copy"})
    html = client.get(reverse("ml:model_list")).content.decode()
    assert "restores “copy-v1”" in html

    response = client.post(reverse("ml:rollback"), {"purpose": "copy"}, follow=True)
    assert messages_of(response) == ["Rolled back: “copy-v1” serves marketing copy again."]
    assert Deployment.objects.get(merchant=merchant, purpose="copy", is_active=True).version == good_version
    history = re.search(r'data-testid="history-copy">(.*?)</ol>', response.content.decode(), re.DOTALL).group(
        1
    )
    assert history.count("<li>") == 2
    assert "Rolled back" in history and "Serving" in history

    response = client.post(reverse("ml:rollback"), {"purpose": "copy"}, follow=True)
    assert messages_of(response) == ["Rolled back: the default base model serves marketing copy again."]
    response = client.post(reverse("ml:rollback"), {"purpose": "copy"}, follow=True)
    assert response.status_code == 200
    assert messages_of(response) == [
        "Nothing is promoted for this purpose, so there is nothing to roll back."
    ]


def test_rollback_needs_a_known_purpose(login, base_model):
    assert login().post(reverse("ml:rollback"), {"purpose": "nope"}).status_code == 400


def test_promote_and_rollback_are_post_only(login, good_version):
    client = login()
    assert client.get(reverse("ml:version_promote", args=[good_version.pk])).status_code == 405
    assert client.get(reverse("ml:rollback")).status_code == 405


# ---------- Fine-tuning form ----------


def finetune(client, content=None, filename="examples.jsonl", **fields):
    data = {"purpose": "copy", "method": "lora", **fields}
    if content is not None:
        data["dataset_file"] = SimpleUploadedFile(filename, content)
    return client.post(reverse("ml:finetune"), data)


def field_errors(response, field) -> list[str]:
    return response.context["form"].errors.get(field, [])


def test_form_renders_with_serializer_defaults(login, base_model):
    client = login(Role.EDITOR)
    response = client.get(reverse("ml:finetune"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'enctype="multipart/form-data"' in html
    assert re.search(r'<input type="number" name="epochs" value="1"[^>]*min="1"[^>]*max="20"', html)
    assert re.search(r'name="learning_rate" value="0.0002"', html)
    assert re.search(r'<input type="radio" name="method" value="lora"[^>]*checked', html)
    assert "The version serving this purpose (recommended)" in html
    assert re.search(r'<details class="advanced">', html)  # collapsed
    html = client.get(reverse("ml:finetune") + "?purpose=chat").content.decode()
    assert re.search(r'<input type="radio" name="purpose" value="chat"[^>]*checked', html)


def test_valid_upload_queues_a_job_from_the_serving_version(login, merchant, base_model, good_version):
    client = login(Role.EDITOR)
    response = finetune(client, jsonl(pairs(12)), name="spring voice", epochs="3", learning_rate="0.0001")
    job = Job.objects.get(merchant=merchant)
    assert response.status_code == 302
    assert response["Location"] == reverse("ml:job_detail", args=[job.pk])
    assert job.status == Job.Status.QUEUED
    assert job.kind == Job.Kind.FINETUNE
    assert job.base_version == base_model  # nothing promoted, so the default base model serves copy
    assert job.params["name"] == "spring voice"
    hyper = job.params["hyperparameters"]
    assert hyper["epochs"] == 3 and hyper["learning_rate"] == 0.0001 and hyper["method"] == "lora"
    assert hyper["batch_size"] == 8  # the serializer's default fills what was left blank
    dataset = TrainingDataset.objects.get(pk=job.params["dataset_id"])
    assert dataset.merchant == merchant
    assert dataset.record_count == 12 and dataset.name == "examples.jsonl" and dataset.source == "upload"
    assert dataset.records[0] == {"prompt": "Describe product 0", "response": "Product 0 is lovely."}
    assert job.created_by_label == "editor@example.com"


def test_start_from_defaults_to_the_promoted_version(login, merchant, good_version):
    client = login()
    client.post(reverse("ml:version_promote", args=[good_version.pk]), {"purpose": "copy"})
    finetune(client, jsonl(pairs(10)))
    assert Job.objects.get(merchant=merchant).base_version == good_version


def test_csv_upload_and_explicit_start_version(login, merchant, base_model, good_version):
    csv_text = "Prompt,response,notes\n" + "".join(
        f'"Describe ""item"" {i}","Line one\nline two {i}",x\n' for i in range(10)
    )
    response = finetune(
        login(), csv_text.encode(), filename="pairs.csv", start_from=str(good_version.pk), method="full"
    )
    assert response.status_code == 302
    job = Job.objects.get(merchant=merchant)
    assert job.base_version == good_version
    assert job.params["hyperparameters"]["method"] == "full"
    records = TrainingDataset.objects.get(pk=job.params["dataset_id"]).records
    assert records[3] == {"prompt": 'Describe "item" 3', "response": "Line one\nline two 3"}


def test_stored_dataset_can_be_picked(login, merchant, base_model):
    dataset = TrainingDataset.objects.create(
        merchant=merchant,
        name="Approved copy",
        purpose="copy",
        records=pairs(20),
        record_count=20,
        source="approvals",
    )
    response = finetune(login(), dataset=str(dataset.pk))
    assert response.status_code == 302
    job = Job.objects.get(merchant=merchant)
    assert job.params["dataset_id"] == dataset.pk
    assert TrainingDataset.objects.count() == 1


@pytest.mark.parametrize(
    "content,filename,expected",
    [
        (
            b'{"prompt": "a", "response": "b"}\n{"prompt": "c", "response": }\n' + jsonl(pairs(10)),
            "bad.jsonl",
            ["Line 2: not valid JSON (Expecting value at column 29)."],
        ),
        (
            jsonl(pairs(2))
            + b'\n\n{"prompt": "no answer"}\n{"prompt": "blank", "response": "  "}\n'
            + jsonl(pairs(10)),
            "missing.jsonl",
            ["Line 4: no response.", "Line 5: no response."],
        ),
        (
            jsonl(pairs(5)),
            "few.jsonl",
            ["The file has 5 records; at least 10 are needed to train and hold some out for evaluation."],
        ),
        (
            b"prompt,answer\nhi,there\n",
            "pairs.csv",
            [
                "Line 1: a CSV file needs a header row with “prompt” and “response” columns (found “prompt”, “answer”)."
            ],
        ),
        (
            b"prompt,response\n" + b"p,r\n" * 3 + b"lonely prompt\n" + b"p,r\n" * 8,
            "pairs.csv",
            ["Line 5: no response."],
        ),
        (b'[{"prompt": "a", "response": 3}]', "list.json", ["Record 1: the response must be text, not int."]),
        (b"\xff\xfe\x00bad", "bin.jsonl", ["Line 1: the file is not UTF-8 text."]),
        (b"   \n", "empty.jsonl", ["The file is empty."]),
        (
            b'["just", "strings"]',
            "strings.json",
            [
                "Record 1: expected an object with “prompt” and “response”.",
                "Record 2: expected an object with “prompt” and “response”.",
            ],
        ),
    ],
    ids=[
        "bad-json",
        "no-response",
        "too-few",
        "csv-header",
        "csv-row",
        "wrong-type",
        "not-utf8",
        "empty",
        "not-objects",
    ],
)
def test_bad_training_files_are_reported_with_line_numbers(login, base_model, content, filename, expected):
    response = finetune(login(), content, filename=filename)
    assert response.status_code == 400
    assert field_errors(response, "dataset_file") == expected
    html = response.content.decode()
    assert 'data-testid="dataset-errors"' in html
    assert "The run was not started." in html
    assert not Job.objects.exists()
    assert not TrainingDataset.objects.exists()


def test_many_bad_lines_are_summarised(login, base_model):
    content = b"\n".join([b'{"prompt": "x"}'] * 25)
    errors = field_errors(finetune(login(), content), "dataset_file")
    assert len(errors) == 11
    assert errors[0] == "Line 1: no response."
    assert errors[-1] == "…and 15 more records with problems."


def test_dataset_is_required_and_exclusive(login, merchant, base_model):
    client = login()
    assert field_errors(finetune(client), "dataset_file") == [
        "Upload a training file or pick a stored dataset."
    ]
    dataset = TrainingDataset.objects.create(
        merchant=merchant, name="d", purpose="chat", records=pairs(10), record_count=10
    )
    response = finetune(client, jsonl(pairs(10)), dataset=str(dataset.pk))
    assert field_errors(response, "dataset") == ["Upload a file or pick a stored dataset, not both."]
    response = finetune(client, dataset=str(dataset.pk))
    assert field_errors(response, "dataset") == [
        "This dataset was collected for support chat; pick one for marketing copy or upload a file."
    ]
    assert not Job.objects.exists()


def test_other_merchants_dataset_and_version_are_not_choices(
    login, other_merchant, base_model, foreign_version
):
    foreign = TrainingDataset.objects.create(
        merchant=other_merchant, name="theirs", purpose="copy", records=pairs(10), record_count=10
    )
    client = login()
    html = client.get(reverse("ml:finetune")).content.decode()
    assert "contoso-secret-v1" not in html and "theirs" not in html
    response = finetune(client, dataset=str(foreign.pk), start_from=str(foreign_version.pk))
    assert response.status_code == 400
    assert field_errors(response, "dataset") == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    assert field_errors(response, "start_from") == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    assert not Job.objects.exists()


def test_hyperparameters_out_of_bounds_show_field_errors(login, base_model):
    response = finetune(
        login(),
        jsonl(pairs(10)),
        epochs="0",
        learning_rate="1",
        batch_size="abc",
        max_seq_len="8",
        method="adam",
    )
    assert response.status_code == 400
    assert field_errors(response, "epochs") == ["Ensure this value is greater than or equal to 1."]
    assert field_errors(response, "learning_rate") == ["Ensure this value is less than or equal to 0.01."]
    assert field_errors(response, "batch_size") == ["Enter a whole number."]
    assert field_errors(response, "max_seq_len") == ["Ensure this value is greater than or equal to 16."]
    assert field_errors(response, "method") == [
        "Select a valid choice. adam is not one of the available choices."
    ]
    # An error inside the collapsed section opens it, so the message is not hidden.
    assert '<details class="advanced" open>' in response.content.decode()
    assert not Job.objects.exists()


def test_without_a_base_model_the_form_says_why(login, db):
    response = finetune(login(), jsonl(pairs(10)))
    assert response.status_code == 400
    assert "No base model is registered yet" in response.content.decode()
    assert not Job.objects.exists()


# ---------- Jobs ----------


def test_job_list_paginates_and_polls_active_jobs_only(login, merchant, base_model):
    running = make_job(merchant, base_model, status=Job.Status.RUNNING, progress_current=5, progress_total=20)
    done = make_job(merchant, base_model, status=Job.Status.SUCCEEDED, progress_current=20, progress_total=20)
    html = login(Role.VIEWER).get(reverse("ml:job_list")).content.decode()
    assert f'hx-get="{reverse("ml:job_progress", args=[running.pk])}" hx-trigger="every 2s"' in html
    assert reverse("ml:job_progress", args=[done.pk]) not in html
    assert "25%" in html and "step 5 of 20" in html


def test_progress_partial_for_htmx_stops_polling_when_done(login, merchant, base_model):
    client = login(Role.VIEWER)
    job = make_job(
        merchant,
        base_model,
        status=Job.Status.RUNNING,
        progress_current=30,
        progress_total=120,
        eta_seconds=185,
    )
    url = reverse("ml:job_progress", args=[job.pk])
    response = client.get(url, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'hx-trigger="every 2s"' in html
    assert 'aria-valuenow="25"' in html and "step 30 of 120" in html and "about 3 min left" in html
    assert response["Vary"] and "HX-Request" in response["Vary"]

    Job.objects.filter(pk=job.pk).update(status=Job.Status.SUCCEEDED, progress_current=120)
    html = client.get(url, **HTMX).content.decode()
    assert "hx-trigger" not in html
    assert 'aria-valuenow="100"' in html and "Succeeded" in html

    assert client.get(url).status_code == 302  # not a page on its own


def test_job_detail_full_page_and_htmx_partial(login, merchant, base_model):
    client = login(Role.VIEWER)
    job = make_job(merchant, base_model, status=Job.Status.RUNNING, progress_current=3, progress_total=10)
    url = reverse("ml:job_detail", args=[job.pk])
    page = client.get(url).content.decode()
    assert "<html" in page and 'id="job-live"' in page and "Run settings" in page
    partial = client.get(url, **HTMX).content.decode()
    assert "<html" not in partial and "Run settings" not in partial
    assert partial.lstrip().startswith('<div class="stack job-live" id="job-live"')
    assert f'hx-get="{url}" hx-trigger="every 2s" hx-swap="outerHTML"' in partial
    assert 'aria-valuenow="30"' in partial
    # Only the outer block polls; the progress bar inside it does not poll on its own.
    assert partial.count("hx-trigger") == 1

    assert (
        '<div id="job-finished-row" data-testid="job-finished" hx-swap-oob="true"><dt>Finished</dt><dd>—'
        in partial
    )

    Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED, error="CUDA out of memory")
    partial = client.get(url, **HTMX).content.decode()
    assert "hx-trigger" not in partial
    assert "The job failed." in partial and "CUDA out of memory" in partial


def test_polled_job_block_updates_the_result_and_end_time_rows(login, merchant, base_model, good_version):
    client = login(Role.VIEWER)
    job = make_job(merchant, base_model, status=Job.Status.RUNNING, progress_current=3, progress_total=10)
    url = reverse("ml:job_detail", args=[job.pk])
    page = client.get(url).content.decode()
    assert 'id="job-result-row" hidden>' in page and "hx-swap-oob" not in page
    finished = timezone.now()
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.SUCCEEDED, progress_current=10, result_version=good_version, finished_at=finished
    )
    partial = client.get(url, **HTMX).content.decode()
    result_row = partial[partial.index('<div id="job-result-row"') :]
    assert result_row.startswith('<div id="job-result-row" hx-swap-oob="true"><dt>Result</dt>')
    assert f'#version-{good_version.pk}">copy-v1</a>' in result_row
    finished_text = timezone.localtime(finished).strftime("%-d %b %Y, %H:%M")
    assert f'hx-swap-oob="true"><dt>Finished</dt><dd>{finished_text}</dd>' in partial


def test_finished_job_links_its_new_version(login, merchant, base_model, good_version):
    job = make_job(merchant, base_model, status=Job.Status.SUCCEEDED, result_version=good_version)
    html = login().get(reverse("ml:job_detail", args=[job.pk])).content.decode()
    assert "New version “copy-v1” is ready." in html
    assert f'href="{reverse("ml:model_list")}#version-{good_version.pk}"' in html


def test_job_text_is_escaped(login, merchant, base_model):
    job = make_job(
        merchant,
        base_model,
        status=Job.Status.FAILED,
        params={"name": "<script>alert(1)</script>"},
        error="<img src=x onerror=alert(2)>",
        logs="<b>step 1</b>\n",
        metrics={"loss_history": [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5}]},
    )
    html = login().get(reverse("ml:job_detail", args=[job.pk])).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "<b>step 1</b>" not in html
    html = login().get(reverse("ml:model_list")).content.decode()
    assert "<script>alert(1)</script>" not in html


def test_cancel_queued_running_and_finished_jobs(login, merchant, base_model):
    client = login(Role.EDITOR)
    queued = make_job(merchant, base_model)
    running = make_job(merchant, base_model, status=Job.Status.RUNNING)
    done = make_job(merchant, base_model, status=Job.Status.SUCCEEDED)

    response = client.post(reverse("ml:job_cancel", args=[queued.pk]), follow=True)
    assert messages_of(response) == [f"Job #{queued.pk} was cancelled before it started."]
    queued.refresh_from_db()
    assert queued.status == Job.Status.CANCELLED

    response = client.post(reverse("ml:job_cancel", args=[running.pk]), follow=True)
    assert messages_of(response) == [f"Cancelling job #{running.pk}: it stops after its current step."]
    running.refresh_from_db()
    assert running.status == Job.Status.RUNNING and running.cancel_requested
    assert "Cancellation requested" in response.content.decode()
    assert 'data-testid="cancel-job"' not in response.content.decode()

    response = client.post(reverse("ml:job_cancel", args=[done.pk]), follow=True)
    assert messages_of(response) == [f"Job #{done.pk} had already succeeded; nothing to cancel."]
    assert client.get(reverse("ml:job_cancel", args=[done.pk])).status_code == 405


# ---------- Loss chart ----------

METRICS = {
    "loss_history": [
        {"step": s, "loss": loss} for s, loss in [(1, 2.4), (2, 2.0), (3, 1.7), (4, 1.5), (5, 1.45)]
    ],
    "eval_history": [
        {"step": 2, "eval_loss": 2.2},
        {"step": 4, "eval_loss": 1.9},
        {"step": 5, "eval_loss": 1.85},
    ],
    "eval_loss_before": 2.5,
    "eval_loss": 1.85,
    "perplexity": 6.36,
    "tokens_per_second": 1234.4,
    "truncated": 2,
}


def polyline(html, series):
    match = re.search(
        rf'<polyline class="chart-line chart-line-{series}"[^>]*data-count="(\d+)" points="([^"]*)"', html
    )
    return int(match.group(1)), match.group(2).split()


def test_chart_draws_each_series_with_its_points(login, merchant, base_model):
    job = make_job(merchant, base_model, status=Job.Status.SUCCEEDED, metrics=METRICS)
    html = login().get(reverse("ml:job_detail", args=[job.pk])).content.decode()
    assert html.count("<svg viewBox=") == 1
    count, train = polyline(html, "train")
    assert count == 5 and len(train) == 5
    count, evals = polyline(html, "eval")
    assert count == 3 and len(evals) == 3
    # The x axis runs from the first step to the last; lower loss is drawn lower (larger y).
    assert train[0].startswith("0.0,") and train[-1].startswith("1000.0,")
    assert float(train[0].split(",")[1]) < float(train[-1].split(",")[1])
    assert re.search(r'<path class="chart-dots chart-dots-eval" d="(M[\d.]+ [\d.]+h0 ?){3}"', html)
    assert 'class="chart-baseline"' in html
    for label in ("Training loss", "Held-out loss", "Held-out loss before training (2.500)", "Training step"):
        assert label in html
    summary = re.search(r'data-testid="chart-summary">([^<]*)<', html).group(1)
    assert summary == (
        "Training loss went from 2.400 at step 1 to 1.450 at step 5 (5 points). "
        "Held-out loss went from 2.200 at step 2 to 1.850 at step 5 (3 points). "
        "Before training, held-out loss was 2.500."
    )
    assert 'role="img"' in html and f'aria-describedby="chart-summary-{job.pk}"' in html
    # The numbers beside the chart
    assert 'data-testid="stat-eval-loss">1.850<' in html
    assert "2.500 before" in html and "-26.0%" in html
    assert "1,234" in html


def test_chart_empty_state_when_metrics_are_missing(login, merchant, base_model):
    client = login()
    queued = make_job(merchant, base_model, metrics={})
    html = client.get(reverse("ml:job_detail", args=[queued.pk])).content.decode()
    assert 'data-testid="chart-empty"' in html and "<svg viewBox=" not in html
    assert "The curve appears once training starts." in html
    failed = make_job(
        merchant, base_model, status=Job.Status.FAILED, metrics={"loss_history": [], "eval_history": None}
    )
    html = client.get(reverse("ml:job_detail", args=[failed.pk])).content.decode()
    assert "This job recorded no loss history." in html


def test_chart_skips_malformed_entries():
    chart = loss_chart(
        {
            "loss_history": [
                {"step": 1, "loss": 2.0},
                "junk",
                {"step": 2},
                {"step": 3, "loss": float("nan")},
                {"step": "4", "loss": 1.0},
                {"step": 5, "loss": True},
                {"step": 6, "loss": 1.5},
            ],
            "eval_history": {"not": "a list"},
        }
    )
    assert [s["key"] for s in chart["series"]] == ["train"]
    assert chart["series"][0]["count"] == 2
    assert loss_chart({"loss_history": "nope"}) == {"has_data": False}


def test_chart_single_point_and_flat_line_have_a_visible_range():
    chart = loss_chart({"eval_history": [{"step": 10, "eval_loss": 1.0}]})
    assert chart["series"][0]["points"] == "500.0,200.0"
    assert chart["series"][0]["dots"] == "M500.0 200.0h0"
    assert chart["x_ticks"][0]["label"] == "9"


def test_long_histories_are_thinned_keeping_the_ends():
    history = [{"step": s, "loss": 3 - s / 2000} for s in range(1, 5001)]
    chart = loss_chart({"loss_history": history})
    series = chart["series"][0]
    assert series["count"] == MAX_DRAWN_POINTS and series["total"] == 5000
    assert series["dots"] == ""
    points = series["points"].split()
    assert len(points) == MAX_DRAWN_POINTS
    assert points[0].startswith("0.0,") and points[-1].startswith("1000.0,")
    assert [t["label"] for t in chart["x_ticks"]] == ["1,000", "2,000", "3,000", "4,000", "5,000"]


def test_parse_training_file_accepts_json_list_and_reports_csv_line_of_multiline_rows():
    records = parse_training_file(json.dumps(pairs(10)).encode(), "data.json")
    assert len(records) == 10
    text = 'prompt,response\n"multi\nline",ok\n' + "p,r\n" * 9 + '"second\nmulti",\n'
    with pytest.raises(TrainingFileError) as exc:
        parse_training_file(text.encode(), "x.csv")
    assert exc.value.messages == ["Line 13: no response."]
    # No suffix: sniffed from the content.
    assert len(parse_training_file(jsonl(pairs(10)), "")) == 10
    too_long = [{"prompt": "p", "response": "x" * 20_001}] + pairs(10)
    with pytest.raises(TrainingFileError) as exc:
        parse_training_file(jsonl(too_long), "a.jsonl")
    assert exc.value.messages == ["Line 1: the response is longer than 20,000 characters."]


def test_parse_training_file_reports_undecodable_and_unreadable_lines():
    with pytest.raises(TrainingFileError) as exc:
        parse_training_file(jsonl(pairs(3)) + b"\n\xe9t\xe9\n", "a.jsonl")
    assert exc.value.messages == ["Line 4: the file is not UTF-8 text."]
    text = 'prompt,response\n"multi\nline",ok\np,' + "x" * 200_000 + "\n"
    with pytest.raises(TrainingFileError) as exc:
        parse_training_file(text.encode(), "x.csv")
    assert exc.value.messages == ["Line 4: not valid CSV (field larger than field limit (131072))."]
    with pytest.raises(TrainingFileError) as exc:
        parse_training_file(b'[{"prompt": "p",\n "response": }]', "a.json")
    assert exc.value.messages == ["Line 2: not valid JSON (Expecting value at column 14)."]


def test_running_job_shows_its_latest_evaluation(login, merchant, base_model):
    metrics = {key: METRICS[key] for key in ("loss_history", "eval_history", "eval_loss_before")}
    job = make_job(
        merchant,
        base_model,
        status=Job.Status.RUNNING,
        progress_current=5,
        progress_total=10,
        metrics=metrics,
    )
    html = login().get(reverse("ml:job_detail", args=[job.pk]), **HTMX).content.decode()
    assert "Held-out loss at step 5</span>" in html
    assert 'data-testid="stat-eval-loss">1.850<' in html
