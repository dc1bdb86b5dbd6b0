"""Serving a development PKI's CRLs, OCSP responder and TSA (certomancer's Animator) over HTTP.

One server per PKI port: a second `start_pki_services` for the same port shares it, whether the
server runs in this process (an app and the CLI, or two apps in one test) or in another gateway
sharing the PKI folder (`gateway init --pki`). A port held by anything else is an error.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from gateway.errors import GatewayError
from gateway.pki.dev import ARCH, DevPki, load_architecture

log = logging.getLogger(__name__)


@dataclass
class _Running:
    server: Any
    thread: threading.Thread
    users: int = 1


_running: dict[int, _Running] = {}
_running_lock = threading.Lock()


@dataclass
class PkiServices:
    url: str
    port: int
    #: "here" (this process serves it) or "shared" (another process does; this one takes over
    #: when that one stops)
    mode: str
    _stopped: bool = field(default=False, repr=False)
    _watch_stop: threading.Event | None = field(default=None, repr=False)
    _watcher: threading.Thread | None = field(default=None, repr=False)

    @property
    def running_here(self) -> bool:
        return self.mode == "here"

    def stop(self) -> None:
        """Release this handle; the server stops when its last user in the process lets go."""
        if self._watch_stop is not None and self._watcher is not None:
            self._watch_stop.set()
            self._watcher.join(timeout=10)
        if self._stopped or self.mode != "here":
            self._stopped = True
            return
        self._stopped = True
        with _running_lock:
            running = _running.get(self.port)
            if running is None:
                return
            running.users -= 1
            if running.users > 0:
                return
            del _running[self.port]
        running.server.shutdown()
        running.server.server_close()
        running.thread.join(timeout=5)

    def _take_over_when_free(self, pki: DevPki, host: str, interval: float) -> None:
        """Watch the shared port; serve the PKI here once the process serving it has gone."""
        self._watch_stop = threading.Event()

        def watch() -> None:
            assert self._watch_stop is not None
            while not self._watch_stop.wait(interval):
                with _running_lock:
                    if self._watch_stop.is_set():
                        return
                    if pki.port in _running:
                        _running[pki.port].users += 1
                    else:
                        try:
                            if not _start_here(pki, host):
                                continue
                        except GatewayError as exc:
                            log.warning("%s", exc)
                            continue
                    self.mode = "here"
                    log.warning("development PKI: took over serving %s", pki.base_url)
                    return

        self._watcher = threading.Thread(target=watch, name="dev-pki-watch", daemon=True)
        self._watcher.start()


class _ReloadingAnimator:
    """certomancer's Animator, rebuilt when the PKI's configuration changes (a seal was added)."""

    def __init__(self, pki: DevPki) -> None:
        self._pki = pki
        self._lock = threading.Lock()
        self._stamp: float = -1.0
        self._app: Any = None

    def _current(self) -> Any:  # certomancer Animator
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

    @property
    def config_file(self) -> Any:
        return self._pki.config_file

    def warm_up(self) -> None:
        self._current()

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        return self._current()(environ, start_response)


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


def _serve(server: Any) -> None:
    """Build the PKI (about a second) before answering; requests wait in the listen backlog."""
    try:
        server.app.warm_up()
    except Exception:  # noqa: BLE001 - the request that needs it reports the problem
        log.exception("development PKI: cannot load %s", server.app.config_file)
    server.serve_forever()


def serves_this_pki(pki: DevPki, timeout: float = 30.0) -> bool:
    """Does `pki.base_url` answer with a CRL issued by this PKI's CA (its key, not only its name)?"""
    import urllib.request

    from asn1crypto import crl

    from gateway.signing.certificates import load_certificates

    try:
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # localhost: no proxy
        with direct.open(pki.crl_url, timeout=timeout) as answer:
            data = answer.read(1024 * 1024)
        listed = crl.CertificateList.load(data)
        issuer_key_id = listed.authority_key_identifier
    except (OSError, ValueError, TypeError):
        return False
    ca = load_certificates(pki.ca_cert)[0]
    return issuer_key_id is not None and issuer_key_id == ca.key_identifier


def _start_here(pki: DevPki, host: str) -> bool:
    """Serve `pki` from this process (caller holds _running_lock); False if the port is taken."""
    from werkzeug.serving import make_server

    try:
        sock = _listen(host, pki.port)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            where = f"{host}:{pki.port}"
            raise GatewayError(f"development PKI: cannot listen on {where}: {exc.strerror}") from None
        return False
    app = _ReloadingAnimator(pki)
    try:
        # werkzeug exits the process when it cannot bind: hand it a socket bound already
        server = make_server(host, pki.port, app, threaded=True, fd=sock.fileno())
    finally:
        sock.close()  # the server holds its own duplicate of the descriptor
    thread = threading.Thread(target=_serve, args=(server,), name="dev-pki", daemon=True)
    thread.start()
    _running[pki.port] = _Running(server, thread)
    log.info("development PKI services at %s", pki.base_url)
    return True


def start_pki_services(
    pki: DevPki, host: str = "127.0.0.1", *, takeover_interval: float = 2.0
) -> PkiServices:
    """Serve the PKI on its port in a background thread, or share the server already there
    (and take over serving when that server goes away)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no per-request lines on stderr
    with _running_lock:
        running = _running.get(pki.port)
        if running is not None:
            running.users += 1
            return PkiServices(url=pki.base_url, port=pki.port, mode="here")
        if _start_here(pki, host):
            return PkiServices(url=pki.base_url, port=pki.port, mode="here")
    if not serves_this_pki(pki):
        raise GatewayError(
            f"development PKI: port {pki.port} is in use by a program not serving the PKI in {pki.dir}"
        )
    log.info("development PKI port %s already served by another process; sharing it", pki.port)
    services = PkiServices(url=pki.base_url, port=pki.port, mode="shared")
    services._take_over_when_free(pki, host, takeover_interval)
    return services
