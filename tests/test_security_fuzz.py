"""Property-based: no input a client can send makes the API answer 5xx (issue 11).

Every route of the EDMS API gets generated path segments, query values, JSON bodies, metadata,
file names and form fields over real HTTP; the answer must be below 500, and every error must be
in the one error shape. A failure prints the smallest request Hypothesis found.
"""

from __future__ import annotations

import json
import string
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_security_api import META, client_for, running_gateway, seal_env
from test_store_support import BACKENDS, database_url

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

#: what a URL can carry (httpx percent-encodes it): anything but surrogates
url_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=80)
ints = st.one_of(st.integers(), st.integers(min_value=-(2**70), max_value=2**70))
query_value = st.one_of(url_text, ints.map(str), st.just(""))
json_scalars = st.one_of(st.none(), st.booleans(), ints, st.floats(allow_nan=False), url_text,
                         st.text(max_size=20))  # may hold lone surrogates: sent as \ud800 escapes
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=12)
file_names = st.one_of(url_text, st.sampled_from(["..", ".", "/", "\\", "a/../..", "\u202e", "ф" * 300]))
header_text = st.text(string.printable.strip() + "éÿ", max_size=300)


@pytest.fixture(scope="module", params=BACKENDS)
def client(request, dev_pki, tmp_path_factory):
    """A gateway with a seal on SQLite, then on PostgreSQL (which refuses NUL in text)."""
    tmp = tmp_path_factory.mktemp("fuzz")
    with (
        database_url(request.param, tmp) as url,
        running_gateway(tmp, url, **seal_env(dev_pki)) as (base, key, _),
        client_for(base, key) as c,
    ):
        yield c


def check(resp: httpx.Response) -> None:
    assert resp.status_code < 500, f"{resp.request.method} {resp.request.url}: {resp.status_code} {resp.text}"
    if resp.status_code >= 400:
        body = resp.json()
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body


@FUZZ
@given(which=st.sampled_from(["outgoing", "incoming"]), status=query_value, limit=query_value,
       offset=query_value)
def test_lists(client, which, status, limit, offset):
    check(client.get(f"/api/v1/{which}", params={"status": status, "limit": limit, "offset": offset}))


@FUZZ
@given(ident=url_text, n=query_value, tail=st.sampled_from(
    ["outgoing/{id}", "incoming/{id}", "incoming/{id}/files/{n}", "incoming/{id}/files/{n}/signature",
     "outgoing/{id}/requeue"]))
def test_resources(client, ident, n, tail):
    path = "/api/v1/" + tail.format(id=quote(ident, safe="") or "x", n=quote(n, safe="") or "1")
    check(client.post(path) if tail.endswith("requeue") else client.get(path))


@FUZZ
@given(call=st.sampled_from(["registration", "rejection"]), body=st.one_of(
    json_values,
    st.fixed_dictionaries({"reg_number": json_values, "reg_date": json_values}),
    st.fixed_dictionaries({"reason": json_values})))
def test_incoming_decisions(client, call, body):
    check(client.post(f"/api/v1/incoming/x/{call}", content=json.dumps(body),
                      headers={"Content-Type": "application/json"}))


@FUZZ
@given(meta=st.one_of(
    st.just(META),  # a valid letter: what a file's name and media type do to it
    st.fixed_dictionaries({k: st.one_of(st.just(v), json_values) for k, v in META.items()},
                          optional={"channel": json_values, "author": json_values, "reply_to": json_values,
                                    "purpose_type": json_values, "annotation": json_values}),
    json_values, url_text.map(lambda t: {"raw": t})), name=file_names, key=st.one_of(st.none(), header_text),
       ctype=st.one_of(st.none(), header_text, st.text("\x00\x01 /;=a", max_size=20)))
def test_outgoing(client, meta: Any, name, key, ctype):
    text = meta["raw"] if isinstance(meta, dict) and set(meta) == {"raw"} else json.dumps(meta)
    headers = {"Idempotency-Key": key.encode("latin-1")} if key is not None else {}
    check(client.post("/api/v1/outgoing", data={"metadata": text}, files=[("file", (name, b"body", ctype))],
                      headers=headers))


@FUZZ
@given(name=file_names, content=st.binary(max_size=200), detached=st.lists(file_names, max_size=2))
def test_validations(client, name, content, detached):
    files = [("file", (name, content))] + [("detached", (d, b"x")) for d in detached]
    check(client.post("/api/v1/validations", files=files))


@FUZZ
@given(name=file_names, fmt=st.one_of(st.sampled_from(["cades", "xades", "pades", "asice-cades"]), url_text),
       level=st.one_of(st.none(), st.sampled_from(["B-B", "b-b", "B-LTA"]), url_text))
def test_signatures(client, name, fmt, level):
    data = {"format": fmt} | ({"level": level} if level is not None else {})
    check(client.post("/api/v1/signatures", data=data, files=[("file", (name, b"<a/>"))]))
