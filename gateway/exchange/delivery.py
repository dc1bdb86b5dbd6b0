"""Handing one message to its channel, so that a crash never makes a second copy: a resumable
channel's upload session is recorded (under the worker's lease) before the first byte leaves, and
a later attempt hands it back, so the channel asks the far side about it (finished: done;
unfinished: resumed) instead of uploading again, which a hub might well store."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from gateway.exchange.channels import Channel, ResumableChannel
from gateway.exchange.leases import Leases
from gateway.exchange.message import Header


def deliver(
    channels: dict[str, Channel],
    leases: Leases,
    model: type,
    ident: Any,
    channel_name: str,
    raw: bytes,
    header: Header,
    session: str | None,
) -> None:
    """Send `raw` over `channel_name` for the work row `ident` of `model` (its recorded `session`)."""
    channel = channels.get(channel_name)
    if channel is None:
        raise RuntimeError(f"channel {channel_name!r} is not enabled")
    if not isinstance(channel, ResumableChannel):
        channel.send(raw, header)
        return

    def record(new_session: str) -> None:
        with leases.db.session() as s:
            stored = s.execute(
                update(model).where(leases.mine(model, ident)).values(transport_session=new_session)
            ).rowcount
            if not stored:
                raise RuntimeError("the lease was lost before the upload started")

    channel.send_resumable(raw, header, session, record)
