"""Real nats-server processes for federation tests: a hub and one leaf server per site, each on free ports with
its own store directory (never the shared server on 4222), configured by Clearwatch's own config writer."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from clearwatch.config.federation import CentralConfig, CentralSiteConfig, SiteLinkConfig, site_domain
from clearwatch.federation.natsconf import hub_conf, server_version, site_conf
from tests.support.servers import free_port

CENTRAL_PASSWORD = "central-secret"


def nats_available() -> str | None:
    return None if shutil.which("nats-server") else "nats-server missing: apt-get install nats-server (make test does)"


def _wait_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nats-server exited: {log.read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nats-server is not listening on {port}")


class NatsServer:
    def __init__(self, name: str, conf: str, port: int, workdir: Path):
        self.name = name
        self.port = port
        self.dir = workdir / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf_path = self.dir / "server.conf"
        self.conf_path.write_text(conf)
        self.log = self.dir / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(["nats-server", "-c", str(self.conf_path)], stdout=log, stderr=log)
        _wait_port(self.port, self.proc, self.log)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def distinct_ports(n: int) -> list[int]:
    """``n`` free ports, all different (the system may hand a just-closed port out again)."""
    ports: list[int] = []
    while len(ports) < n:
        p = free_port()
        if p not in ports:
            ports.append(p)
    return ports


class Topology:
    """A hub and leaf servers for ``sites``; ``site_link(name)`` is how a site's Clearwatch connects."""

    def __init__(self, workdir: Path, sites: list[str]):
        self.workdir = workdir
        ports = distinct_ports(2 + len(sites))
        self.hub_port, self.leaf_port = ports[0], ports[1]
        self.central = CentralConfig.model_validate({
            "nats": {"url": f"nats://127.0.0.1:{self.hub_port}", "user": "central", "password": CENTRAL_PASSWORD},
            "sites": {s: {"leaf_password": f"leaf-{s}-pw"} for s in sites}, "ping_interval": 1.0,
            "request_timeout": 5.0})
        version = server_version()
        self.hub = NatsServer("hub", hub_conf(
            self.central, listen=f"127.0.0.1:{self.hub_port}", leaf_listen=f"127.0.0.1:{self.leaf_port}",
            store_dir=workdir / "hub" / "js", central_password=CENTRAL_PASSWORD), self.hub_port, workdir)
        self.sites: dict[str, NatsServer] = {}
        for s, port in zip(sites, ports[2:], strict=True):
            site_cfg: CentralSiteConfig = self.central.sites[s]
            conf = site_conf(s, domain=site_domain(s, None), listen=f"127.0.0.1:{port}",
                             store_dir=workdir / f"site-{s}" / "js", hub_leaf_url=f"127.0.0.1:{self.leaf_port}",
                             leaf_password=site_cfg.leaf_password or "", local_user="clearwatch",
                             local_password=f"local-{s}", version=version)
            self.sites[s] = NatsServer(f"site-{s}", conf, port, workdir)

    def site_link(self, site: str, **extra: object) -> dict[str, object]:
        """The ``site.nats`` section of that site's Clearwatch config."""
        return {"url": f"nats://127.0.0.1:{self.sites[site].port}", "user": "clearwatch",
                "password": f"local-{site}", "health_interval": 1.0, **extra}

    def site_nats(self, site: str) -> SiteLinkConfig:
        """The same, validated: for connecting to that site's server directly."""
        return SiteLinkConfig.model_validate(self.site_link(site))

    def central_section(self) -> dict[str, object]:
        return self.central.model_dump(mode="json")

    def start(self) -> None:
        self.hub.start()
        for s in self.sites.values():
            s.start()

    def stop(self) -> None:
        for s in self.sites.values():
            s.stop()
        self.hub.stop()
