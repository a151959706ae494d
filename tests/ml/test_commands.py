import io
import os
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from ml.models import ModelVersion
from tests.ml.engine.conftest import build_tiny_checkpoint

pytestmark = pytest.mark.django_db
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.integration
def test_ml_provision_converts_from_the_package_once_and_registers_the_base(settings):
    settings.MODEL_STORE_DIR = Path(
        os.environ.get("STORYFRONT_TEST_MODEL_STORE", REPO_ROOT / "var" / "models")
    )
    call_command("ml_provision", stdout=io.StringIO())
    call_command("ml_provision", stdout=io.StringIO())
    base = ModelVersion.objects.get(merchant=None)
    assert (base.name, base.kind, base.status) == ("smollm2-135m-instruct", "base", "ready")
    assert (Path(base.path) / "config.json").is_file()


def test_register_any_local_checkpoint_as_a_base_model(tmp_path):
    path = build_tiny_checkpoint(tmp_path / "tiny")
    out = io.StringIO()
    call_command("ml_register_base", "tiny-llama", path=str(path), stdout=out)
    assert ModelVersion.objects.get(name="tiny-llama").path == str(path.resolve())
    assert "Registered base model 'tiny-llama'" in out.getvalue()


def test_register_an_openai_compatible_endpoint():
    call_command(
        "ml_register_base",
        "qwen-on-vllm",
        endpoint_url="http://gpu-1:8000/v1",
        endpoint_model="qwen",
        stdout=io.StringIO(),
    )
    version = ModelVersion.objects.get(name="qwen-on-vllm")
    assert (version.backend, version.endpoint_model) == ("openai", "qwen")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"path": "/nonexistent"}, "is not a directory"),
        ({"path": "{tmp}"}, "not a Hugging Face checkpoint"),
        ({}, "Give --path"),
    ],
)
def test_register_rejects_what_is_not_a_checkpoint(tmp_path, kwargs, message):
    kwargs = {k: v.format(tmp=tmp_path) for k, v in kwargs.items()}
    with pytest.raises(CommandError, match=message):
        call_command("ml_register_base", "broken", stdout=io.StringIO(), **kwargs)
    assert not ModelVersion.objects.exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:8000/v1", "127.0.0.1 is a loopback address"),
        ("http://169.254.169.254/v1", "169.254.169.254 is a cloud metadata address"),
        ("file:///models/qwen", "only http and https"),
    ],
)
def test_register_refuses_endpoints_the_ssrf_guard_refuses(settings, url, message):
    settings.OUTBOUND_ALLOW_PRIVATE = False
    with pytest.raises(CommandError, match=message):
        call_command("ml_register_base", "inside", endpoint_url=url, endpoint_model="m", stdout=io.StringIO())
    assert not ModelVersion.objects.exists()


def test_a_self_hosted_install_registers_a_private_endpoint_but_never_metadata(settings):
    settings.OUTBOUND_ALLOW_PRIVATE = True
    call_command(
        "ml_register_base",
        "local-vllm",
        endpoint_url="http://127.0.0.1:8000/v1",
        endpoint_model="m",
        stdout=io.StringIO(),
    )
    with pytest.raises(CommandError, match="cloud metadata address"):
        call_command(
            "ml_register_base",
            "meta",
            endpoint_url="http://169.254.169.254/v1",
            endpoint_model="m",
            stdout=io.StringIO(),
        )
    assert list(ModelVersion.objects.values_list("name", flat=True)) == ["local-vllm"]
