"""The installer's page, served by aiohttp on the agent's own loop (docs/diagnostics.md).

Routes: `/` and `/static/<file>` (the page, public: it carries no data), and behind the login
`GET /api/session`, `GET /api/state` (JSON), `GET /api/stream` (server-sent events, one state
every `update_interval_s`), `POST /api/logout`, `POST /api/grant` (an installer grant);
`POST /api/login` takes the password.

Every response carries a strict CSP, no framing and no caching. A POST must be JSON, from the
page's own origin, within MAX_BODY_BYTES, and (logged in) carry the session's CSRF token.
Refusals are logged (`diagnostics.refused`) and change nothing. `run` never raises: a server
that cannot start or fails is logged and the agent goes on without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any, Final

from aiohttp import web
from pydantic import BaseModel

from edge.commands import CommandReply
from edge.config import DiagnosticsConfig
from edge.diagnostics.access import LoginLimiter, Session, Sessions
from edge.diagnostics.grants import MAX_GRANT_CHARS, InstallerGrants
from edge.diagnostics.live import LiveSource
from edge.diagnostics.password import parse_hash, password_matches
from edge.wire.fields import EventBody, WireModel

COOKIE: Final = "edge_diag"
CSRF_HEADER: Final = "X-CSRF-Token"
MAX_BODY_BYTES: Final = 32 * 1024
MAX_PASSWORD_CHARS: Final = 1024
MAX_STREAMS: Final = 8
KEEPALIVE_S: Final = 15.0
SHUTDOWN_S: Final = 2.0
STATIC_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
PUBLIC_PATHS: Final = frozenset({"/", "/api/login"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class SessionInfo(WireModel):
    device_id: str
    kind: str
    csrf: str
    expires_in_s: float
    installer_types: list[str]


class GrantOutcome(WireModel):
    """`accepted`: the grant passed the checks; `reply`: what the box then replied (null when
    it did not within the wait, or when the checks refused it: `code`, `detail`)."""

    accepted: bool
    command_id: str | None
    type: str | None
    code: str | None
    detail: str
    reply: CommandReply | None


def load_static() -> dict[str, tuple[bytes, str]]:
    """The page's files shipped in the package, by name: the only files ever served."""
    folder = resources.files("edge.diagnostics") / "static"
    files = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in STATIC_TYPES:
            files[entry.name] = (entry.read_bytes(), STATIC_TYPES[suffix])
    return files


def json_response(model: BaseModel, status: int = 200) -> web.Response:
    """The one place the page's JSON is made."""
    return web.Response(
        body=model.model_dump_json().encode(), status=status, content_type="application/json"
    )


class Refused(web.HTTPException):
    """A request refused with `status`; logged with `reason`, answered with `detail`."""

    def __init__(self, status: int, reason: str, detail: str, **headers: str) -> None:
        self.status_code = status
        super().__init__(
            text=json.dumps({"error": detail}), content_type="application/json", headers=headers
        )
        self.refusal = reason


class DiagnosticsServer:
    def __init__(
        self,
        settings: DiagnosticsConfig,
        live: LiveSource,
        grants: InstallerGrants,
        logger: Any,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._live = live
        self._grants = grants
        self._log = logger
        self._now = now
        self._hash = parse_hash(settings.password_hash)
        self._sessions = Sessions(settings.session_ttl_s)
        self._limiter = LoginLimiter(settings.login_attempts_per_minute)
        self._login_lock = asyncio.Lock()
        self._static = load_static()
        self._streams: set[asyncio.Queue[str | None]] = set()
        self.url: str | None = None
        app = web.Application(middlewares=[self._guard], client_max_size=MAX_BODY_BYTES)
        app.on_response_prepare.append(_secure_headers)
        app.router.add_get("/", self._index)
        app.router.add_get("/static/{name:.*}", self._static_file)
        app.router.add_get("/api/session", self._session)
        app.router.add_post("/api/login", self._login)
        app.router.add_post("/api/logout", self._logout)
        app.router.add_get("/api/state", self._state)
        app.router.add_get("/api/stream", self._stream)
        app.router.add_post("/api/grant", self._grant)
        self._app = app

    def outbox_changed(self) -> None:
        self._grants.replies.outbox_changed()

    def note_event(self, ts: str, event: EventBody) -> None:
        """An event the box published, for the page's list of recent ones."""
        self._live.note_event(ts, event)

    # -- running --------------------------------------------------------------------------------

    async def run(self, ready: asyncio.Event) -> None:
        """Serves until cancelled. Never raises anything else: the agent goes on without it."""
        self._live.ready = ready.is_set
        runner = web.AppRunner(self._app, access_log=None, shutdown_timeout=SHUTDOWN_S)
        try:
            await runner.setup()
            site = web.TCPSite(runner, self._settings.host, self._settings.port)
            await site.start()
            host, port = runner.addresses[0][:2]
            shown = f"[{host}]" if ":" in host else host
            self.url = f"http://{shown}:{port}/"
            self._log.info("diagnostics.listening", url=self.url)
            await self._broadcast()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the page is never worth the agent
            self._log.error("diagnostics.failed", error=repr(exc))
        finally:
            for queue in self._streams:
                _offer(queue, None)
            with contextlib.suppress(Exception):
                await runner.cleanup()

    async def _broadcast(self) -> None:
        """One state a tick, gathered once for every open stream."""
        while True:
            self._live.note_faults()
            if self._streams:
                payload = self._gather_json()
                if payload is not None:
                    for queue in self._streams:
                        _offer(queue, payload)
            await asyncio.sleep(self._settings.update_interval_s)

    def _gather_json(self) -> str | None:
        try:
            return self._live.gather().model_dump_json()
        except Exception as exc:
            self._log.error("diagnostics.gather_failed", error=repr(exc))
            return None

    # -- the guard every request passes ---------------------------------------------------------

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            self._check(request)
            return await handler(request)
        except Refused as refused:
            self._refused(request, refused.status_code, refused.refusal)
            raise
        except web.HTTPRequestEntityTooLarge:
            self._refused(request, 413, "body_too_large")
            raise
        except web.HTTPNotFound:
            raw = request.raw_path.lower()
            traversal = ".." in raw or "%2e" in raw or "%2f" in raw or "\\" in raw
            if traversal:
                self._refused(request, 404, "path_traversal")
            else:
                self._log.info("diagnostics.not_found", path=request.path[:200])
            raise

    def _check(self, request: web.Request) -> None:
        length = request.content_length
        if length is not None and length > MAX_BODY_BYTES:
            raise Refused(413, "body_too_large", f"more than {MAX_BODY_BYTES} bytes")
        if request.method == "POST":
            _same_origin(request)
            if request.content_type != "application/json":
                raise Refused(415, "not_json", "send application/json")
        if not request.path.startswith("/api/") or request.path in PUBLIC_PATHS:
            return
        session = self._sessions.find(request.cookies.get(COOKIE), self._now())
        if session is None:
            raise Refused(401, "no_session", "log in first")
        if request.method == "POST" and request.headers.get(CSRF_HEADER) != session.csrf:
            raise Refused(403, "csrf", "missing or wrong CSRF token")
        request["session"] = session

    def _refused(self, request: web.Request, status: int, reason: str) -> None:
        if reason == "no_session" and request.path == "/api/session":
            # The page asks on every load whether it is logged in: no warning worth a look.
            self._log.info("diagnostics.not_logged_in", remote=request.remote)
            return
        self._log.warning(
            "diagnostics.refused",
            status=status,
            reason=reason,
            method=request.method,
            path=request.raw_path[:200],
            remote=request.remote,
        )

    # -- the page -------------------------------------------------------------------------------

    async def _index(self, request: web.Request) -> web.Response:
        return self._file("index.html")

    async def _static_file(self, request: web.Request) -> web.Response:
        return self._file(request.match_info["name"])

    def _file(self, name: str) -> web.Response:
        found = self._static.get(name)
        if found is None:
            raise web.HTTPNotFound()
        body, content_type = found
        return web.Response(body=body, headers={"Content-Type": content_type})

    # -- logging in and out ---------------------------------------------------------------------

    async def _login(self, request: web.Request) -> web.Response:
        wait = self._limiter.attempt(request.remote or "unknown", self._now())
        if wait is not None:
            retry = str(int(wait + 0.999))
            raise Refused(429, "rate_limited", "too many login attempts", **{"Retry-After": retry})
        password = _field(await _json_body(request), "password", MAX_PASSWORD_CHARS)
        async with self._login_lock:  # one scrypt at a time, off the loop
            loop = asyncio.get_running_loop()
            matches = await loop.run_in_executor(None, password_matches, password, self._hash)
        if not matches:
            raise Refused(401, "wrong_password", "wrong password")
        session = self._sessions.open(self._now())
        self._log.info("diagnostics.login", remote=request.remote)
        response = json_response(self._session_info(session))
        response.set_cookie(
            COOKIE,
            session.token,
            max_age=int(self._settings.session_ttl_s),
            path="/",
            httponly=True,
            samesite="Strict",
        )
        return response

    async def _logout(self, request: web.Request) -> web.Response:
        session: Session = request["session"]
        self._sessions.close(session.token)
        self._log.info("diagnostics.logout", remote=request.remote)
        response = web.json_response({"logged_out": True})
        response.del_cookie(COOKIE, path="/")
        return response

    async def _session(self, request: web.Request) -> web.Response:
        return json_response(self._session_info(request["session"]))

    def _session_info(self, session: Session) -> SessionInfo:
        config = self._grants.config
        return SessionInfo(
            device_id=config.device.id,
            kind=config.device.kind,
            csrf=session.csrf,
            expires_in_s=round(session.expires - self._now(), 1),
            installer_types=sorted(self._grants.allowed_types),
        )

    # -- what the box shows ---------------------------------------------------------------------

    async def _state(self, request: web.Request) -> web.Response:
        return json_response(self._live.gather())

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        if len(self._streams) >= MAX_STREAMS:
            raise Refused(503, "too_many_streams", f"at most {MAX_STREAMS} pages at once")
        session: Session = request["session"]
        queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=1)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"}
        )
        await response.prepare(request)
        self._streams.add(queue)
        try:
            first = self._gather_json()
            if first is not None:
                await response.write(_event("state", first))
            while True:
                try:
                    payload = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    await response.write(b": keepalive\n\n")
                    continue
                if payload is None:
                    break
                if self._sessions.find(session.token, self._now()) is None:
                    await response.write(_event("expired", "{}"))
                    break
                await response.write(_event("state", payload))
        except (ConnectionResetError, ConnectionError):
            pass
        finally:
            self._streams.discard(queue)
        return response

    # -- installer grants -----------------------------------------------------------------------

    async def _grant(self, request: web.Request) -> web.Response:
        text = _field(await _json_body(request), "envelope", MAX_GRANT_CHARS)
        verdict, reply = await self._grants.submit(text)
        self._log.info(
            "diagnostics.grant",
            command_id=verdict.command_id,
            type=verdict.command_type,
            accepted=verdict.accepted,
            code=None if verdict.code is None else str(verdict.code),
            reply=None if reply is None else reply.status,
            remote=request.remote,
        )
        outcome = GrantOutcome(
            accepted=verdict.accepted,
            command_id=verdict.command_id,
            type=verdict.command_type,
            code=None if verdict.code is None else str(verdict.code),
            detail=verdict.detail,
            reply=reply,
        )
        return json_response(outcome, status=202 if verdict.accepted else 422)


async def _secure_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(SECURITY_HEADERS)


def _same_origin(request: web.Request) -> None:
    """A state-changing request must come from the page itself: a browser says where from."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        raise Refused(403, "cross_site", f"Sec-Fetch-Site {fetch_site[:40]}")
    origin = request.headers.get("Origin")
    if origin is not None and origin != f"{request.scheme}://{request.host}":
        raise Refused(403, "cross_site", "Origin is not this page")


async def _json_body(request: web.Request) -> dict[str, object]:
    try:
        body = await request.json()
    except ValueError:
        raise Refused(400, "bad_json", "the body is not JSON") from None
    if not isinstance(body, dict):
        raise Refused(400, "bad_json", "the body is not a JSON object")
    return body


def _field(body: dict[str, object], name: str, max_chars: int) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value or len(value) > max_chars:
        raise Refused(400, "bad_field", f"{name}: a string of 1 to {max_chars} characters")
    return value


def _event(name: str, data: str) -> bytes:
    return f"event: {name}\ndata: {data}\n\n".encode()


def _offer(queue: asyncio.Queue[str | None], payload: str | None) -> None:
    """The newest payload replaces one the stream has not sent yet: a slow page skips states."""
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(payload)
