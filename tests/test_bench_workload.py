"""The format benchmark's own work (bench/workload.py), small: `make bench` is not run in CI, so this
keeps it from rotting when the signing API changes, and shows that its integrity check can fail."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.append(str(BENCH))  # after everything else: bench/ holds generic names (report, timing)

import workload  # noqa: E402

SIZE = 10 * 1024


@pytest.fixture(scope="module")
def seal(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("bench-seal")
    p12 = workload.make_p12(folder)
    return p12, workload.load_key(p12)


@pytest.mark.parametrize("fmt", list(workload.FORMATS))
def test_each_format_signs_and_validates_and_a_changed_document_is_caught(fmt, seal, tmp_path):
    _, key = seal
    src = workload.make_input(tmp_path, fmt, SIZE)
    assert abs(src.stat().st_size - SIZE) < 1024
    out = workload.signed_path(fmt, src)
    workload.sign(key, fmt, src, out)
    assert workload.check(fmt, out, src) == 1

    target = src if fmt in ("cades", "xades") else out  # detached: the document; else the signed file
    data = bytearray(target.read_bytes())
    # a byte of the document's content: the middle of the random data (of the image in the PDF)
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match="does not validate"):
        workload.check(fmt, out, src)


def test_asice_gets_a_second_signature(seal, tmp_path):
    _, key = seal
    src = workload.make_input(tmp_path, "asice-xades", SIZE)
    one = workload.sign(key, "asice-xades", src, workload.signed_path("asice-xades", src, "-1"))
    two = workload.sign(key, "asice-xades", src, workload.signed_path("asice-xades", src, "-2"), one)
    assert workload.check("asice-xades", two, src, signatures=2) == 2
    with pytest.raises(RuntimeError):
        workload.check("asice-xades", one, src, signatures=2)


def test_child_reports_time_and_its_own_peak_rss(seal, tmp_path):
    p12, _ = seal
    src = workload.make_input(tmp_path, "cades", 4 * 1024 * 1024)
    out = workload.signed_path("cades", src)
    args = [sys.executable, str(BENCH / "workload.py"), "sign", "cades", str(p12), str(src), str(out)]
    result = json.loads(subprocess.run(args, capture_output=True, text=True, check=True).stdout)
    assert result["seconds"] > 0
    assert 10 * 1024 < result["peak_rss_kib"] < 1024 * 1024
    assert workload.check("cades", out, src) == 1
