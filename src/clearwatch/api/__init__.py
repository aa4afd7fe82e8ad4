"""The HTTP API and the server that carries the web console."""

from clearwatch.api.app import WebServer, create_app
from clearwatch.api.context import AppContext
from clearwatch.api.live import LiveHub

__all__ = ["AppContext", "LiveHub", "WebServer", "create_app"]
