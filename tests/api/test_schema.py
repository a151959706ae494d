"""The OpenAPI schema at /api/schema/ says what the server does (test_schemathesis.py checks it against a live
server; these pin the declarations themselves)."""

import json

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.api.test_input_errors import assert_error
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

ERROR_REF = "#/components/schemas/Error"


@pytest.fixture
def schema(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def _operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_served_schema_is_the_generated_one(schema):
    # test_schemathesis.py fuzzes the in-process schema because it is built before any server runs.
    assert json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True))) == schema


def test_one_error_component_with_free_form_field_errors(schema):
    components = schema["components"]["schemas"]
    assert "APIError" not in components
    error = components["Error"]
    assert sorted(error["required"]) == ["code", "message"]
    assert error["properties"]["field_errors"]["type"] == "object"
    assert error["properties"]["field_errors"]["additionalProperties"] == {}


def test_every_operation_declares_the_errors_it_can_answer(schema):
    operations = list(_operations(schema))
    assert len(operations) >= 59
    for path, method, operation in operations:
        expected = {"400", "401", "403", "404", "429"}
        if method in ("post", "put", "patch"):
            expected |= {"413", "415"}
        responses = operation["responses"]
        assert expected <= set(responses), (method, path, sorted(responses))
        for code in expected:
            assert responses[code]["content"]["application/json"]["schema"]["$ref"] == ERROR_REF, (
                method,
                path,
                code,
            )
        assert "Retry-After" in responses["429"]["headers"]


def test_ml_operations_declare_their_conflicts(schema):
    paths = schema["paths"]
    assert "409" in paths["/api/v1/models/finetune/"]["post"]["responses"]
    assert "409" in paths["/api/v1/models/{id}/promote/"]["post"]["responses"]
    assert "409" in paths["/api/v1/models/rollback/"]["post"]["responses"]
    assert "409" in paths["/api/v1/jobs/{id}/cancel/"]["post"]["responses"]


@pytest.mark.parametrize(
    ("component", "field"),
    [
        ("Campaign", "last_job"),
        ("Job", "result_version"),
        ("Job", "base_version"),
        ("ModelVersion", "parent"),
        ("ContentPiece", "model_version"),
        ("ContentPiece", "model_version_name"),
        ("BrandVoice", "updated_at"),
        ("Product", "category_slug"),
    ],
)
def test_fields_that_can_be_null_are_nullable(schema, component, field):
    assert schema["components"]["schemas"][component]["properties"][field].get("nullable") is True


def test_page_size_is_a_positive_integer(schema):
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/products/"]["get"]["parameters"]}
    assert parameters["page_size"]["schema"] == {"type": "integer", "minimum": 1}
    assert "capped at 500" in parameters["page_size"]["description"]


def test_request_bodies_are_json_except_uploads(schema):
    paths = schema["paths"]
    assert list(paths["/api/v1/products/"]["post"]["requestBody"]["content"]) == ["application/json"]
    assert list(paths["/api/v1/campaigns/{id}/"]["patch"]["requestBody"]["content"]) == ["application/json"]
    assert "multipart/form-data" in paths["/api/v1/products/import/"]["post"]["requestBody"]["content"]


def test_chat_stream_documents_one_event(schema):
    responses = schema["paths"]["/api/v1/chat/conversations/{id}/messages/"]["post"]["responses"]
    event = responses["200"]["content"]["text/event-stream"]["schema"]
    assert event["required"] == ["event", "data"] and "done" in event["properties"]["event"]["enum"]


def test_brand_voice_before_the_first_put_has_every_field(api_client):
    body = api_client.get("/api/v1/brand-voice/").json()
    assert body["updated_at"] is None and body["updated_by_label"] == "" and body["tone_words"] == []


def test_content_patch_answers_every_field(api_client, merchant):
    from marketing.models import Campaign, ContentPiece

    campaign = Campaign.objects.create(merchant=merchant, name="Spring", channel="product_description")
    piece = ContentPiece.objects.create(
        merchant=merchant,
        campaign=campaign,
        product=ProductFactory(merchant=merchant),
        body="Copy",
        status="in_review",
        approvable=True,
    )
    body = api_client.patch(f"/api/v1/contents/{piece.pk}/", {"body": "New copy"}, format="json").json()
    assert body["body"] == "New copy"
    assert body["model_version"] is None and body["model_version_name"] is None


def test_event_stream_requests_that_get_json_are_labelled_json(api_client):
    conversation = api_client.post("/api/v1/chat/conversations/", {}, format="json").json()
    response = api_client.post(
        f"/api/v1/chat/conversations/{conversation['id']}/messages/?stream=1",
        {"text": ""},
        format="json",
        HTTP_ACCEPT="text/event-stream",
    )
    assert_error(response, 400, "invalid")
