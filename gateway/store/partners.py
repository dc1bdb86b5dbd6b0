"""The partners directory: bodies we exchange letters with, and over which channel."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.store.models import Partner

CHANNELS = ("sev", "trembita")
_EDRPOU = re.compile(r"\d{8}")
_XROAD_CLIENT = re.compile(r"[^/\s]+/[^/\s]+/[^/\s]+/[^/\s]+")
_XROAD_SERVICE = re.compile(r"[^/\s]+/[^/\s]+/[^/\s]+/[^/\s]+/[^/\s]+(/[^/\s]+)?")


def validate_partner(edrpou: str, channel: str, xroad_client: str | None, xroad_service: str | None) -> None:
    """Raise ValueError with a user-facing message for malformed directory data."""
    if not _EDRPOU.fullmatch(edrpou):
        raise ValueError(f"EDRPOU must be 8 digits, got {edrpou!r}")
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(CHANNELS)}")
    if channel == "trembita" and not (xroad_client and xroad_service):
        # without them its calls to us are refused and our letters to it can never leave
        given = (("--xroad-client", xroad_client), ("--xroad-service", xroad_service))
        missing = ", ".join(option for option, value in given if not value)
        raise ValueError(f"a trembita partner needs --xroad-client and --xroad-service ({missing} missing)")
    if xroad_client and not _XROAD_CLIENT.fullmatch(xroad_client):
        raise ValueError("--xroad-client must be INSTANCE/CLASS/CODE/SUBSYSTEM")
    if xroad_service and not _XROAD_SERVICE.fullmatch(xroad_service):
        raise ValueError("--xroad-service must be INSTANCE/CLASS/CODE/SUBSYSTEM/SERVICE[/VERSION]")


def upsert_partner(session: Session, *, edrpou: str, name: str, channel: str = "sev",
                   sev_system_id: str | None = None, xroad_client: str | None = None,
                   xroad_service: str | None = None, cert_pem: str | None = None) -> Partner:
    validate_partner(edrpou, channel, xroad_client, xroad_service)
    row = session.scalar(select(Partner).where(Partner.edrpou == edrpou))
    if row is None:
        row = Partner(edrpou=edrpou)
        session.add(row)
    row.name = name
    row.channel = channel
    row.sev_system_id = sev_system_id
    row.xroad_client = xroad_client
    row.xroad_service = xroad_service
    row.cert_pem = cert_pem
    session.flush()
    return row


def get_partner(session: Session, edrpou: str) -> Partner | None:
    return session.scalar(select(Partner).where(Partner.edrpou == edrpou))


def list_partners(session: Session) -> list[Partner]:
    return list(session.scalars(select(Partner).order_by(Partner.edrpou)))


def remove_partner(session: Session, edrpou: str) -> bool:
    row = get_partner(session, edrpou)
    if row is None:
        return False
    session.delete(row)
    return True
