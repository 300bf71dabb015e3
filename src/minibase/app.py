"""create_app(settings) -> the ASGI app: routes, middleware and lifespan. Nothing else."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from minibase.clock import Clock
from minibase.config import Settings
from minibase.console.app import CONSOLE_PATH, DOCS_PATH, console_app, docs_app
from minibase.http.middleware import RequestContext
from minibase.http.rate_limits import enforce_rate_limits
from minibase.http.router import Dispatcher
from minibase.http.routes import (
    admins,
    apps,
    collections,
    content,
    files,
    functions,
    health,
    home,
    jobs,
    links,
    login,
    messages,
    metrics,
    openapi,
    pay,
    pay_admin,
    push,
    qrcodes,
    records,
    users,
)
from minibase.http.routing import Endpoint
from minibase.observability.requests import RequestMetrics
from minibase.observability.scrape import share_counts
from minibase.realtime.socket import REALTIME_PATH, realtime_app
from minibase.services import Services, background_for, open_services

ROUTE_MODULES = (
    records,
    files,
    functions,
    health,
    metrics,
    login,
    users,
    admins,
    apps,
    collections,
    jobs,
    pay,
    pay_admin,
    messages,
    qrcodes,
    links,
    push,
    content,
    home,
    openapi,
)


SANDBOX_PATH = "/_sandbox"


def in_process_sandbox_url(settings: Settings) -> str | None:
    """--dev without a sandbox_url: the platforms' sandbox runs in this server, at this URL (its
    control API, the phone's side, under /control)."""
    if settings.dev and not settings.sandbox_url:
        return f"{settings.local_url}{SANDBOX_PATH}"
    return None


def endpoints() -> list[Endpoint]:
    return [endpoint for module in ROUTE_MODULES for endpoint in module.routes.endpoints]


class MinibaseApp:
    """The ASGI app. `state.services` is set while the lifespan runs (or given by tests)."""

    def __init__(
        self, settings: Settings, *, clock: Clock | None = None, services: Services | None = None
    ) -> None:
        mounts: list[tuple[str, ASGIApp]] = [
            (CONSOLE_PATH, console_app()),
            (DOCS_PATH, docs_app()),
            (REALTIME_PATH, realtime_app(lambda: self.state.services)),
        ]
        self.sandbox: Any = None
        sandbox_url = in_process_sandbox_url(settings)
        if sandbox_url:
            from minibase.sandbox import create_sandbox

            self.sandbox = create_sandbox(clock=clock)
            settings = settings.replace(sandbox_url=sandbox_url)
            mounts.append((SANDBOX_PATH, self.sandbox))
        self.settings = settings
        # plain attributes: every request reads `state.services` (Starlette's State looks each
        # one up through __getattr__)
        self.state = SimpleNamespace()
        self.state.endpoints = endpoints()
        self.state.services = services
        self.state.request_metrics = RequestMetrics()  # this process's, rendered by /metrics
        self.state.shared_counts = None  # under `minibase serve`: summed with the other workers'
        self._clock = clock
        limited = settings.rate_limits_per_address or settings.rate_limits_per_user
        router = Dispatcher(
            self.state.endpoints,
            lifespan=self._lifespan,
            mounts=mounts,
            guard=enforce_rate_limits if limited else None,  # no cost when no limit is set
        )
        app: ASGIApp = RequestContext(router, owner=self, metrics=self.state.request_metrics)
        if settings.cors_origins:
            app = CORSMiddleware(
                app,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                allow_headers=[
                    "authorization",
                    "content-type",
                    "if-match",
                    "x-http-method-override",
                    "x-request-id",
                ],
                expose_headers=["x-request-id"],
            )
        self._app = app

    @contextlib.asynccontextmanager
    async def _lifespan(self, _: Any) -> AsyncIterator[None]:
        if self.state.services is not None:  # built by the caller, who closes it
            yield
            return
        services = await open_services(self.settings, clock=self._clock)
        self.state.services = services
        if self.sandbox is not None:
            from minibase.sandbox_wiring import register_apps_in_sandbox

            services.sandbox = self.sandbox
            await register_apps_in_sandbox(services)
        background = background_for(services, reload=self.settings.dev)
        background.start()
        shared = self.state.shared_counts = share_counts(services, self.state.request_metrics)
        try:
            yield
        finally:
            services.shutting_down = True
            await background.stop()
            if shared is not None:  # after the jobs: what they counted is published too
                await shared.stop()
                self.state.shared_counts = None
            await services.close()
            self.state.services = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def create_app(
    settings: Settings, *, clock: Clock | None = None, services: Services | None = None
) -> MinibaseApp:
    return MinibaseApp(settings, clock=clock, services=services)
