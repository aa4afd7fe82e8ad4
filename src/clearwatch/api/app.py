"""The FastAPI application: JSON API under /api (OpenAPI at /api/docs), console pages under /."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from clearwatch.api.context import AppContext
from clearwatch.api.export_jobs import ExportJobs
from clearwatch.api.routes import (
    admin,
    alarms,
    approvals,
    auth,
    cameras,
    events,
    fingers,
    live_video,
    people,
    plates,
    reports,
    sites,
)
from clearwatch.web import STATIC, LoginRedirect, render_error
from clearwatch.web import router as pages

log = logging.getLogger(__name__)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    # everything is served from here: no CDN, no inline script
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
                               "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
}


def create_app(context: AppContext) -> FastAPI:
    app = FastAPI(title="Clearwatch", version="0.1.0", docs_url="/api/docs", redoc_url=None,
                  openapi_url="/api/openapi.json",
                  description="Self-hosted, accountable video surveillance. Every look at footage and every "
                              "biometric action is recorded on a tamper-evident audit trail.")
    app.state.ctx = context
    app.state.export_jobs = ExportJobs()
    for r in (auth.router, cameras.router, live_video.router, events.router, alarms.router, people.router,
              fingers.router, plates.router, reports.router, reports.pages, approvals.router, admin.router,
              sites.router, admin.metrics_router):
        app.include_router(r)
    app.include_router(pages)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        return response

    def wants_html(request: Request) -> bool:
        return not request.url.path.startswith(("/api", "/metrics")) and "text/html" in request.headers.get(
            "accept", "")

    @app.exception_handler(LoginRedirect)
    async def to_login(request: Request, exc: LoginRedirect) -> Response:
        return RedirectResponse("/login", 303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if wants_html(request):
            return render_error(request, exc.status_code, str(exc.detail))
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = [f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return JSONResponse({"detail": problems}, 422)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> Response:
        log.exception("request %s %s failed", request.method, request.url.path)
        return JSONResponse({"detail": "internal error (logged)"}, 500)

    return app


class WebServer:
    """uvicorn in a thread beside the cameras."""

    def __init__(self, app: FastAPI, host: str, port: int):
        self.app = app
        self.config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                     lifespan="off", timeout_graceful_shutdown=3,
                                     # live video is compressed already: deflating it per message cost more CPU
                                     # than everything else a viewer needs
                                     ws_per_message_deflate=False,
                                     # a ping written by the event loop could land inside a live frame the camera
                                     # thread is writing (live_socket); dead viewers are found by their sockets
                                     ws_ping_interval=None)
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self.server.run, name="web", daemon=True)
        self.host, self.port = host, port

    def start(self, timeout: float = 10.0) -> None:
        self.thread.start()
        deadline = threading.Event()
        for _ in range(int(timeout / 0.05)):
            if self.server.started or not self.thread.is_alive():
                break
            deadline.wait(0.05)
        if not self.server.started:
            raise OSError(f"the web console could not listen on {self.host}:{self.port} (port in use?)")
        self._warm_up()

    def _warm_up(self) -> None:
        """One request for a path no route has: FastAPI builds its route table (every route's dependencies and
        models, ~0.3 s) at the first request, which would otherwise be the first user's, or the first live viewer's."""
        import urllib.request

        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        # a 404 (an HTTPError, an OSError) is the answer; any other failure only means the first request pays
        with contextlib.suppress(OSError, ValueError):
            urllib.request.urlopen(f"http://{host}:{self.bound_port}/api/.warm-up", timeout=5).close()

    @property
    def bound_port(self) -> int | None:
        """The port it listens on (the one the system chose when asked for port 0)."""
        if not self.server.servers:
            return None
        return int(self.server.servers[0].sockets[0].getsockname()[1])

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)
        jobs: ExportJobs = self.app.state.export_jobs
        jobs.close()
