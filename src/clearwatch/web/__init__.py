"""The web console: server-rendered pages and their static assets (no CDN, nothing fetched at run time).
Parts load on first use."""

from typing import TYPE_CHECKING

from clearwatch.lazy import lazy_exports

if TYPE_CHECKING:
    from clearwatch.web.pages import STATIC, LoginRedirect, render_error, router

__getattr__, __dir__ = lazy_exports(__name__, {
    "STATIC": ".pages",
    "LoginRedirect": ".pages",
    "render_error": ".pages",
    "router": ".pages",
})

__all__ = ["STATIC", "LoginRedirect", "render_error", "router"]
