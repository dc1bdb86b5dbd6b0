"""The periodic refresh of the imported trusted lists inside `gateway serve`: a daemon thread that
reads every list again from its source each `[trust] tl_refresh_hours` (first right after
start-up). A refused list keeps its last good copy and is logged as a warning."""

from __future__ import annotations

import logging
import threading

from gateway.config import Config
from gateway.pki.tl.manage import refresh_lists

log = logging.getLogger(__name__)


class TrustedListRefresher:
    def __init__(self, cfg: Config, interval_seconds: float) -> None:
        self.cfg = cfg
        self.interval = interval_seconds
        self.rounds = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tl-refresh", daemon=True)

    def start(self) -> TrustedListRefresher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def refresh_once(self) -> None:
        try:
            for outcome in refresh_lists(self.cfg):
                if outcome.error:
                    log.warning("trusted list %s not refreshed (the last good copy is kept): %s",
                                outcome.source, outcome.error)
                for warning in outcome.warnings:
                    log.warning("trusted list %s: %s", outcome.source, warning)
        except Exception:  # noqa: BLE001 - the thread must survive a broken store or source
            log.exception("trusted lists refresh failed")
        self.rounds += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            self.refresh_once()
            self._stop.wait(self.interval)


def start_refresher(cfg: Config) -> TrustedListRefresher | None:
    """Start the refresh thread unless `[trust] tl_refresh_hours` is 0."""
    if cfg.trust.tl_refresh_hours <= 0:
        return None
    return TrustedListRefresher(cfg, cfg.trust.tl_refresh_hours * 3600).start()
