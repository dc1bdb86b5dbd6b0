"""Who may do what (issue 11): every route of the app has a role decision, checked over real HTTP
with a key of every role; an edms key sees only its own letters; officer keys run /api/v1/admin."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from test_api import META, post_letter
from test_store_support import serve_app

from gateway.api.auth import RoleCheck
from gateway.config import load_config
from gateway.store.apikeys import ROLES, create_key
from gateway.store.db import open_database

EDMS, OFFICER, OPERATOR, AUDITOR = "edms", "officer", "operator", "auditor"
ANY = frozenset(ROLES)
READERS = frozenset({EDMS, OPERATOR, AUDITOR})
OFFICE = frozenset({OFFICER, AUDITOR})

#: the role decision of every route; a new route must be added here or the suite fails
EXPECTED: dict[tuple[str, str], frozenset[str] | None] = {
    ("GET", "/healthz"): None,  # public
    ("GET", "/metrics"): ANY,
    ("GET", "/openapi.json"): ANY,
    ("POST", "/api/v1/outgoing"): frozenset({EDMS}),
    ("GET", "/api/v1/outgoing"): READERS,
    ("GET", "/api/v1/outgoing/{letter_id}"): READERS,
    ("POST", "/api/v1/outgoing/{letter_id}/requeue"): frozenset({OPERATOR}),
    ("GET", "/api/v1/incoming"): READERS,
    ("GET", "/api/v1/incoming/{incoming_id}"): READERS,
    ("GET", "/api/v1/incoming/{incoming_id}/files/{n}"): READERS,
    ("GET", "/api/v1/incoming/{incoming_id}/files/{n}/signature"): READERS,
    ("GET", "/api/v1/incoming/{incoming_id}/report.pdf"): READERS,
    ("POST", "/api/v1/incoming/{incoming_id}/registration"): frozenset({EDMS, OPERATOR}),
    ("POST", "/api/v1/incoming/{incoming_id}/rejection"): frozenset({EDMS, OPERATOR}),
    ("POST", "/api/v1/signatures"): frozenset({EDMS}),
    ("POST", "/api/v1/validations"): ANY,
    ("GET", "/api/v1/exchange/offers"): frozenset({OPERATOR, AUDITOR, OFFICER}),
    ("POST", "/api/v1/exchange/offers/{channel}/{message_id}/retry"): frozenset({OPERATOR}),
    ("GET", "/api/v1/admin/keys"): OFFICE,
    ("POST", "/api/v1/admin/keys/import"): frozenset({OFFICER}),
    ("POST", "/api/v1/admin/keys/generate"): frozenset({OFFICER}),
    ("GET", "/api/v1/admin/keys/{key_id}/csr"): OFFICE,
    ("POST", "/api/v1/admin/keys/{key_id}/certificate"): frozenset({OFFICER}),
    ("POST", "/api/v1/admin/keys/{key_id}/activate"): frozenset({OFFICER}),
    ("GET", "/api/v1/admin/keys/tokens"): frozenset({OFFICER}),
    ("GET", "/api/v1/admin/trust"): OFFICE,
    ("POST", "/api/v1/admin/trust"): frozenset({OFFICER}),
    ("DELETE", "/api/v1/admin/trust/{fingerprint}"): frozenset({OFFICER}),
    ("GET", "/api/v1/admin/partners"): OFFICE,
    ("POST", "/api/v1/admin/partners"): frozenset({OFFICER}),
    ("DELETE", "/api/v1/admin/partners/{code}"): frozenset({OFFICER}),
    ("GET", "/api/v1/admin/users"): OFFICE,
    ("POST", "/api/v1/admin/users"): frozenset({OFFICER}),
    ("POST", "/api/v1/admin/users/{name}/disable"): frozenset({OFFICER}),
    ("GET", "/api/v1/admin/apikeys"): OFFICE,
    ("POST", "/api/v1/admin/apikeys"): frozenset({OFFICER}),
    ("DELETE", "/api/v1/admin/apikeys/{key_id}"): frozenset({OFFICER}),
    ("GET", "/api/v1/admin/audit"): OFFICE,
    ("GET", "/api/v1/admin/audit/verify"): OFFICE,
}
#: routes that are not API-key routes at all (their own authentication, or public assets)
NOT_API_KEY = ("/console", "/docs", "/soap/")


def _role_decision(route: APIRoute) -> frozenset[str] | None:
    found: list[frozenset[str]] = []

    def walk(dependant) -> None:  # noqa: ANN001
        for dep in dependant.dependencies:
            if isinstance(dep.call, RoleCheck):
                found.append(dep.call.roles)
            walk(dep)

    walk(route.dependant)
    assert len(found) <= 1, f"{route.name}: several role checks"
    return found[0] if found else None


@pytest.fixture(scope="module")
def app_and_keys(tmp_path_factory):
    from gateway.api.app import create_app

    tmp = tmp_path_factory.mktemp("roles")
    (tmp / "gateway.toml").write_text("", encoding="utf-8")
    cfg = load_config(tmp / "gateway.toml", env={
        "GATEWAY_DATABASE__URL": f"sqlite:///{tmp / 'gw.db'}", "GATEWAY_STORAGE__DIR": str(tmp / "blobs"),
        "GATEWAY_SEV__ENABLED": "true"})  # letters are refused for a channel that is off
    db = open_database(cfg)
    keys = {}
    with db.session() as s:
        for role in ROLES:
            keys[role] = create_key(s, f"{role}-key", role)[1]
        keys["edms2"] = create_key(s, "second edms", EDMS)[1]
        keys["edms-all"] = create_key(s, "edms with scope", EDMS, all_letters=True)[1]
    db.dispose()
    app = create_app(cfg, workers=False)
    with serve_app(app) as base:
        yield app, base, keys


def _api_routes(app):
    """(method, path, APIRoute) of every route the app serves, routers included (flattened)."""
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, APIRoute) and not ctx.path.startswith(NOT_API_KEY):
            for method in sorted(ctx.methods - {"HEAD"}):
                yield method, ctx.path, route


def test_every_route_has_the_expected_role_decision(app_and_keys):
    app = app_and_keys[0]
    seen = {}
    for method, path, route in _api_routes(app):
        seen[(method, path)] = _role_decision(route)
    missing = set(seen) - set(EXPECTED)
    assert not missing, f"routes without a role decision in this suite: {sorted(missing)}"
    assert seen == {k: v for k, v in EXPECTED.items() if k in seen}
    assert set(EXPECTED) <= set(seen), f"routes gone: {sorted(set(EXPECTED) - set(seen))}"


def test_every_route_over_http_with_every_role(app_and_keys):
    """A role outside a route's decision gets 403 before anything happens; a role inside it never
    gets 401/403 (the request may still be invalid: dummy ids, no body)."""
    app, base, keys = app_and_keys
    with httpx.Client(base_url=base, timeout=30) as client:
        for method, template, _route in _api_routes(app):
            allowed = EXPECTED[(method, template)]
            path = template
            for name in ("letter_id", "incoming_id", "n", "key_id", "fingerprint", "code", "name", "channel",
                         "message_id"):
                dummy = "ABCDEF0123456789" if name == "fingerprint" else "999999999"
                path = path.replace("{" + name + "}", dummy)
            anon = client.request(method, path)
            if allowed is None:
                assert anon.status_code == 200, path
                continue
            assert anon.status_code == 401, (method, path, anon.text)
            for role in ROLES:
                resp = client.request(method, path, headers={"Authorization": f"Bearer {keys[role]}"})
                if role in allowed:
                    assert resp.status_code not in (401, 403), (method, path, role, resp.text)
                else:
                    assert resp.status_code == 403, (method, path, role, resp.text)
                    assert resp.json()["error"]["code"] == "forbidden"


def _client(base, key) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def test_an_edms_key_sees_only_its_own_letters(app_and_keys):
    _, base, keys = app_and_keys
    with _client(base, keys[EDMS]) as mine, _client(base, keys["edms2"]) as other, \
            _client(base, keys["edms-all"]) as wide, _client(base, keys[AUDITOR]) as auditor, \
            _client(base, keys[OPERATOR]) as operator:
        resp = post_letter(mine, {**META, "reg_number": "own-1"})
        assert resp.status_code == 202, resp.text
        letter = resp.json()["id"]
        assert mine.get(f"/api/v1/outgoing/{letter}").status_code == 200
        assert other.get(f"/api/v1/outgoing/{letter}").status_code == 404
        assert letter not in {i["id"] for i in other.get("/api/v1/outgoing").json()["items"]}
        for reader in (wide, auditor, operator):
            assert letter in {i["id"] for i in reader.get("/api/v1/outgoing").json()["items"]}
            assert reader.get(f"/api/v1/outgoing/{letter}").status_code == 200
        assert mine.post(f"/api/v1/outgoing/{letter}/requeue").status_code == 403  # needs operator
        assert operator.post(f"/api/v1/outgoing/{letter}/requeue").status_code == 409  # not failed


def test_officer_key_runs_admin_and_every_change_is_audited(app_and_keys):
    _, base, keys = app_and_keys
    with _client(base, keys[OFFICER]) as officer, _client(base, keys[AUDITOR]) as auditor:
        resp = officer.post("/api/v1/admin/apikeys", json={"name": "new edms", "role": "edms"})
        assert resp.status_code == 200, resp.text
        new_key = resp.json()
        with _client(base, new_key["key"]) as fresh:
            assert fresh.get("/api/v1/outgoing").status_code == 200
            assert officer.delete(f"/api/v1/admin/apikeys/{new_key['id']}").status_code == 200
            assert fresh.get("/api/v1/outgoing").status_code == 401
        assert officer.post("/api/v1/admin/partners", json={"edrpou": "12345670", "name": "X"}
                            ).status_code == 422  # wrong check digit
        odesa = {"edrpou": "26597691", "name": "Одеська міська рада"}
        half = officer.post("/api/v1/admin/partners", json={**odesa, "channel": "trembita"})
        assert half.status_code == 422 and "--xroad-service" in half.text  # nowhere to deliver to
        assert officer.post("/api/v1/admin/partners", json=odesa).status_code == 200
        olha = {"name": "olha", "role": "operator", "password": "досить довгий пароль"}
        assert officer.post("/api/v1/admin/users", json=olha).status_code == 200
        log = auditor.get("/api/v1/admin/audit").json()["items"]
        actions = [e["action"] for e in log]
        assert {"apikey.create", "apikey.revoke", "partner.save", "user.create"} <= set(actions)
        assert all(e["actor"].startswith("apikey:") for e in log if e["action"] != "seal.use")
        assert json.dumps(log).find(new_key["key"]) == -1  # the key itself is never logged
        assert auditor.get("/api/v1/admin/audit/verify").json()["ok"] is True
