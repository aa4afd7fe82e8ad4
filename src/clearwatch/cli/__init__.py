"""Command line: ``clearwatch``. Expected failures print one clear line, never a traceback."""

from __future__ import annotations

import os
import sys

from rich.text import Text

from clearwatch.cli.app import app
from clearwatch.cli.common import err_console
from clearwatch.errors import ClearwatchError, ConfigError
from clearwatch.identity.errors import EnrolmentError


def main() -> None:
    try:
        app(standalone_mode=True)
    except ConfigError as exc:
        err_console.print(f"[red]invalid config[/red] {exc.source}:", highlight=False)
        for problem in exc.problems:
            err_console.print(f"  {problem}", highlight=False, markup=False)
        sys.exit(2)
    except EnrolmentError as exc:
        err_console.print("[red]enrolment refused[/red] (nothing was stored):", highlight=False)
        for problem in exc.problems:
            err_console.print(f"  {problem}", highlight=False, markup=False)
        sys.exit(1)
    except ClearwatchError as exc:
        err_console.print(Text.assemble(("error:", "red"), f" {exc}"), highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("CLEARWATCH_DEBUG"):
            raise
        err_console.print(
            f"[red]internal error:[/red] {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}\n"
            "  this is a bug in Clearwatch; run again with CLEARWATCH_DEBUG=1 for the traceback",
            highlight=False,
        )
        sys.exit(70)


__all__ = ["app", "main"]
