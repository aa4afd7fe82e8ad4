"""Keep camera credentials out of logs, errors and API output."""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit, urlunsplit


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (user names are kept: they help diagnosis)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username or ''}:***@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def secrets_in(url: str) -> list[str]:
    """Strings that must never be shown: the password in every spelling it may appear in."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return [url]
    if not password:
        return []
    return sorted({password, unquote(password), quote(password, safe="")}, key=len, reverse=True)


def scrub(text: str, url: str) -> str:
    """Remove the URL's secrets from any text (error messages from FFmpeg often echo the URL)."""
    text = text.replace(url, redact_url(url))
    for secret in secrets_in(url):
        text = text.replace(secret, "***")
    return text
