"""The SEV OVV hub as a channel of the workers (`gateway.exchange.channels`), registered as "sev".

Sending records the hub's upload session before the first chunk (`send_resumable`), so that after
a crash the hub is asked about that session instead of being given a second copy. Polling takes
each offered message (download, hash check, sender check, `handle`, then EndProcessing); a message
that cannot be taken is counted by the offer tracker and, once set aside, no longer tried. The
sender check refuses a message whose 1207 header claims another organization than the one the
hub delivered it from (a system of one body writing as another): it is never stored.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from gateway.config import Config
from gateway.exchange.channels import OfferTracker, register_channel
from gateway.exchange.message import Header, MsgType, claimed_sender
from gateway.soap.sev_client import MessageInfo, RetryPolicy, SevClient, SevError

log = logging.getLogger(__name__)


class SevChannel:
    """One SevClient per thread (its HTTP connections are not shared)."""

    name = "sev"

    def __init__(self, cfg: Config, *, batch: int = 20, downloaders: int = 4) -> None:
        self._cfg = cfg
        self._local = threading.local()
        self.batch = batch
        self._tracker: OfferTracker | None = None
        #: downloads overlap: while one waits for the hub, another parses or validates
        self._pool = ThreadPoolExecutor(downloaders, thread_name_prefix="gateway-sev-download")
        self._client()  # fail at start-up on a bad [sev] section

    def set_offer_tracker(self, tracker: OfferTracker) -> None:
        self._tracker = tracker

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _client(self) -> SevClient:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = SevClient.from_config(
                self._cfg, retry=RetryPolicy(attempts=3, budget_seconds=30), timeout=30
            )
        return client

    def send(self, raw: bytes, header: Header) -> None:
        self.send_resumable(raw, header, None, lambda _session: None)

    def send_resumable(
        self, raw: bytes, header: Header, session: str | None, record: Callable[[str], None]
    ) -> None:
        info = MessageInfo(
            message_id=header.msg_id,
            from_org_id=header.from_org_id,
            to_org_id=header.to_org_id,
            type=MsgType(header.msg_type).transport_type,
            from_sys_id=header.from_sys_id or None,
            to_sys_id=header.to_sys_id or None,
        )
        previous = int(session) if session and session.isdigit() else None
        self._client().send(raw, info, session_id=previous, on_session=lambda sid: record(str(sid)))

    def poll(self, handle: Callable[[bytes], None]) -> int:
        tracker = self._tracker
        aside = tracker.set_aside_count(self.name) if tracker is not None else 0
        infos = self._client().list_incoming(min(self.batch + aside, 1000))
        wanted = [i for i in infos if tracker is None or not tracker.should_skip(self.name, i.message_id)]

        def take(info: MessageInfo) -> None:
            client = self._client()
            got = client.download(info.message_id)
            check_sender(info, got.data)
            handle(got.data)
            client.end_processing(got)  # only after the message is stored (or known)

        futures = [(info.message_id, self._pool.submit(take, info)) for info in wanted]
        for message_id, future in futures:
            try:
                future.result()
            except Exception as exc:  # noqa: BLE001 - this one is offered again; the others went on
                log.warning("taking message %s from the hub failed: %s", message_id, exc)
                if tracker is not None:
                    tracker.failed(self.name, message_id, str(exc))
            else:
                if tracker is not None:
                    tracker.taken(self.name, message_id)
        return len(wanted)


def check_sender(info: MessageInfo, raw: bytes) -> None:
    """Refuse a message whose header names another sender than the hub's FromOrgId."""
    claimed = claimed_sender(raw)
    hub_says = (info.from_org_id or "").strip()
    if hub_says and claimed is not None and claimed != hub_says:
        raise SevError(
            f"message {info.message_id}: the hub delivered it from {hub_says}, "
            f"but its header claims to come from {claimed}"
        )


register_channel("sev", SevChannel)
