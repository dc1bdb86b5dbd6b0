"""Request bodies and parameters of the REST API (pydantic), with the limits a letter must keep to.

Text that reaches the database, a 1207 message or the EDMS is refused at the door when it holds
what none of them can carry: C0/C1 control characters (NUL among them: PostgreSQL refuses it),
lone surrogates and the non-characters U+FFFE/U+FFFF (not XML 1.0). One-line fields refuse line
breaks and tabs too. Numbers in parameters are bounded (a 64-bit offset overflows the database's).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_BREAKS = re.compile("[\t\n\r]")
#: largest offset of a list call (and of any integer parameter): within a 32-bit signed integer
MAX_INT_PARAM = 2**31 - 1


def _text(value: str) -> str:
    if _NOT_TEXT.search(value):
        raise ValueError("control characters are not allowed")
    return value


def _line(value: str) -> str:
    if _BREAKS.search(_text(value)):
        raise ValueError("line breaks and tabs are not allowed")
    return value


#: multi-line text (tabs and line breaks allowed)
Text = Annotated[str, AfterValidator(_text)]
#: one line of text
Line = Annotated[str, AfterValidator(_line)]

#: an id the gateway gave out (a UUID); anything else is a 422, not a database round trip
ResourceId = Annotated[str, Path(pattern=r"^[0-9A-Za-z-]{1,64}$")]
FileNumber = Annotated[int, Path(ge=1, le=MAX_INT_PARAM)]
Offset = Annotated[int, Query(ge=0, le=MAX_INT_PARAM)]
Limit = Annotated[int, Query(ge=1, le=500)]
StatusFilter = Annotated[str | None, Query(pattern=r"^[a-z_-]{1,32}$")]


class Person(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Line = Field(min_length=1, max_length=300)
    post: Line | None = Field(default=None, max_length=300)


class OutgoingMetadata(BaseModel):
    """The `metadata` part of POST /api/v1/outgoing (INTERFACE.md)."""

    model_config = ConfigDict(extra="forbid")
    to_edrpou: str = Field(pattern=r"^[0-9]{8}$")  # ASCII digits; the check digit: see outgoing.py
    to_name: Line | None = Field(default=None, max_length=500)
    reg_number: Line = Field(min_length=1, max_length=100)
    reg_date: dt.date
    kind: Line | None = Field(default=None, max_length=200)
    title: Text | None = Field(default=None, max_length=2000)
    annotation: Text | None = Field(default=None, max_length=4000)
    purpose_type: int = Field(default=0, ge=0, le=6)
    urgent: bool = False
    confidential: bool = False
    author: Person | None = None
    writer: Person | None = None
    reply_to: str | None = Field(default=None, pattern=r"^[0-9A-Za-z-]{1,36}$")
    channel: Literal["sev", "trembita"] | None = None


class Registration(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reg_number: Line = Field(min_length=1, max_length=100)
    reg_date: dt.date


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Text = Field(min_length=1, max_length=2000)
