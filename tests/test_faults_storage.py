"""The storage folder full: submissions are refused with 507, nothing is half-written (no partial
file, no letter row), a letter whose signing hits the full folder waits and is retried, and the
gateway recovers when space returns.

The full folder is simulated for the body store (a quota on the bytes under [storage] dir: a write
that would pass it fails with ENOSPC, as on a full file system), so the test runs unprivileged."""

from __future__ import annotations

import errno
import json
import os
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_crash_exchange import A, B
from test_exchange_support import GatewaySpec, letter_status, make_pki, wait_for
from test_store_support import serve_app

import gateway.store.blobs
from gateway.api.app import create_app
from gateway.config import load_config
from gateway.soap.sev_hub import SERVICE_PATH, SevHub
from gateway.soap.sev_hub import create_app as create_hub_app
from gateway.store.apikeys import create_key
from gateway.store.db import open_database
from gateway.store.models import Outgoing
from gateway.store.partners import upsert_partner


class FullFolder:
    """Stands in for `os` in gateway.store.blobs: files opened for writing fail with ENOSPC once
    the folder would hold more than `limit` bytes."""

    def __init__(self, root: Path, limit: int) -> None:
        self.root, self.limit = root, limit

    def used(self) -> int:
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def fdopen(self, fd: int, mode: str = "r", *args: Any, **kw: Any) -> Any:
        return _Quota(os.fdopen(fd, mode, *args, **kw), self)


class _Quota:
    def __init__(self, fh: Any, folder: FullFolder) -> None:
        self.fh, self.folder = fh, folder

    def write(self, data: bytes) -> int:
        self.fh.flush()
        if self.folder.used() + len(data) > self.folder.limit:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.fh.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fh, name)

    def __enter__(self) -> _Quota:
        return self

    def __exit__(self, *exc: object) -> None:
        self.fh.close()


@pytest.fixture
def gateway_with_hub(tmp_path, monkeypatch):
    root, seals = make_pki(tmp_path / "pki", ["A"])
    with ExitStack() as stack:
        hub = SevHub(tmp_path / "hub", open_registration=True)
        hub_url = stack.enter_context(serve_app(create_hub_app(hub))) + SERVICE_PATH
        spec = GatewaySpec(A[0], A[1], A[2], tmp_path / "a", hub_url, root, seals["A"])
        cfg = load_config(spec.write_config())
        db = open_database(cfg)
        with db.session() as s:
            _, key = create_key(s, "edms")
            upsert_partner(s, edrpou=B[1], name=B[0], sev_system_id=B[2])
        db.dispose()
        storage = cfg.resolve(cfg.storage.dir)
        storage.mkdir(parents=True, exist_ok=True)
        folder = FullFolder(storage, limit=10**9)
        monkeypatch.setattr(gateway.store.blobs, "os", folder)
        base = stack.enter_context(serve_app(create_app(cfg)))
        client = stack.enter_context(
            httpx.Client(base_url=base, timeout=30, headers={"Authorization": f"Bearer {key}"})
        )
        yield client, folder, storage, cfg


def _post(client: httpx.Client, files: list[bytes], key: str) -> httpx.Response:
    meta = {"to_edrpou": B[1], "reg_number": key, "reg_date": "2026-11-25", "title": "Лист"}
    return client.post(
        "/api/v1/outgoing",
        data={"metadata": json.dumps(meta, ensure_ascii=False)},
        files=[("file", (f"f{n}.pdf", body, "application/pdf")) for n, body in enumerate(files)],
        headers={"Idempotency-Key": key},
    )


def _snapshot(storage: Path) -> set[str]:
    return {str(p.relative_to(storage)) for p in storage.rglob("*") if p.is_file()}


def test_full_storage_refuses_with_507_writes_nothing_half_and_recovers(gateway_with_hub):
    client, folder, storage, _cfg = gateway_with_hub
    first = _post(client, [os.urandom(50_000)], "1")
    assert first.status_code == 202, first.text
    wait_for(lambda: letter_status(client, first.json()["id"]) == "sent", timeout=60, what="sent")

    folder.limit = folder.used() + 60_000  # room for one more file, not for two
    before = _snapshot(storage)
    body = [os.urandom(40_000), os.urandom(40_000)]
    refused = _post(client, body, "2")
    assert refused.status_code == 507, refused.text
    assert refused.json()["error"]["code"] == "insufficient_storage"
    after = _snapshot(storage)
    assert not [p for p in after if ".incoming-" in p], "a partial file was left behind"
    assert len(after - before) <= 1  # at most the first file, whole, under its own hash
    assert [x["id"] for x in client.get("/api/v1/outgoing").json()["items"]] == [first.json()["id"]]
    assert client.get("/healthz").status_code == 200  # the gateway itself is fine

    folder.limit = 10**9  # space returns: the same request (same Idempotency-Key) goes through
    again = _post(client, body, "2")
    assert again.status_code == 202, again.text
    wait_for(lambda: letter_status(client, again.json()["id"]) == "sent", timeout=60, what="letter sent")


def test_a_letter_whose_signing_finds_the_folder_full_waits_and_is_sent_later(gateway_with_hub):
    client, folder, _storage, cfg = gateway_with_hub
    body = os.urandom(60_000)
    # the file fits; its signature and the 1207 message (the file again, in base64) do not
    folder.limit = folder.used() + 70_000
    letter = _post(client, [body], "3")
    assert letter.status_code == 202, letter.text
    ident = letter.json()["id"]

    db = open_database(cfg, migrate=False)
    try:

        def last_error() -> tuple[str, str | None]:
            with db.session() as s:
                row = s.get_one(Outgoing, ident)
                return row.status, row.last_error

        wait_for(lambda: "No space left" in (last_error()[1] or ""), timeout=30, what="a full try")
        assert last_error()[0] == "queued"  # not failed, not half-signed: tried again later
        assert client.get(f"/api/v1/outgoing/{ident}").json()["status"] == "queued"
        folder.limit = 10**9
        wait_for(lambda: letter_status(client, ident) == "sent", timeout=60, what="sent once space returned")
    finally:
        db.dispose()
