"""The hash-chained audit log: `gateway audit verify` catches every kind of tampering, and users
(argon2 hashes, lockout) are managed through `gateway user`."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import text
from test_exchange_workers import queue, setup, workers_for  # noqa: F401 - setup is a fixture
from test_store_support import BACKENDS, database_url

from gateway.cli import main
from gateway.config import load_config
from gateway.store.audit import append, entries
from gateway.store.db import open_database
from gateway.store.users import MAX_FAILURES, check_login, create_user


@pytest.fixture(params=BACKENDS)
def cfg_file(request, tmp_path):
    with database_url(request.param, tmp_path) as url:
        path = tmp_path / "gateway.toml"
        path.write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")
        yield path


def _fill(path, n=5):
    db = open_database(load_config(path))
    with db.session() as s:
        for i in range(n):
            append(s, "user:olena", "trust.add", f"anchor:{i}", {"fingerprint": f"{i:064x}", "n": i})
    return db


def _verify(path, capsys, *extra):
    code = main(["audit", "verify", "--config", str(path), *extra])
    return code, capsys.readouterr().out


def test_intact_log_verifies_and_lists(cfg_file, capsys):
    _fill(cfg_file).dispose()
    code, out = _verify(cfg_file, capsys)
    assert code == 0 and "5 entries, intact" in out
    assert main(["audit", "list", "--json", "--config", str(cfg_file)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["object"] for r in rows] == [f"anchor:{i}" for i in range(5)]
    assert rows[2]["details"]["n"] == 2 and rows[0]["actor"] == "user:olena"


@pytest.mark.parametrize("tamper, expect", [
    ("UPDATE audit_log SET object = 'anchor:evil' WHERE id = 3", "entry 3 was changed"),
    ("UPDATE audit_log SET details = '[9]' WHERE id = 2", "entry 2 was changed"),
    ("UPDATE audit_log SET actor = 'user:nobody' WHERE id = 5", "entry 5 was changed"),
    ("DELETE FROM audit_log WHERE id = 3", "entries removed"),
    ("DELETE FROM audit_log WHERE id = 1", "entries removed"),
])
def test_edited_or_removed_entry_is_caught(cfg_file, capsys, tamper, expect):
    db = _fill(cfg_file)
    with db.engine.begin() as conn:
        conn.execute(text(tamper))
    db.dispose()
    code, out = _verify(cfg_file, capsys)
    assert code == 1, out
    assert "TAMPERED" in out and expect in out


def test_reordered_entries_are_caught(cfg_file, capsys):
    """Swapping the contents of two entries (ids kept, hashes carried along) breaks the links."""
    db = _fill(cfg_file)
    select = text("SELECT at, actor, action, object, details, prev_hash, hash FROM audit_log WHERE id = :id")
    with db.engine.begin() as conn:
        a = conn.execute(select, {"id": 2}).one()
        b = conn.execute(select, {"id": 4}).one()
        conn.execute(text("UPDATE audit_log SET hash = 'x' WHERE id = 2"))  # unique constraint
        for ident, row in ((4, a), (2, b)):
            conn.execute(text("UPDATE audit_log SET at=:at, actor=:actor, action=:action, object=:object, "
                              "details=:details, prev_hash=:prev_hash, hash=:hash WHERE id=:id"),
                         {**row._asdict(), "id": ident})
    db.dispose()
    code, out = _verify(cfg_file, capsys)
    assert code == 1 and "does not link" in out


def test_rewritten_chain_with_renumbered_ids_is_caught(cfg_file, capsys):
    """Moving an entry to another id (as a reordering by id would) breaks its hash."""
    db = _fill(cfg_file)
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = 5"))
        conn.execute(text("UPDATE audit_log SET id = 5 WHERE id = 4"))
    db.dispose()
    code, out = _verify(cfg_file, capsys)
    assert code == 1 and "entry 5 was changed" in out


def test_cut_off_tail_is_caught_against_a_noted_head(cfg_file, capsys):
    _fill(cfg_file).dispose()
    _, out = _verify(cfg_file, capsys)
    head = out.rsplit("head ", 1)[1].strip()
    assert _verify(cfg_file, capsys, "--head", head)[0] == 0
    db = open_database(load_config(cfg_file))
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = 5"))
    db.dispose()
    assert _verify(cfg_file, capsys)[0] == 0  # a shorter chain is still a chain...
    code, out = _verify(cfg_file, capsys, "--head", head)
    assert code == 1 and "cut off the end" in out  # ...but not the one noted


def test_user_cli_hashes_passwords_and_audits(cfg_file, capsys, monkeypatch):
    monkeypatch.setenv("OFFICER_PW", "Довгий пароль 2026!")
    assert main(["user", "create", "--name", "olena", "--role", "officer", "--password-env", "OFFICER_PW",
                 "--config", str(cfg_file)]) == 0
    monkeypatch.setenv("SHORT_PW", "short")
    assert main(["user", "create", "--name", "ivan", "--role", "auditor", "--password-env", "SHORT_PW",
                 "--config", str(cfg_file)]) == 2
    assert "at least 12" in capsys.readouterr().err
    assert main(["user", "list", "--config", str(cfg_file)]) == 0
    assert "olena\tofficer\tactive" in capsys.readouterr().out
    db = open_database(load_config(cfg_file))
    with db.engine.begin() as conn:
        stored = conn.execute(text("SELECT password_hash FROM users")).scalar_one()
    assert stored.startswith("$argon2id$") and "Довгий" not in stored
    with db.session() as s:
        assert check_login(s, "olena", "Довгий пароль 2026!").outcome == "ok"
    db.dispose()
    assert main(["user", "disable", "olena", "--config", str(cfg_file)]) == 0
    db = open_database(load_config(cfg_file))
    with db.session() as s:
        assert check_login(s, "olena", "Довгий пароль 2026!").outcome == "disabled"
    db.dispose()
    capsys.readouterr()
    assert main(["audit", "list", "--config", str(cfg_file)]) == 0
    out = capsys.readouterr().out
    assert "user.create\tuser:olena" in out and "user.disable\tuser:olena" in out


def test_lockout_after_repeated_failures(tmp_path):
    cfg = load_config(env={"GATEWAY_DATABASE__URL": f"sqlite:///{tmp_path}/g.db"})
    db = open_database(cfg)
    with db.session() as s:
        create_user(s, "petro", "operator", "правильний пароль")
    for _ in range(MAX_FAILURES - 1):
        with db.session() as s:
            assert check_login(s, "petro", "wrong").outcome == "bad_credentials"
    with db.session() as s:
        assert check_login(s, "petro", "wrong").outcome == "locked"
    with db.session() as s:  # locked even with the right password now
        assert check_login(s, "petro", "правильний пароль").outcome == "locked"
    with db.session() as s:
        assert check_login(s, "nobody", "x").outcome == "bad_credentials"
    db.dispose()


def test_every_letter_sealed_by_the_workers_is_audited(setup):  # noqa: F811 - the imported fixture
    """The outgoing path: one seal.use entry per letter, with each document's SHA-256."""
    cfg, db, blobs, _spec = setup
    letter = queue(db, blobs)
    workers_for(cfg, db, blobs).run_letters_once()  # seals, then fails to reach the (closed) hub
    with db.session() as s:
        uses = [e for e in entries(s) if e.action == "seal.use"]
    assert len(uses) == 1 and uses[0].object == f"outgoing:{letter}"
    details = json.loads(uses[0].details)
    assert details["documents"] == [{"name": "a.txt", "sha256": hashlib.sha256(b"letter body").hexdigest()}]
    assert details["format"] == "cades-detached" and len(details["certificate_sha256"]) == 64
