"""XAdES and ASiC rows of the EU DSS conformance corpus (../shared/conformance), validated in-process
with the rules of its README: the same main indication (and sub-indication where asserted), intact
signatures on INTACT rows."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from gateway.signing.validation.engine import validate
from gateway.signing.validation.policy import ValidationPolicy

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "conformance"
FORMATS = ("XAdES", "ASiC-S-CAdES", "ASiC-E-CAdES", "ASiC-S-XAdES", "ASiC-E-XAdES")


def _rows() -> list[dict[str, str]]:
    manifest = CORPUS / "manifest.tsv"
    if not manifest.is_file():
        return []
    with manifest.open(encoding="utf-8") as f:
        return [r for r in csv.DictReader(f, delimiter="\t") if r["format"] in FORMATS]


ROWS = _rows()


@pytest.mark.skipif(not ROWS, reason="../shared/conformance is not available")
@pytest.mark.parametrize("row", ROWS, ids=[r["file"] for r in ROWS] or None)
def test_dss_corpus_row(row: dict[str, str], tmp_path: Path) -> None:
    detached = {}
    if row["detached_content"] != "-":
        for name in row["detached_content"].split(";"):
            original = name.split("__", 1)[1]
            (tmp_path / original).write_bytes((CORPUS / "files" / name).read_bytes())
            detached[original] = tmp_path / original
    report = validate(
        CORPUS / "files" / row["file"], ValidationPolicy(offline=True, detached=detached)
    ).to_dict()
    sigs = report["signatures"]
    expected = row["expected"]
    if expected == "INTACT":
        assert sigs and all(s["intact"] for s in sigs), report
        assert report["indication"] != "TOTAL_FAILED", report
    elif expected == "NOT_INTACT":
        assert any(s["intact"] is False for s in sigs), report
        assert report["indication"] != "TOTAL_PASSED"
    else:
        assert report["indication"] == expected, report
    if row["expected_subindication"] != "-":
        subs = {report["subindication"], *(s["subindication"] for s in sigs)}
        assert row["expected_subindication"] in subs, report
    if row["signatures"] != "-":
        assert len(sigs) == int(row["signatures"])
