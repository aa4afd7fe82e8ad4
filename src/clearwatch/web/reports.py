"""Reports as HTML (the console serves them; the CLI writes them as standalone files) and as PDF (printed by
Debian's Chromium, headless)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from clearwatch.errors import ClearwatchError
from clearwatch.units import format_size

HERE = Path(__file__).parent
_env = Environment(loader=FileSystemLoader(HERE / "templates" / "reports"), autoescape=select_autoescape(["html"]))
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")


def render_transparency(report: dict[str, Any], standalone: bool = True) -> str:
    from clearwatch.governance.transparency import bars

    footage = bars([(c["camera"], c["hours"]) for c in report["footage"]], unit=" h")
    access = bars([(a["what"], a["count"]) for a in report["accesses"] if a["count"]])
    return _env.get_template("transparency.html").render(
        r=report, size=format_size, footage_chart=footage, access_chart=access,
        inline_css=(HERE / "static" / "report.css").read_text() if standalone else None)


def render_subject(report: dict[str, Any], standalone: bool = True) -> str:
    return _env.get_template("subject.html").render(
        r=report, inline_css=(HERE / "static" / "report.css").read_text() if standalone else None)


def print_pdf(html: str, out: Path, timeout: float = 120.0) -> None:
    """Print HTML to PDF with a headless Chromium (nothing is fetched: the page is self-contained)."""
    browser = next((b for b in (shutil.which(c) for c in CHROMIUM) if b), None)
    if browser is None:
        raise ClearwatchError("--pdf needs Chromium (Debian: apt-get install chromium); use --html and print it")
    with tempfile.TemporaryDirectory(prefix="cw-report-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html)
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
               "--disable-background-networking", f"--user-data-dir={tmp}/profile", "--no-pdf-header-footer",
               f"--print-to-pdf={out.absolute()}", page.as_uri()]
        try:
            subprocess.run(cmd, capture_output=True, timeout=timeout, check=True)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            raise ClearwatchError(f"Chromium could not print the report: {exc}") from None
    if not out.is_file() or out.stat().st_size == 0:
        raise ClearwatchError("Chromium wrote no PDF")
