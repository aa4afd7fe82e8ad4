"""``clearwatch central`` (run the central node) and ``clearwatch federation`` (server configs, site status)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from clearwatch.cli.common import JsonOption, console, open_db, print_json, setup_logging
from clearwatch.errors import ClearwatchError

if TYPE_CHECKING:
    from clearwatch.config import Config

federation_app = typer.Typer(no_args_is_help=True, help="Sites and the central node (NATS JetStream).")


def _central_config(path: Path) -> Config:
    from clearwatch.config import load_config

    cfg = load_config(path)
    if cfg.central is None:
        raise ClearwatchError(f"{path}: no 'central:' section; a central node's config names its NATS server and "
                              f"its sites there")
    return cfg


def central(config: Path = typer.Argument(..., help="The central node's YAML config (with a 'central:' section).")
            ) -> None:
    """Run the central node: source every site's stream, serve one console and API over all sites."""
    from clearwatch.cli.running import run_until_signalled
    from clearwatch.service.central import CentralService

    cfg = _central_config(config)
    setup_logging(cfg.logging.level)
    run_until_signalled(CentralService(cfg))


@federation_app.command("nats-config")
def nats_config(
    config: Path = typer.Argument(..., help="The central node's YAML config."),
    out: Path = typer.Option(Path("nats"), "--out", help="Folder for hub.conf and site-NAME.conf."),
    hub_listen: str = typer.Option("0.0.0.0:4222", help="Where the hub takes clients (the central node)."),
    leaf_listen: str = typer.Option("0.0.0.0:7422", help="Where the hub takes the sites' leaf connections."),
    advertise: str = typer.Option(..., help="HOST:PORT the sites reach the hub's leaf port at."),
    site_listen: str = typer.Option("127.0.0.1:4222", help="Where each site's server takes its Clearwatch."),
    store: Path = typer.Option(Path("/var/lib/nats"), help="JetStream store folder on each server."),
) -> None:
    """Write nats-server configurations for the hub and every site, with each site's permissions."""
    from clearwatch.config.federation import site_domain
    from clearwatch.federation.natsconf import hub_conf, server_version, site_conf

    cfg = _central_config(config)
    assert cfg.central is not None
    central_conn = cfg.central.nats
    try:
        hub = hub_conf(cfg.central, listen=hub_listen, leaf_listen=leaf_listen, store_dir=store, advertise=advertise,
                       central_user=central_conn.user or "central", central_password=central_conn.password or "")
    except ValueError as exc:
        raise ClearwatchError(str(exc)) from None
    out.mkdir(parents=True, exist_ok=True)
    (out / "hub.conf").write_text(hub)
    version = server_version()
    for name, site in cfg.central.sites.items():
        text = site_conf(name, domain=site_domain(name, site.domain), listen=site_listen, store_dir=store,
                         hub_leaf_url=advertise, leaf_password=site.leaf_password or "", local_user="clearwatch",
                         local_password="CHANGE-ME", version=version)
        (out / f"site-{name}.conf").write_text(text)
    console.print(f"wrote {out / 'hub.conf'} and {len(cfg.central.sites)} site configuration(s); set each site's "
                  f"local password (CHANGE-ME) and put it in that site's site.nats section")


@federation_app.command("sites")
def sites(config: Path = typer.Argument(..., help="The central node's YAML config."), json: bool = JsonOption) -> None:
    """What the central node knows of each site: link, last message, what it applied."""
    from sqlalchemy import select

    from clearwatch.storage.models import FedSite

    cfg = _central_config(config)
    assert cfg.central is not None
    db = open_db(cfg)
    with db.session() as s:
        rows = {r.name: r for r in s.scalars(select(FedSite))}
    out: list[dict[str, Any]] = []
    for name in cfg.central.sites:
        r = rows.get(name)
        out.append({"site": name, "link": ("up" if r.link_up else "down") if r else "never seen",
                    "last_message_at": r.last_message_at.isoformat() if r and r.last_message_at else None,
                    "applied": r.applied if r else 0, "duplicates": r.duplicates if r else 0,
                    "gaps": r.gaps if r else 0, "rejected": r.rejected if r else 0})
    if json:
        print_json(out)
        return
    table = Table("site", "link", "last message", "applied", "repeats", "gaps", "rejected")
    for o in out:
        table.add_row(*(str(o[k] if o[k] is not None else "-") for k in
                        ("site", "link", "last_message_at", "applied", "duplicates", "gaps", "rejected")))
    console.print(table)
