"""schemathesis against the OpenAPI document a running gateway serves (issue 13, hostile input).

A gateway with a seal runs under uvicorn on a free loopback port, on SQLite and on PostgreSQL; its
/openapi.json (fetched with an API key from the store) drives schemathesis over every operation,
with data that fits the schema and data that does not. No answer may be a 5xx, and every answer
must be one the document declares: its status code, its content type and its body's schema.
Bounded: a fixed number of examples per operation and mode, derandomized (the same run each time).
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import ignored_auth, negative_data_rejection, not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from test_security_api import running_gateway, seal_env
from test_store_support import BACKENDS, database_url

CHECKS: list[Callable] = [
    not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
    ignored_auth,  # the same request without the key (and with a wrong one) must be refused
    negative_data_rejection,
]
EXAMPLES = 15  # per operation and generation mode: 16 operations x 2 modes x 15 = ~500 requests


@pytest.fixture(scope="module", params=BACKENDS)
def served(request, dev_pki, tmp_path_factory):
    """(base URL, API key, the OpenAPI document) of a running gateway with the development seal."""
    tmp = tmp_path_factory.mktemp("openapi")
    with database_url(request.param, tmp) as url, running_gateway(tmp, url, **seal_env(dev_pki)) as running:
        base, key, _cfg = running
        auth = {"Authorization": f"Bearer {key}"}
        document = httpx.get(f"{base}/openapi.json", headers=auth, timeout=30)
        assert document.status_code == 200, document.text
        yield base, key, document.json()


def _operations(document: dict) -> list:
    schema = schemathesis.openapi.from_dict(document)
    return [result.ok() for result in schema.get_all_operations()]


def test_the_document_needs_the_key(served):
    base, _key, _document = served
    answer = httpx.get(f"{base}/openapi.json", timeout=30)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthorized"


def test_every_operation_keeps_to_its_document(served):
    base, key, document = served
    auth = {"Authorization": f"Bearer {key}"}
    operations = _operations(document)
    assert len(operations) >= 15, [op.label for op in operations]  # every EDMS route is described
    failures: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case) -> None:
                case.headers = {**(case.headers or {}), **auth}  # the generated keys are never valid
                case.call_and_validate(base_url=base, headers=auth, checks=CHECKS, timeout=30)

            try:
                run()
            except Unsatisfiable:
                assert mode == GenerationMode.NEGATIVE and not operation.path_parameters, operation.label
            except (Exception, FailureGroup) as exc:  # collected, then reported together
                failures.append(f"{operation.label} ({mode.value}): {type(exc).__name__}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
