"""What one POST /api/v1/signatures costs the database, over real HTTP: the API key is looked up
once (the gatekeeper's answer is reused by the route), the keys registry once, and the seal's use
is still written to the audit log, naming the certificate that signed."""

from __future__ import annotations

import hashlib
import json
import re
import threading

import httpx
import pytest
from sqlalchemy import Engine, event
from test_store_support import serve_app

from gateway.config import load_config
from gateway.signing.keys import load_signing_key
from gateway.store import audit
from gateway.store.apikeys import create_key
from gateway.store.db import open_database


@pytest.fixture
def served(dev_pki, tmp_path):
    from gateway.api.app import create_app

    cfg = load_config(env={
        "GATEWAY_DATABASE__URL": f"sqlite:///{tmp_path / 'gw.db'}",
        "GATEWAY_STORAGE__DIR": str(tmp_path / "blobs"),
        "GATEWAY_SIGNING__KEY": str(dev_pki.seal_p12),
        "GATEWAY_SIGNING__KEY_PASSWORD_FILE": str(dev_pki.password_file),
        "GATEWAY_SIGNING__DEFAULT_LEVEL": "B-B",
    })
    db = open_database(cfg)
    with db.session() as s:
        _, key = create_key(s, "edms")
        _, auditor = create_key(s, "reader", role="auditor")
    app = create_app(cfg, workers=False)
    with serve_app(app) as base, httpx.Client(base_url=base, timeout=60) as client:
        yield client, db, {"edms": key, "auditor": auditor}
    db.dispose()


class _Statements:
    """SQL statements run by any engine of this process while recording."""

    def __init__(self) -> None:
        self.sql: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, _conn, _cursor, statement, *_args) -> None:
        with self._lock:
            self.sql.append(statement)

    def touching(self, table: str) -> list[str]:
        return [s for s in self.sql if re.search(rf"\b{table}\b", s)]


@pytest.fixture
def statements():
    rec = _Statements()
    event.listen(Engine, "before_cursor_execute", rec)
    yield rec
    event.remove(Engine, "before_cursor_execute", rec)


def _sign(client: httpx.Client, key: str, content: bytes) -> httpx.Response:
    return client.post("/api/v1/signatures", data={"format": "cades"},
                       headers={"Authorization": f"Bearer {key}"},
                       files=[("file", ("order.txt", content, "text/plain"))])


def test_one_key_lookup_one_registry_lookup_and_the_audit_entry(served, statements, dev_pki):
    client, db, keys = served
    content = b"Order 17 of the city council" * 1000
    _sign(client, keys["edms"], b"warm-up")
    statements.sql.clear()
    resp = _sign(client, keys["edms"], content)
    assert resp.status_code == 200, resp.text
    assert len(statements.touching("api_keys")) == 1, statements.touching("api_keys")
    assert len(statements.touching("seal_keys")) == 1, statements.touching("seal_keys")
    with db.session() as s:
        [entry] = audit.entries(s, action="seal.use", newest_first=True, limit=1)
        assert audit.verify(s).problems == []
    details = json.loads(entry.details)
    assert details["documents"] == [{"name": "order.txt", "sha256": hashlib.sha256(content).hexdigest()}]
    seal = load_signing_key(str(dev_pki.seal_p12), dev_pki.password())
    assert details["certificate_sha256"] == hashlib.sha256(seal.certificate.dump()).hexdigest()
    seal.close()


def test_roles_and_bad_keys_still_decided(served):
    client, _db, keys = served
    assert _sign(client, keys["auditor"], b"x").status_code == 403
    assert _sign(client, keys["edms"] + "x", b"x").status_code == 401
    resp = client.post("/api/v1/signatures", files=[("file", ("a.txt", b"x"))])
    assert resp.status_code == 401
