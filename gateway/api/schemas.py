"""Request bodies of the REST API (pydantic), with the limits a letter must keep to."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Person(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=300)
    post: str | None = Field(default=None, max_length=300)


class OutgoingMetadata(BaseModel):
    """The `metadata` part of POST /api/v1/outgoing (INTERFACE.md)."""

    model_config = ConfigDict(extra="forbid")
    to_edrpou: str = Field(pattern=r"^\d{8}$")
    to_name: str | None = Field(default=None, max_length=500)
    reg_number: str = Field(min_length=1, max_length=100)
    reg_date: dt.date
    kind: str | None = Field(default=None, max_length=200)
    title: str | None = Field(default=None, max_length=2000)
    annotation: str | None = Field(default=None, max_length=4000)
    purpose_type: int = Field(default=0, ge=0, le=6)
    urgent: bool = False
    confidential: bool = False
    author: Person | None = None
    writer: Person | None = None
    reply_to: str | None = Field(default=None, max_length=36)
    channel: Literal["sev", "trembita"] | None = None


class Registration(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reg_number: str = Field(min_length=1, max_length=100)
    reg_date: dt.date


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)
