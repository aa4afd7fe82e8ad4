"""The HTTP API and the server that carries the web console. Parts load on first use (FastAPI is heavy)."""

from typing import TYPE_CHECKING

from clearwatch.lazy import lazy_exports

if TYPE_CHECKING:
    from clearwatch.api.app import WebServer, create_app
    from clearwatch.api.context import AppContext
    from clearwatch.api.live import LiveHub

__getattr__, __dir__ = lazy_exports(__name__, {
    "AppContext": ".context",
    "LiveHub": ".live",
    "WebServer": ".app",
    "create_app": ".app",
})

__all__ = ["AppContext", "LiveHub", "WebServer", "create_app"]
