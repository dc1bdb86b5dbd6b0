"""Background workers of `gateway serve`: threads that sign and send letters, send
acknowledgements, poll every channel and validate INDETERMINATE documents again.

The jobs live in their own modules: `leases` (claiming work rows, retry budget, dead processes),
`letters` (the letter pipeline), `acks` (acknowledgements we send), `delivery` (handing a message
to its channel without ever making a second copy), `intake` (what the channels hand over),
`offers` (messages that cannot be taken, set aside), `channels` (the channel registry).

Crash safety: see `leases` and `delivery`. Polling stores a downloaded message (or sees it is a
duplicate) before it tells the hub it is processed; a crash in between makes the hub offer it
again, and it is recognised by its msg_id.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from gateway.config import Config
from gateway.exchange import inbox
from gateway.exchange.acks import ACK_WORK, AckSender
from gateway.exchange.channels import (
    CHANNELS,
    Channel,
    HealthReporting,
    OfferTracking,
    configured_channels,
    enabled_channels,
    register_channel,
)
from gateway.exchange.intake import Intake
from gateway.exchange.leases import ChannelPolling, Leases, WorkerSettings, release_dead_leases
from gateway.exchange.letters import LETTER_WORK, LetterPipeline, Seal
from gateway.exchange.offers import OfferLedger
from gateway.store.blobs import BlobStore
from gateway.store.db import Database
from gateway.store.models import Acknowledgement, Outgoing

log = logging.getLogger(__name__)

#: a channel's state while another instance holds its poll lease
STANDBY = "ok (another instance polls)"


class Workers:
    def __init__(
        self,
        *,
        cfg: Config,
        db: Database,
        blobs: BlobStore,
        channels: dict[str, Channel],
        seal: Seal | None,
        validator: inbox.Validator,
        metrics: Any = None,
        settings: WorkerSettings | None = None,
    ) -> None:
        self.cfg, self.db, self.blobs, self.channels = cfg, db, blobs, channels
        self.validator, self.metrics = validator, metrics
        self.settings = settings or WorkerSettings(
            poll_seconds=cfg.sev.poll_seconds, poll_lease_seconds=cfg.sev.poll_lease_seconds
        )
        self.leases = Leases(db, self.settings)
        self.owner = self.leases.owner
        #: one instance of those sharing the database polls each channel (renewed at every round)
        self.polling = ChannelPolling(
            db, self.owner, max(self.settings.poll_lease_seconds, 3 * self.settings.poll_seconds)
        )
        self.letters = LetterPipeline(
            cfg=cfg,
            blobs=blobs,
            channels=channels,
            seal=seal,
            leases=self.leases,
            observe=self._observe,
            count_error=self._count_error,
        )
        self.acks = AckSender(
            cfg=cfg, blobs=blobs, channels=channels, leases=self.leases, count_error=self._count_error
        )
        self.intake = Intake(
            cfg=cfg,
            db=db,
            blobs=blobs,
            validator=validator,
            metrics=metrics,
            wake=self.wake,
            observe=self._observe,
        )
        #: messages the channels could not take, set aside after [sev] max_offer_attempts tries
        self.offers = OfferLedger(db, cfg.sev.max_offer_attempts)
        #: per channel: "ok" or "failing: <why>" after its last poll (for /healthz)
        self.channel_state: dict[str, str] = {name: "starting" for name in channels}
        self._stop = threading.Event()
        #: one idle sender is woken per wake() (not all of them: the others would only claim nothing)
        self._wake = threading.Condition()
        self._wakes = 0
        self._threads: list[threading.Thread] = []
        #: work rows whose step broke off because the database went away: their leases are
        #: released as soon as it is back (instead of after the lease time)
        self._orphans: set[tuple[type, Any]] = set()
        self._orphans_lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        freed = release_dead_leases(self.db)
        if freed:
            log.info("released %d lease(s) of processes that died", freed)
        for i in range(self.settings.sender_threads):
            self._spawn(f"sender-{i}", self._sender_loop)
        for name, channel in self.channels.items():
            if isinstance(channel, OfferTracking):
                channel.set_offer_tracker(self.offers)
            self._spawn(f"poller-{name}", lambda c=channel: self._poller_loop(c))
        self._spawn("revalidator", self._revalidate_loop)

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        t = threading.Thread(target=target, name=f"gateway-{name}", daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        for t in self._threads:
            t.join(timeout)
        self._threads.clear()
        for channel in self.channels.values():
            channel.close()
            try:
                self.polling.release(channel.name)  # another instance need not wait for the expiry
            except Exception as exc:  # noqa: BLE001 - e.g. the database is gone: the lease expires
                log.warning("releasing the poll lease of %s failed: %s", channel.name, exc)

    def wake(self) -> None:
        """Something was queued: look now instead of at the next idle tick."""
        with self._wake:
            self._wakes += 1
            self._wake.notify()

    def _idle(self) -> None:
        """Wait for a wake() (one not yet taken by another sender counts) or the idle tick."""
        with self._wake:
            if not self._wakes and not self._stop.is_set():
                self._wake.wait(self.settings.idle_seconds)
            self._wakes = max(0, self._wakes - 1)

    # ------------------------------------------------------------------ loops

    def _sender_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._release_orphans()
                busy = self.run_once()
            except SQLAlchemyError as exc:  # the database is away: pause; its steps are given back
                log.warning("sender paused, the database is not answering: %s", type(exc).__name__)
                self._count_error("sender")
                busy = 0
            except Exception:  # noqa: BLE001 - a worker never dies; the step is retried
                log.exception("sender step failed")
                self._count_error("sender")
                busy = 0
            if not busy:
                self._idle()

    def _poller_loop(self, channel: Channel) -> None:
        def handle(raw: bytes) -> None:
            self.polling.hold(channel.name)  # renewed per message: a long round keeps its lease
            self.handle_incoming(raw, channel.name)

        while not self._stop.is_set():
            try:
                if not self.polling.hold(channel.name):
                    self.channel_state[channel.name] = STANDBY
                    self._stop.wait(self.settings.poll_seconds)
                    continue
                got = channel.poll(handle)
                self.channel_state[channel.name] = "ok"
            except Exception as exc:  # noqa: BLE001 - transport trouble: try again next round
                log.warning("polling %s failed: %s", channel.name, exc)
                self.channel_state[channel.name] = f"failing: {exc}"[:300]
                self._count_error(f"poller-{channel.name}")
                got = 0
            if not got:
                self._stop.wait(self.settings.poll_seconds)

    def _revalidate_loop(self) -> None:
        while not self._stop.wait(self.settings.revalidate_seconds):
            try:
                if inbox.revalidate_pending(self.db, self.blobs, self.validator):
                    self.wake()  # acknowledgements may have been queued
            except Exception:  # noqa: BLE001 - a worker never dies; tried again next round
                log.exception("validating documents again failed")
                self._count_error("revalidator")

    # ------------------------------------------------------------------ steps

    def run_once(self) -> int:
        """Letters and acknowledgements due, claimed in one transaction; the acknowledgements (small,
        quick) are sent first, then the letters are signed and sent one by one."""
        with self.db.session() as s:
            letters = self.leases.claim_in(s, Outgoing, LETTER_WORK, None)
            acks = self.leases.claim_in(s, Acknowledgement, ACK_WORK, Acknowledgement.direction == "out")
        steps: list[tuple[type, Any, Callable[[Any], None]]] = [
            (Acknowledgement, a, self.acks.send) for a in acks
        ] + [(Outgoing, i, self.letters.process) for i in letters]
        for n, (_model, ident, step) in enumerate(steps):
            try:
                step(ident)
            except SQLAlchemyError:  # the database went away: this and the rest are done again
                with self._orphans_lock:
                    self._orphans.update((m, i) for m, i, _ in steps[n:])
                raise
        return len(steps)

    def _release_orphans(self) -> None:
        """Release the leases of steps broken off by a database failure, once it answers again."""
        with self._orphans_lock:
            orphans = list(self._orphans)
        for model, ident in orphans:
            self.leases.release(model, ident)
            with self._orphans_lock:
                self._orphans.discard((model, ident))

    def run_letters_once(self) -> int:
        ids = self.leases.claim(Outgoing, LETTER_WORK)
        for ident in ids:
            self.letters.process(ident)
        return len(ids)

    def _claim(
        self, model: type[Outgoing] | type[Acknowledgement], statuses: tuple[str, ...], extra: Any = None
    ) -> list[Any]:
        return self.leases.claim(model, statuses, extra)

    def handle_incoming(self, raw: bytes, channel: str) -> None:
        """Store (or recognise) one message taken from a channel."""
        self.intake.handle(raw, channel)

    # ------------------------------------------------------------------ metrics

    def _observe(self, status: str) -> None:
        if self.metrics is not None:
            self.metrics.transitions.labels(status).inc()

    def _count_error(self, worker: str) -> None:
        if self.metrics is not None:
            self.metrics.worker_errors.labels(worker).inc()


def channel_health(cfg: Config, workers: Workers | None, name: str) -> str:
    """A channel for /healthz: disabled, not running, starting, ok, ok (another instance polls), or
    failing: <why> (after its last poll, or for a channel that reports its own health, its calls)."""
    if not getattr(getattr(cfg, name, None), "enabled", False):
        return "disabled"
    if workers is None or name not in workers.channels:
        return "not running"
    channel = workers.channels[name]
    if isinstance(channel, HealthReporting):
        return channel.health()
    return workers.channel_state.get(name, "not running")


__all__ = [
    "CHANNELS",
    "Channel",
    "OfferTracking",
    "STANDBY",
    "Seal",
    "Workers",
    "WorkerSettings",
    "channel_health",
    "configured_channels",
    "enabled_channels",
    "register_channel",
    "release_dead_leases",
]
