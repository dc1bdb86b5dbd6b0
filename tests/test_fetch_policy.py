"""What online validation may fetch (issue 11, blind SSRF): an uploaded certificate's AIA, CRL and
OCSP URLs reach loopback, private and link-local addresses only when `[trust] fetch_allow` says so."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler

import httpx
import pytest
from asn1crypto import pem
from conftest import free_port
from fetch_support import listener, make_cert, sign_cms
from test_store_support import serve_app

from gateway.config import load_config
from gateway.errors import ConfigError
from gateway.pki.dev import load_dev_pki
from gateway.pki.init import init_gateway
from gateway.signing.validation import fetchers
from gateway.signing.validation.engine import validate
from gateway.signing.validation.fetchpolicy import (
    FetchFailed,
    FetchPolicy,
    FetchRefused,
    denied_reason,
    fetch,
    from_settings,
    parse_allow,
)
from gateway.signing.validation.policy import ValidationPolicy
from gateway.store.apikeys import create_key
from gateway.store.db import open_database

DOC = "Лист міської ради\n".encode()


def attacker_files(base: str):
    root = make_cert("Test Root", ca=True)
    leaf = make_cert("Attacker", root, ocsp_url=f"{base}/ocsp", crl_url=f"{base}/crl",
                     ca_issuers_url=f"{base}/issuer.cer")
    orphan = make_cert("Orphan", issuer_name="Unknown CA", ca_issuers_url=f"{base}/unknown-ca.cer")
    return root, sign_cms(leaf, DOC), sign_cms(orphan, DOC)


@pytest.fixture(autouse=True)
def fresh_backoff():
    """Each test starts without back-off state left by another (it is process-wide)."""
    fetchers._BACKOFFS.clear()


def test_attacker_certificate_reaches_no_loopback_listener_by_default(tmp_path):
    with listener() as spy:
        root, signed, orphan_signed = attacker_files(spy.base)
        policy = ValidationPolicy(trust_roots=[root.asn1], cache_dir=tmp_path / "cache")
        report = validate(signed, policy)
        orphan = validate(orphan_signed, policy)
        time.sleep(0.2)
        assert spy.requests == []
    sig = report.signatures[0]
    assert sig.intact
    assert (sig.indication.name, sig.subindication.name) == ("INDETERMINATE", "TRY_LATER")
    refused = [w for w in sig.warnings if w.startswith("refused to fetch")]
    assert any(f"{spy.base}/ocsp" in w and "loopback" in w for w in refused), sig.warnings
    assert any(f"{spy.base}/crl" in w for w in refused), sig.warnings
    assert orphan.signatures[0].subindication.name == "NO_CERTIFICATE_CHAIN_FOUND"
    assert report.to_dict()["signatures"][0]["revocation_sources"] == []


def test_allowed_listener_is_asked(tmp_path):
    with listener() as spy:
        root, signed, orphan_signed = attacker_files(spy.base)
        allow = FetchPolicy.from_items([f"127.0.0.1:{spy.port}"])
        policy = ValidationPolicy(trust_roots=[root.asn1], fetch=allow, fetch_backoff_seconds=0.01)
        report = validate(signed, policy)
        validate(orphan_signed, policy)
        paths = {(r.method, r.path) for r in spy.requests}
    assert ("POST", "/ocsp") in paths and ("GET", "/crl") in paths and ("GET", "/unknown-ca.cer") in paths
    sig = report.signatures[0]
    assert sig.subindication.name == "TRY_LATER"  # the listener has no revocation data to give
    assert any("HTTP 404" in w for w in sig.warnings), sig.warnings


def test_allow_by_network_and_other_port_still_refused(tmp_path):
    with listener() as spy:
        root, signed, _ = attacker_files(spy.base)
        other_port = FetchPolicy.from_items([f"127.0.0.1:{spy.port + 1}"])
        validate(signed, ValidationPolicy(trust_roots=[root.asn1], fetch=other_port))
        assert spy.requests == []
        network = FetchPolicy.from_items(["127.0.0.0/8"])
        validate(signed, ValidationPolicy(trust_roots=[root.asn1], fetch=network))
        assert spy.requests


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0",  # noqa: S104
    "100.64.0.1", "224.0.0.1", "240.0.0.1", "255.255.255.255", "192.0.2.1",
    "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
    "2002:7f00:1::1", "2001:db8::1",
])
def test_non_public_addresses_are_denied(address):
    assert denied_reason(ipaddress.ip_address(address))
    with pytest.raises(FetchRefused, match="refused to fetch"):
        host = f"[{address}]" if ":" in address else address
        FetchPolicy().check(f"http://{host}:8080/ocsp")


@pytest.mark.parametrize("address", ["8.8.8.8", "193.0.6.139", "2001:4860:4860::8888"])
def test_public_addresses_are_allowed(address):
    assert denied_reason(ipaddress.ip_address(address)) == ""
    host = f"[{address}]" if ":" in address else address
    assert FetchPolicy().check(f"http://{host}/crl").addresses == (address,)


@pytest.mark.parametrize("url", ["ldap://8.8.8.8/cn=CA?certificateRevocationList", "file:///etc/passwd",
                                 "ftp://8.8.8.8/x.crl", "gopher://8.8.8.8/", "http://user:pw@8.8.8.8/x",
                                 "http:///nohost", "http://[::1/x"])
def test_only_plain_http_urls(url):
    with pytest.raises(FetchRefused):
        FetchPolicy().check(url)


def test_every_resolved_address_is_checked():
    def resolve(host, port):
        return {"mixed.example": ["8.8.8.8", "10.0.0.5"], "ok.example": ["8.8.4.4"]}[host]

    policy = FetchPolicy(resolve=resolve)
    with pytest.raises(FetchRefused, match="10.0.0.5 is a private address"):
        policy.check("http://mixed.example/crl")
    assert policy.check("https://ok.example/ocsp").addresses == ("8.8.4.4",)
    by_name = FetchPolicy(allow=(parse_allow("mixed.example"),), resolve=resolve)
    assert by_name.check("http://mixed.example/crl").addresses == ("8.8.8.8", "10.0.0.5")


def test_connects_to_the_checked_address_not_a_second_lookup():
    """The name is resolved once, by the policy; the connection goes to that address with the name
    in Host. `rebind.invalid` resolves nowhere else, so a second lookup would fail."""
    calls = []
    with listener(lambda h: _answer(h, 200, b"crl-bytes")) as spy:
        def resolve(host, port):
            calls.append(host)
            return ["127.0.0.1"]

        policy = FetchPolicy(allow=(parse_allow(f"127.0.0.1:{spy.port}"),), resolve=resolve)
        answer = fetch(policy, "GET", f"http://rebind.invalid:{spy.port}/x.crl")
    assert answer.content == b"crl-bytes" and calls == ["rebind.invalid"]
    assert spy.requests[0].host == f"rebind.invalid:{spy.port}"


def _answer(handler: BaseHTTPRequestHandler, status: int, body: bytes, **headers: str) -> None:
    handler.send_response(status)
    for k, v in headers.items():
        handler.send_header(k, v)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    with contextlib.suppress(BrokenPipeError):  # the client gave up (the timeout test)
        handler.wfile.write(body)


def test_redirects_are_not_followed():
    with listener(lambda h: _answer(h, 302, b"", Location="http://169.254.169.254/latest/")) as spy:
        policy = FetchPolicy.from_items([f"127.0.0.1:{spy.port}"])
        with pytest.raises(FetchRefused, match="redirect"):
            fetch(policy, "GET", f"{spy.base}/ca.crl")
        assert len(spy.requests) == 1


def test_size_and_time_are_bounded():
    big = b"x" * 200_000
    with listener(lambda h: _answer(h, 200, big)) as spy:
        policy = FetchPolicy.from_items([f"127.0.0.1:{spy.port}"], max_bytes=100_000)
        with pytest.raises(FetchRefused, match="bytes"):
            fetch(policy, "GET", f"{spy.base}/huge.crl")

    def slow(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(3)
        _answer(handler, 200, b"late")

    with listener(slow) as spy:
        policy = FetchPolicy.from_items([f"127.0.0.1:{spy.port}"], timeout=0.5)
        start = time.monotonic()
        with pytest.raises(FetchFailed):
            fetch(policy, "GET", f"{spy.base}/slow.crl")
        assert time.monotonic() - start < 2.5


def test_fetch_allow_from_config_and_environment(tmp_path):
    path = tmp_path / "gateway.toml"
    path.write_text('[trust]\nfetch_allow = ["127.0.0.1:8081", "10.0.0.0/8", "ca.local"]\n', encoding="utf-8")
    policy = from_settings(load_config(path, env={}).trust)
    assert policy.check("http://127.0.0.1:8081/ocsp").addresses == ("127.0.0.1",)
    assert policy.check("http://10.2.3.4/crl").addresses == ("10.2.3.4",)
    with pytest.raises(FetchRefused):
        policy.check("http://127.0.0.1:8082/ocsp")
    env = {"GATEWAY_TRUST__FETCH_ALLOW": "127.0.0.1:9000, [::1]:9001"}
    policy = from_settings(load_config(None, env=env).trust)
    assert policy.check("http://[::1]:9001/x").addresses == ("::1",)
    assert policy.check("http://127.0.0.1:9000/x").addresses == ("127.0.0.1",)
    with pytest.raises(ConfigError, match="fetch_allow"):
        from_settings(load_config(None, env={"GATEWAY_TRUST__FETCH_ALLOW": "http://x/"}).trust)


def test_failing_responder_backs_off(tmp_path):
    with listener(lambda h: _answer(h, 503, b"")) as spy:
        root, signed, _ = attacker_files(spy.base)
        allow = FetchPolicy.from_items([f"127.0.0.1:{spy.port}"])
        policy = ValidationPolicy(trust_roots=[root.asn1], fetch=allow, fetch_backoff_seconds=60)
        first = validate(signed, policy)
        asked = len(spy.requests)
        for _ in range(5):
            later = validate(signed, policy)
        assert asked >= 1 and len(spy.requests) == asked
    assert later.signatures[0].subindication.name == "TRY_LATER"
    assert any("failed recently" in w for w in later.signatures[0].warnings), later.signatures[0].warnings
    assert any("not asked again for 60 s" in w for w in first.signatures[0].warnings)


def test_loopback_by_name_is_refused():
    with pytest.raises(FetchRefused, match="loopback"):
        FetchPolicy().check("http://localhost:8081/ocsp")


def test_gateway_verify_command_fetches_nothing_from_loopback(tmp_path):
    """The CLI's policy comes from the configuration: nothing by default, the listener with
    `[trust] fetch_allow` (here from the environment)."""
    with listener() as spy:
        root, signed, _ = attacker_files(spy.base)
        (tmp_path / "root.pem").write_bytes(pem.armor("CERTIFICATE", root.asn1.dump()))
        (tmp_path / "letter.p7m").write_bytes(signed)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        args = [sys.executable, "-m", "gateway", "verify", "--json", "--trust", str(tmp_path / "root.pem"),
                str(tmp_path / "letter.p7m")]
        denied = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
        time.sleep(0.2)
        assert spy.requests == []
        sig = json.loads(denied.stdout)["signatures"][0]
        assert denied.returncode == 3 and sig["subindication"] == "TRY_LATER"
        assert any("refused to fetch" in w for w in sig["warnings"])
        allowed = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=tmp_path,
                                 env={**env, "GATEWAY_TRUST__FETCH_ALLOW": f"127.0.0.1:{spy.port}"})
        assert allowed.returncode == 3 and spy.requests


def test_gateway_init_allows_its_own_pki(tmp_path):
    config = load_config(init_gateway(tmp_path / "gw", name="Test council", edrpou="04056612",
                                      port=free_port()), env={})
    pki = load_dev_pki(config.resolve(config.dev_pki.dir))
    policy = from_settings(config.trust)
    for url in (pki.ocsp_url, pki.crl_url):
        assert policy.check(url).addresses == ("127.0.0.1",)
    with pytest.raises(FetchRefused):
        policy.check(f"http://127.0.0.1:{pki.port + 1}/anything")


@pytest.mark.parametrize("setting", ["GATEWAY_TRUST__FETCH_TIMEOUT=0", "GATEWAY_TRUST__FETCH_MAX_BYTES=-1",
                                     "GATEWAY_TRUST__OCSP_FRESH_SECONDS=-5"])
def test_bounds_must_be_positive(setting):
    key, _, value = setting.partition("=")
    with pytest.raises(ConfigError, match=key.removeprefix("GATEWAY_TRUST__").lower()):
        load_config(None, env={key: value})


def _rest_validation(tmp_path, root_pem, signed: bytes, env: dict[str, str]) -> dict:
    """POST /api/v1/validations on a gateway configured by `env` (over real HTTP)."""
    from gateway.api.app import create_app

    cfg = load_config(env={"GATEWAY_DATABASE__URL": f"sqlite:///{tmp_path / 'gw.db'}",
                           "GATEWAY_STORAGE__DIR": str(tmp_path / "blobs"),
                           "GATEWAY_TRUST__ANCHORS": str(root_pem),
                           "GATEWAY_TRUST__CACHE_DIR": str(tmp_path / "cache"), **env})
    db = open_database(cfg)
    with db.session() as s:
        _, key = create_key(s, "edms")
    db.dispose()
    with serve_app(create_app(cfg, workers=False)) as base, httpx.Client(
            base_url=base, timeout=60, headers={"Authorization": f"Bearer {key}"}) as client:
        resp = client.post("/api/v1/validations", files=[("file", ("letter.p7m", signed))])
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_rest_validation_of_an_attackers_certificate_reaches_no_loopback_listener(tmp_path):
    with listener() as spy:
        root, signed, _ = attacker_files(spy.base)
        root_pem = tmp_path / "root.pem"
        root_pem.write_bytes(pem.armor("CERTIFICATE", root.asn1.dump()))
        report = _rest_validation(tmp_path / "a", root_pem, signed, {})
        time.sleep(0.2)
        assert spy.requests == []
        sig = report["signatures"][0]
        assert sig["subindication"] == "TRY_LATER" and sig["revocation_sources"] == []
        assert any(w.startswith(f"refused to fetch {spy.base}/") for w in sig["warnings"]), sig["warnings"]
        allow = {"GATEWAY_TRUST__FETCH_ALLOW": f"127.0.0.1:{spy.port}"}
        _rest_validation(tmp_path / "b", root_pem, signed, allow)
        assert {r.path for r in spy.requests} >= {"/ocsp", "/crl"}


def test_one_certificate_cannot_cause_many_fetches():
    with listener() as spy:
        root = make_cert("Test Root", ca=True)
        urls = tuple(f"{spy.base}/crl{i}" for i in range(60))
        leaf = make_cert("Attacker", root, extra_crl_urls=urls)
        allow = FetchPolicy.from_items([f"127.0.0.1:{spy.port}"])
        report = validate(sign_cms(leaf, DOC), ValidationPolicy(trust_roots=[root.asn1], fetch=allow))
        assert 0 < len(spy.requests) <= fetchers.LIMITS.max_requests
    assert report.signatures[0].subindication.name == "TRY_LATER"


@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "127.1", "017700000001", "localhost.",
                                  "[::ffff:7f00:1]", "[0:0:0:0:0:0:0:1]"])
def test_other_spellings_of_loopback_are_refused(host):
    """Decimal, hex, short and octal IPv4 forms resolve (inet_aton) to loopback: the resolved
    address is what is checked and what is connected to."""
    with pytest.raises(FetchRefused, match="refused to fetch"):
        FetchPolicy().check(f"http://{host}:8081/ocsp")
