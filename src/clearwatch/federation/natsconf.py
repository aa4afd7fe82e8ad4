"""nats-server configurations for the central server (the hub) and each site's server (a leaf of it), written
from the central node's config, so the subjects and permissions always match what Clearwatch uses.

Written for nats-server 2.9 (Debian 12), whose syntax later servers also read; ``sync_interval`` (2.10+) is
only written when the server is new enough to know it.

A site's leaf connection is a user of the hub with permissions that keep the site to its own subjects: it can
answer its own requests and serve its own stream to the hub's sourcing, take its own commands, and nothing of
another site's.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from clearwatch.config.federation import CentralConfig, site_domain
from clearwatch.federation import subjects as subj

ACCOUNT = "CLEARWATCH"


def server_version(binary: str = "nats-server") -> tuple[int, int]:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return (0, 0)
    m = re.search(r"v?(\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def _q(v: str) -> str:
    return json.dumps(v)


def site_permissions(site: str, domain: str, hub_domain: str) -> dict[str, list[str]]:
    consumer = subj.consumer_name(site)
    return {
        # what the site's server may send to the hub
        "publish": ["$JS.S.>", "$JSC.R.>", "_INBOX.>",
                    f"$JS.{hub_domain}.API.CONSUMER.MSG.NEXT.{subj.COMMAND_STREAM}.{consumer}",
                    f"$JS.{hub_domain}.API.CONSUMER.INFO.{subj.COMMAND_STREAM}.{consumer}",
                    f"$JS.ACK.{subj.COMMAND_STREAM}.{consumer}.>"],
        # what the hub may send to the site's server
        "subscribe": [f"$JS.{domain}.API.>", f"cw.req.{site}.>", f"{subj.inbox_prefix(site)}.>", "$JS.FC.>"],
    }


def hub_conf(central: CentralConfig, *, listen: str, leaf_listen: str, store_dir: Path,
             advertise: str | None = None, central_user: str = "central", central_password: str = "") -> str:
    users = [f"{{user: {_q(central_user)}, password: {_q(central_password)}}}"]
    for name, site in central.sites.items():
        if not site.leaf_password:
            raise ValueError(f"central.sites.{name}.leaf_password is needed to write the hub's configuration")
        perms = site_permissions(name, site_domain(name, site.domain), central.hub_domain)
        users.append(f"{{user: {_q(name)}, password: {_q(site.leaf_password)}, permissions: {{"
                     f"publish: {{allow: {json.dumps(perms['publish'])}}}, "
                     f"subscribe: {{allow: {json.dumps(perms['subscribe'])}}}}}}}")
    joined = "\n      ".join(users)
    return f"""# the central Clearwatch server (hub): written by `clearwatch federation nats-config`
server_name: hub
listen: {_q(listen)}
jetstream {{ store_dir: {_q(str(store_dir))}, domain: {_q(central.hub_domain)} }}
leafnodes {{
  listen: {_q(leaf_listen)}
  # without it, leaf nodes learn the hub's other addresses and reconnect around a cut link
  advertise: {_q(advertise or leaf_listen)}
}}
accounts {{
  {ACCOUNT} {{
    jetstream: enabled
    users: [
      {joined}
    ]
  }}
}}
"""


def site_conf(site: str, *, domain: str, listen: str, store_dir: Path, hub_leaf_url: str, leaf_password: str,
              local_user: str, local_password: str, version: tuple[int, int] = (2, 9)) -> str:
    sync = ", sync_interval: always" if version >= (2, 10) else ""
    host = hub_leaf_url.split("://", 1)[-1]
    return f"""# Clearwatch site {site}'s own server, a leaf of the hub: written by `clearwatch federation nats-config`
server_name: {_q("site-" + site)}
listen: {_q(listen)}
jetstream {{ store_dir: {_q(str(store_dir))}, domain: {_q(domain)}{sync} }}
leafnodes {{
  reconnect: 1
  remotes: [ {{ url: {_q(f"nats-leaf://{site}:{leaf_password}@{host}")}, account: {ACCOUNT} }} ]
}}
accounts {{
  {ACCOUNT} {{
    jetstream: enabled
    users: [ {{user: {_q(local_user)}, password: {_q(local_password)}}} ]
  }}
}}
"""
