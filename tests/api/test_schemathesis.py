"""Every operation of the OpenAPI schema, fuzzed against a live server on PostgreSQL: no input may cause a 5xx,
and every response must match the schema (status code, Content-Type, body). Schemathesis generates the requests
(its coverage phase: boundary and invalid values for each parameter and body field; then random fuzzing) from a
fixed seed with a bounded number of examples, so the run is reproducible and fits the suite.

One test per operation, each on a fresh world (tests/api/conftest.py) whose ids start at 1, so the small ids
schemathesis tries hit real rows of both merchants: the key's own (200s and state changes) and the outsider's
(404s). Chat replies are not waited for (no worker runs here) and the per-key rate limit is lifted; 429 stays in
the schema. The schema is generated in-process at collection, exactly as /api/schema/ serves it
(test_schema.py checks that), because the live server only exists once a test runs."""

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

SEED = 20261205
MAX_EXAMPLES = 10
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

schema = schemathesis.openapi.from_dict(
    SchemaGenerator().get_schema(request=None, public=True),
    config=schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "request-timeout": 30,
            # No example database: every run replays exactly the seeded cases and writes nothing to the tree.
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
            "phases": {"examples": {"enabled": False}, "stateful": {"enabled": False}},
        }
    ),
)


@pytest.fixture
def live_api(live_server, api_world, settings):
    settings.CHAT_REPLY_WAIT_SECONDS = 0
    settings.API_KEY_RATE = "1000000/min"
    return {"base_url": live_server.url, "headers": {"Authorization": api_world["authorization"]}}


@pytest.mark.django_db(transaction=True, reset_sequences=True)
@schema.parametrize()
# The world is built once per operation, not per generated case: the cases of one operation share it.
@hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_operation_matches_the_schema(case, live_api):
    case.call_and_validate(base_url=live_api["base_url"], headers=live_api["headers"], checks=CHECKS)
