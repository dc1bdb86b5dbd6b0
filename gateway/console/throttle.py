"""Failed console logins per client address: past a limit within a window, further attempts are
refused before any password hash is computed (argon2 is deliberately costly; an attacker must not
be able to spend the gateway's CPU and memory on it, nor try many names to dodge the per-account
lockout)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque


class LoginThrottle:
    def __init__(self, limit: int = 20, window_seconds: float = 900.0) -> None:
        self.limit, self.window = limit, window_seconds
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._failures[client]
        while times and now - times[0] > self.window:
            times.popleft()
        return times

    def blocked(self, client: str) -> bool:
        with self._lock:
            return len(self._recent(client, time.monotonic())) >= self.limit

    def failed(self, client: str) -> None:
        with self._lock:
            now = time.monotonic()
            self._recent(client, now).append(now)
            if len(self._failures) > 10_000:  # bounded memory: forget clients with no recent failure
                for key in [k for k, v in self._failures.items() if not v]:
                    del self._failures[key]
