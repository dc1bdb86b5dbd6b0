"""The qualification of a signature (QESig, QESeal, AdESig-QC, ...) as the report carries it.

The validator knows the signer's certificate, its chain and the best signature time; whoever builds
the ValidationPolicy may give it a `Qualifier` that judges them against trusted lists (the
implementation lives with the lists, in `gateway.pki.tl`). Without one the report says `null`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from asn1crypto import x509

QUALIFICATIONS = ("QESig", "QESeal", "AdESig-QC", "AdESeal-QC", "AdESig", "AdESeal", "NA")


@dataclass
class QualificationResult:
    value: str  # one of QUALIFICATIONS
    #: the trust service provider's name from the trusted list, when a listed service was found
    provider: str | None = None
    warnings: list[str] = field(default_factory=list)


class Qualifier(Protocol):
    def __call__(
        self,
        signer: x509.Certificate,
        chain: Sequence[x509.Certificate],
        at: datetime,
    ) -> QualificationResult:
        """Qualification of a signature by `signer` (with its `chain`, leaf first) at `at`, the best
        signature time, as if the signature passed validation (the engine makes it NA otherwise:
        `SignatureReport.settle_qualification`)."""
        ...
