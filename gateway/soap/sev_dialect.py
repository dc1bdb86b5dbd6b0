"""The SEV IntegrationService on the wire: namespaces, the two dialects, and the one parser of
SOAP values (used by the client, `sev_wire`, and by the hub stand-in, `soapxml`).

Dialects (`[sev] dialect`):

- `sev2` (default): what the client known to work against the SEV 2.0 hub sends: the operation as
  `{http://tempuri.org}Operation` (no trailing slash), every child and data-contract field
  unqualified, an empty SOAP Header, and the WSDL's SOAPAction without quotes.
- `wcf`: the older WCF form, which only a client of the older service uses: the operation and its
  parameters in `http://tempuri.org/`, data-contract fields in the `Cover.Contracts` namespace,
  no Header, the SOAPAction in quotes.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
TEMPURI = "http://tempuri.org"  # the SEV 2.0 service's own namespace (its WSDL's s0)
TEMPURI_SLASH = "http://tempuri.org/"  # the WCF service's namespace
CONTRACT_NS = "http://schemas.datacontract.org/2004/07/Cover.Contracts"
ACTION_PREFIX = "http://tempuri.org/ICoverIntegrationService/"


@dataclass(frozen=True)
class Dialect:
    name: str
    #: namespace of the operation's element (and of the answer's wrapper)
    operation_ns: str
    #: namespace of the operation's parameters; None: unqualified
    parameter_ns: str | None
    #: namespace of data-contract fields (Identity, MessageInfo, SessionInfo, ...); None: unqualified
    contract_ns: str | None
    #: the request carries an (empty) SOAP Header
    header: bool
    #: the SOAPAction header's value in double quotes
    quoted_action: bool
    #: the project's WSDL of this dialect (served by the stand-in; zeep loads it in the tests)
    wsdl: Path

    def soap_action(self, operation: str) -> str:
        action = ACTION_PREFIX + operation
        return f'"{action}"' if self.quoted_action else action

    def parameter(self, name: str) -> str:
        return f"{{{self.parameter_ns}}}{name}" if self.parameter_ns else name

    def field(self, name: str) -> str:
        return f"{{{self.contract_ns}}}{name}" if self.contract_ns else name


SEV2 = Dialect(
    "sev2", TEMPURI, None, None, header=True, quoted_action=False, wsdl=SCHEMAS / "sev-integration-sev2.wsdl"
)
WCF = Dialect(
    "wcf",
    TEMPURI_SLASH,
    TEMPURI_SLASH,
    CONTRACT_NS,
    header=False,
    quoted_action=True,
    wsdl=SCHEMAS / "sev-integration.wsdl",
)
DIALECTS = {d.name: d for d in (SEV2, WCF)}


def dialect(name: str) -> Dialect:
    try:
        return DIALECTS[name]
    except KeyError:
        raise ValueError(f'unknown SEV dialect {name!r} (expected "sev2" or "wcf")') from None


class SoapValueError(ValueError):
    """A value in an envelope is not of its type (an int, base64Binary, dateTime)."""


def as_int(value: Any, default: int = 0) -> int:
    """An xs:int/xs:long (absent or empty: `default`)."""
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SoapValueError(f"{value!r} is not an integer") from None


def as_bytes(value: Any) -> bytes:
    """An xs:base64Binary (absent: b""); line breaks and spaces inside are allowed."""
    if not value:
        return b""
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        try:
            return base64.b64decode("".join(value.split()), validate=True)
        except ValueError:
            raise SoapValueError("invalid base64Binary content") from None


def as_datetime(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise SoapValueError(f"{value!r} is not an xs:dateTime") from None


def xsd_datetime(value: datetime) -> str:
    """xs:dateTime as zeep writes it: Z for UTC, ±HH:MM for other offsets, nothing when naive."""
    text = value.strftime("%Y-%m-%dT%H:%M:%S.%f" if value.microsecond else "%Y-%m-%dT%H:%M:%S")
    offset = value.utcoffset()
    if offset is None:
        return text
    if offset == timedelta(0):
        return text + "Z"
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def encode(value: Any) -> str:
    """A scalar as element text: bytes as base64, datetimes as xs:dateTime, else str()."""
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime):
        return xsd_datetime(value)
    return str(value)
