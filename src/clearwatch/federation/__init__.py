"""Sites and the central node on NATS JetStream: each site publishes what it records into its own stream on its
own (leaf) server, the central server sources every site stream, and the central node applies them to one
database; commands and requests go the other way. Footage stays at the sites. Parts load on first use."""

from typing import TYPE_CHECKING

from clearwatch.lazy import lazy_exports

if TYPE_CHECKING:
    from clearwatch.federation.apply import Applied, Applier, Incoming
    from clearwatch.federation.central import CentralNode
    from clearwatch.federation.edge import SiteLink, SiteTransport
    from clearwatch.federation.link import FederationError, SiteOffline

__getattr__, __dir__ = lazy_exports(__name__, {
    "Applied": ".apply",
    "Applier": ".apply",
    "CentralNode": ".central",
    "FederationError": ".link",
    "Incoming": ".apply",
    "SiteLink": ".edge",
    "SiteOffline": ".link",
    "SiteTransport": ".edge",
})

__all__ = ["Applied", "Applier", "CentralNode", "FederationError", "Incoming", "SiteLink", "SiteOffline",
           "SiteTransport"]
