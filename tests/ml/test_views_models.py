"""The dashboard's Models pages: who may do what, the registry and serving versions, promotion through the
gate, and rollback."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import Role
from ml.models import Deployment, Job, ModelVersion, TrainingDataset
from tests.ml.views_data import HTMX, jsonl, make_job, messages_of, pairs

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
