"""Fuzzing ``reba serve`` against its own OpenAPI document with schemathesis, keys on and off.

Every operation of the document gets a fixed, derandomized budget of generated requests: valid
ones (positive) and ones that break the schema (negative). Checks: no 5xx, every status and
body as documented, every response's content type as documented, and schema-invalid requests
are refused with a 4xx, so the document states the limits the server enforces (non-empty
input, item and length limits, the served models, the dimension range). With keys on, every
request carries a key, and the document's security scheme is checked to be enforced.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    ignored_auth,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.parameters import ParameterLocation

from reba.serve import ServeSettings, create_app, serve_in_thread

KEY = "sk-fuzz"
HEADER = ParameterLocation.HEADER
EXAMPLES = 25  # per operation and generation mode: ~10 operations x 2 modes x 2 servers
SETTINGS = dict(max_items=4, max_chars=64, max_wait_ms=0, prompts={"query": "query: "})
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module", params=["keys-off", "keys-on"])
def fuzzed(request, configs):
    keys = (KEY,) if request.param == "keys-on" else ()
    app = create_app(configs, settings=ServeSettings(api_keys=keys, **SETTINGS))
    with serve_in_thread(app, log_level="critical") as running:
        schema = schemathesis.openapi.from_url(f"{running.url}/openapi.json")
        yield running, schema, keys


def operations(schema) -> list:
    found = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in found} >= {"/v1/embeddings", "/embed", "/similarity", "/tokenize"}
    return found


def has_inputs(operation) -> bool:
    return any(len(part) for part in (operation.body, operation.path_parameters, operation.query))


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_fuzz_the_openapi_schema(fuzzed, mode):
    running, schema, keys = fuzzed
    headers = {"Authorization": f"Bearer {KEY}"} if keys else {}
    checks = CHECKS + ([ignored_auth] if keys else [])
    statuses: dict[str, set[int]] = {}
    for operation in operations(schema):
        if mode is GenerationMode.NEGATIVE and not has_inputs(operation):
            continue  # nothing a request could get wrong (e.g. GET /health)

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case):
            # The key goes on every request, except one whose negative part is the
            # Authorization header itself: that one must be refused as it is.
            bad_header = case.meta is not None and case.meta.is_negative_at(HEADER)
            sent = {} if bad_header else headers
            response = case.call(base_url=running.url, headers=sent, timeout=60)
            statuses.setdefault(case.operation.label, set()).add(response.status_code)
            case.validate_response(response, checks=checks, headers=sent)
            if mode is GenerationMode.NEGATIVE:  # schema-invalid: refused (TEI's 413 included)
                assert 400 <= response.status_code < 500, (case.body, response.text)

        try:
            run()
        except Unsatisfiable:
            # Negative data needs a constraint to break; a free-form string (the model name
            # in GET /v1/models/{model}) has none, which is fine. Bodies always have some.
            assert mode is GenerationMode.NEGATIVE and not len(operation.body), operation.label
    assert all(code < 500 for codes in statuses.values() for code in codes), statuses
    if mode is GenerationMode.POSITIVE:  # valid requests were really embedded
        assert 200 in statuses["POST /v1/embeddings"] and 200 in statuses["POST /embed"]


def test_the_schema_states_the_limits(configs):
    """What the issue found: ``"input": []`` was schema-valid yet refused. Now the document
    says what the server enforces."""
    app = create_app(configs, settings=ServeSettings(**SETTINGS))
    schemas = app.openapi()["components"]["schemas"]
    text, many = schemas["EmbeddingRequest"]["properties"]["input"]["anyOf"]
    assert text["type"] == "string" and text["minLength"] == 1 and text["maxLength"] == 64
    assert many["minItems"] == 1 and many["maxItems"] == 4 and many["items"] == text
    assert schemas["EmbeddingRequest"]["properties"]["model"]["enum"] == list(configs)
    dimensions = schemas["EmbeddingRequest"]["properties"]["dimensions"]["anyOf"][0]
    assert (dimensions["minimum"], dimensions["maximum"]) == (1, 32)
    assert schemas["EmbedRequest"]["properties"]["inputs"]["anyOf"][1]["minItems"] == 1
    sentences = schemas["SimilarityInput"]["properties"]["sentences"]
    assert (sentences["minItems"], sentences["maxItems"]) == (1, 3)  # + the source sentence
    assert schemas["EmbedRequest"]["properties"]["prompt_name"]["anyOf"][0]["enum"] == ["query"]
