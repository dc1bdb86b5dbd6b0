"""Revocation data reused, not refetched (issue 8), and never cached on an uploaded file's say-so
(issue 11, cache poisoning): real CRLs and OCSP responses served over HTTP on loopback."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import crl as asn1_crl
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from fetch_support import crl_answer, listener, make_cert, make_crl, ocsp_answer, sign_cms, with_crls

from gateway.signing.validation import fetchers, revcache
from gateway.signing.validation.engine import validate
from gateway.signing.validation.fetchpolicy import FetchPolicy
from gateway.signing.validation.policy import ValidationPolicy

DOC = "Розпорядження № 7\n".encode()


@pytest.fixture(autouse=True)
def fresh_process_state():
    """The caches and back-off are per process; each test starts as a fresh process would."""
    revcache._CACHES.clear()
    fetchers._BACKOFFS.clear()


def _policy(spy, root, cache_dir=None, **kw) -> ValidationPolicy:
    return ValidationPolicy(trust_roots=[root.asn1], cache_dir=cache_dir,
                            fetch=FetchPolicy.from_items([f"127.0.0.1:{spy.port}"]), **kw)


def _cache_files(cache_dir):
    return sorted(p.name for p in cache_dir.iterdir()) if cache_dir.exists() else []


def _sources(report):
    return report.to_dict()["signatures"][0]["revocation_sources"]


def test_forged_crls_in_an_upload_are_not_cached(tmp_path):
    root = make_cert("Council Root", ca=True)
    forger = make_cert("Council Root", ca=True)  # same name, another key
    stranger = make_cert("Other CA", ca=True)
    cache_dir = tmp_path / "cache"
    with listener(crl_answer(root)) as spy:
        leaf = make_cert("Seal", root, crl_url=f"{spy.base}/root.crl")
        forged = [make_crl(forger, revoked=[leaf.cert.serial_number]) for _ in range(11)]
        forged += [make_crl(stranger) for _ in range(10)]
        upload = with_crls(sign_cms(leaf, DOC), forged)
        assert _cache_files(cache_dir) == []
        report = validate(upload, _policy(spy, root, cache_dir))
    sig = report.signatures[0]
    assert sig.indication.name == "TOTAL_PASSED", sig.errors  # the forged "revoked" CRLs did not count
    files = _cache_files(cache_dir)
    assert len(files) == 1 and files[0].startswith("crl-"), files
    cached = asn1_crl.CertificateList.load((cache_dir / files[0]).read_bytes())
    assert cached.issuer.native["common_name"] == "Council Root"
    assert (cache_dir / files[0]).stat().st_mode & 0o777 == 0o600
    assert [(s["type"], s["source"], s["url"]) for s in _sources(report)] == [
        ("crl", "fetched", f"{spy.base}/root.crl")]


def test_embedded_crls_without_a_validated_path_are_not_cached(tmp_path):
    untrusted = make_cert("Self-made Root", ca=True)
    leaf = make_cert("Someone", untrusted)
    upload = with_crls(sign_cms(leaf, DOC, [untrusted.cert]), [make_crl(untrusted) for _ in range(5)])
    trusted = make_cert("Council Root", ca=True)
    cache_dir = tmp_path / "cache"
    report = validate(upload, ValidationPolicy(trust_roots=[trusted.asn1], cache_dir=cache_dir))
    assert report.signatures[0].subindication.name == "NO_CERTIFICATE_CHAIN_FOUND"
    assert _cache_files(cache_dir) == []


def test_genuine_embedded_crl_is_cached_once_verified(tmp_path):
    root = make_cert("Council Root", ca=True)
    leaf = make_cert("Seal", root, crl_url="http://127.0.0.1:9/never-asked.crl")
    upload = with_crls(sign_cms(leaf, DOC), [make_crl(root)])
    cache_dir = tmp_path / "cache"
    report = validate(upload, ValidationPolicy(trust_roots=[root.asn1], cache_dir=cache_dir))
    assert report.signatures[0].indication.name == "TOTAL_PASSED", report.signatures[0].errors
    assert [s["source"] for s in _sources(report)] == ["embedded"]
    assert len(_cache_files(cache_dir)) == 1
    # the verified copy then serves another file of the same issuer that embeds nothing, offline
    other = sign_cms(make_cert("Seal 2", root, crl_url="http://127.0.0.1:9/x.crl"), DOC)
    offline = validate(other, ValidationPolicy(trust_roots=[root.asn1], cache_dir=cache_dir, offline=True))
    assert offline.signatures[0].indication.name == "TOTAL_PASSED", offline.signatures[0].errors


def test_crl_is_reused_until_next_update_also_after_a_restart(tmp_path):
    root = make_cert("Council Root", ca=True)
    cache_dir = tmp_path / "cache"
    with listener(crl_answer(root)) as spy:
        leaf = make_cert("Seal", root, crl_url=f"{spy.base}/root.crl")
        upload = sign_cms(leaf, DOC)
        reports = [validate(upload, _policy(spy, root, cache_dir)) for _ in range(5)]
        assert len(spy.requests) == 1
        revcache._CACHES.clear()  # a restart: memory gone, the folder stays
        after_restart = validate(upload, _policy(spy, root, cache_dir))
        assert len(spy.requests) == 1
    assert all(r.signatures[0].indication.name == "TOTAL_PASSED" for r in [*reports, after_restart])
    assert [s["source"] for s in _sources(reports[0])] == ["fetched"]
    assert [s["source"] for s in _sources(reports[-1])] == ["cached"]
    first, later = _sources(reports[0])[0], _sources(after_restart)[0]
    assert later["this_update"] == first["this_update"] and later["issuer"] == first["issuer"]
    assert later["url"] == f"{spy.base}/root.crl"


def test_expired_crl_is_fetched_again(tmp_path):
    root = make_cert("Council Root", ca=True)
    with listener(crl_answer(root, next_update=timedelta(seconds=62))) as spy:
        upload = sign_cms(make_cert("Seal", root, crl_url=f"{spy.base}/root.crl"), DOC)
        validate(upload, _policy(spy, root))
        cache = revcache.cache_for(None)
        # as if a minute had passed: the CRL made at "now - 1 min" has reached its nextUpdate
        for entry in cache._entries.values():
            entry.next_update = entry.this_update + timedelta(seconds=1)
        report = validate(upload, _policy(spy, root))
        assert len(spy.requests) == 2
    assert [s["source"] for s in _sources(report)] == ["fetched"]


def test_ocsp_response_reused_within_its_freshness_window(tmp_path):
    root = make_cert("Council Root", ca=True)
    answered: list[int] = []
    subjects = {}
    with listener(ocsp_answer(root, subjects, count=answered)) as spy:
        leaf = make_cert("Seal", root, ocsp_url=f"{spy.base}/ocsp")
        subjects[leaf.cert.serial_number] = leaf
        upload = sign_cms(leaf, DOC)
        reports = [validate(upload, _policy(spy, root, tmp_path / "cache", ocsp_fresh_seconds=60))
                   for _ in range(4)]
        assert len(answered) == 1
        short = [validate(upload, _policy(spy, root, tmp_path / "cache", ocsp_fresh_seconds=0.3))
                 for _ in range(2) if time.sleep(0.4) is None]
        assert len(answered) == 3
    assert all(r.signatures[0].indication.name == "TOTAL_PASSED" for r in [*reports, *short])
    first, reused = _sources(reports[0])[0], _sources(reports[1])[0]
    assert (first["type"], first["source"], reused["source"]) == ("ocsp", "fetched", "cached")
    assert reused["produced_at"] == first["produced_at"] and first["url"] == f"{spy.base}/ocsp"
    assert [s["source"] for s in _sources(short[1])] == ["fetched"]


def test_concurrent_validations_share_one_fetch(tmp_path):
    root = make_cert("Council Root", ca=True)
    with listener(crl_answer(root, delay=1.5)) as spy:  # long enough for all threads to ask
        upload = sign_cms(make_cert("Seal", root, crl_url=f"{spy.base}/root.crl"), DOC)
        results = []

        def run() -> None:
            results.append(validate(upload, _policy(spy, root)))

        threads = [threading.Thread(target=run) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(spy.requests) == 1
    assert len(results) == 6
    assert all(r.signatures[0].indication.name == "TOTAL_PASSED" for r in results)


def _partition_answer(root, base_holder):
    """A CA publishing one CRL per distribution point, each naming it in its issuing distribution
    point (RFC 5280 5.2.5)."""

    def answer(handler) -> None:
        url = f"{base_holder[0]}{handler.path}"
        now = datetime.now(UTC) - timedelta(minutes=1)
        idp = x509.IssuingDistributionPoint(
            full_name=[x509.UniformResourceIdentifier(url)], relative_name=None,
            only_contains_user_certs=False, only_contains_ca_certs=False, only_some_reasons=None,
            indirect_crl=False, only_contains_attribute_certs=False)
        body = (x509.CertificateRevocationListBuilder().issuer_name(root.cert.subject).last_update(now)
                .next_update(now + timedelta(days=1)).add_extension(idp, critical=True)
                .sign(root.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER))
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return answer


def test_partitioned_crls_are_kept_apart(tmp_path):
    root = make_cert("Council Root", ca=True)
    base: list[str] = []
    cache_dir = tmp_path / "cache"
    with listener(_partition_answer(root, base)) as spy:
        base.append(spy.base)
        one = sign_cms(make_cert("Seal 1", root, crl_url=f"{spy.base}/part1.crl"), DOC)
        two = sign_cms(make_cert("Seal 2", root, crl_url=f"{spy.base}/part2.crl"), DOC)
        reports = [validate(doc, _policy(spy, root, cache_dir)) for doc in (one, two, one, two)]
        assert sorted(r.path for r in spy.requests) == ["/part1.crl", "/part2.crl"]
    assert all(r.signatures[0].indication.name == "TOTAL_PASSED" for r in reports)
    assert [[(s["source"], s["url"].rsplit("/", 1)[1]) for s in _sources(r)] for r in reports] == [
        [("fetched", "part1.crl")], [("fetched", "part2.crl")], [("cached", "part1.crl")],
        [("cached", "part2.crl")]]
    assert len([f for f in _cache_files(cache_dir) if f.startswith("crl-")]) == 2


def test_offline_reports_embedded_data_and_writes_nothing(tmp_path):
    root = make_cert("Council Root", ca=True)
    seal = make_cert("Seal", root, crl_url="http://127.0.0.1:9/x.crl")
    upload = with_crls(sign_cms(seal, DOC), [make_crl(root)])
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    report = validate(upload, ValidationPolicy(trust_roots=[root.asn1], cache_dir=cache_dir, offline=True))
    assert report.signatures[0].indication.name == "TOTAL_PASSED", report.signatures[0].errors
    assert [(s["type"], s["source"], s["url"]) for s in _sources(report)] == [("crl", "embedded", None)]
    assert _cache_files(cache_dir) == []
