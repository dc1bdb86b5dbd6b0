"""`gateway init --dstu`: a DSTU 4145 seal signs B-T letters that the gateway then validates."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def gateway(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True,
                          timeout=180, env=os.environ.copy())


def test_dstu_seal_signs_and_verifies_end_to_end(dev_pki, tmp_path):
    made = gateway("init", str(tmp_path / "gw"), "--dstu", "--pki", str(dev_pki.dir), "--port", "18999")
    assert made.returncode == 0, made.stderr
    config = str(tmp_path / "gw" / "gateway.toml")
    letter = tmp_path / "letter.txt"
    letter.write_text("Лист до Одеської міської ради", encoding="utf-8")

    signed = gateway("sign", "--format", "cades", "--level", "B-T", "--config", config, str(letter))
    assert signed.returncode == 0, signed.stderr
    checked = gateway("verify", "--json", "--config", config, "--detached", str(letter), f"{letter}.p7s")
    report = json.loads(checked.stdout)
    assert checked.returncode == 0, checked.stdout
    sig = report["signatures"][0]
    assert (report["indication"], sig["format"]) == ("TOTAL_PASSED", "CAdES-BASELINE-T")
    assert sig["algorithm"] == {"digest": "gost34311", "signature": "dstu4145"}
    assert sig["signer"]["edrpou"] == "04056612"

    letter.write_text("Лист до Одеської міської ради!", encoding="utf-8")
    tampered = gateway("verify", "--json", "--config", config, "--detached", str(letter), f"{letter}.p7s")
    assert tampered.returncode == 1
    assert json.loads(tampered.stdout)["subindication"] == "HASH_FAILURE"
