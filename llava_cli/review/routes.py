"""The review page's HTTP handlers: one small method of `Routes` per route, over a ReviewSession.

The routes and the security rules they keep are listed in llava_cli.review.server, which serves them.
Media are found by row id only: no handler opens a path a client sends. The assets are a fixed list
read from the package. POSTs must be JSON from the page's own origin (no cross-site form posts).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..errors import InputError, UsageError
from ..media.video import is_video
from .state import UNSURE, Query, ReviewSession
from .thumbs import SIZES, ThumbCache, resolve_media

ASSETS = {  # name -> media type; nothing else is served from the package
    "index.html": "text/html; charset=utf-8",
    "review.js": "text/javascript; charset=utf-8",
    "review.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
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


def _query(request: Request) -> Query:
    """The rows query of GET /api/rows. Raises UsageError for a bad number."""
    params = request.query_params
    return Query(
        sort=params.get("sort", "confidence"),
        label=params.get("label") if params.get("label") not in (None, "*") else None,
        status=params.get("status", "all"),
        min_confidence=_float_param(request, "min"),
        max_confidence=_float_param(request, "max"),
        source=params.get("source") or None,
    )


async def _read_json(request: Request) -> dict[str, Any] | Response:
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


def _decision_call(session: ReviewSession, body: dict[str, Any]) -> tuple | Response:
    """The session call a POST /api/decision body asks for; a Response when the body is wrong."""
    row_id, action = body.get("id"), body.get("action")
    if not isinstance(row_id, int) or isinstance(row_id, bool):
        return _error("'id' must be a row id (an integer)")
    if action == "accept":
        return (session.accept, row_id)
    if action == "unsure":
        return (session.mark_unsure, row_id)
    if action is None and isinstance(body.get("label"), (str, list)):
        return (session.decide, row_id, body["label"])
    return _error("send {'id', 'label'} or {'id', 'action': 'accept' | 'unsure'}")


class Routes:
    """The handlers of one session's app, one method per route (see the module docstring)."""

    def __init__(self, session: ReviewSession):
        self.session = session
        self.thumbs = ThumbCache(session.thumbs_path)
        self.frames_of: dict[str, list[int]] = {}  # sampled frames per video, for thumbnail batches
        for row in session.rows_all:
            if row.frame is not None and not row.error:
                self.frames_of.setdefault(row.source, []).append(row.frame)

    def table(self) -> list[Route]:
        return [
            Route("/", self.page),
            Route("/assets/{name}", self.static),
            Route("/api/meta", self.meta),
            Route("/api/rows", self.rows),
            Route("/api/summary", self.summary),
            Route("/api/timelines", self.timelines),
            Route("/api/errors", self.errors),
            Route("/api/decision", self.decision, methods=["POST"]),
            Route("/api/undo", self.undo, methods=["POST"]),
            Route("/media/{row_id:int}/{size}", self.media),
        ]

    def reply(self, **extra: Any) -> JSONResponse:
        """`extra` plus what every API answer carries: the header counts and the log's version."""
        return JSONResponse({**extra, "summary": self.session.summary().as_dict(), "version": self.session.version})

    def page(self, request: Request) -> Response:
        return Response(asset("index.html"), media_type=ASSETS["index.html"], headers=SECURITY_HEADERS)

    def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS or name == "index.html":
            return PlainTextResponse("Not Found", status_code=404)
        return Response(asset(name), media_type=ASSETS[name], headers=SECURITY_HEADERS)

    def meta(self, request: Request) -> JSONResponse:
        s = self.session
        return self.reply(
            output=str(s.output), review=str(s.review_path), log=str(s.log_path), labels=s.labels,
            keys=s.labels[:KEYS], multi_label=s.multi_label, unsure=UNSURE, videos=len(self.frames_of),
            duplicates=s.duplicates,
        )  # fmt: skip

    def rows(self, request: Request) -> JSONResponse:
        try:
            found = self.session.list_rows(_query(request))
        except UsageError as exc:
            return _error(str(exc))
        decisions = self.session.decisions()
        return self.reply(rows=[self.session.item(r, decisions) for r in found])

    def summary(self, request: Request) -> JSONResponse:
        return self.reply()

    def timelines(self, request: Request) -> JSONResponse:
        return self.reply(timelines=[t.as_dict() for t in self.session.timelines()])

    def errors(self, request: Request) -> JSONResponse:
        return JSONResponse({"errors": self.session.error_items()})

    async def decision(self, request: Request) -> Response:
        body = await _read_json(request)
        if isinstance(body, Response):
            return body
        call = _decision_call(self.session, body)
        if isinstance(call, Response):
            return call
        try:  # file locking and fsync happen off the event loop
            await run_in_threadpool(*call)
        except UsageError as exc:
            return _error(str(exc))
        return self.reply(row=self.session.item(self.session.row(body["id"])))

    async def undo(self, request: Request) -> Response:
        body = await _read_json(request)
        if isinstance(body, Response):
            return body
        result = await run_in_threadpool(self.session.undo)
        row = result[0] if result else None
        return self.reply(row=None if row is None else self.session.item(row), undone=result is not None)

    def media(self, request: Request) -> Response:
        row_id, size = request.path_params["row_id"], request.path_params["size"]
        row = self.session.media_row(row_id)
        if row is None or size not in SIZES:
            return PlainTextResponse("Not Found", status_code=404)
        path = resolve_media(row.source, self.session.output.parent)
        if path is None:
            return PlainTextResponse(f"{row.source}: file not found", status_code=404)
        try:
            if row.frame is not None or is_video(path):
                target = self.thumbs.video_frame(path, row.frame or 0, self.frames_of.get(row.source, []), size)
            else:
                target = self.thumbs.image(path, size)
        except (InputError, OSError) as exc:
            return PlainTextResponse(str(exc), status_code=404)
        return FileResponse(target, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})
