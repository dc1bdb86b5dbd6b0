"""House rules of the validator: a validator that cannot be imported is a start-up error, one rule
decides which failure wins, and signing code imports no validation code."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gateway.api.app import create_app
from gateway.cli import main
from gateway.config import load_config
from gateway.signing.report import (
    Indication,
    SignatureReport,
    SubIndication,
    crypto_order,
)
from gateway.signing.validation import engine
from gateway.signing.validation.engine import ValidatorUnavailable, load_validators, validate
from gateway.signing.validation.policy import ValidationPolicy


@pytest.fixture
def broken_asic(monkeypatch):
    monkeypatch.setitem(engine.PLUGINS, "ASiC", "gateway.signing.validation.not_there")
    monkeypatch.delitem(engine.VALIDATORS, "ASiC", raising=False)


def test_missing_validator_module_is_an_error_not_a_report(broken_asic):
    with pytest.raises(ValidatorUnavailable, match="ASiC validator cannot be loaded"):
        validate(b"PK\x03\x04junk", ValidationPolicy(offline=True))


def test_missing_validator_module_stops_the_server_at_start_up(broken_asic):
    with pytest.raises(ValidatorUnavailable):
        create_app(load_config(env={}), workers=False)
    with pytest.raises(ValidatorUnavailable):
        load_validators()


def test_missing_validator_module_is_one_line_from_the_cli(broken_asic, tmp_path, capsys):
    path = tmp_path / "x.asice"
    path.write_bytes(b"PK\x03\x04junk")
    assert main(["verify", "--offline", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gateway: error: the ASiC validator cannot be loaded") and "\n" not in err


def test_broken_algorithm_plugin_is_an_error_missing_one_is_not(monkeypatch, tmp_path):
    monkeypatch.setattr(engine, "_algorithms_loaded", False)
    monkeypatch.setattr(engine, "ALGORITHM_PLUGINS", ("gateway.no_such_plugin",))
    load_validators()  # not installed: fine
    monkeypatch.setattr(engine, "_algorithms_loaded", False)
    monkeypatch.setattr(engine, "ALGORITHM_PLUGINS", ("gateway.signing.validation.not_there_either",))
    load_validators()
    monkeypatch.setattr(engine, "_algorithms_loaded", False)
    (tmp_path / "broken_algorithms.py").write_text("raise RuntimeError('needs a library not installed')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(engine, "ALGORITHM_PLUGINS", ("broken_algorithms",))
    with pytest.raises(ValidatorUnavailable, match="algorithm plugin broken_algorithms"):
        load_validators()


def test_earlier_building_block_decides_between_equal_indications():
    """Cryptographic verification (signed data not found) comes before certificate validation."""
    sig = SignatureReport(indication=Indication.TOTAL_PASSED)
    sig.fail(Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND, "no chain")
    sig.fail(Indication.INDETERMINATE, SubIndication.SIGNED_DATA_NOT_FOUND, "data missing")
    assert sig.subindication == SubIndication.SIGNED_DATA_NOT_FOUND
    sig.fail(Indication.INDETERMINATE, SubIndication.TRY_LATER, "later")
    assert sig.subindication == SubIndication.SIGNED_DATA_NOT_FOUND
    sig.fail(Indication.TOTAL_FAILED, SubIndication.REVOKED, "revoked")
    assert (sig.indication, sig.subindication) == (Indication.TOTAL_FAILED, SubIndication.REVOKED)
    sig.fail(Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE, "digest")
    assert sig.subindication == SubIndication.HASH_FAILURE
    assert sig.errors == ["no chain", "data missing", "later", "revoked", "digest"]


def test_missing_data_decides_before_a_digest_mismatch():
    findings = [
        (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE, "b.txt altered"),
        (Indication.INDETERMINATE, SubIndication.SIGNED_DATA_NOT_FOUND, "a.txt missing"),
        (Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE, "bad value"),
    ]
    deciding, others = crypto_order(findings)
    assert deciding == [findings[1]]
    assert others == ["b.txt altered", "bad value"]


def test_signing_code_imports_no_validation_code():
    code = (
        "import sys, gateway.signing.cades, gateway.signing.pades, gateway.signing.xades, "
        "gateway.signing.xml.builder, gateway.signing.keys, gateway.signing.algorithms\n"
        "bad = sorted(m for m in sys.modules if m.startswith('gateway.signing.validation'))\n"
        "assert not bad, bad\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
