"""Qualification in reports (QESig, QESeal, AdESig-QC, AdESeal-QC, AdESig, AdESeal, NA) from
imported trusted lists: Ukrainian-like lists signed with the development PKI through the project's
XAdES signer, signatures made by `gateway sign` and judged by `gateway verify`; and the real DSS
third-country case (john-doe-lta.xml with the ZZ list: QESig in DSS's ThirdCountryLOTLTest)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from asn1crypto import cms
from test_store_support import serve_app
from test_trusted_lists_support import ServiceSpec, State, build_list, issue_qc, sign_list
from test_ua_sev import extract  # the SEV samples' reader (shared/sev-reference)

from gateway.api.app import create_app
from gateway.cli import main
from gateway.config import load_config
from gateway.pki.dev import DevPki
from gateway.pki.tl.model import Criteria, Provider, Qualification, Service, ServiceState, TrustedList
from gateway.pki.tl.parse import load_tree, parse_tree
from gateway.pki.tl.qualification import TrustedListQualifier, cert_facts, criteria_match
from gateway.signing.certificates import load_certificates
from gateway.signing.validation.chain import simple_chain
from gateway.signing.validation.xml import _certs_from
from gateway.signing.xml.xmldsig import q
from gateway.store.apikeys import create_key
from gateway.store.db import open_database

DATA = Path(__file__).parent / "data" / "tl"
PROVIDER = "Dev Qualified Provider (ДП «Дія»-like)"
LONG_AGO = datetime.now(UTC) - timedelta(days=30)


@pytest.fixture(scope="module")
def signers(dev_pki: DevPki, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """PKCS#12 files of certificates from the development CA with various QC statements."""
    folder = tmp_path_factory.mktemp("qc-signers")
    kinds = {
        "qseal": {"qc_type": "eseal", "qscd": True},
        "qsig": {"qc_type": "esig", "qscd": True},
        "qc-no-qscd": {"qc_type": "eseal", "qscd": False},
        "not-qc": {"compliance": False, "qc_type": "eseal", "qscd": False},
    }
    return {label: issue_qc(dev_pki, folder, label, **kw)[0] for label, kw in kinds.items()}


@pytest.fixture(scope="module")
def signed(
    dev_pki: DevPki, signers: dict[str, Path], tmp_path_factory: pytest.TempPathFactory, key_password: None
) -> dict:
    """One detached CAdES B-T per signer (timestamped by the development TSA)."""
    folder = tmp_path_factory.mktemp("qc-signed")
    out = {}
    for label, p12 in signers.items():
        doc = folder / f"{label}.txt"
        doc.write_text(f"letter signed by {label}\n", encoding="utf-8")
        code = main(["sign", "--format", "cades", "--level", "B-T", "--tsa", dev_pki.tsa_url,
                     "--key", str(p12), "--key-password-env", "TL_TEST_PW", str(doc)])
        assert code == 0
        out[label] = (doc, Path(f"{doc}.p7s"))
    out["signed_by"] = datetime.now(UTC)
    return out


@pytest.fixture(scope="module", autouse=True)
def key_password(dev_pki: DevPki) -> Iterator[None]:
    mp = pytest.MonkeyPatch()
    mp.setenv("TL_TEST_PW", dev_pki.password().decode())
    mp.delenv("GATEWAY_CONFIG", raising=False)
    yield
    mp.undo()


def gateway(tmp_path: Path, dev_pki: DevPki, *, anchors: bool = True) -> Path:
    """A configuration that trusts the development root (unless told not to) and lets online
    validation reach the development PKI's OCSP/CRL (the default fetch policy refuses loopback)."""
    cfg = tmp_path / "gateway.toml"
    roots = f'anchors = ["{dev_pki.root_cert}"]\n' if anchors else ""
    fetch = f'fetch_allow = ["127.0.0.1:{dev_pki.port}"]\n'
    cfg.write_text(f"[trust]\n{roots}{fetch}", encoding="utf-8")
    return cfg


def add_list(cfg: Path, dev_pki: DevPki, services: list[ServiceSpec], **kw: object) -> None:
    xml = cfg.parent / "TL-UA.xml"
    xml.write_bytes(sign_list(build_list(services, **kw), dev_pki))  # type: ignore[arg-type]
    code = main(["trust", "tl", "add", str(xml), "--signer", str(dev_pki.seal_cert), "--config", str(cfg)])
    assert code == 0


def ca_service(dev_pki: DevPki, *states: State) -> ServiceSpec:
    states_ = list(states) or [State("granted", LONG_AGO)]
    return ServiceSpec("Dev Qualified CA", dev_pki.ca_cert.read_bytes(), states_)


def verify(cfg: Path, doc: Path, p7s: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict:
    capsys.readouterr()
    main(["verify", "--json", "--config", str(cfg), "--detached", str(doc), *extra, str(p7s)])
    report = json.loads(capsys.readouterr().out)
    [sig] = report["signatures"]
    return sig


def test_without_trusted_lists_the_qualification_is_null(tmp_path, dev_pki, signed, capsys) -> None:  # type: ignore[no-untyped-def]
    cfg = gateway(tmp_path, dev_pki)
    sig = verify(cfg, *signed["qseal"], capsys)
    assert sig["indication"] == "TOTAL_PASSED"
    assert "qualification" in sig and sig["qualification"] is None


@pytest.mark.parametrize(("label", "expected"), [
    ("qseal", "QESeal"),
    ("qsig", "QESig"),
    ("qc-no-qscd", "AdESeal-QC"),
    ("not-qc", "AdESeal"),
])
def test_qualification_from_the_certificate_and_a_granted_service(  # type: ignore[no-untyped-def]
    tmp_path, dev_pki, signed, capsys, label, expected
) -> None:
    cfg = gateway(tmp_path, dev_pki)
    add_list(cfg, dev_pki, [ca_service(dev_pki)])
    sig = verify(cfg, *signed[label], capsys)
    assert sig["indication"] == "TOTAL_PASSED", (sig["errors"], sig["warnings"])
    assert sig["qualification"] == expected
    assert sig["qualification_provider"] == PROVIDER


def test_service_qualifiers_override_the_certificate(tmp_path, dev_pki, signed, capsys) -> None:  # type: ignore[no-untyped-def]
    cfg = gateway(tmp_path, dev_pki)
    add_list(cfg, dev_pki, [ca_service(dev_pki, State("granted", LONG_AGO, ["QCNoQSCD"], ["ForeSeals"]))])
    assert verify(cfg, *signed["qseal"], capsys)["qualification"] == "AdESeal-QC"
    # the service is for seals only: a certificate for signatures is not qualified by it
    sig = verify(cfg, *signed["qsig"], capsys)
    assert sig["qualification"] == "AdESig"
    assert "the trusted service is not for certificates of type esig" in sig["warnings"]
    (tmp_path / "b").mkdir()
    cfg2 = gateway(tmp_path / "b", dev_pki)
    add_list(cfg2, dev_pki, [ca_service(dev_pki, State("granted", LONG_AGO, ["QCStatement", "QCWithQSCD"]))])
    assert verify(cfg2, *signed["not-qc"], capsys)["qualification"] == "QESeal"


def test_service_withdrawn_before_the_signing_time_downgrades(tmp_path, dev_pki, signed, capsys) -> None:  # type: ignore[no-untyped-def]
    cfg = gateway(tmp_path, dev_pki)
    withdrawn = State("withdrawn", LONG_AGO + timedelta(days=10))
    add_list(cfg, dev_pki, [ca_service(dev_pki, withdrawn, State("granted", LONG_AGO))])
    sig = verify(cfg, *signed["qseal"], capsys)
    assert sig["indication"] == "TOTAL_PASSED"
    assert sig["qualification"] == "AdESeal"
    assert any("'Dev Qualified CA' was withdrawn" in w for w in sig["warnings"])


def test_service_withdrawn_after_the_signing_time_keeps_it(tmp_path, dev_pki, signed, capsys) -> None:  # type: ignore[no-untyped-def]
    cfg = gateway(tmp_path, dev_pki)
    later = signed["signed_by"] + timedelta(seconds=2)  # after the signatures' timestamps
    add_list(cfg, dev_pki, [ca_service(dev_pki, State("withdrawn", later), State("granted", LONG_AGO))])
    sig = verify(cfg, *signed["qseal"], capsys)
    assert datetime.fromisoformat(sig["best_signature_time"]) < later
    assert sig["qualification"] == "QESeal"


def test_list_services_are_trust_anchors(tmp_path, dev_pki, signed, capsys) -> None:  # type: ignore[no-untyped-def]
    """No [trust] anchors: the services of the list are the anchors (a national root listed as a
    CA/PKC service, like the Central Certification Authority's, the providers' CA/QC and TSA/QTST
    services under it)."""
    cfg = gateway(tmp_path, dev_pki, anchors=False)
    sig = verify(cfg, *signed["qseal"], capsys)
    assert (sig["indication"], sig["subindication"]) == ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND")
    granted = [State("granted", LONG_AGO)]
    tsa = ServiceSpec("Dev TSA", (dev_pki.dir / "tsa.pem").read_bytes(), granted, "TSA/QTST")
    root = ServiceSpec("Dev Root", dev_pki.root_cert.read_bytes(), granted, "CA/PKC")
    add_list(cfg, dev_pki, [ca_service(dev_pki), tsa, root])
    sig = verify(cfg, *signed["qseal"], capsys)
    assert sig["indication"] == "TOTAL_PASSED", sig
    assert sig["qualification"] == "QESeal"


def test_signature_that_does_not_pass_is_na(tmp_path, dev_pki, signed, capsys) -> None:  # type: ignore[no-untyped-def]
    """Offline, without cached revocation data, the signature is INDETERMINATE: no qualification."""
    cfg = gateway(tmp_path, dev_pki)
    add_list(cfg, dev_pki, [ca_service(dev_pki)])
    sig = verify(cfg, *signed["qseal"], capsys, "--offline")
    assert sig["indication"] == "INDETERMINATE"
    assert sig["qualification"] == "NA"
    assert any("it would be QESeal" in w for w in sig["warnings"])


def test_signer_outside_the_lists_is_na(tmp_path, dev_pki, signed, capsys) -> None:  # type: ignore[no-untyped-def]
    cfg = gateway(tmp_path, dev_pki)
    zz_ca = (DATA / "zz-anchors.pem").read_bytes().split(b"-----END CERTIFICATE-----")[0]
    other = ServiceSpec("Another CA", zz_ca + b"-----END CERTIFICATE-----\n", [State("granted", LONG_AGO)])
    add_list(cfg, dev_pki, [other])
    sig = verify(cfg, *signed["qseal"], capsys)
    assert sig["indication"] == "TOTAL_PASSED"
    assert sig["qualification"] == "NA" and sig["qualification_provider"] is None


def test_real_third_country_signature_is_qesig() -> None:
    """DSS (ThirdCountryLOTLTest): john-doe-lta.xml under the ZZ list is QESig."""
    zz = parse_tree(load_tree((DATA / "mra-zz-tl.xml").read_bytes()))
    tree = load_tree((DATA / "john-doe-lta.xml").read_bytes())
    certs = _certs_from(list(tree.getroot().iter(q("X509Certificate"))))
    signer = next(c for c in certs if "john" in c.subject.human_friendly.lower())
    chain = simple_chain(signer, [*certs, *load_certificates(DATA / "zz-anchors.pem")])
    assert len(chain) == 3
    at = datetime(2022, 7, 28, 8, 38, 26, tzinfo=UTC)  # the signature timestamp's time
    result = TrustedListQualifier([zz])(signer, chain, at)
    assert (result.value, result.provider) == ("QESig", "Third Country QTSP Company")
    # before the ZZ service was granted (2020-11-10) the list gives no qualified status
    early = TrustedListQualifier([zz])(signer, chain, datetime(2020, 1, 1, tzinfo=UTC))
    assert early.value == "AdESig"


def test_real_third_country_signature_end_to_end(tmp_path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("GATEWAY_CONFIG", raising=False)
    cfg = tmp_path / "gateway.toml"
    anchors = DATA / "zz-anchors.pem"
    cfg.write_text(f'[trust]\nanchors = ["{anchors}"]\nrevocation = "offline"\n', encoding="utf-8")
    signer = str(DATA / "zz-tl-signer.pem")
    assert main(["trust", "tl", "add", str(DATA / "mra-zz-tl.xml"), "--signer", signer,
                 "--at", "2022-07-01", "--config", str(cfg)]) == 0
    capsys.readouterr()
    at = "2022-08-01T00:00:00Z"
    main(["verify", "--json", "--config", str(cfg), "--at", at, str(DATA / "john-doe-lta.xml")])
    [sig] = json.loads(capsys.readouterr().out)["signatures"]
    assert sig["qualification_provider"] == "Third Country QTSP Company"
    # QESig once the signature passes; this engine does not yet accept the responder DSS trusts
    # directly (INDETERMINATE), and then the report says NA and what it would be
    assert sig["qualification"] == "QESig" or (
        sig["qualification"] == "NA" and any("it would be QESig" in w for w in sig["warnings"])
    ), sig


def test_real_ukrainian_certificate_from_a_sev_sample() -> None:
    """The DSTU signer of SEV sample ds05 carries the national QcCompliance statement
    (1.2.804.2.1.1.1.2.1) and the "qualified" policy mark; its CA listed by SKI (as the national
    lists may do) with QCWithQSCD gives QESig while granted, AdESig once withdrawn."""
    _doc, sig = extract("ds05")
    [signer] = [c.chosen for c in cms.ContentInfo.load(sig)["content"]["certificates"]]
    facts = cert_facts(signer)
    assert facts.qc_compliance and "1.2.804.2.1.1.1.2.2" in facts.policies
    since = signer.not_valid_before - timedelta(days=1)
    signing = signer.not_valid_before + timedelta(days=1)

    def qualify(*states: ServiceState) -> str:
        service = Service("Test CA (DSTU)", [], [], [signer.authority_key_identifier], list(states))
        tl = TrustedList("UA", "ualist", 7, since, since, "", [Provider("АЦСК", [service])], [])
        result = TrustedListQualifier([tl])(signer, [signer], signing)
        assert result.provider == "АЦСК"
        assert "the UA trusted list #7 is past its NextUpdate" in result.warnings[0]  # kept, still used
        return result.value

    qscd = [Qualification(["qcwithqscd"], Criteria(key_usage=[{"nonRepudiation": True}]))]
    assert qualify(ServiceState("ca/qc", "", "granted", since, [], qscd)) == "QESig"
    assert qualify(ServiceState("ca/qc", "", "granted", since)) == "AdESig-QC"
    withdrawn = ServiceState("ca/qc", "", "withdrawn", signing - timedelta(hours=1))
    assert qualify(withdrawn, ServiceState("ca/qc", "", "granted", since, [], qscd)) == "AdESig"


def test_rest_validation_carries_the_qualification(tmp_path, dev_pki, signed) -> None:  # type: ignore[no-untyped-def]
    """POST /api/v1/validations of a running gateway; `trust tl remove` takes effect without restart."""
    cfg_path = gateway(tmp_path, dev_pki)
    cfg_path.write_text(cfg_path.read_text(encoding="utf-8") + (
        f'[database]\nurl = "sqlite:///{tmp_path / "gw.db"}"\n[storage]\ndir = "{tmp_path / "blobs"}"\n'
    ), encoding="utf-8")
    add_list(cfg_path, dev_pki, [ca_service(dev_pki)])
    cfg = load_config(cfg_path)
    db = open_database(cfg)
    with db.session() as s:
        _, key = create_key(s, "edms")
    db.dispose()
    doc, p7s = signed["qseal"]

    def validate(client: httpx.Client) -> dict:
        files = [("file", (p7s.name, p7s.read_bytes())), ("detached", (doc.name, doc.read_bytes()))]
        resp = client.post("/api/v1/validations", files=files)
        assert resp.status_code == 200, resp.text
        [sig] = resp.json()["signatures"]
        return sig

    with serve_app(create_app(cfg, workers=False)) as base, httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as client:
        sig = validate(client)
        assert (sig["indication"], sig["qualification"]) == ("TOTAL_PASSED", "QESeal")
        assert sig["qualification_provider"] == PROVIDER
        assert main(["trust", "tl", "remove", "UA", "--config", str(cfg_path)]) == 0
        assert validate(client)["qualification"] is None


@pytest.mark.parametrize(("criteria", "matches"), [
    (Criteria(assert_="all", policies=[["1.2.804.2.1.1.1.2.2"]]), True),
    (Criteria(assert_="all", policies=[["1.2.804.2.1.1.1.2.2", "0.4.0.194112.1.2"]]), False),
    (Criteria(assert_="atLeastOne", policies=[["0.4.0.194112.1.2"]], key_usage=[{"nonRepudiation": True}]),
     True),
    (Criteria(assert_="none", key_usage=[{"keyCertSign": True}]), True),
    (Criteria(assert_="none", key_usage=[{"digitalSignature": True}]), False),
    (Criteria(assert_="all", unsupported=True), False),
])
def test_qualifier_criteria(criteria: Criteria, matches: bool) -> None:
    """ecc:CriteriaList against the real Ukrainian signer of ds05 (policy 1.2.804.2.1.1.1.2.2, key
    usage digitalSignature + nonRepudiation); criteria this code cannot evaluate never match."""
    _doc, sig = extract("ds05")
    [signer] = [c.chosen for c in cms.ContentInfo.load(sig)["content"]["certificates"]]
    assert criteria_match(criteria, cert_facts(signer)) is matches
