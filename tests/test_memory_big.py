"""100 MiB letters within the memory goal (issue 13: peak RSS < 200 MiB per process): each operation
runs in a fresh process (bench/workload.py, as `make bench` measures it) that reports its own peak
RSS (VmHWM), and the result is checked; a changed byte of a large content is still caught."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.append(str(BENCH))  # after everything else: bench/ holds generic names (report, timing)

import workload  # noqa: E402

from gateway.signing.validation.engine import validate  # noqa: E402
from gateway.signing.validation.policy import ValidationPolicy  # noqa: E402

MIB = 1024 * 1024
BIG = 100 * MIB
GOAL_KIB = 200 * 1024


@pytest.fixture(scope="module")
def seal(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("memory-seal")
    p12 = workload.make_p12(folder)
    return p12, workload.load_key(p12)


def _peak_kib(op: str, fmt: str, p12: Path, src: Path, out: Path) -> int:
    args = [sys.executable, str(BENCH / "workload.py"), op, fmt, str(p12), str(src), str(out)]
    run = subprocess.run(args, capture_output=True, text=True, check=False, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout)["peak_rss_kib"]


def _flip_content_byte(signed: Path, src: Path) -> None:
    """Change one byte of the document's middle where the signed file holds it."""
    document = src.read_bytes()
    probe = document[len(document) // 2 : len(document) // 2 + 32]
    data = bytearray(signed.read_bytes())
    at = data.find(probe)
    assert at > 0
    data[at] ^= 0x01
    signed.write_bytes(bytes(data))


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["cades-attached", "asice-cades", "asice-xades", "pades"])
def test_100_mib_letter_signs_and_validates_under_200_mib(fmt, seal, tmp_path):
    p12, _ = seal
    src = workload.make_input(tmp_path, fmt, BIG)
    out = workload.signed_path(fmt, src)
    sign_peak = _peak_kib("sign", fmt, p12, src, out)
    validate_peak = _peak_kib("validate", fmt, p12, src, out)  # raises in the child unless intact
    assert sign_peak < GOAL_KIB, f"{fmt} sign: {sign_peak // 1024} MiB"
    assert validate_peak < GOAL_KIB, f"{fmt} validate: {validate_peak // 1024} MiB"


def test_a_changed_byte_of_a_large_attached_content_is_caught(seal, tmp_path):
    _, key = seal
    src = workload.make_input(tmp_path, "cades-attached", 3 * MIB)
    out = workload.sign(key, "cades-attached", src, workload.signed_path("cades-attached", src))
    assert workload.check("cades-attached", out, src) == 1
    _flip_content_byte(out, src)
    report = validate(out, ValidationPolicy(offline=True))
    assert len(report.signatures) == 1
    assert not report.signatures[0].intact


def _openssl_streamed_p7m(src: Path, folder: Path) -> Path:
    """An attached CMS in BER as `openssl cms -stream` writes it: indefinite lengths and the content
    as a constructed OCTET STRING of many segments."""
    key, cert, out = folder / "k.pem", folder / "c.pem", folder / "streamed.p7m"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-subj", "/CN=openssl streamed", "-days", "2"],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "cms", "-sign", "-binary", "-nodetach", "-stream", "-outform", "DER",
                    "-in", str(src), "-signer", str(cert), "-inkey", str(key), "-out", str(out)],
                   check=True, capture_output=True)
    return out


def test_an_openssl_streamed_ber_p7m_validates_and_a_changed_segment_is_caught(tmp_path):
    src = workload.make_input(tmp_path, "cades-attached", 3 * MIB)
    p7m = _openssl_streamed_p7m(src, tmp_path)
    assert p7m.read_bytes()[1] == 0x80  # indefinite length: BER, not DER
    report = validate(p7m, ValidationPolicy(offline=True))
    assert [s.intact for s in report.signatures] == [True]
    _flip_content_byte(p7m, src)
    report = validate(p7m, ValidationPolicy(offline=True))
    assert [s.intact for s in report.signatures] == [False]


def _hostile_containers() -> dict[str, bytes]:
    from test_zip_attacks import _container, _lie_about_size

    good = _container(("a.txt", b"x" * 5000), ("META-INF/signatures0.xml", b"<a/>"))
    false_end = bytearray(good)
    false_end[-2:] = (22).to_bytes(2, "little")  # a comment holding a look-alike end record
    false_end += b"PK\x05\x06" + b"\0" * 18
    return {
        "bad name": _container(("../evil.txt", b"x"), ("META-INF/signatures0.xml", b"<a/>")),
        "duplicate": _container(("a.txt", b"x"), ("A.TXT", b"y")),
        "bomb": _container(("bomb.bin", b"\0" * (16 * MIB))),
        "size lie": _lie_about_size(_container(("a.txt", b"small")), 0xF0000000),
        "truncated": good[: len(good) // 2],
        "tiny": b"PK\x03\x04" + b"\0" * 6,
        "false end record": bytes(false_end),
    }


@pytest.mark.parametrize("name", list(_hostile_containers()))
def test_a_container_read_from_its_file_is_judged_as_in_memory(name, tmp_path):
    """Files are read entry by entry from the ZIP's central directory, bytes through memory: the
    same checks must refuse (or accept) the same containers with the same reasons."""
    data = _hostile_containers()[name]
    path = tmp_path / "x.asice"
    path.write_bytes(data)
    policy = ValidationPolicy(offline=True)
    from_file, in_memory = validate(path, policy).to_dict(), validate(data, policy).to_dict()
    for key in ("indication", "subindication", "errors", "container"):
        assert from_file.get(key) == in_memory.get(key), (key, from_file.get(key), in_memory.get(key))
    if name != "false end record":
        assert from_file["indication"] == "TOTAL_FAILED"


def _summary(report) -> tuple:
    d = report.to_dict()
    return (d["indication"], d.get("subindication"), d.get("errors"),
            [(s.id, s.indication, s.subindication, s.errors, s.intact) for s in report.signatures])


def test_a_damaged_large_p7m_gets_the_same_report_from_its_file_as_from_memory(seal, tmp_path):
    """The file reader of a large .p7m follows the outer TLVs itself: cut or bent, the file must
    get the report the whole-file parser gives."""
    _, key = seal
    src = workload.make_input(tmp_path, "cades-attached", 2 * MIB)
    good = workload.sign(key, "cades-attached", src, workload.signed_path("cades-attached", src)).read_bytes()
    variants = {
        "cut in the content": good[: MIB],
        "cut in the signer infos": good[:-200],
        "longer outer length": good[:1] + b"\x84\x7f\xff\xff\xff" + good[5:],
        "eContent tag changed": good.replace(b"\x07\x01\xa0\x83", b"\x07\x01\xa1\x83", 1),
        "OCTET STRING tag changed": good.replace(b"\xa0\x83\x20\x00\x05\x04", b"\xa0\x83\x20\x00\x05\x05", 1),
        "content longer than its wrapper": good.replace(b"\x04\x83\x20\x00\x00", b"\x04\x83\x20\x00\x10", 1),
        "trailing garbage": good + b"\x00" * 100,
    }
    policy = ValidationPolicy(offline=True)
    path = tmp_path / "damaged.p7m"
    for name, data in variants.items():
        assert data != good, name
        path.write_bytes(data)
        from_file = _summary(validate(path, policy))
        assert from_file == _summary(validate(data, policy)), name
        intact = [s[4] for s in from_file[3]]
        assert intact == ([True] if name == "trailing garbage" else [False] * len(intact)), (name, from_file)
