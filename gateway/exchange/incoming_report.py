"""One validation report over every file of a received document, for the readable renderings
(gateway.signing.readable) that the API and the console both offer."""

from __future__ import annotations

from typing import Any

from gateway.signing.report import rank
from gateway.store.models import Incoming


def combined_report(row: Incoming) -> dict[str, Any]:
    """The worst verdict of the document's files and every signature (each naming the file it signs)."""
    reports = [f.report for f in sorted(row.files, key=lambda f: f.n) if f.report]
    if not reports:
        return {"indication": "NO_SIGNATURE_FOUND", "subindication": None, "container": "1207",
                "validation_time": None, "signatures": [], "errors": ["no file of this document is signed"]}
    worst = min(reports, key=lambda r: rank(r.get("indication", "")))
    return {
        "indication": worst.get("indication"), "subindication": worst.get("subindication"),
        "container": "1207", "validation_time": max(str(r.get("validation_time") or "") for r in reports),
        "signatures": [sig for r in reports for sig in r.get("signatures", [])],
    }
