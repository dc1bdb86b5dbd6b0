"""Serving a development PKI's CRLs, OCSP responder and TSA (certomancer's Animator) over HTTP."""

from __future__ import annotations

import errno
import logging
import threading
from dataclasses import dataclass

from gateway.pki.dev import ARCH, DevPki, load_architecture

log = logging.getLogger(__name__)


@dataclass
class PkiServices:
    url: str
    _server: object | None
    _thread: threading.Thread | None

    @property
    def running_here(self) -> bool:
        """False when another process (a gateway sharing the PKI) already serves it."""
        return self._server is not None

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()  # type: ignore[attr-defined]
            self._server.server_close()  # type: ignore[attr-defined]
            self._server = None


class _ReloadingAnimator:
    """certomancer's Animator, rebuilt when the PKI's configuration changes (a seal was added)."""

    def __init__(self, pki: DevPki) -> None:
        self._pki = pki
        self._lock = threading.Lock()
        self._stamp: float = -1.0
        self._app = None

    def _current(self):  # -> Animator
        from certomancer.integrations.animator import Animator, AnimatorArchStore
        from certomancer.registry import ArchLabel

        stamp = self._pki.config_file.stat().st_mtime
        with self._lock:
            if stamp != self._stamp:
                arch = load_architecture(self._pki.dir)
                self._app = Animator(
                    AnimatorArchStore({ArchLabel(ARCH): arch}), with_web_ui=False, allow_time_override=False
                )
                self._stamp = stamp
            return self._app

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        return self._current()(environ, start_response)


def start_pki_services(pki: DevPki, host: str = "127.0.0.1") -> PkiServices:
    """Serve the PKI on its port in a background thread; share an already running server."""
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no per-request lines on stderr
    app = _ReloadingAnimator(pki)
    try:
        server = make_server(host, pki.port, app, threaded=True)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE and "in use" not in str(exc):
            raise
        log.info("development PKI port %s already served; sharing it", pki.port)
        return PkiServices(url=pki.base_url, _server=None, _thread=None)
    thread = threading.Thread(target=server.serve_forever, name="dev-pki", daemon=True)
    thread.start()
    log.info("development PKI services at %s", pki.base_url)
    return PkiServices(url=pki.base_url, _server=server, _thread=thread)
