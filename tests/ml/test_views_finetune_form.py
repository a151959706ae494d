"""The dashboard's fine-tuning form: defaults, valid uploads and stored datasets, and every bad input reported
with its line number."""

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import Role
from ml.forms import TrainingFileError, parse_training_file
from ml.models import Job, TrainingDataset
from tests.ml.views_data import jsonl, pairs

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
