"""Fine-tuning runners are registered by name: a job stores the name, the worker resolves it, and a job
naming no registered runner fails with that reason instead of importing a stored string."""

import pytest

from ml import job_runners
from ml.job_runners import UnknownRunner, params_errors, register, runner_get
from ml.models import Job, ModelVersion
from ml.tasks import finetune_task


def test_the_apps_register_their_runners_by_name():
    assert runner_get("chat.finetune").path == "chat.training_worker.chat_finetune_run"
    assert runner_get("copy.finetune").path == "marketing.copy_training_worker.copy_finetune_run"
    assert callable(runner_get("copy.finetune").load())


def test_a_job_queued_with_the_old_dotted_path_still_resolves():
    assert runner_get("chat.training_worker.chat_finetune_run").name == "chat.finetune"


def test_an_unknown_runner_is_refused():
    with pytest.raises(UnknownRunner, match="os.system"):
        runner_get("os.system")
    assert params_errors({"runner": "os.system"})


def test_missing_parameters_are_named():
    errors = params_errors({"runner": "copy.finetune", "auto_promote": True})
    assert errors == ["job runner 'copy.finetune' needs the parameter(s) eval_dataset_id, eval_product_ids"]
    assert params_errors({"purpose": "copy"}) == []  # the generic runner needs nothing


def test_parameters_of_the_wrong_type_are_named():
    params = {
        "runner": "copy.finetune",
        "auto_promote": "yes",
        "eval_dataset_id": True,
        "eval_product_ids": [1],
    }
    assert params_errors(params) == [
        "job parameter 'auto_promote' of runner 'copy.finetune' must be bool",
        "job parameter 'eval_dataset_id' of runner 'copy.finetune' must be int",
    ]


def test_registering_a_name_twice_with_another_path_is_an_error(monkeypatch):
    monkeypatch.setattr(job_runners, "_RUNNERS", dict(job_runners._RUNNERS))
    register(
        "copy.finetune",
        "marketing.copy_training_worker.copy_finetune_run",
        params={"auto_promote": bool, "eval_dataset_id": int, "eval_product_ids": list},
    )  # the same registration again: fine
    with pytest.raises(ValueError, match="already registered"):
        register("copy.finetune", "somewhere.else")


@pytest.mark.django_db
def test_the_worker_fails_a_job_whose_runner_is_not_registered(merchant):
    base = ModelVersion.objects.create(name="runner-test-base", kind="base", path="/nonexistent")
    job = Job.objects.create(
        merchant=merchant, kind=Job.Kind.FINETUNE, base_version=base, params={"runner": "os.system"}
    )
    assert finetune_task(job.pk).startswith("failed:")
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and "no job runner is registered as 'os.system'" in job.error
