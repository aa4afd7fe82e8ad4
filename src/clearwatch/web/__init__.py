"""The web console: server-rendered pages and their static assets (no CDN, nothing fetched at run time)."""

from clearwatch.web.pages import STATIC, LoginRedirect, render_error, router

__all__ = ["STATIC", "LoginRedirect", "render_error", "router"]
