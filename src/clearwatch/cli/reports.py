"""``clearwatch report``: subject access (everything held about an enrolled person) and the transparency report;
``clearwatch verify``: check a signed document (an erasure receipt, an audit checkpoint)."""

from __future__ import annotations

import json as jsonlib
from pathlib import Path

import typer

from clearwatch.cli.admin_cmds import cli_actor
from clearwatch.cli.common import (
    ConfigOption,
    DataOption,
    JsonOption,
    console,
    err_console,
    open_db,
    print_json,
    resolve_config,
)
from clearwatch.errors import ClearwatchError
from clearwatch.timeparse import parse_time

report_app = typer.Typer(no_args_is_help=True, help="Reports: subject access, transparency.")
TIMES = {"ignore_unknown_options": True}


@report_app.command("subject")
def report_subject(person: str = typer.Argument(..., help="Person id (or external reference)."),
                   html: Path | None = typer.Option(None, "--html", help="Also write it as an HTML page."),
                   json: bool = JsonOption, config: Path | None = ConfigOption, data: Path | None = DataOption) -> None:
    """Everything held about an enrolled person: photos and templates, legal basis and who enrolled them, every
    match on video, every search that returned them and by whom. Answering it is audited."""
    from clearwatch.governance import AuditLog
    from clearwatch.governance.subjects import subject_report
    from clearwatch.web.reports import render_subject

    cfg = resolve_config(config, data)
    db = open_db(cfg)
    report = subject_report(db, person, cfg.site.name)
    AuditLog(db).append(cli_actor(), "report.subject", report["person"]["id"],
                        {"matches": len(report["matches_on_video"]),
                         "searches": len(report["searches_returning_them"])})
    if html is not None:
        html.write_text(render_subject(report))
    if json:
        print_json(report)
        return
    p = report["person"]
    console.print(f"[bold]{p['name']}[/bold] ({p['id']}): enrolled by {p['enrolled_by']} on {p['enrolled_at']}, "
                  f"legal basis: {p['legal_basis']}", highlight=False)
    console.print(f"  {len(report['face_templates'])} face template(s), {len(report['fingerprints'])} finger(s), "
                  f"seen {len(report['matches_on_video'])} time(s) on video, returned by "
                  f"{len(report['searches_returning_them'])} search(es)")
    if html is not None:
        console.print(f"  written to {html}")


@report_app.command("transparency", context_settings=TIMES)
def report_transparency(since: str = typer.Option("-30d", "--since", help="Start of the period (default -30d)."),
                        html: Path | None = typer.Option(None, "--html", help="Write it as an HTML page."),
                        pdf: Path | None = typer.Option(None, "--pdf", help="Write it as a PDF (needs Chromium)."),
                        json: bool = JsonOption, config: Path | None = ConfigOption,
                        data: Path | None = DataOption) -> None:
    """Footage held and for how long, who can see which cameras, who looked, whom the registry holds and on what
    basis, erasures, retention compliance, and whether the audit trail verifies."""
    from clearwatch.governance import AuditLog
    from clearwatch.governance.signing import verification_keys
    from clearwatch.governance.transparency import transparency_report
    from clearwatch.web.reports import print_pdf, render_transparency

    cfg = resolve_config(config, data)
    db = open_db(cfg)
    report = transparency_report(cfg, db, parse_time(since), trusted=verification_keys(cfg))
    AuditLog(db).append(cli_actor(), "report.transparency", "", {"since": report["period"]["since"]})
    if html is not None:
        html.write_text(render_transparency(report))
    if pdf is not None:
        print_pdf(render_transparency(report), pdf)
    if json:
        print_json(report)
        return
    hours = sum(c["hours"] for c in report["footage"])
    looks = sum(a["count"] for a in report["accesses"] if a["action"].startswith("footage."))
    console.print(f"{report['site']}: {hours:.1f} h of footage on {len(report['footage'])} camera(s); "
                  f"{looks} look(s) at footage since {report['period']['since']}; "
                  f"{report['registry']['people']} people enrolled; audit trail "
                  + ("verified" if report["audit"]["ok"] else "[red]NOT verified[/red]"))
    for path in (html, pdf):
        if path is not None:
            console.print(f"  written to {path}")


def verify(document: Path = typer.Argument(..., help="A signed JSON document (erasure receipt, checkpoint)."),
           config: Path | None = ConfigOption, data: Path | None = DataOption) -> None:
    """Check a signed document's signature (and that it is this installation's key, or one it trusts)."""
    from clearwatch.governance.signing import check_document, verification_keys

    try:
        doc = jsonlib.loads(document.read_text())
    except (OSError, ValueError) as exc:
        raise ClearwatchError(f"cannot read {document}: {exc}") from None
    if not isinstance(doc, dict):
        raise ClearwatchError(f"{document} is not a signed Clearwatch document")
    problems = check_document(doc, verification_keys(resolve_config(config, data)))
    if problems:
        err_console.print(f"[red]NOT verified[/red] {document}:")
        for p in problems:
            err_console.print(f"  {p}", markup=False, highlight=False)
        raise typer.Exit(1)
    console.print(f"[green]verified[/green] {document}: {doc.get('format')} signed with key "
                  f"{doc['signed']['key_id']}", highlight=False)
