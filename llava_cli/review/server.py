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
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..errors import InputError, LlavaCliError, UsageError
from ..media import is_video
from .state import UNSURE, Query, ReviewSession
from .thumbs import SIZES, ThumbCache, resolve_media

ASSETS = {  # name -> media type; nothing else is served from the package
    "index.html": "text/html; charset=utf-8",
    "review.js": "text/javascript; charset=utf-8",
    "review.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
KEYS = 9  # labels 1..9 get a key


def asset(name: str) -> bytes:
    return resources.files("llava_cli.review").joinpath("static", name).read_bytes()


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _float_param(request: Request, name: str) -> float | None:
    value = request.query_params.get(name, "").strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise UsageError(f"{name} {value!r}: expected a number") from None


def create_app(session: ReviewSession, *, allowed_hosts: list[str] | None = None) -> Starlette:
    """The ASGI app for one session. `allowed_hosts`: Host headers answered (None: any)."""
    thumbs = ThumbCache(session.thumbs_path)
    frames_of: dict[str, list[int]] = {}
    for row in session.rows_all:
        if row.frame is not None and not row.error:
            frames_of.setdefault(row.source, []).append(row.frame)

    def state_reply(**extra: Any) -> dict[str, Any]:
        return {**extra, "summary": session.summary().as_dict(), "version": session.version}

    def page(request: Request) -> Response:
        return Response(asset("index.html"), media_type=ASSETS["index.html"], headers=SECURITY_HEADERS)

    def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS or name == "index.html":
            return PlainTextResponse("Not Found", status_code=404)
        return Response(asset(name), media_type=ASSETS[name], headers=SECURITY_HEADERS)

    def meta(request: Request) -> JSONResponse:
        return JSONResponse(state_reply(
            output=str(session.output),
            review=str(session.review_path),
            log=str(session.log_path),
            labels=session.labels,
            keys=session.labels[:KEYS],
            multi_label=session.multi_label,
            unsure=UNSURE,
            videos=len(frames_of),
            duplicates=session.duplicates,
        ))

    def rows(request: Request) -> JSONResponse:
        params = request.query_params
        try:
            query = Query(
                sort=params.get("sort", "confidence"),
                label=params.get("label") if params.get("label") not in (None, "*") else None,
                status=params.get("status", "all"),
                min_confidence=_float_param(request, "min"),
                max_confidence=_float_param(request, "max"),
                source=params.get("source") or None,
            )
            found = session.list_rows(query)
        except UsageError as exc:
            return _error(str(exc))
        decisions = session.decisions()
        return JSONResponse(state_reply(rows=[session.item(r, decisions) for r in found]))

    def summary(request: Request) -> JSONResponse:
        return JSONResponse(state_reply())

    def timelines(request: Request) -> JSONResponse:
        return JSONResponse(state_reply(timelines=[t.as_dict() for t in session.timelines()]))

    def errors(request: Request) -> JSONResponse:
        return JSONResponse({"errors": session.error_items()})

    async def read_json(request: Request) -> dict[str, Any] | Response:
        """The JSON body of a POST from the page itself; a Response when it is not one."""
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            return _error("expected a JSON body (Content-Type: application/json)", 415)
        origin = request.headers.get("origin")
        if origin is not None and origin != f"{request.url.scheme}://{request.headers.get('host', '')}":
            return _error("cross-origin request refused", 403)
        try:
            body = await request.json()
        except ValueError:
            return _error("the body is not valid JSON")
        return body if isinstance(body, dict) else _error("expected a JSON object")

    async def decision(request: Request) -> Response:
        body = await read_json(request)
        if isinstance(body, Response):
            return body
        row_id, action = body.get("id"), body.get("action")
        if not isinstance(row_id, int) or isinstance(row_id, bool):
            return _error("'id' must be a row id (an integer)")
        if action == "accept":
            call = (session.accept, row_id)
        elif action == "unsure":
            call = (session.mark_unsure, row_id)
        elif action is None and isinstance(body.get("label"), (str, list)):
            call = (session.decide, row_id, body["label"])
        else:
            return _error("send {'id', 'label'} or {'id', 'action': 'accept' | 'unsure'}")
        try:  # file locking and fsync happen off the event loop
            await run_in_threadpool(*call)
        except UsageError as exc:
            return _error(str(exc))
        return JSONResponse(state_reply(row=session.item(session.row(row_id))))

    async def undo(request: Request) -> Response:
        body = await read_json(request)
        if isinstance(body, Response):
            return body
        result = await run_in_threadpool(session.undo)
        row = result[0] if result else None
        return JSONResponse(state_reply(row=None if row is None else session.item(row), undone=result is not None))

    def media(request: Request) -> Response:
        row_id, size = request.path_params["row_id"], request.path_params["size"]
        row = session.media_row(row_id)
        if row is None or size not in SIZES:
            return PlainTextResponse("Not Found", status_code=404)
        path = resolve_media(row.source, session.output.parent)
        if path is None:
            return PlainTextResponse(f"{row.source}: file not found", status_code=404)
        try:
            if row.frame is not None or is_video(path):
                target = thumbs.video_frame(path, row.frame or 0, frames_of.get(row.source, []), size)
            else:
                target = thumbs.image(path, size)
        except (InputError, OSError) as exc:
            return PlainTextResponse(str(exc), status_code=404)
        return FileResponse(target, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})

    routes = [
        Route("/", page),
        Route("/assets/{name}", static),
        Route("/api/meta", meta),
        Route("/api/rows", rows),
        Route("/api/summary", summary),
        Route("/api/timelines", timelines),
        Route("/api/errors", errors),
        Route("/api/decision", decision, methods=["POST"]),
        Route("/api/undo", undo, methods=["POST"]),
        Route("/media/{row_id:int}/{size}", media),
    ]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)] if allowed_hosts else []
    return Starlette(routes=routes, middleware=middleware)


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
