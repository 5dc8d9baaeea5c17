"""The review page's web server: Starlette routes over a ReviewSession, served by uvicorn.

Routes (anything else is a 404):

    GET  /                       the page            GET  /assets/review.js|.css|favicon.svg
    GET  /api/meta               labels, mode, files GET  /api/rows?sort&label&status&min&max
    GET  /api/summary            header counts       GET  /api/timelines   GET /api/errors
    POST /api/decision           {id, label} | {id, action: accept|unsure}
    POST /api/undo               take back the last decision
    GET  /media/{row id}/thumb|large   a JPEG of that row's image or video frame

Media are found by row id only: the server never opens a path a client sends. The assets are a
fixed list read from the package. On a loopback address only `Host: 127.0.0.1 / localhost / [::1]`
is answered (no DNS rebinding), and POSTs must be JSON from the page's own origin (no cross-site
form posts).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from ..errors import LlavaCliError, UsageError
from .routes import Routes
from .state import ReviewSession

LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]"]


def create_app(session: ReviewSession, *, allowed_hosts: list[str] | None = None) -> Starlette:
    """The ASGI app for one session. `allowed_hosts`: Host headers answered (None: any)."""
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)] if allowed_hosts else []
    return Starlette(routes=Routes(session).table(), middleware=middleware)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: a free one). Raises UsageError naming the flag."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise UsageError(f"--host {host}: not an address of this machine ({exc.strerror})") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if port:
            raise UsageError(
                f"--port {port}: cannot listen on {host}:{port} ({exc.strerror}); pick another --port (0: any free one)"
            ) from None
        raise UsageError(f"--host {host}: cannot listen there ({exc.strerror})") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def address_url(sock: socket.socket) -> str:
    """The address to open in a browser for a listening socket."""
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class ReviewServer:
    """uvicorn serving one session: `run()` in this thread (Ctrl-C stops it), or as a context manager
    in a background thread (tests, scripts):

    >>> with ReviewServer(ReviewSession("plays.csv"), port=0) as server:
    ...     print(server.url)
    """

    def __init__(self, session: ReviewSession, host: str = "127.0.0.1", port: int = 8765):
        import uvicorn

        self.session = session
        self.host = host
        self.sock = bind(host, port)
        self.url = address_url(self.sock)
        hosts = LOOPBACK_HOSTS if is_loopback(host) else None
        self.app = create_app(session, allowed_hosts=hosts)
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.sock.close()

    def start(self, timeout: float = 20.0) -> "ReviewServer":
        self._thread = threading.Thread(target=self.run, name="llava-cli-review", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise LlavaCliError(f"the review server did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> "ReviewServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
