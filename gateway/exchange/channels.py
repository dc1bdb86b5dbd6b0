"""Ways to other bodies (the SEV hub, Trembita): what a channel offers the workers, and the registry
through which adapters make themselves available (`register_channel`), so that the domain never
imports a wire format.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from gateway.config import Config
from gateway.exchange.message import Header


class Channel(Protocol):
    """A way to other bodies."""

    name: str

    def send(self, raw: bytes, header: Header) -> None:
        """Deliver one message; safe to repeat with the same msg_id. Raises on failure."""

    def close(self) -> None:
        """Release connections and threads."""

    def poll(self, handle: Callable[[bytes], None]) -> int:
        """Fetch waiting messages; confirm each to the channel only after `handle` returned."""


@runtime_checkable
class ResumableChannel(Protocol):
    """A channel whose uploads are sessions the far side can be asked about (the SEV hub)."""

    def send_resumable(
        self, raw: bytes, header: Header, session: str | None, record: Callable[[str], None]
    ) -> None:
        """Like `send`; `record(session)` stores a new upload session durably before its first
        byte leaves, and after a crash that session comes back as `session`: the channel asks
        about it (finished? resumable?) before it would ever upload a second copy."""


@runtime_checkable
class OfferTracking(Protocol):
    """A channel that reports messages it could not take, so they can be set aside (zombies)."""

    def set_offer_tracker(self, tracker: OfferTracker) -> None: ...


@runtime_checkable
class HealthReporting(Protocol):
    """A channel that knows its own health from its calls (one that does not poll, so the poller's
    rounds say nothing about it)."""

    def health(self) -> str:
        """"ok", or "failing: <why>" while the latest call to some partner failed."""


class OfferTracker(Protocol):
    def should_skip(self, channel: str, message_id: str) -> bool:
        """True when the message was set aside: do not try it again."""

    def failed(self, channel: str, message_id: str, error: str) -> None:
        """Count one failed try (sets the message aside after the budget)."""

    def taken(self, channel: str, message_id: str) -> None:
        """The message was taken after all: forget its failures."""

    def set_aside_count(self, channel: str) -> int:
        """How many of the channel's messages are set aside (a poll asks for that many more, so
        that messages set aside at the head of the hub's queue do not hide newer ones)."""


#: channel name (a config section with `enabled`) -> factory; adapters register themselves
CHANNELS: dict[str, Callable[[Config], Channel]] = {}


def register_channel(name: str, factory: Callable[[Config], Channel]) -> None:
    """Make a channel available to `gateway serve` (used when [name] enabled = true)."""
    CHANNELS[name] = factory


def configured_channels(cfg: Config) -> list[str]:
    """Names of the channels enabled in the configuration (and available): where a letter may go.
    The API refuses letters for any other channel (they could never move)."""
    return [name for name in CHANNELS if getattr(getattr(cfg, name, None), "enabled", False)]


def enabled_channels(cfg: Config) -> dict[str, Channel]:
    """The enabled channels, made (a bad section fails here, at start-up)."""
    return {name: CHANNELS[name](cfg) for name in configured_channels(cfg)}
